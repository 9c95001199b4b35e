#pragma once
/// Helpers for the engine tests: one-node graphs and engine-vs-reference comparison.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "reference_ops.hpp"
#include "terraseg/core/engine.hpp"
#include "terraseg/core/graph.hpp"

namespace terraseg::test {

inline Node make_node(std::string op, std::vector<std::string> inputs, std::map<std::string, AttrValue> attrs = {},
                      std::vector<std::string> outputs = {"y"}) {
  return Node{op + "_node", std::move(op), std::move(inputs), std::move(outputs), std::move(attrs)};
}

/// A graph with input "x" and the given nodes; its output is the first output of the last node.
inline Graph make_graph(std::vector<Node> nodes, std::map<std::string, Tensor> weights = {}) {
  Graph g;
  g.name = "test";
  g.input = "x";
  g.outputs = {nodes.back().outputs.at(0)};
  g.nodes = std::move(nodes);
  g.weights = std::move(weights);
  g.validate();
  return g;
}

using Layout = EngineOptions::Layout;
/// The two activation layouts the planner can choose (tests run both where layouts matter).
inline const std::vector<Layout> kLayouts{Layout::blocked, Layout::nhwc};
inline const char* layout_name(Layout layout) {
  return layout == Layout::blocked ? "blocked" : layout == Layout::nhwc ? "nhwc" : "automatic";
}

inline Tensor run_engine(const Graph& g, const Tensor& x, Precision precision = Precision::f32,
                         Layout layout = Layout::automatic) {
  EngineOptions options{0, precision};
  options.layout = layout;
  Engine engine(g, options);
  Tensor out;
  engine.run(x, out);
  return out;
}

/// Max |engine - reference| of graph output 0; fails the test when the shapes differ.
inline float engine_vs_reference(const Graph& g, const Tensor& x, Precision precision = Precision::f32,
                                 Layout layout = Layout::automatic) {
  const Tensor out = run_engine(g, x, precision, layout);
  const Tensor ref = run_reference(g, x).at(g.outputs.at(0));
  EXPECT_EQ(to_string(out.dims()), to_string(ref.dims()));
  return max_abs_diff(out, ref);
}

inline std::vector<int64_t> ints(std::initializer_list<int64_t> v) { return v; }
inline std::vector<float> floats(std::initializer_list<float> v) { return v; }

}  // namespace terraseg::test
