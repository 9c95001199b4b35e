#include "terraseg/core/graph.hpp"

#include <set>

#include "terraseg/core/error.hpp"

namespace terraseg {
namespace {

template <typename T>
T get_attr(const Node& node, const std::string& key, const T& fallback) {
  auto it = node.attrs.find(key);
  if (it == node.attrs.end()) return fallback;
  if (const T* value = std::get_if<T>(&it->second)) return *value;
  fail_node(node, "attribute '" + key + "' has an unexpected type");
}

}  // namespace

std::string node_prefix(const Node& node) { return "node '" + node.name + "' (" + node.op + "): "; }

void fail_node(const Node& node, const std::string& what) { throw Error(node_prefix(node) + what); }

int64_t Node::attr_int(const std::string& key, int64_t fallback) const { return get_attr(*this, key, fallback); }

float Node::attr_float(const std::string& key, float fallback) const {
  auto it = attrs.find(key);
  if (it != attrs.end()) {
    if (const auto* as_int = std::get_if<int64_t>(&it->second)) return static_cast<float>(*as_int);
  }
  return get_attr(*this, key, fallback);
}

std::string Node::attr_string(const std::string& key, const std::string& fallback) const {
  return get_attr(*this, key, fallback);
}

std::vector<int64_t> Node::attr_ints(const std::string& key, const std::vector<int64_t>& fallback) const {
  return get_attr(*this, key, fallback);
}

std::vector<float> Node::attr_floats(const std::string& key, const std::vector<float>& fallback) const {
  return get_attr(*this, key, fallback);
}

const Node* Graph::producer(const std::string& value) const {
  for (const Node& node : nodes) {
    for (const std::string& out : node.outputs) {
      if (out == value) return &node;
    }
  }
  return nullptr;
}

int64_t Graph::parameter_count() const {
  int64_t count = 0;
  for (const auto& entry : weights) count += entry.second.size();
  return count;
}

void Graph::validate() const {
  std::set<std::string> known{input};
  for (const auto& entry : weights) known.insert(entry.first);
  std::set<std::string> node_names;
  for (const Node& node : nodes) {
    if (!node_names.insert(node.name).second)
      throw Error("graph '" + name + "': node name '" + node.name + "' repeats");
    for (const std::string& in : node.inputs) {
      if (!in.empty() && !known.contains(in)) {
        throw Error("graph '" + name + "': node '" + node.name + "' (" + node.op + ") reads '" + in +
                    "', which no earlier node produces");
      }
    }
    for (const std::string& out : node.outputs) {
      if (!out.empty()) known.insert(out);
    }
  }
  for (const std::string& out : outputs) {
    if (!known.contains(out)) throw Error("graph '" + name + "': output '" + out + "' is never produced");
  }
}

}  // namespace terraseg
