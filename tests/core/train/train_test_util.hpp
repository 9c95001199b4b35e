#pragma once
// Helpers for the training tests: tiny graphs built node by node, seeded random tensors.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "terraseg/core/graph.hpp"
#include "terraseg/core/tensor.hpp"

namespace terraseg::test {

inline Node make_node(std::string op, std::vector<std::string> inputs, std::vector<std::string> outputs,
                      std::map<std::string, AttrValue> attrs = {}) {
  Node node;
  node.name = op + "_" + outputs.at(0);
  node.op = std::move(op);
  node.inputs = std::move(inputs);
  node.outputs = std::move(outputs);
  node.attrs = std::move(attrs);
  return node;
}

inline Tensor random_tensor(Dims dims, uint64_t seed, float low = -1.0F, float high = 1.0F) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(low, high);
  Tensor tensor(std::move(dims));
  for (float& v : tensor.values()) v = dist(rng);
  return tensor;
}

/// Values at least `gap` away from 0 and from each other: no kinks of ReLU or max within +-gap/2.
inline Tensor separated_tensor(Dims dims, uint64_t seed, float gap) {
  Tensor tensor(std::move(dims));
  std::vector<float> values(static_cast<size_t>(tensor.size()));
  for (size_t i = 0; i < values.size(); ++i) values[i] = (static_cast<float>(i) + 0.5F) * gap;
  const float middle = static_cast<float>(values.size()) * gap / 2.0F;
  for (float& v : values) v = v < middle ? v - middle - gap : v - middle + gap;
  std::mt19937_64 rng(seed);
  std::shuffle(values.begin(), values.end(), rng);
  tensor.storage() = values;
  return tensor;
}

inline Graph single_input_graph(Dims input_dims) {
  Graph graph;
  graph.name = "test";
  graph.input = "x";
  graph.input_dims = std::move(input_dims);
  graph.outputs = {"y"};
  return graph;
}

}  // namespace terraseg::test
