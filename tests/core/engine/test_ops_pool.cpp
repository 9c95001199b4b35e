// Pooling and unpooling against the naive reference.
#include <gtest/gtest.h>

#include "engine_test_util.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg::test {
namespace {

struct PoolCase {
  const char* name;
  Dims x;
  std::map<std::string, AttrValue> attrs;
};

TEST(MaxPoolOp, VariantsMatchReference) {
  const std::vector<PoolCase> cases{
      {"k2s2_odd_floor", {1, 3, 17, 23}, {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}}},
      {"k3s2_ceil",
       {1, 5, 17, 23},
       {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"ceil_mode", int64_t{1}}}},
      {"k2s2_ceil_odd",
       {1, 8, 17, 23},
       {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}, {"ceil_mode", int64_t{1}}}},
      {"asymmetric_pads",
       {1, 4, 13, 11},
       {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"pads", ints({1, 0, 0, 1})}}},
      {"dilation2", {1, 4, 13, 11}, {{"kernel_shape", ints({2, 2})}, {"dilations", ints({2, 2})}}},
      {"same_upper",
       {2, 3, 9, 10},
       {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"auto_pad", std::string("SAME_UPPER")}}},
      {"rect", {1, 16, 12, 15}, {{"kernel_shape", ints({2, 3})}, {"strides", ints({1, 2})}}},
  };
  uint64_t seed = 200;
  for (const PoolCase& c : cases) {
    SCOPED_TRACE(c.name);
    const Graph g = make_graph({make_node("MaxPool", {"x"}, c.attrs)});
    EXPECT_EQ(engine_vs_reference(g, random_tensor(c.x, seed++)), 0.0F);
  }
}

TEST(AveragePoolOp, VariantsMatchReference) {
  const std::vector<PoolCase> cases{
      {"k2s2", {1, 3, 17, 23}, {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}}},
      {"pads_exclude", {1, 4, 13, 11}, {{"kernel_shape", ints({3, 3})}, {"pads", ints({1, 1, 1, 1})}}},
      {"pads_include",
       {1, 4, 13, 11},
       {{"kernel_shape", ints({3, 3})}, {"pads", ints({1, 2, 1, 0})}, {"count_include_pad", int64_t{1}}}},
      {"ceil_exclude",
       {1, 8, 17, 23},
       {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"ceil_mode", int64_t{1}}}},
  };
  uint64_t seed = 300;
  for (const PoolCase& c : cases) {
    for (const Layout layout : kLayouts) {
      SCOPED_TRACE(std::string(c.name) + " " + layout_name(layout));
      const Graph g = make_graph({make_node("AveragePool", {"x"}, c.attrs)});
      EXPECT_LT(engine_vs_reference(g, random_tensor(c.x, seed), Precision::f32, layout), 1e-6F);
    }
    ++seed;
  }
}

TEST(AveragePoolOp, ZeroPadIsFoldedIntoThePool) {
  // ESPNet's input pyramid: Pad (constant 0) -> AveragePool 3x3 s2 becomes one pool counting the
  // padding; a non-zero pad value, or a pool with its own padding, keeps the Pad.
  const std::map<std::string, AttrValue> pool{{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}};
  std::map<std::string, AttrValue> own_pads = pool;
  own_pads["pads"] = ints({1, 0, 0, 1});
  const std::vector<std::pair<float, std::map<std::string, AttrValue>>> cases{
      {0.0F, pool}, {0.5F, pool}, {0.0F, own_pads}};
  const Tensor x = random_tensor({1, 3, 17, 22}, 320);
  for (const auto& [value, attrs] : cases) {
    Node pad = make_node("Pad", {"x"}, {{"pads", ints({0, 0, 1, 0, 0, 0, 1, 2})}, {"constant_value", value}}, {"p"});
    const Graph g = make_graph({pad, make_node("AveragePool", {"p"}, attrs)});
    for (const Layout layout : kLayouts) {
      SCOPED_TRACE(std::to_string(value) + " " + layout_name(layout));
      EXPECT_LT(engine_vs_reference(g, x, Precision::f32, layout), 1e-6F);
    }
    EngineOptions options;
    const size_t nodes = Engine(g, options).graph().nodes.size();
    EXPECT_EQ(nodes, value == 0.0F && !attrs.contains("pads") ? 1U : 2U);
  }
}

TEST(GlobalAveragePoolOp, MatchesReference) {
  const Graph g = make_graph({make_node("GlobalAveragePool", {"x"})});
  const Tensor x = random_tensor({2, 5, 7, 9}, 400);
  const Tensor out = run_engine(g, x);
  ASSERT_EQ(out.dims(), (Dims{2, 5, 1, 1}));
  EXPECT_LT(max_abs_diff(out, global_average_pool(x)), 1e-6F);
}

TEST(MaxUnpoolOp, ScattersToTheArgmaxPositions) {
  // MaxPool -> Sigmoid -> MaxUnpool with the pool's indices, as in a SegNet decoder.
  std::map<std::string, AttrValue> window{{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}};
  Node pool = make_node("MaxPool", {"x"}, window, {"p", "idx"});
  Node act = make_node("Sigmoid", {"p"}, {}, {"s"});
  Node unpool = make_node("MaxUnpool", {"s", "idx"}, window, {"y"});
  const Graph g = make_graph({pool, act, unpool});
  const Tensor x = random_tensor({1, 5, 16, 22}, 401);
  const Tensor out = run_engine(g, x);
  ASSERT_EQ(out.dims(), x.dims());
  EXPECT_LT(max_abs_diff(out, run_reference(g, x).at("y")), 1e-6F);
  int64_t nonzero = 0;
  for (float v : out.values()) nonzero += v != 0.0F;
  EXPECT_EQ(nonzero, 5 * 8 * 11);  // exactly one value per 2x2 window
}

TEST(MaxUnpoolOp, OddInputIsAClearError) {
  std::map<std::string, AttrValue> window{{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}};
  const Graph g = make_graph(
      {make_node("MaxPool", {"x"}, window, {"p", "idx"}), make_node("MaxUnpool", {"p", "idx"}, window, {"y"})});
  Engine engine(g);
  Tensor out;
  try {
    engine.run(random_tensor({1, 2, 17, 16}, 402), out);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("MaxUnpool_node"), std::string::npos) << e.what();
  }
}

TEST(MaxPoolOp, IndicesAsGraphOutputAreOnnxFlatIndices) {
  // ONNX Indices are flat NCHW offsets into the input, ((n*C + c)*H + h)*W + w, whatever layout the
  // engine pools in: a plain input, and a conv output (blocked layout) with two images.
  const std::vector<PoolCase> cases{
      {"k2s2", {2, 3, 8, 10}, {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}}},
      {"k3s2_pads_ceil",
       {1, 5, 11, 13},
       {{"kernel_shape", ints({3, 3})},
        {"strides", ints({2, 2})},
        {"pads", ints({1, 0, 1, 1})},
        {"ceil_mode", int64_t{1}}}},
      {"dilation2", {1, 4, 13, 11}, {{"kernel_shape", ints({2, 2})}, {"dilations", ints({2, 2})}}},
  };
  uint64_t seed = 410;
  for (const PoolCase& c : cases) {
    for (const bool after_conv : {false, true}) {
      SCOPED_TRACE(std::string(c.name) + (after_conv ? " after conv" : " plain"));
      std::vector<Node> nodes;
      std::map<std::string, Tensor> weights;
      std::string pooled = "x";
      if (after_conv) {
        weights["W"] = random_tensor({16, c.x[1], 3, 3}, seed++);
        nodes.push_back(make_node("Conv", {"x", "W"}, {{"pads", ints({1, 1, 1, 1})}}, {"c"}));
        pooled = "c";
      }
      nodes.push_back(make_node("MaxPool", {pooled}, c.attrs, {"p", "idx"}));
      Graph g = make_graph(nodes, weights);
      g.outputs = {"p", "idx"};
      const Tensor x = random_tensor(c.x, seed++);
      const std::vector<Tensor> out = Engine(g).run_all(x);
      const auto ref = run_reference(g, x);
      ASSERT_EQ(out.size(), 2U);
      EXPECT_LT(max_abs_diff(out[0], ref.at("p")), 1e-5F);
      EXPECT_EQ(max_abs_diff(out[1], ref.at("idx")), 0.0F);
    }
  }
}

TEST(MaxPoolOp, IndicesOutputBeyondFloatPrecisionIsAClearError) {
  // Graph outputs are float tensors: flat indices past 2^24 would silently round.
  std::map<std::string, AttrValue> window{{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}};
  Graph g = make_graph({make_node("MaxPool", {"x"}, window, {"p", "idx"})});
  g.outputs = {"p", "idx"};
  Engine engine(g);
  try {
    engine.run_all(Tensor({1, 65, 512, 512}));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("MaxPool_node"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("2^24"), std::string::npos) << e.what();
  }
}

TEST(MaxPoolOp, IndicesFeedMaxUnpoolAndAreAGraphOutput) {
  std::map<std::string, AttrValue> window{{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}};
  Graph g = make_graph(
      {make_node("MaxPool", {"x"}, window, {"p", "idx"}), make_node("MaxUnpool", {"p", "idx"}, window, {"y"})});
  g.outputs = {"y", "idx"};
  const Tensor x = random_tensor({1, 3, 6, 8}, 420);
  const std::vector<Tensor> out = Engine(g).run_all(x);
  const auto ref = run_reference(g, x);
  EXPECT_LT(max_abs_diff(out.at(0), ref.at("y")), 1e-6F);
  EXPECT_EQ(max_abs_diff(out.at(1), ref.at("idx")), 0.0F);
}

}  // namespace
}  // namespace terraseg::test
