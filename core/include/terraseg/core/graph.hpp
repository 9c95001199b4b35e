#pragma once
/// The model IR: a topologically ordered list of nodes using ONNX operator names and ONNX attribute
/// semantics (opset 13 forms), float32 weights, and a model card. Importers normalise other opsets
/// and constant operand tensors (Pad pads, Resize scales/sizes) into attributes, so everything the
/// engine and the trainer need sits in `Node::attrs` and `Graph::weights`.
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "terraseg/core/model_card.hpp"
#include "terraseg/core/tensor.hpp"

namespace terraseg {

using AttrValue = std::variant<int64_t, float, std::string, std::vector<int64_t>, std::vector<float>>;

struct Node {
  std::string name;                 ///< unique, used in every error message
  std::string op;                   ///< ONNX op type, e.g. "Conv", "MaxUnpool"
  std::vector<std::string> inputs;  ///< value or weight names; "" marks an omitted optional input
  std::vector<std::string> outputs;
  std::map<std::string, AttrValue> attrs;

  bool has(const std::string& key) const { return attrs.contains(key); }
  int64_t attr_int(const std::string& key, int64_t fallback) const;
  float attr_float(const std::string& key, float fallback) const;
  std::string attr_string(const std::string& key, const std::string& fallback) const;
  std::vector<int64_t> attr_ints(const std::string& key, const std::vector<int64_t>& fallback = {}) const;
  std::vector<float> attr_floats(const std::string& key, const std::vector<float>& fallback = {}) const;
};

/// "node 'NAME' (OP): ": how every error about a node starts (importer, engine, trainer).
std::string node_prefix(const Node& node);
/// Throws Error(node_prefix(node) + what).
[[noreturn]] void fail_node(const Node& node, const std::string& what);

struct Graph {
  std::string name;
  std::string source;  ///< the file it was loaded from, for messages; empty when built in code
  std::string input;   ///< the single image input (NCHW float32)
  Dims input_dims;     ///< as declared; -1 marks a dynamic extent (H and W always are)
  /// Height and width the file declared for its input (-1: dynamic or not declared). Most models run
  /// at any size; see input_geometry() for those that only run at this one.
  std::array<int64_t, 2> declared_hw{-1, -1};
  std::vector<std::string> outputs;  ///< outputs[0] is the per-class score map (NCHW)
  /// Output dims as the file declared them (-1 where not a number; absent where it declared none).
  /// save_onnx writes them only for a graph whose input dims are all fixed (a fixed-size export).
  std::map<std::string, Dims> output_dims;
  std::vector<Node> nodes;                ///< topological order
  std::map<std::string, Tensor> weights;  ///< initialisers by name
  ModelCard card;

  bool is_weight(const std::string& value) const { return weights.contains(value); }
  /// Node producing `value`, or nullptr for the graph input and weights.
  const Node* producer(const std::string& value) const;
  /// Parameter count (sum of weight element counts).
  int64_t parameter_count() const;
  /// Throws Error when a node reads a value nothing produced, or names repeat.
  void validate() const;
};

}  // namespace terraseg
