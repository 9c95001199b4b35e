#pragma once
/// Helpers for the engine tests: one-node graphs and engine-vs-reference comparison.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>
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
  EngineOptions options{precision};
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

/// "node,impl" of every step that the plan of `g` for x's shape runs, in order, as the engine's
/// TERRASEG_ENGINE_PROFILE lines report them (which lowering a node took).
inline std::vector<std::string> plan_steps(const Graph& g, const Tensor& x, Layout layout) {
  const char* previous = std::getenv("TERRASEG_ENGINE_PROFILE");
  const std::optional<std::string> saved = previous ? std::optional<std::string>(previous) : std::nullopt;
  setenv("TERRASEG_ENGINE_PROFILE", "1", 1);
  EngineOptions options;
  options.layout = layout;
  Engine engine(g, options);
  Tensor out;
  testing::internal::CaptureStderr();
  engine.run(x, out);
  const std::string text = testing::internal::GetCapturedStderr();
  if (saved) {
    setenv("TERRASEG_ENGINE_PROFILE", saved->c_str(), 1);
  } else {
    unsetenv("TERRASEG_ENGINE_PROFILE");
  }
  std::vector<std::string> steps;
  std::istringstream lines(text);
  const std::string prefix = "terraseg_profile,";
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(prefix, 0) != 0) continue;
    line = line.substr(prefix.size());
    steps.push_back(line.substr(0, line.rfind(',')));  // drop the milliseconds
  }
  return steps;
}

/// True when some step of `steps` is named `node` (any impl).
inline bool has_step(const std::vector<std::string>& steps, const std::string& node) {
  return std::ranges::any_of(steps, [&node](const std::string& step) { return step.starts_with(node + ","); });
}

inline std::vector<int64_t> ints(std::initializer_list<int64_t> v) { return v; }
inline std::vector<float> floats(std::initializer_list<float> v) { return v; }

}  // namespace terraseg::test
