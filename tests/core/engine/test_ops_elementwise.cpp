// Activations, binary ops, BatchNormalization, Concat, Softmax, ArgMax, pass-through ops.
#include <gtest/gtest.h>

#include "engine_test_util.hpp"

namespace terraseg::test {
namespace {

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
  const Graph per_channel =
      make_graph({make_node("PRelu", {"x", "slope"})}, {{"slope", random_tensor({6, 1, 1}, 502)}});
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
  const std::map<std::string, Tensor> w{{"g", random_tensor({7}, 520, 0.5F, 2.0F)},
                                        {"b", random_tensor({7}, 521)},
                                        {"m", random_tensor({7}, 522)},
                                        {"v", random_tensor({7}, 523, 0.1F, 3.0F)}};
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

/// One U-Net decoder step on x [N, c_in, H, W]: skip = Relu(Conv3x3(x)) with c_skip channels,
/// low = Relu(Conv k2 s2 (x)), up = ConvTranspose k2 s2 (low) with c_up channels, cat = Concat of
/// skip and up (in `up_first` order), y = Relu(Conv3x3(cat)) to c_up channels. `skip_last` computes
/// the skip after the up branch (right before the Concat); `residual` adds up to y (so that up has a
/// second reader after the Concat); `cat_out` makes cat itself the graph output.
struct DecoderSpec {
  int64_t c_in = 8, c_skip = 8, c_up = 8;
  bool up_first = false, skip_last = false, residual = false, cat_out = false;
};

Graph decoder_graph(const DecoderSpec& d, uint64_t seed) {
  const std::map<std::string, Tensor> w{
      {"Ws", random_tensor({d.c_skip, d.c_in, 3, 3}, seed, -0.3F, 0.3F)},
      {"Wl", random_tensor({16, d.c_in, 2, 2}, seed + 1, -0.3F, 0.3F)},
      {"Wu", random_tensor({16, d.c_up, 2, 2}, seed + 2, -0.3F, 0.3F)},
      {"Bu", random_tensor({d.c_up}, seed + 3)},
      {"Wy", random_tensor({d.c_up, d.c_skip + d.c_up, 3, 3}, seed + 4, -0.2F, 0.2F)}};
  const auto two = ints({2, 2});
  const auto pad1 = ints({1, 1, 1, 1});
  std::vector<Node> skip{make_node("Conv", {"x", "Ws"}, {{"pads", pad1}}, {"s0"}),
                         make_node("Relu", {"s0"}, {}, {"s"})};
  skip[0].name = "skip.conv";
  skip[1].name = "skip.relu";
  std::vector<Node> up{make_node("Conv", {"x", "Wl"}, {{"strides", two}}, {"l0"}), make_node("Relu", {"l0"}, {}, {"l"}),
                       make_node("ConvTranspose", {"l", "Wu", "Bu"}, {{"strides", two}}, {"u"})};
  up[0].name = "low.conv";
  up[1].name = "low.relu";
  up[2].name = "up";
  std::vector<Node> nodes = d.skip_last ? up : skip;
  for (const Node& n : d.skip_last ? skip : up) nodes.push_back(n);
  Node cat = make_node("Concat", d.up_first ? std::vector<std::string>{"u", "s"} : std::vector<std::string>{"s", "u"},
                       {{"axis", int64_t{1}}}, {"cat"});
  cat.name = "cat";
  nodes.push_back(cat);
  if (!d.cat_out) {
    nodes.push_back(make_node("Conv", {"cat", "Wy"}, {{"pads", pad1}}, {"y0"}));
    nodes.back().name = "out.conv";
    if (d.residual) {
      nodes.push_back(make_node("Add", {"y0", "u"}, {}, {"y1"}));
      nodes.back().name = "out.add";
    }
    nodes.push_back(make_node("Relu", {d.residual ? "y1" : "y0"}, {}, {"y"}));
    nodes.back().name = "out.relu";
  }
  return make_graph(nodes, w);
}

TEST(ConcatOp, DecoderConcatWritesTheUpConvInPlace) {
  // Blocked plans at batch 1 with whole channel blocks: the up-conv's depth-to-space writes straight
  // into the Concat output (only the skip is copied), or both halves are written in place when the
  // skip is computed right before the Concat. Batch 2, nhwc and parts other than the last that are
  // not whole channel blocks copy everything (the last part may end in a padded block).
  struct Case {
    const char* name;
    DecoderSpec spec;
    int64_t batch;
    bool up_in_place;    // in blocked plans whose parts allow it (whole channel blocks): always in place
    bool skip_in_place;  // likewise; false: in place or copied, as the CPU's kernels make it free or not
  };
  const std::vector<Case> cases{
      // name                {c_in, c_skip, c_up, up_first, skip_last, residual, cat_out}
      {"skip_up", {8, 8, 8, false, false, false, false}, 1, true, false},
      {"up_skip", {8, 16, 8, true, false, false, false}, 1, true, false},
      {"skip_up_batch2", {8, 8, 8, false, false, false, false}, 2, false, false},
      {"both_in_place", {8, 8, 16, false, true, false, false}, 1, true, true},
      {"up_read_again", {8, 16, 8, false, false, true, false}, 1, true, false},
      {"concat_is_output", {8, 8, 8, true, false, false, true}, 1, true, false},
      {"odd_channels", {8, 12, 12, false, false, false, false}, 1, false, false},
      {"odd_up_last_block", {8, 16, 12, false, true, false, false}, 1, true, true},
      {"odd_up_first", {8, 16, 12, true, true, false, false}, 1, false, false},
  };
  uint64_t seed = 600;
  for (const Case& c : cases) {
    const Graph g = decoder_graph(c.spec, seed);
    const Tensor x = random_tensor({c.batch, c.spec.c_in, 14, 18}, seed + 5);
    const int64_t pixels = c.batch * 14 * 18;
    for (const Layout layout : kLayouts) {
      SCOPED_TRACE(std::string(c.name) + " " + layout_name(layout));
      EXPECT_LT(engine_vs_reference(g, x, Precision::f32, layout), 1e-4F);
      EngineOptions options;
      options.layout = layout;
      Engine engine(g, options);
      // The same plan again on other data: nothing may depend on what the previous run left behind.
      Tensor out;
      engine.run(x, out);
      const Tensor x2 = random_tensor(x.dims(), seed + 6);
      engine.run(x2, out);
      EXPECT_LT(max_abs_diff(out, run_reference(g, x2).at(g.outputs.at(0))), 1e-4F);
      const bool blocked = layout == Layout::blocked;
      const PlanStats stats = engine.stats(x.dims());
      // What holds on every CPU. The block (8 on AVX2, 16 on AVX-512) and whether a Concat runs as
      // copies at all (block 0: one oneDNN concat, nothing in place) are oneDNN's choices for the CPU;
      // so is the order of reorders around the skip, which decides whether placing the skip too is
      // free. So: the up-conv is written in place whenever the parts before it are whole blocks, a skip
      // computed right before the Concat is too, and nothing beyond the padded parts ever is.
      const int64_t block = stats.concat_channel_block;
      const int64_t in_place = stats.in_place_bytes / (pixels * 4);
      EXPECT_EQ(stats.in_place_bytes % (pixels * 4), 0);
      if (blocked) {
        ASSERT_TRUE(block == 0 || block == 8 || block == 16)
            << "blocked plans copy in nChw8c or nChw16c, got " << block;
      }
      const int64_t first = c.spec.up_first ? c.spec.c_up : c.spec.c_skip;
      const auto padded = [block](int64_t channels) { return block > 0 ? (channels + block - 1) / block * block : 0; };
      if (!blocked || c.batch != 1 || block == 0 || first % block != 0) {
        EXPECT_EQ(in_place, 0) << "channel block " << block;
      } else {
        const int64_t all = padded(c.spec.c_up) + padded(c.spec.c_skip);
        const int64_t at_least =
            (c.up_in_place ? padded(c.spec.c_up) : 0) + (c.skip_in_place ? padded(c.spec.c_skip) : 0);
        EXPECT_GE(in_place, at_least) << "channel block " << block;
        EXPECT_LE(in_place, all) << "channel block " << block;
        EXPECT_EQ(in_place % block, 0) << "parts in place take whole blocks";
      }
    }
    seed += 10;
  }
}

TEST(ConcatOp, PlainPartsNestedAndDuplicated) {
  // Plain layouts: parts computed right before their Concat (here Relu and Sigmoid of the input)
  // are written in place, also into a Concat that is itself part of another; a value concatenated
  // twice, and the graph input, are copied. At batch 2 everything is copied.
  Node relu = make_node("Relu", {"x"}, {}, {"a"});
  relu.name = "relu";
  Node sigmoid = make_node("Sigmoid", {"x"}, {}, {"b"});
  sigmoid.name = "sigmoid";
  Node inner = make_node("Concat", {"a", "b"}, {{"axis", int64_t{1}}}, {"ab"});
  inner.name = "inner";
  Node tanh = make_node("Tanh", {"x"}, {}, {"c"});
  tanh.name = "tanh";
  Node outer = make_node("Concat", {"ab", "c", "x"}, {{"axis", int64_t{1}}}, {"abcx"});
  outer.name = "outer";
  Node twice = make_node("Concat", {"c", "abcx", "c"}, {{"axis", int64_t{1}}}, {"cc"});
  twice.name = "twice";
  const Graph g = make_graph({relu, sigmoid, inner, tanh, outer, twice, make_node("Elu", {"cc"})});
  for (const int64_t batch : {int64_t{1}, int64_t{2}}) {
    const Tensor x = random_tensor({batch, 3, 7, 5}, 620 + static_cast<uint64_t>(batch));
    for (const Layout layout : kLayouts) {
      SCOPED_TRACE(std::to_string(batch) + " " + layout_name(layout));
      EXPECT_LT(engine_vs_reference(g, x, Precision::f32, layout), 1e-6F);
      EngineOptions options;
      options.layout = layout;
      Engine engine(g, options);
      // a and b into ab, ab and c into abcx, abcx into cc (c appears twice there: copied).
      const int64_t plane = int64_t{3} * 7 * 5 * 4;
      EXPECT_EQ(engine.stats(x.dims()).in_place_bytes, batch == 1 ? (1 + 1 + 2 + 1 + 4) * plane : 0);
    }
  }
}

std::map<std::string, Tensor> bn_params(int64_t channels, uint64_t seed) {
  return {{"g", random_tensor({channels}, seed, 0.5F, 2.0F)},
          {"b", random_tensor({channels}, seed + 1)},
          {"m", random_tensor({channels}, seed + 2)},
          {"v", random_tensor({channels}, seed + 3, 0.1F, 3.0F)}};
}

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
  const Tensor flat =
      run_engine(make_graph({make_node("ArgMax", {"x"}, {{"axis", int64_t{1}}, {"keepdims", int64_t{0}}})}), x);
  EXPECT_EQ(flat.dims(), (Dims{2, 7, 9}));
  EXPECT_EQ(max_abs_diff(flat, argmax_channels(x, false)), 0.0F);
}

}  // namespace
}  // namespace terraseg::test
