// Activations, binary ops, BatchNormalization, Concat, Softmax, ArgMax, pass-through ops.
#include <gtest/gtest.h>

#include "engine_test_util.hpp"

using namespace terraseg;
using namespace terraseg::test;

TEST(ActivationOps, MatchReference) {
  const std::vector<Node> nodes{
      make_node("Relu", {"x"}),
      make_node("LeakyRelu", {"x"}, {{"alpha", 0.2F}}),
      make_node("Sigmoid", {"x"}),
      make_node("Tanh", {"x"}),
      make_node("Elu", {"x"}, {{"alpha", 0.7F}}),
      make_node("Clip", {"x"}, {{"min", -0.3F}, {"max", 0.4F}}),
      make_node("Identity", {"x"}),
      make_node("Dropout", {"x"}),
  };
  const Tensor x = random_tensor({1, 3, 17, 23}, 500, -3.0F, 3.0F);
  for (const Node& node : nodes) {
    SCOPED_TRACE(node.op);
    EXPECT_LT(engine_vs_reference(make_graph({node}), x), 1e-6F);
  }
}

TEST(PReluOp, PerChannelAndScalarSlope) {
  const Tensor x = random_tensor({1, 6, 9, 11}, 501);
  const Graph per_channel = make_graph({make_node("PRelu", {"x", "slope"})}, {{"slope", random_tensor({6, 1, 1}, 502)}});
  EXPECT_LT(engine_vs_reference(per_channel, x), 1e-6F);
  const Graph scalar = make_graph({make_node("PRelu", {"x", "slope"})}, {{"slope", Tensor({1}, 0.25F)}});
  const Tensor out = run_engine(scalar, x);
  EXPECT_LT(max_abs_diff(out, prelu(x, Tensor({1}, 0.25F))), 1e-6F);
}

TEST(PReluOp, OnBlockedLayoutAfterConv) {
  // After a conv the tensor is blocked (19 channels: a padded last block, as in ESPNet); the slope
  // then takes the same layout so that oneDNN picks its jit kernel, not the reference one.
  for (const int64_t slopes : {int64_t{19}, int64_t{1}}) {
    SCOPED_TRACE(slopes);
    const std::map<std::string, Tensor> w{{"W", random_tensor({19, 3, 3, 3}, 503)},
                                          {"slope", random_tensor({slopes, 1, 1}, 504)}};
    Node conv = make_node("Conv", {"x", "W"}, {{"pads", ints({1, 1, 1, 1})}}, {"c"});
    Node act = make_node("PRelu", {"c", "slope"});
    EXPECT_LT(engine_vs_reference(make_graph({conv, act}, w), random_tensor({1, 3, 10, 12}, 505)), 1e-5F);
  }
}

TEST(BinaryOps, BroadcastsAndConstants) {
  const Tensor x = random_tensor({2, 5, 7, 9}, 510);
  const std::map<std::string, Tensor> w{{"c", random_tensor({5, 1, 1}, 511)}, {"s", Tensor({1}, 3.0F)}};
  const std::vector<Node> cases{
      make_node("Add", {"x", "c"}), make_node("Add", {"c", "x"}), make_node("Mul", {"x", "s"}),
      make_node("Sub", {"x", "c"}), make_node("Div", {"x", "s"}), make_node("Mul", {"x", "x"}),
  };
  for (const Node& node : cases) {
    SCOPED_TRACE(node.op + "(" + node.inputs[0] + "," + node.inputs[1] + ")");
    EXPECT_LT(engine_vs_reference(make_graph({node}, w), x), 1e-6F);
  }
}

TEST(BinaryOps, ValueBroadcastFromGlobalPool) {
  Node gap = make_node("GlobalAveragePool", {"x"}, {}, {"g"});
  const Graph g = make_graph({gap, make_node("Mul", {"g", "x"})});
  EXPECT_LT(engine_vs_reference(g, random_tensor({1, 4, 6, 5}, 512)), 1e-6F);
}

TEST(BatchNormOp, UnfoldedPrimitiveMatchesReference) {
  const std::map<std::string, Tensor> w{{"g", random_tensor({7}, 520, 0.5F, 2.0F)}, {"b", random_tensor({7}, 521)},
                                        {"m", random_tensor({7}, 522)}, {"v", random_tensor({7}, 523, 0.1F, 3.0F)}};
  const Graph g = make_graph({make_node("BatchNormalization", {"x", "g", "b", "m", "v"}, {{"epsilon", 1e-3F}})}, w);
  EXPECT_LT(engine_vs_reference(g, random_tensor({2, 7, 9, 13}, 524)), 1e-5F);
}

TEST(ConcatOp, MixedLayoutsAndOddChannels) {
  // Concat of the plain input (3 ch), a conv output (blocked layout, 5 ch) and a Relu (3 ch).
  const std::map<std::string, Tensor> w{{"W", random_tensor({5, 3, 3, 3}, 530)}};
  Node conv = make_node("Conv", {"x", "W"}, {{"pads", ints({1, 1, 1, 1})}}, {"c"});
  Node relu = make_node("Relu", {"x"}, {}, {"r"});
  Node cat = make_node("Concat", {"x", "c", "r"}, {{"axis", int64_t{1}}});
  const Graph g = make_graph({conv, relu, cat}, w);
  const Tensor x = random_tensor({1, 3, 11, 13}, 531);
  const Tensor out = run_engine(g, x);
  ASSERT_EQ(out.dims(), (Dims{1, 11, 11, 13}));
  EXPECT_LT(max_abs_diff(out, run_reference(g, x).at("y")), 1e-4F);
  EXPECT_EQ(out.data()[5], x.data()[5]);  // channel 0 is the input itself
}

namespace {

std::map<std::string, Tensor> bn_params(int64_t channels, uint64_t seed) {
  return {{"g", random_tensor({channels}, seed, 0.5F, 2.0F)},
          {"b", random_tensor({channels}, seed + 1)},
          {"m", random_tensor({channels}, seed + 2)},
          {"v", random_tensor({channels}, seed + 3, 0.1F, 3.0F)}};
}

}  // namespace

TEST(ChannelAffine, ConcatAddBatchNormPReluChain) {
  // ESPNet's module tail: Concat (odd channel counts) -> Add residual -> BatchNormalization -> PRelu,
  // one fused step in nhwc; separate primitives in blocked layouts.
  std::map<std::string, Tensor> w = bn_params(11, 560);
  w["W"] = random_tensor({5, 3, 3, 3}, 565);
  w["W2"] = random_tensor({11, 3, 1, 1}, 566);
  w["slope"] = random_tensor({11, 1, 1}, 567, 0.0F, 0.5F);
  Node conv = make_node("Conv", {"x", "W"}, {{"pads", ints({1, 1, 1, 1})}}, {"c"});
  Node relu = make_node("Relu", {"x"}, {}, {"r"});
  Node residual = make_node("Conv", {"x", "W2"}, {}, {"res"});
  residual.name = "residual";
  Node cat = make_node("Concat", {"c", "x", "r"}, {{"axis", int64_t{1}}}, {"cat"});
  Node add = make_node("Add", {"res", "cat"}, {}, {"sum"});
  Node bn = make_node("BatchNormalization", {"sum", "g", "b", "m", "v"}, {{"epsilon", 1e-3F}}, {"n"});
  Node prelu = make_node("PRelu", {"n", "slope"});
  const Graph g = make_graph({conv, relu, residual, cat, add, bn, prelu}, w);
  for (const Layout layout : kLayouts) {
    SCOPED_TRACE(layout_name(layout));
    EXPECT_LT(engine_vs_reference(g, random_tensor({2, 3, 9, 13}, 568), Precision::f32, layout), 1e-4F);
  }
}

TEST(ChannelAffine, ShorterChains) {
  std::map<std::string, Tensor> w = bn_params(7, 570);
  w["slope"] = random_tensor({1}, 575, 0.0F, 0.5F);
  const Tensor x = random_tensor({1, 7, 6, 10}, 576);
  // BatchNormalization -> PRelu with one shared slope.
  Node bn = make_node("BatchNormalization", {"x", "g", "b", "m", "v"}, {}, {"n"});
  const Graph bn_prelu = make_graph({bn, make_node("PRelu", {"n", "slope"})}, w);
  // Add -> BatchNormalization (no PRelu), the sum of two computed values.
  Node relu = make_node("Relu", {"x"}, {}, {"r"});
  Node add = make_node("Add", {"x", "r"}, {}, {"s"});
  const Graph add_bn = make_graph({relu, add, make_node("BatchNormalization", {"s", "g", "b", "m", "v"})}, w);
  // Concat -> BatchNormalization -> PRelu where the concat output has a second reader: not fused.
  std::map<std::string, Tensor> w14 = bn_params(14, 580);
  w14["slope"] = random_tensor({14}, 585, 0.0F, 0.5F);
  Node cat = make_node("Concat", {"x", "x"}, {{"axis", int64_t{1}}}, {"cat"});
  Node bn14 = make_node("BatchNormalization", {"cat", "g", "b", "m", "v"}, {}, {"n"});
  Node prelu14 = make_node("PRelu", {"n", "slope"}, {}, {"p"});
  Node again = make_node("Add", {"p", "cat"});
  const Graph shared = make_graph({cat, bn14, prelu14, again}, w14);
  for (const Layout layout : kLayouts) {
    SCOPED_TRACE(layout_name(layout));
    EXPECT_LT(engine_vs_reference(bn_prelu, x, Precision::f32, layout), 1e-5F);
    EXPECT_LT(engine_vs_reference(add_bn, x, Precision::f32, layout), 1e-5F);
    EXPECT_LT(engine_vs_reference(shared, x, Precision::f32, layout), 1e-5F);
  }
}

TEST(SoftmaxArgMaxOps, MatchReference) {
  const Tensor x = random_tensor({2, 6, 7, 9}, 540, -4.0F, 4.0F);
  EXPECT_LT(engine_vs_reference(make_graph({make_node("Softmax", {"x"}, {{"axis", int64_t{1}}})}), x), 1e-6F);
  EXPECT_EQ(engine_vs_reference(make_graph({make_node("ArgMax", {"x"}, {{"axis", int64_t{1}}})}), x), 0.0F);
  const Tensor flat = run_engine(make_graph({make_node("ArgMax", {"x"}, {{"axis", int64_t{1}}, {"keepdims", int64_t{0}}})}), x);
  EXPECT_EQ(flat.dims(), (Dims{2, 7, 9}));
  EXPECT_EQ(max_abs_diff(flat, argmax_channels(x, false)), 0.0F);
}
