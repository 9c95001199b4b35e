// Shape-independent graph passes run once per Engine: BatchNormalization folding into the
// preceding convolution, and grouping of convolutions with the activations / residual Add that
// follow them so they become oneDNN post-ops.
#include <algorithm>
#include <cmath>

#include "engine/ops.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg::engine {
namespace {

bool is_conv(const Node& node) { return node.op == "Conv" || node.op == "ConvTranspose"; }

/// Number of readers of every value; a graph output counts as one more reader.
std::map<std::string, int> reader_counts(const Graph& graph) {
  std::map<std::string, int> counts;
  for (const Node& node : graph.nodes) {
    for (const std::string& in : node.inputs) {
      if (!in.empty()) ++counts[in];
    }
  }
  for (const std::string& out : graph.outputs) ++counts[out];
  return counts;
}

bool foldable(const Graph& graph, const Node& conv, const Node& bn, const std::map<std::string, int>& readers) {
  if (!is_conv(conv) || bn.inputs.size() != 5 || bn.inputs[0] != conv.outputs.at(0)) return false;
  if (readers.at(conv.outputs[0]) != 1 || bn.attr_int("training_mode", 0) != 0) return false;
  for (size_t i = 1; i < bn.outputs.size(); ++i) {
    if (!bn.outputs[i].empty()) return false;
  }
  for (size_t i = 1; i < 5; ++i) {
    if (!graph.is_weight(bn.inputs[i])) return false;
  }
  if (conv.inputs.size() < 2 || !graph.is_weight(conv.inputs[1])) return false;
  return conv.inputs.size() < 3 || conv.inputs[2].empty() || graph.is_weight(conv.inputs[2]);
}

/// Scales output channel `o` of the conv weights (ONNX layouts: Conv [O, I/g, kH, kW];
/// ConvTranspose [I, O/g, kH, kW]).
void scale_output_channels(Tensor& w, bool transposed, int64_t group, const std::vector<float>& scale) {
  const Dims& d = w.dims();
  const int64_t kernel = d[2] * d[3];
  float* data = w.data();
  if (!transposed) {
    for (int64_t o = 0; o < d[0]; ++o) {
      for (int64_t k = 0; k < d[1] * kernel; ++k) data[o * d[1] * kernel + k] *= scale[static_cast<size_t>(o)];
    }
    return;
  }
  const int64_t in_per_group = d[0] / group;
  for (int64_t i = 0; i < d[0]; ++i) {
    const int64_t g = i / in_per_group;
    for (int64_t ol = 0; ol < d[1]; ++ol) {
      const float s = scale[static_cast<size_t>(g * d[1] + ol)];
      for (int64_t k = 0; k < kernel; ++k) data[(i * d[1] + ol) * kernel + k] *= s;
    }
  }
}

void fold_one(Graph& graph, Node& conv, const Node& bn) {
  const Tensor& gamma = graph.weights.at(bn.inputs[1]);
  const Tensor& beta = graph.weights.at(bn.inputs[2]);
  const Tensor& mean = graph.weights.at(bn.inputs[3]);
  const Tensor& var = graph.weights.at(bn.inputs[4]);
  const float eps = bn.attr_float("epsilon", 1e-5F);
  Tensor w = graph.weights.at(conv.inputs[1]);
  const bool transposed = conv.op == "ConvTranspose";
  const int64_t group = conv.attr_int("group", 1);
  const int64_t channels = transposed ? w.dim(1) * group : w.dim(0);
  if (gamma.size() != channels || beta.size() != channels || mean.size() != channels || var.size() != channels) {
    throw Error("node '" + bn.name + "' (BatchNormalization): parameters do not have " + std::to_string(channels) +
                " values like the output of '" + conv.name + "'");
  }
  const bool has_bias = conv.inputs.size() > 2 && !conv.inputs[2].empty();
  Tensor b = has_bias ? graph.weights.at(conv.inputs[2]) : Tensor({channels}, 0.0F);
  std::vector<float> scale(static_cast<size_t>(channels));
  for (int64_t o = 0; o < channels; ++o) {
    const auto i = static_cast<size_t>(o);
    scale[i] = gamma.data()[i] / std::sqrt(var.data()[i] + eps);
    b.data()[i] = (b.data()[i] - mean.data()[i]) * scale[i] + beta.data()[i];
  }
  scale_output_channels(w, transposed, group, scale);
  // New names: the original weights may be shared with another node.
  const std::string wname = conv.name + "/bn_folded_W";
  const std::string bname = conv.name + "/bn_folded_B";
  graph.weights[wname] = std::move(w);
  graph.weights[bname] = std::move(b);
  conv.inputs.resize(3);
  conv.inputs[1] = wname;
  conv.inputs[2] = bname;
  conv.outputs[0] = bn.outputs[0];
}

}  // namespace

void fold_batch_norms(Graph& graph) {
  const std::map<std::string, int> readers = reader_counts(graph);
  std::map<std::string, size_t> producer;
  std::vector<bool> removed(graph.nodes.size(), false);
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    Node& node = graph.nodes[i];
    if (node.op == "BatchNormalization" && !node.inputs.empty()) {
      auto it = producer.find(node.inputs[0]);
      if (it != producer.end() && foldable(graph, graph.nodes[it->second], node, readers)) {
        fold_one(graph, graph.nodes[it->second], node);
        removed[i] = true;
        producer[node.outputs[0]] = it->second;
        continue;
      }
    }
    for (const std::string& out : node.outputs) producer[out] = i;
  }
  std::vector<Node> kept;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (!removed[i]) kept.push_back(std::move(graph.nodes[i]));
  }
  graph.nodes = std::move(kept);
}

void fold_pads_into_pools(Graph& graph) {
  const std::map<std::string, int> readers = reader_counts(graph);
  std::map<std::string, size_t> reader;  // the last reader; meaningful when the count is 1
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (const std::string& in : graph.nodes[i].inputs) reader[in] = i;
  }
  std::vector<bool> removed(graph.nodes.size(), false);
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& pad = graph.nodes[i];
    if (pad.op != "Pad" || pad.inputs.empty() || pad.outputs.size() != 1 || !pad.has("pads")) continue;
    if (pad.inputs.size() > 1 && !(pad.inputs.size() == 2 && pad.inputs[1].empty())) continue;
    if (pad.attr_string("mode", "constant") != "constant" || pad.attr_float("constant_value", 0.0F) != 0.0F ||
        pad.attr_float("value", 0.0F) != 0.0F) {
      continue;
    }
    const std::vector<int64_t> p = pad.attr_ints("pads");
    if (p.size() != 8 || p[0] != 0 || p[1] != 0 || p[4] != 0 || p[5] != 0) continue;
    if (std::any_of(p.begin(), p.end(), [](int64_t v) { return v < 0; })) continue;
    auto count = readers.find(pad.outputs[0]);
    if (count == readers.end() || count->second != 1) continue;
    Node& pool = graph.nodes[reader.at(pad.outputs[0])];
    if (pool.op != "AveragePool" || pool.inputs.at(0) != pad.outputs[0]) continue;
    if (pool.attr_string("auto_pad", "NOTSET") != "NOTSET" || pool.attr_int("ceil_mode", 0) != 0) continue;
    const std::vector<int64_t> own = pool.attr_ints("pads", {0, 0, 0, 0});
    if (std::any_of(own.begin(), own.end(), [](int64_t v) { return v != 0; })) continue;
    pool.inputs[0] = pad.inputs[0];
    pool.attrs["pads"] = std::vector<int64_t>{p[2], p[3], p[6], p[7]};
    pool.attrs["count_include_pad"] = int64_t{1};
    removed[i] = true;
  }
  std::vector<Node> kept;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (!removed[i]) kept.push_back(std::move(graph.nodes[i]));
  }
  graph.nodes = std::move(kept);
}

std::vector<PlanNode> fuse_post_ops(const Graph& graph) {
  const std::map<std::string, int> readers = reader_counts(graph);
  std::map<std::string, size_t> producer;
  std::map<std::string, size_t> reader;  // the last reader; meaningful when the count is 1
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (const std::string& out : graph.nodes[i].outputs) producer[out] = i;
    for (const std::string& in : graph.nodes[i].inputs) reader[in] = i;
  }
  std::vector<bool> absorbed(graph.nodes.size(), false);
  std::vector<PlanNode> result;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (absorbed[i]) continue;
    PlanNode pn{graph.nodes[i], {}, {}};
    std::string current = pn.node.outputs.empty() ? std::string() : pn.node.outputs[0];
    while (is_conv(pn.node) && !current.empty() && readers.at(current) == 1 && reader.contains(current)) {
      const size_t j = reader.at(current);
      const Node& next = graph.nodes[j];
      PostOp post;
      if (activation_of(next, post) && next.inputs.at(0) == current) {
        pn.post_ops.push_back(post);
      } else if (next.op == "Add" && pn.post_ops.empty() && next.inputs.size() == 2) {
        const std::string& other = next.inputs[0] == current ? next.inputs[1] : next.inputs[0];
        const bool earlier = other == graph.input || (producer.contains(other) && producer.at(other) < i);
        if (other == current || graph.is_weight(other) || !earlier) break;
        post.kind = PostOp::Kind::sum;
        post.residual = other;
        post.node = next.name;
        pn.post_ops.push_back(post);
      } else {
        break;
      }
      absorbed[j] = true;
      current = next.outputs.at(0);
    }
    if (!pn.post_ops.empty()) pn.node.outputs = {current};
    result.push_back(std::move(pn));
  }
  return result;
}

std::vector<PlanNode> fuse_channel_affine(const Graph& graph, std::vector<PlanNode> nodes) {
  const std::map<std::string, int> readers = reader_counts(graph);
  std::map<std::string, size_t> reader;  // the last reader; meaningful when the count is 1
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (const std::string& in : nodes[i].node.inputs) reader[in] = i;
  }
  auto plain = [&](size_t i) { return nodes[i].post_ops.empty() && nodes[i].parts.empty(); };
  // The single plain reader of `value` when its op is `op`, else nodes.size().
  auto only_reader = [&](const std::string& value, const std::string& op) {
    auto count = readers.find(value);
    auto at = reader.find(value);
    if (count == readers.end() || count->second != 1 || at == reader.end()) return nodes.size();
    return nodes[at->second].node.op == op && plain(at->second) ? at->second : nodes.size();
  };
  auto constant_bn = [&](const Node& bn) {
    if (bn.inputs.size() != 5 || bn.attr_int("training_mode", 0) != 0) return false;
    for (size_t k = 1; k < bn.outputs.size(); ++k) {
      if (!bn.outputs[k].empty()) return false;
    }
    for (size_t k = 1; k < 5; ++k) {
      if (!graph.is_weight(bn.inputs[k])) return false;
    }
    return true;
  };
  std::vector<bool> absorbed(nodes.size(), false);
  std::vector<size_t> chain_end(nodes.size(), nodes.size());
  std::vector<std::vector<size_t>> chains(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (absorbed[i] || !plain(i)) continue;
    const Node& first = nodes[i].node;
    if (first.outputs.empty()) continue;
    std::vector<size_t> chain;
    size_t bn = i;  // the chain's BatchNormalization: this node, or the one after a Concat or Add
    if (first.op == "Concat" || first.op == "Add") {
      chain.push_back(i);
      if (first.op == "Concat") {
        const int64_t axis = first.attr_int("axis", 1);
        if (axis != 1 && axis != -3) continue;
        const size_t add = only_reader(first.outputs[0], "Add");
        if (add < nodes.size()) chain.push_back(add);
      }
      const Node& last = nodes[chain.back()].node;
      if (last.op == "Add" &&
          (last.inputs.size() != 2 || graph.is_weight(last.inputs[0]) || graph.is_weight(last.inputs[1]))) {
        continue;
      }
      bn = only_reader(last.outputs.at(0), "BatchNormalization");
    } else if (first.op != "BatchNormalization") {
      continue;
    }
    if (bn >= nodes.size() || !constant_bn(nodes[bn].node)) continue;
    chain.push_back(bn);
    const std::string& normalized = nodes[bn].node.outputs.at(0);
    const size_t prelu = only_reader(normalized, "PRelu");
    if (prelu < nodes.size() && nodes[prelu].node.inputs.size() == 2 && nodes[prelu].node.inputs[0] == normalized &&
        graph.is_weight(nodes[prelu].node.inputs[1])) {
      chain.push_back(prelu);
    }
    for (size_t k : chain) absorbed[k] = true;
    chain_end[chain.back()] = i;
    chains[i] = chain;
  }
  std::vector<PlanNode> result;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (chain_end[i] < nodes.size()) {
      // The fused node takes the place of the chain's last node: every input exists by then.
      PlanNode fused;
      fused.node.name = nodes[i].node.name;
      fused.node.op = kChannelAffineOp;
      fused.node.outputs = nodes[i].node.outputs;
      for (size_t k : chains[chain_end[i]]) fused.parts.push_back(nodes[k].node);
      result.push_back(std::move(fused));
    } else if (!absorbed[i]) {
      result.push_back(std::move(nodes[i]));
    }
  }
  return result;
}

}  // namespace terraseg::engine
