// Conv and ConvTranspose against the naive reference, fusion, precision.
#include <gtest/gtest.h>

#include <algorithm>
#include <utility>

#include "engine_test_util.hpp"
#include "terraseg/core/bench.hpp"
#include "terraseg/core/builders.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/threads.hpp"

namespace terraseg::test {
namespace {

struct ConvCase {
  const char* name;
  Dims x;
  Dims w;
  std::map<std::string, AttrValue> attrs;
  bool bias;
};

Graph conv_graph(const std::string& op, const Dims& w_dims, std::map<std::string, AttrValue> attrs, bool bias,
                 int64_t out_channels, uint64_t seed) {
  std::map<std::string, Tensor> weights{{"W", random_tensor(w_dims, seed)}};
  std::vector<std::string> inputs{"x", "W"};
  if (bias) {
    weights["B"] = random_tensor({out_channels}, seed + 1);
    inputs.emplace_back("B");
  }
  return make_graph({make_node(op, inputs, std::move(attrs))}, std::move(weights));
}

TEST(ConvOp, OneConvLayerMatchesNaiveReference) {
  const Tensor x = random_tensor({1, 3, 17, 23}, 1);
  const Tensor w = random_tensor({8, 3, 3, 3}, 2);
  const Tensor b = random_tensor({8}, 3);
  Window win;
  win.pads = {1, 1, 1, 1};
  const Tensor expected = conv2d(x, w, &b, win);
  const Graph g =
      make_graph({make_node("Conv", {"x", "W", "B"}, {{"pads", ints({1, 1, 1, 1})}})}, {{"W", w}, {"B", b}});
  const Tensor out = run_engine(g, x);
  ASSERT_EQ(out.dims(), (Dims{1, 8, 17, 23}));
  EXPECT_LT(max_abs_diff(out, expected), 1e-4F);
  // A hand-checked value: a centre pixel is the full 27-tap dot product plus bias.
  double centre = b.data()[5];
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t ky = 0; ky < 3; ++ky)
      for (int64_t kx = 0; kx < 3; ++kx)
        centre +=
            static_cast<double>(x.data()[(c * 17 + 7 + ky) * 23 + 9 + kx]) * w.data()[((15 + c) * 3 + ky) * 3 + kx];
  EXPECT_NEAR(out.data()[(5 * 17 + 8) * 23 + 10], centre, 1e-4);
}

TEST(ConvOp, VariantsMatchReference) {
  const std::vector<ConvCase> cases{
      {"stride2", {1, 3, 17, 23}, {8, 3, 3, 3}, {{"strides", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})}}, true},
      {"dilation2", {1, 4, 17, 23}, {6, 4, 3, 3}, {{"dilations", ints({2, 2})}, {"pads", ints({2, 2, 2, 2})}}, true},
      {"groups2", {1, 4, 13, 11}, {6, 2, 3, 3}, {{"group", int64_t{2}}, {"pads", ints({1, 1, 1, 1})}}, true},
      {"depthwise", {1, 8, 13, 11}, {8, 1, 3, 3}, {{"group", int64_t{8}}, {"pads", ints({1, 1, 1, 1})}}, false},
      {"asymmetric_pads", {1, 3, 17, 23}, {5, 3, 3, 3}, {{"pads", ints({0, 1, 2, 0})}}, true},
      {"same_upper_s2",
       {1, 3, 17, 23},
       {8, 3, 3, 3},
       {{"auto_pad", std::string("SAME_UPPER")}, {"strides", ints({2, 2})}},
       true},
      {"same_lower", {1, 3, 16, 15}, {4, 3, 4, 4}, {{"auto_pad", std::string("SAME_LOWER")}}, false},
      {"valid_5x5", {2, 16, 19, 21}, {16, 16, 5, 5}, {{"auto_pad", std::string("VALID")}}, true},
      {"pointwise", {1, 32, 9, 7}, {5, 32, 1, 1}, {}, true},
      {"rect_kernel_stride",
       {1, 8, 20, 17},
       {16, 8, 3, 5},
       {{"strides", ints({2, 3})}, {"pads", ints({1, 2, 1, 2})}},
       true},
      // ESPNet's dilated 3x3s: W padding beyond oneDNN jit's 3 columns (the source is padded explicitly).
      {"dilation4_wide_pad",
       {1, 12, 20, 37},
       {12, 12, 3, 3},
       {{"dilations", ints({4, 4})}, {"pads", ints({4, 4, 4, 4})}},
       true},
      {"dilation16_wide_pad",
       {1, 8, 40, 45},
       {8, 8, 3, 3},
       {{"dilations", ints({16, 16})}, {"pads", ints({16, 16, 16, 16})}},
       true},
      {"dilation8_asymmetric_w",
       {1, 25, 19, 30},
       {25, 25, 3, 3},
       {{"dilations", ints({8, 8})}, {"pads", ints({8, 8, 8, 5})}},
       false},
  };
  uint64_t seed = 10;
  for (const ConvCase& c : cases) {
    for (const Layout layout : kLayouts) {
      SCOPED_TRACE(std::string(c.name) + " " + layout_name(layout));
      const Graph g = conv_graph("Conv", c.w, c.attrs, c.bias, c.w[0], seed);
      EXPECT_LT(engine_vs_reference(g, random_tensor(c.x, seed + 1), Precision::f32, layout), 2e-4F);
    }
    seed += 2;
  }
}

TEST(ConvOp, WidePaddedDilatedConvWithResidualSum) {
  // d2 conv, then a d8 conv whose Add of the d2 output becomes a sum post-op on the padded source.
  const std::map<std::string, Tensor> w{{"W1", random_tensor({12, 12, 3, 3}, 60)},
                                        {"W2", random_tensor({12, 12, 3, 3}, 61)},
                                        {"B2", random_tensor({12}, 62)}};
  Node d2 = make_node("Conv", {"x", "W1"}, {{"dilations", ints({2, 2})}, {"pads", ints({2, 2, 2, 2})}}, {"a"});
  Node d8 = make_node("Conv", {"x", "W2", "B2"}, {{"dilations", ints({8, 8})}, {"pads", ints({8, 8, 8, 8})}}, {"b"});
  d8.name = "d8";
  Node add = make_node("Add", {"b", "a"});
  const Graph g = make_graph({d2, d8, add}, w);
  for (const Layout layout : kLayouts) {
    SCOPED_TRACE(layout_name(layout));
    EXPECT_LT(engine_vs_reference(g, random_tensor({1, 12, 21, 26}, 63), Precision::f32, layout), 2e-4F);
  }
}

TEST(ConvTransposeOp, VariantsMatchReference) {
  const std::vector<ConvCase> cases{
      {"k2s2", {1, 16, 9, 11}, {16, 8, 2, 2}, {{"strides", ints({2, 2})}}, true},
      {"k3s2_pad_outpad",
       {1, 8, 7, 9},
       {8, 4, 3, 3},
       {{"strides", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})}, {"output_padding", ints({1, 1})}},
       true},
      {"outpad_without_pad",
       {1, 4, 5, 6},
       {4, 3, 3, 3},
       {{"strides", ints({2, 2})}, {"output_padding", ints({1, 0})}},
       true},
      {"groups2", {1, 6, 7, 5}, {6, 2, 3, 3}, {{"group", int64_t{2}}, {"strides", ints({2, 2})}}, true},
      {"dilation2", {1, 4, 6, 7}, {4, 5, 3, 3}, {{"dilations", ints({2, 2})}}, false},
      {"asymmetric_pads", {1, 4, 6, 7}, {4, 5, 4, 4}, {{"strides", ints({2, 2})}, {"pads", ints({0, 1, 2, 1})}}, true},
      {"output_shape", {1, 4, 6, 7}, {4, 3, 3, 3}, {{"strides", ints({2, 2})}, {"output_shape", ints({12, 14})}}, true},
      {"same_upper",
       {1, 4, 6, 7},
       {4, 3, 3, 3},
       {{"strides", ints({2, 2})}, {"auto_pad", std::string("SAME_UPPER")}},
       true},
      // Kernel == stride (1x1 conv + depth-to-space, planar here as the graph output).
      {"k2s2_espnet", {2, 20, 9, 11}, {20, 20, 2, 2}, {{"strides", ints({2, 2})}}, true},
      {"k3s3", {1, 5, 6, 7}, {5, 3, 3, 3}, {{"strides", ints({3, 3})}}, false},
      {"k2x3_s2x3", {1, 6, 5, 4}, {6, 7, 2, 3}, {{"strides", ints({2, 3})}}, true},
  };
  uint64_t seed = 100;
  for (const ConvCase& c : cases) {
    for (const Layout layout : kLayouts) {
      SCOPED_TRACE(std::string(c.name) + " " + layout_name(layout));
      const int64_t group = c.attrs.contains("group") ? std::get<int64_t>(c.attrs.at("group")) : 1;
      const Graph g = conv_graph("ConvTranspose", c.w, c.attrs, c.bias, c.w[1] * group, seed);
      EXPECT_LT(engine_vs_reference(g, random_tensor(c.x, seed + 1), Precision::f32, layout), 2e-4F);
    }
    seed += 2;
  }
}

TEST(ConvTransposeOp, TiledWithActivationAndResidual) {
  // ConvTranspose (k == s) -> Relu -> Add of an earlier value: Relu stays fused, the sum runs after.
  const std::map<std::string, Tensor> w{{"W1", random_tensor({6, 10, 2, 2}, 150)},
                                        {"B1", random_tensor({10}, 151)},
                                        {"W2", random_tensor({6, 10, 2, 2}, 152)}};
  Node other = make_node("ConvTranspose", {"x", "W2"}, {{"strides", ints({2, 2})}}, {"o"});
  Node up = make_node("ConvTranspose", {"x", "W1", "B1"}, {{"strides", ints({2, 2})}}, {"u"});
  up.name = "up";
  Node relu = make_node("Relu", {"u"}, {}, {"r"});
  Node add = make_node("Add", {"r", "o"});
  const Graph g = make_graph({other, up, relu, add}, w);
  for (const Layout layout : kLayouts) {
    SCOPED_TRACE(layout_name(layout));
    EXPECT_LT(engine_vs_reference(g, random_tensor({1, 6, 7, 9}, 153), Precision::f32, layout), 2e-4F);
  }
}

TEST(ConvTransposeOp, KernelEqualsStrideAsIntermediate) {
  // Kernel == stride ConvTranspose (with or without a fused Relu) read by a Mul, so that its output
  // stays in the plan's layout: a 1x1 convolution and a depth-to-space copy in nChw8c (blocked plans,
  // C_out % 8 == 0) or nhwc (channels-last plans); the deconvolution in blocked plans otherwise.
  struct Case {
    const char* name;
    Dims x;
    Dims w;
    std::vector<int64_t> strides;
    bool relu;
  };
  const std::vector<Case> cases{
      {"k2s2_odd", {1, 16, 9, 11}, {16, 8, 2, 2}, {2, 2}, false},
      {"k2s2_batch2_relu", {2, 12, 7, 5}, {12, 16, 2, 2}, {2, 2}, true},
      {"k3s3_three_blocks", {1, 5, 5, 3}, {5, 24, 3, 3}, {3, 3}, false},
      {"k2x3_batch2", {2, 8, 3, 7}, {8, 16, 2, 3}, {2, 3}, true},
      {"c12_deconvolution", {1, 8, 6, 5}, {8, 12, 2, 2}, {2, 2}, false},
  };
  uint64_t seed = 160;
  for (const Case& c : cases) {
    const int64_t oc = c.w[1];
    const std::map<std::string, Tensor> w{{"W", random_tensor(c.w, seed)},
                                          {"B", random_tensor({oc}, seed + 1)},
                                          {"s", random_tensor({oc, 1, 1}, seed + 2, 0.5F, 1.5F)}};
    std::vector<Node> nodes{make_node("ConvTranspose", {"x", "W", "B"}, {{"strides", c.strides}}, {"u"})};
    nodes[0].name = "up";
    if (c.relu) nodes.push_back(make_node("Relu", {"u"}, {}, {"r"}));
    nodes.push_back(make_node("Mul", {c.relu ? "r" : "u", "s"}));
    const Graph g = make_graph(nodes, w);
    const Tensor x = random_tensor(c.x, seed + 3);
    for (const Layout layout : kLayouts) {
      SCOPED_TRACE(std::string(c.name) + " " + layout_name(layout));
      EXPECT_LT(engine_vs_reference(g, x, Precision::f32, layout), 2e-4F);
      EXPECT_LT(engine_vs_reference(g, x, Precision::bf16, layout), 0.05F);
      const bool tiled = layout == Layout::nhwc || oc % 8 == 0;
      EXPECT_EQ(has_step(plan_steps(g, x, layout), "up.depth_to_space"), tiled);
    }
    seed += 4;
  }
}

TEST(ConvTransposeOp, KernelEqualsStrideAsGraphOutput) {
  // A graph output is written planar by the depth-to-space in both layouts, also when another node
  // reads it (here a Mul, the first output).
  const std::map<std::string, Tensor> w{
      {"W", random_tensor({16, 8, 2, 2}, 170)}, {"B", random_tensor({8}, 171)}, {"s", random_tensor({8, 1, 1}, 172)}};
  Node up = make_node("ConvTranspose", {"x", "W", "B"}, {{"strides", ints({2, 2})}}, {"u"});
  up.name = "up";
  const Graph single = make_graph({up}, w);
  Graph shared = make_graph({up, make_node("Mul", {"u", "s"}, {}, {"m"})}, w);
  shared.outputs = {"m", "u"};
  for (const Dims& dims : {Dims{1, 16, 9, 11}, Dims{2, 16, 5, 7}}) {
    const Tensor x = random_tensor(dims, 173);
    const auto ref = run_reference(shared, x);
    for (const Layout layout : kLayouts) {
      SCOPED_TRACE(to_string(dims) + " " + layout_name(layout));
      EXPECT_LT(engine_vs_reference(single, x, Precision::f32, layout), 2e-4F);
      EXPECT_TRUE(has_step(plan_steps(single, x, layout), "up.depth_to_space"));
      EngineOptions options;
      options.layout = layout;
      Engine engine(shared, options);
      const std::vector<Tensor> outs = engine.run_all(x);
      ASSERT_EQ(outs.size(), 2U);
      EXPECT_LT(max_abs_diff(outs[0], ref.at("m")), 2e-4F);
      EXPECT_LT(max_abs_diff(outs[1], ref.at("u")), 2e-4F);
    }
  }
}

/// Conv -> BatchNormalization (random statistics) -> Relu.
Graph conv_bn_relu_graph() {
  std::map<std::string, Tensor> w{{"W", random_tensor({12, 5, 3, 3}, 31)},
                                  {"B", random_tensor({12}, 32)},
                                  {"gamma", random_tensor({12}, 33, 0.5F, 1.5F)},
                                  {"beta", random_tensor({12}, 34)},
                                  {"mean", random_tensor({12}, 35)},
                                  {"var", random_tensor({12}, 36, 0.2F, 2.0F)}};
  Node conv = make_node("Conv", {"x", "W", "B"}, {{"pads", ints({1, 1, 1, 1})}}, {"c"});
  Node bn = make_node("BatchNormalization", {"c", "gamma", "beta", "mean", "var"}, {{"epsilon", 1e-3F}}, {"n"});
  Node relu = make_node("Relu", {"n"}, {}, {"y"});
  return make_graph({conv, bn, relu}, w);
}

TEST(Fusion, ConvBatchNormReluEqualsUnfusedReference) {
  const Graph g = conv_bn_relu_graph();
  const Tensor x = random_tensor({1, 5, 17, 23}, 37);
  const std::map<std::string, Tensor> ref = run_reference(g, x);
  Engine engine(g);
  EXPECT_EQ(engine.graph().nodes.size(), 2U) << "BatchNormalization should be folded into the conv";
  Tensor out;
  engine.run(x, out);
  EXPECT_LT(max_abs_diff(out, ref.at("y")), 2e-4F);
  float min_value = 0.0F;
  for (float v : out.values()) min_value = std::min(min_value, v);
  EXPECT_EQ(min_value, 0.0F);
  const PlanStats stats = engine.stats(x.dims());
  EXPECT_EQ(stats.op_counts.at("BatchNormalization"), 1);
  EXPECT_DOUBLE_EQ(stats.flops, 2.0 * 12 * 17 * 23 * 5 * 3 * 3);
}

TEST(Fusion, BatchNormWithTwoReadersIsNotFolded) {
  Graph g = conv_bn_relu_graph();
  g.nodes.push_back(make_node("Add", {"c", "y"}, {}, {"z"}));
  g.nodes.back().name = "add_node";
  g.outputs = {"z"};
  const Tensor x = random_tensor({1, 5, 9, 8}, 38);
  Engine engine(g);
  EXPECT_EQ(engine.graph().nodes.size(), 4U);
  EXPECT_LT(engine_vs_reference(g, x), 2e-4F);
}

TEST(Fusion, ResidualAddAndReluBecomePostOps) {
  // y = Relu(Conv2(Relu(Conv1(x))) + Relu(Conv1(x))): Add is a sum post-op of conv2.
  std::map<std::string, Tensor> w{{"W1", random_tensor({8, 8, 3, 3}, 41)}, {"W2", random_tensor({8, 8, 3, 3}, 42)}};
  Node c1 = make_node("Conv", {"x", "W1"}, {{"pads", ints({1, 1, 1, 1})}}, {"a"});
  c1.name = "c1";
  Node r1 = make_node("Relu", {"a"}, {}, {"r"});
  r1.name = "r1";
  Node c2 = make_node("Conv", {"r", "W2"}, {{"pads", ints({1, 1, 1, 1})}}, {"b"});
  c2.name = "c2";
  Node add = make_node("Add", {"b", "r"}, {}, {"s"});
  Node r2 = make_node("Relu", {"s"}, {}, {"y"});
  r2.name = "r2";
  const Graph g = make_graph({c1, r1, c2, add, r2}, w);
  EXPECT_LT(engine_vs_reference(g, random_tensor({1, 8, 13, 17}, 43)), 2e-4F);
}

TEST(Fusion, ResidualWithBroadcastFallsBackToBinary) {
  // The Add reads a per-channel [1,C,1,1] value, which a sum post-op cannot take.
  std::map<std::string, Tensor> w{{"W", random_tensor({3, 3, 3, 3}, 44)}};
  Node gap = make_node("GlobalAveragePool", {"x"}, {}, {"g"});
  gap.name = "gap";
  Node conv = make_node("Conv", {"x", "W"}, {{"pads", ints({1, 1, 1, 1})}}, {"c"});
  Node add = make_node("Add", {"c", "g"}, {}, {"y"});
  const Graph g = make_graph({gap, conv, add}, w);
  EXPECT_LT(engine_vs_reference(g, random_tensor({1, 3, 10, 9}, 45)), 2e-4F);
}

TEST(Precision, Bf16MatchesReferenceWithinBf16Tolerance) {
  const Graph g = conv_bn_relu_graph();
  const Tensor x = random_tensor({1, 5, 17, 23}, 46);
  const Tensor ref = run_reference(g, x).at("y");
  const Tensor out = run_engine(g, x, Precision::bf16);
  // bf16 keeps 8 mantissa bits: ~0.4 % per operand over a 45-tap sum of magnitude ~5.
  EXPECT_LT(max_abs_diff(out, ref), 0.1F);
  EXPECT_GT(max_abs_diff(out, ref), 0.0F) << "bf16 rounding should be visible";
}

TEST(Precision, Int8IsAClearError) {
  const Graph g = conv_bn_relu_graph();
  try {
    Engine engine(g, EngineOptions{Precision::int8});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("int8"), std::string::npos);
  }
  EXPECT_EQ(parse_precision("bf16"), Precision::bf16);
  EXPECT_THROW(parse_precision("fp64"), Error);
}

/// Largest |a - b| relative to the largest |b|.
float relative_diff(const Tensor& a, const Tensor& b) {
  const OutputAgreement agreement = compare_outputs(a, b);
  return static_cast<float>(agreement.max_abs_diff / std::max(agreement.max_abs_reference, 1e-30));
}

struct WinogradRun {
  Tensor out;
  int winograd = 0;  ///< convolutions the plan ran as Winograd
};

/// Runs on `threads` threads (the process's count, set back to all cores afterwards).
WinogradRun run_with(const Graph& g, const Tensor& x, const EngineOptions& options, int threads) {
  set_thread_count(threads);
  Engine engine(g, options);
  WinogradRun result;
  engine.run(x, result.out);
  result.winograd = engine.stats(x.dims()).winograd_convolutions;
  set_thread_count(0);
  return result;
}

EngineOptions blocked_options() {
  EngineOptions options{Precision::f32};
  options.layout = Layout::blocked;
  return options;
}

TEST(WinogradConv, ShapesPadsAndBatchesMatchReference) {
  if (!winograd_available()) GTEST_SKIP() << "no AVX2+FMA here: every convolution stays direct";
  // F(4x4, 3x3) tiles: sizes that are not multiples of 4 (partial edge tiles), asymmetric and zero
  // padding, batch 2, channel counts that are multiples of 8 but not powers of two, no bias.
  const std::vector<ConvCase> cases{
      {"odd_sizes", {1, 16, 17, 23}, {16, 16, 3, 3}, {{"pads", ints({1, 1, 1, 1})}}, true},
      {"batch2_24_to_40", {2, 24, 13, 10}, {40, 24, 3, 3}, {{"pads", ints({1, 1, 1, 1})}}, false},
      {"valid", {1, 16, 11, 9}, {32, 16, 3, 3}, {}, true},
      {"asymmetric_pads", {1, 32, 12, 15}, {16, 32, 3, 3}, {{"pads", ints({0, 2, 2, 0})}}, true},
      {"same_upper", {1, 16, 9, 14}, {24, 16, 3, 3}, {{"auto_pad", std::string("SAME_UPPER")}}, true},
      {"tiny_2x3", {1, 16, 2, 3}, {16, 16, 3, 3}, {{"pads", ints({1, 1, 1, 1})}}, true},
  };
  uint64_t seed = 300;
  for (const ConvCase& c : cases) {
    SCOPED_TRACE(c.name);
    const Graph g = conv_graph("Conv", c.w, c.attrs, c.bias, c.w[0], seed);
    const Tensor x = random_tensor(c.x, seed + 1);
    const Tensor ref = run_reference(g, x).at("y");
    for (const int threads : {1, 2}) {
      const WinogradRun run = run_with(g, x, blocked_options(), threads);
      EXPECT_EQ(run.winograd, 1) << "threads " << threads;
      ASSERT_EQ(to_string(run.out.dims()), to_string(ref.dims()));
      // f32 Winograd F(4,3) loses a few bits in its transforms: ~1e-6 relative on these sums.
      EXPECT_LT(relative_diff(run.out, ref), 2e-5F) << "threads " << threads;
    }
    seed += 2;
  }
}

TEST(WinogradConv, GroupsAndChannelSlicesMatchReference) {
  if (!winograd_available()) GTEST_SKIP() << "no AVX2+FMA here: every convolution stays direct";
  // Many tiles at 1 thread: several tile groups, the last one partial. Few tiles with weights larger
  // than the transformed tiles at 2 threads: one group, output channels sliced between the threads.
  struct Case {
    const char* name;
    Dims x, w;
    int threads;
  };
  const std::vector<Case> cases{{"groups", {1, 16, 70, 71}, {16, 16, 3, 3}, 1},
                                {"slices", {1, 64, 6, 7}, {72, 64, 3, 3}, 2},
                                {"slices_batch2", {2, 48, 5, 4}, {40, 48, 3, 3}, 2}};
  uint64_t seed = 320;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Graph g = conv_graph("Conv", c.w, {{"pads", ints({1, 1, 1, 1})}}, true, c.w[0], seed);
    const Tensor x = random_tensor(c.x, seed + 1);
    const WinogradRun run = run_with(g, x, blocked_options(), c.threads);
    EXPECT_EQ(run.winograd, 1);
    EXPECT_LT(relative_diff(run.out, run_reference(g, x).at("y")), 2e-5F);
    seed += 2;
  }
}

TEST(WinogradConv, FusedReluLeakyReluAndResidualSum) {
  if (!winograd_available()) GTEST_SKIP() << "no AVX2+FMA here: every convolution stays direct";
  // c1 -> LeakyRelu (fused), c2 -> Add(c1's output) -> Relu (both fused as post-ops), then Sigmoid
  // (not fusable: a separate step after the Winograd output).
  std::map<std::string, Tensor> w{{"W1", random_tensor({16, 16, 3, 3}, 340)},
                                  {"B1", random_tensor({16}, 341)},
                                  {"W2", random_tensor({16, 16, 3, 3}, 342)}};
  Node c1 = make_node("Conv", {"x", "W1", "B1"}, {{"pads", ints({1, 1, 1, 1})}}, {"a"});
  c1.name = "c1";
  Node leaky = make_node("LeakyRelu", {"a"}, {{"alpha", 0.2F}}, {"r"});
  leaky.name = "leaky";
  Node c2 = make_node("Conv", {"r", "W2"}, {{"pads", ints({1, 1, 1, 1})}}, {"b"});
  c2.name = "c2";
  Node add = make_node("Add", {"b", "r"}, {}, {"s"});
  Node relu = make_node("Relu", {"s"}, {}, {"t"});
  relu.name = "relu";
  Node sigmoid = make_node("Sigmoid", {"t"}, {}, {"y"});
  sigmoid.name = "sigmoid";
  const Graph g = make_graph({c1, leaky, c2, add, relu, sigmoid}, w);
  const Tensor x = random_tensor({1, 16, 14, 19}, 343);
  const WinogradRun run = run_with(g, x, blocked_options(), 2);
  EXPECT_EQ(run.winograd, 2);
  EXPECT_LT(max_abs_diff(run.out, run_reference(g, x).at("y")), 1e-4F);  // as the other conv tests: 2e-4
}

TEST(WinogradConv, OnlyEligibleConvolutionsTakeIt) {
  if (!winograd_available()) GTEST_SKIP() << "no AVX2+FMA here: every convolution stays direct";
  const auto winograd_count = [](const Dims& w, const std::map<std::string, AttrValue>& attrs,
                                 const EngineOptions& options) {
    const int64_t group = attrs.contains("group") ? std::get<int64_t>(attrs.at("group")) : 1;
    const Graph g = conv_graph("Conv", w, attrs, true, w[0], 351);
    return run_with(g, random_tensor({1, w[1] * group, 12, 12}, 352), options, 1).winograd;
  };
  const std::map<std::string, AttrValue> pad1{{"pads", ints({1, 1, 1, 1})}};
  EXPECT_EQ(winograd_count({16, 16, 3, 3}, pad1, blocked_options()), 1);
  // Too few channels, channels not a multiple of 8, stride 2, dilation 2, groups, 5x5: direct.
  EXPECT_EQ(winograd_count({8, 16, 3, 3}, pad1, blocked_options()), 0);
  EXPECT_EQ(winograd_count({20, 16, 3, 3}, pad1, blocked_options()), 0);
  EXPECT_EQ(
      winograd_count({16, 16, 3, 3}, {{"pads", ints({1, 1, 1, 1})}, {"strides", ints({2, 2})}}, blocked_options()), 0);
  EXPECT_EQ(
      winograd_count({16, 16, 3, 3}, {{"pads", ints({2, 2, 2, 2})}, {"dilations", ints({2, 2})}}, blocked_options()),
      0);
  EXPECT_EQ(winograd_count({16, 8, 3, 3}, {{"pads", ints({1, 1, 1, 1})}, {"group", int64_t{2}}}, blocked_options()), 0);
  EXPECT_EQ(winograd_count({16, 16, 5, 5}, {{"pads", ints({2, 2, 2, 2})}}, blocked_options()), 0);
  // Options: direct convolutions, channels-last plans and bf16 plans never take it.
  EngineOptions direct = blocked_options();
  direct.convolution = EngineOptions::Convolution::direct;
  EXPECT_EQ(winograd_count({16, 16, 3, 3}, pad1, direct), 0);
  EngineOptions nhwc = blocked_options();
  nhwc.layout = Layout::nhwc;
  EXPECT_EQ(winograd_count({16, 16, 3, 3}, pad1, nhwc), 0);
  EngineOptions bf16 = blocked_options();
  bf16.precision = Precision::bf16;
  EXPECT_EQ(winograd_count({16, 16, 3, 3}, pad1, bf16), 0);
}

TEST(WinogradConv, UNetAgreesWithDirectConvolutions) {
  if (!winograd_available()) GTEST_SKIP() << "no AVX2+FMA here: every convolution stays direct";
  // A native U-Net (base 16: every 3x3 but the first takes Winograd) against the same engine with
  // direct convolutions: scores within 1e-4 relative, every pixel's class the same.
  UNetSpec spec;
  spec.depth = 3;
  spec.base_width = 16;
  spec.classes = 3;
  spec.seed = 360;
  const Graph g = build_unet(spec);
  const Tensor x = random_tensor({1, 3, 64, 72}, 361);
  EngineOptions direct_options = blocked_options();
  direct_options.convolution = EngineOptions::Convolution::direct;
  const WinogradRun direct = run_with(g, x, direct_options, 2);
  const WinogradRun winograd = run_with(g, x, blocked_options(), 2);
  EXPECT_EQ(direct.winograd, 0);
  EXPECT_EQ(winograd.winograd, 13);
  const OutputAgreement agreement = compare_outputs(winograd.out, direct.out);
  EXPECT_LT(agreement.max_abs_diff, 1e-4 * agreement.max_abs_reference);
  EXPECT_EQ(agreement.class_agreement, 1.0);
}

}  // namespace
}  // namespace terraseg::test
