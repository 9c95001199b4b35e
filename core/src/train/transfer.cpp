#include "terraseg/core/transfer.hpp"

#include <cmath>
#include <random>
#include <set>

#include "terraseg/core/error.hpp"

namespace terraseg {
namespace {

/// '*' and '?' wildcards, matched without recursion: on a mismatch, the last '*' takes one more
/// character of the text.
bool glob_at(const char* p, const char* t) {
  const char* star = nullptr;    // the last '*' seen in the pattern
  const char* resume = nullptr;  // where in the text that '*' ends now
  while (*t != '\0') {
    if (*p == '*') {
      star = p++;
      resume = t;
    } else if (*p != '\0' && (*p == '?' || *p == *t)) {
      ++p;
      ++t;
    } else if (star != nullptr) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (*p == '*') ++p;
  return *p == '\0';
}

/// Output-channel axis of the head's weight: 0 for Conv (OIHW), 1 for ConvTranspose (IOHW).
size_t channel_axis(const Node& head) { return head.op == "Conv" ? 0 : 1; }

/// Copies slice `src_c` (or random values when -1) of `src` along `axis` into slice `dst_c` of `dst`.
void copy_channel(const Tensor& src, int src_c, Tensor& dst, int dst_c, size_t axis, std::mt19937_64& rng,
                  float scale) {
  int64_t outer = 1, inner = 1;
  for (size_t i = 0; i < axis; ++i) outer *= src.dim(i);
  for (size_t i = axis + 1; i < src.rank(); ++i) inner *= src.dim(i);
  std::normal_distribution<float> normal(0.0F, scale);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t k = 0; k < inner; ++k) {
      const int64_t to = (o * dst.dim(axis) + dst_c) * inner + k;
      dst.data()[to] = src_c < 0 ? normal(rng) : src.data()[(o * src.dim(axis) + src_c) * inner + k];
    }
  }
}

int64_t fan_in(const Node& head, const Tensor& w) {
  return head.op == "Conv" ? w.dim(1) * w.dim(2) * w.dim(3) : w.dim(0) * w.dim(2) * w.dim(3);
}

}  // namespace

bool glob_match(const std::string& pattern, const std::string& text) { return glob_at(pattern.c_str(), text.c_str()); }

const Node& classifier_node(const Graph& graph) {
  static const std::set<std::string> passthrough{"Resize", "Identity", "Dropout", "Relu", "Sigmoid", "Softmax"};
  std::string value = graph.outputs.at(0);
  for (const Node* node = graph.producer(value); node != nullptr; node = graph.producer(node->inputs.at(0))) {
    if (node->op == "Conv" || node->op == "ConvTranspose") {
      if (node->op == "ConvTranspose" && node->attr_int("group", 1) != 1) break;
      return *node;
    }
    if (!passthrough.contains(node->op)) break;
  }
  throw Error("cannot find the classifier head: output '" + graph.outputs.at(0) +
              "' is not produced by a Conv or "
              "ConvTranspose (through Resize/activations)");
}

void remap_head(Graph& graph, const std::vector<int>& old_of_new, uint64_t seed) {
  const Node& head = classifier_node(graph);
  const size_t axis = channel_axis(head);
  Tensor& w = graph.weights.at(head.inputs.at(1));
  const int64_t old_classes = w.dim(axis);
  Dims dims = w.dims();
  dims[axis] = static_cast<int64_t>(old_of_new.size());
  Tensor fresh(dims);
  std::mt19937_64 rng(seed);
  const float scale = std::sqrt(2.0F / static_cast<float>(fan_in(head, w)));
  for (size_t c = 0; c < old_of_new.size(); ++c) {
    if (old_of_new[c] >= old_classes) {
      throw Error("head remap: class " + std::to_string(c) + " maps to old class " + std::to_string(old_of_new[c]) +
                  " but the model has " + std::to_string(old_classes));
    }
    copy_channel(w, old_of_new[c], fresh, static_cast<int>(c), axis, rng, scale);
  }
  w = std::move(fresh);
  if (head.inputs.size() > 2 && !head.inputs[2].empty()) {
    Tensor& b = graph.weights.at(head.inputs[2]);
    Tensor bias({static_cast<int64_t>(old_of_new.size())}, 0.0F);
    for (size_t c = 0; c < old_of_new.size(); ++c) {
      if (old_of_new[c] >= 0) bias.data()[c] = b.data()[old_of_new[c]];
    }
    b = std::move(bias);
  }
}

void replace_head(Graph& graph, int classes, uint64_t seed) {
  remap_head(graph, std::vector<int>(static_cast<size_t>(classes), -1), seed);
}

int reinitialise_weights(Graph& graph, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::set<std::string> done;
  auto fill = [&](const std::string& name, auto&& value) {
    if (name.empty() || !graph.weights.contains(name) || !done.insert(name).second) return;
    for (float& v : graph.weights.at(name).values()) v = value();
  };
  for (const Node& node : graph.nodes) {
    if (node.op == "Conv" || node.op == "ConvTranspose") {
      const auto w = graph.weights.find(node.inputs.at(1));
      if (w == graph.weights.end() || w->second.rank() != 4) continue;
      std::normal_distribution<float> normal(0.0F, std::sqrt(2.0F / static_cast<float>(fan_in(node, w->second))));
      fill(node.inputs[1], [&] { return normal(rng); });
      if (node.inputs.size() > 2) fill(node.inputs[2], [] { return 0.0F; });
    } else if (node.op == "BatchNormalization") {
      const float values[] = {1.0F, 0.0F, 0.0F, 1.0F};  // scale, bias, running mean, running variance
      for (size_t i = 1; i < node.inputs.size() && i < 5; ++i) fill(node.inputs[i], [&] { return values[i - 1]; });
    } else if (node.op == "PRelu") {
      fill(node.inputs.at(1), [] { return 0.25F; });  // PyTorch's default slope
    }
  }
  return static_cast<int>(done.size());
}

std::map<std::string, std::string> parameter_owners(const TrainGraph& graph) {
  std::map<std::string, std::string> owners;
  for (const Node& node : graph.graph().nodes) {
    for (const std::string& input : node.inputs) {
      if (graph.is_parameter(input) && !owners.contains(input)) owners[input] = node.name;
    }
  }
  return owners;
}

int freeze_by_glob(TrainGraph& graph, const std::vector<std::string>& globs) {
  const auto owners = parameter_owners(graph);
  for (const std::string& entry : globs) {
    const bool unfreeze = !entry.empty() && entry[0] == '!';
    const std::string pattern = unfreeze ? entry.substr(1) : entry;
    bool matched = false;
    for (const auto& [param, node] : owners) {
      if (!glob_match(pattern, node)) continue;
      graph.set_trainable(param, unfreeze);
      matched = true;
    }
    if (!matched) throw Error("freeze pattern '" + entry + "' matches no node with parameters");
  }
  int frozen = 0;
  for (const std::string& param : graph.parameters()) frozen += graph.trainable(param) ? 0 : 1;
  return frozen;
}

int freeze_all_but_last(TrainGraph& graph, int trainable_nodes) {
  const auto owners = parameter_owners(graph);
  std::vector<std::string> order;
  for (const Node& node : graph.graph().nodes) {
    for (const auto& [param, owner] : owners) {
      if (owner == node.name) {
        order.push_back(node.name);
        break;
      }
    }
  }
  const size_t keep_from =
      order.size() > static_cast<size_t>(trainable_nodes) ? order.size() - static_cast<size_t>(trainable_nodes) : 0;
  const std::set<std::string> keep(order.begin() + static_cast<std::ptrdiff_t>(keep_from), order.end());
  int frozen = 0;
  for (const auto& [param, owner] : owners) {
    const bool train = keep.contains(owner);
    graph.set_trainable(param, train);
    frozen += train ? 0 : 1;
  }
  return frozen;
}

std::map<std::string, double> lr_multipliers(const TrainGraph& graph,
                                             const std::vector<std::pair<std::string, double>>& groups) {
  std::map<std::string, double> factors;
  for (const auto& [param, node] : parameter_owners(graph)) {
    for (const auto& [pattern, factor] : groups) {
      if (glob_match(pattern, node)) {
        factors[param] = factor;
        break;
      }
    }
  }
  return factors;
}

}  // namespace terraseg
