// Engine behaviour: plan caching, output reuse, multiple outputs, errors, statistics, threads.
#include <gtest/gtest.h>

#include "engine_test_util.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/threads.hpp"

namespace terraseg::test {
namespace {

Graph two_layer_graph() {
  const std::map<std::string, Tensor> w{{"W1", random_tensor({8, 3, 3, 3}, 700)},
                                        {"W2", random_tensor({4, 8, 1, 1}, 701)}};
  Node c1 = make_node("Conv", {"x", "W1"}, {{"pads", ints({1, 1, 1, 1})}, {"strides", ints({2, 2})}}, {"a"});
  c1.name = "c1";
  Node relu = make_node("Relu", {"a"}, {}, {"r"});
  Node c2 = make_node("Conv", {"r", "W2"}, {}, {"y"});
  c2.name = "c2";
  return make_graph({c1, relu, c2}, w);
}

TEST(Engine, PlanCacheGivesIdenticalResultsAcrossShapes) {
  const Graph g = two_layer_graph();
  Engine engine(g);
  const Tensor small = random_tensor({1, 3, 17, 23}, 702);
  const Tensor large = random_tensor({1, 3, 32, 40}, 703);
  Tensor first;
  Tensor other;
  Tensor again;
  engine.run(small, first);
  engine.run(large, other);
  engine.run(small, again);
  EXPECT_EQ(first.dims(), (Dims{1, 4, 9, 12}));
  EXPECT_EQ(other.dims(), (Dims{1, 4, 16, 20}));
  ASSERT_EQ(first.dims(), again.dims());
  EXPECT_EQ(first.storage(), again.storage());
  EXPECT_LT(max_abs_diff(other, run_reference(g, large).at("y")), 1e-4F);
}

TEST(Engine, OutputStorageIsReusedForTheSameShape) {
  Engine engine(two_layer_graph());
  const Tensor x = random_tensor({1, 3, 16, 16}, 704);
  Tensor out;
  engine.run(x, out);
  const float* storage = out.data();
  engine.run(random_tensor({1, 3, 16, 16}, 705), out);
  EXPECT_EQ(out.data(), storage);
}

TEST(Engine, RunAllReturnsEveryOutput) {
  Graph g = two_layer_graph();
  g.outputs = {"y", "r"};
  Engine engine(g);
  const Tensor x = random_tensor({1, 3, 10, 12}, 706);
  const std::vector<Tensor> outs = engine.run_all(x);
  ASSERT_EQ(outs.size(), 2U);
  const auto ref = run_reference(g, x);
  EXPECT_LT(max_abs_diff(outs[0], ref.at("y")), 1e-4F);
  EXPECT_LT(max_abs_diff(outs[1], ref.at("r")), 1e-4F);
}

TEST(Engine, UnsupportedOpNamesNodeAndOp) {
  Graph g = make_graph({make_node("Einsum", {"x"})});
  try {
    Engine engine(g);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("Einsum_node"), std::string::npos) << message;
    EXPECT_NE(message.find("(Einsum)"), std::string::npos) << message;
  }
}

TEST(Engine, UnsupportedAttributeIsRejectedAtLoad) {
  const Graph g = make_graph({make_node("Resize", {"x"}, {{"mode", std::string("cubic")}})});
  EXPECT_THROW(Engine engine(g), Error);
}

TEST(Engine, InputChannelMismatchIsAnError) {
  Graph g = two_layer_graph();
  g.input_dims = {1, 3, -1, -1};
  Engine engine(g);
  Tensor out;
  EXPECT_THROW(engine.run(random_tensor({1, 4, 8, 8}, 707), out), Error);
}

TEST(Engine, StatsCountOpsAndFlops) {
  Engine engine(two_layer_graph());
  const PlanStats stats = engine.stats({1, 3, 17, 23});
  EXPECT_EQ(stats.op_counts.at("Conv"), 2);
  EXPECT_EQ(stats.op_counts.at("Relu"), 1);
  const double conv1 = 2.0 * 8 * 9 * 12 * 3 * 3 * 3;
  const double conv2 = 2.0 * 4 * 9 * 12 * 8;
  EXPECT_DOUBLE_EQ(stats.flops, conv1 + conv2);
}

TEST(Engine, ThreadCountDoesNotChangeResults) {
  const Graph g = two_layer_graph();
  const Tensor x = random_tensor({1, 3, 20, 20}, 708);
  Engine one(g, EngineOptions{Precision::f32});
  Engine all(g, EngineOptions{Precision::f32});
  Tensor a;
  Tensor b;
  set_thread_count(1);
  one.run(x, a);
  set_thread_count(0);
  all.run(x, b);
  EXPECT_LT(max_abs_diff(a, b), 1e-5F);
  set_thread_count(0);
}

TEST(Engine, MoveKeepsPlans) {
  Engine engine(two_layer_graph());
  const Tensor x = random_tensor({1, 3, 8, 8}, 709);
  Tensor before;
  engine.run(x, before);
  Engine moved = std::move(engine);
  Tensor after;
  moved.run(x, after);
  EXPECT_EQ(before.storage(), after.storage());
}

TEST(Engine, IntermediateBuffersAreReusedByLiveness) {
  // A chain of ten activations needs two live buffers at a time, not ten.
  std::vector<Node> nodes;
  std::string previous = "x";
  for (int i = 0; i < 10; ++i) {
    const std::string out = i == 9 ? "y" : "v" + std::to_string(i);
    Node node = make_node(i % 2 == 0 ? "Sigmoid" : "Tanh", {previous}, {}, {out});
    node.name = "act" + std::to_string(i);
    nodes.push_back(node);
    previous = out;
  }
  const Graph g = make_graph(nodes);
  Engine engine(g);
  const Dims dims{1, 8, 32, 32};
  const int64_t tensor_bytes = element_count(dims) * 4;
  const PlanStats stats = engine.stats(dims);
  EXPECT_GT(stats.buffer_bytes, 0);
  EXPECT_LE(stats.buffer_bytes, 2 * tensor_bytes);
  EXPECT_LT(engine_vs_reference(g, random_tensor(dims, 710)), 1e-6F);
}

TEST(Engine, EvictedPlansAreRebuiltIdentically) {
  EngineOptions options;
  options.max_plans = 1;
  Engine engine(two_layer_graph(), options);
  const Tensor a = random_tensor({1, 3, 12, 12}, 711);
  const Tensor b = random_tensor({1, 3, 14, 10}, 712);
  Tensor first;
  Tensor other;
  Tensor again;
  engine.run(a, first);
  engine.run(b, other);
  engine.run(a, again);
  EXPECT_EQ(first.storage(), again.storage());
  EXPECT_EQ(other.dims(), (Dims{1, 4, 7, 5}));
}

}  // namespace
}  // namespace terraseg::test
