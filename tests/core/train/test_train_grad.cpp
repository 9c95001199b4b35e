// Every backward op of the training executor against central finite differences of
// L = sum(output * R) for a fixed random R, on small random shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <utility>

#include "terraseg/core/engine.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/train_graph.hpp"
#include "train_test_util.hpp"

namespace terraseg {
namespace {

using test::make_node;

double weighted_sum(const Tensor& out, const Tensor& r) {
  double sum = 0.0;
  for (int64_t i = 0; i < out.size(); ++i) sum += static_cast<double>(out.data()[i]) * r.data()[i];
  return sum;
}

struct GradCheck {
  float eps = 1e-2F;
  double abs_tol = 2e-3;
  double rel_tol = 1e-2;
  int samples = 24;  ///< elements checked per tensor
};

/// Compares analytic gradients of `target` (the input when empty) with central differences.
void check_tensor(TrainGraph& tg, Tensor& input, const Tensor& r, const std::string& target, const GradCheck& opt) {
  Tensor& values = target.empty() ? input : tg.weight(target);
  const Tensor analytic = target.empty() ? tg.input_grad() : tg.grad(target);
  ASSERT_EQ(analytic.dims(), values.dims()) << target;
  const int64_t step = std::max<int64_t>(1, values.size() / opt.samples);
  for (int64_t i = 0; i < values.size(); i += step) {
    const float saved = values.data()[i];
    values.data()[i] = saved + opt.eps;
    const double plus = weighted_sum(tg.forward(input, true), r);
    values.data()[i] = saved - opt.eps;
    const double minus = weighted_sum(tg.forward(input, true), r);
    values.data()[i] = saved;
    const double numeric = (plus - minus) / (2.0 * static_cast<double>(opt.eps));
    const double a = analytic.data()[i];
    EXPECT_NEAR(a, numeric, opt.abs_tol + opt.rel_tol * std::abs(numeric))
        << (target.empty() ? std::string("input") : target) << "[" << i << "]";
  }
}

void check_graph(Graph graph, Tensor input, const GradCheck& opt = {}) {
  TrainGraph tg(std::move(graph));
  tg.set_input_grad(true);
  const Tensor out = tg.forward(input, true);
  const Tensor r = test::random_tensor(out.dims(), 99);
  tg.backward(r);
  check_tensor(tg, input, r, "", opt);
  for (const std::string& name : tg.parameters()) check_tensor(tg, input, r, name, opt);
}

Graph conv_graph(const std::string& op, Dims x, Dims w, bool bias, std::map<std::string, AttrValue> attrs) {
  Graph g = test::single_input_graph(std::move(x));
  g.weights["w"] = test::random_tensor(w, 2);
  std::vector<std::string> inputs{"x", "w"};
  if (bias) {
    const int64_t out_channels =
        op == "Conv" ? w[0]
                     : w[1] * std::get<int64_t>(attrs.contains("group") ? attrs["group"] : AttrValue(int64_t{1}));
    g.weights["b"] = test::random_tensor({out_channels}, 3);
    inputs.emplace_back("b");
  }
  g.nodes.push_back(make_node(op, inputs, {"y"}, std::move(attrs)));
  return g;
}

using Ints = std::vector<int64_t>;

TEST(TrainGrad, ConvStridedPaddedWithBias) {
  check_graph(
      conv_graph("Conv", {2, 3, 7, 6}, {4, 3, 3, 3}, true, {{"strides", Ints{2, 1}}, {"pads", Ints{1, 0, 2, 1}}}),
      test::random_tensor({2, 3, 7, 6}, 1));
}

TEST(TrainGrad, ConvGroupedDilated) {
  check_graph(conv_graph("Conv", {1, 4, 9, 9}, {6, 2, 3, 3}, false,
                         {{"group", int64_t{2}}, {"dilations", Ints{2, 2}}, {"pads", Ints{2, 2, 2, 2}}}),
              test::random_tensor({1, 4, 9, 9}, 1));
}

TEST(TrainGrad, ConvTransposeStrideTwoWithBias) {
  check_graph(conv_graph("ConvTranspose", {2, 3, 4, 5}, {3, 2, 2, 2}, true, {{"strides", Ints{2, 2}}}),
              test::random_tensor({2, 3, 4, 5}, 1));
}

TEST(TrainGrad, ConvTransposeGroupedPadded) {
  check_graph(
      conv_graph(
          "ConvTranspose", {1, 4, 4, 4}, {4, 3, 3, 3}, true,
          {{"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}, {"group", int64_t{2}}, {"output_padding", Ints{1, 1}}}),
      test::random_tensor({1, 4, 4, 4}, 1));
}

TEST(TrainGrad, BatchNormTrainingMode) {
  Graph g = test::single_input_graph({3, 4, 3, 5});
  g.weights["s"] = test::random_tensor({4}, 5, 0.5F, 1.5F);
  g.weights["b"] = test::random_tensor({4}, 6);
  g.weights["m"] = Tensor({4}, 0.0F);
  g.weights["v"] = Tensor({4}, 1.0F);
  g.nodes.push_back(make_node("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y"}, {{"epsilon", 1e-3F}}));
  check_graph(g, test::random_tensor({3, 4, 3, 5}, 1), GradCheck{1e-2F, 3e-3, 2e-2, 24});
}

TEST(TrainGrad, MaxPoolAndCeilMode) {
  Graph g = test::single_input_graph({2, 3, 7, 7});
  g.nodes.push_back(make_node(
      "MaxPool", {"x"}, {"y"},
      {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 0, 0}}, {"ceil_mode", int64_t{1}}}));
  check_graph(g, test::separated_tensor({2, 3, 7, 7}, 1, 0.05F));
}

TEST(TrainGrad, MaxPoolIndicesThenMaxUnpool) {
  Graph g = test::single_input_graph({2, 3, 6, 8});
  g.nodes.push_back(make_node("MaxPool", {"x"}, {"p", "i"}, {{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}}));
  g.nodes.push_back(make_node("MaxUnpool", {"p", "i"}, {"y"}, {{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}}));
  check_graph(g, test::separated_tensor({2, 3, 6, 8}, 1, 0.05F));
}

TEST(TrainGrad, AveragePoolBothPaddingModes) {
  for (int64_t include : {0, 1}) {
    Graph g = test::single_input_graph({1, 2, 7, 6});
    g.nodes.push_back(make_node("AveragePool", {"x"}, {"y"},
                                {{"kernel_shape", Ints{3, 3}},
                                 {"strides", Ints{2, 2}},
                                 {"pads", Ints{1, 1, 1, 1}},
                                 {"count_include_pad", include}}));
    check_graph(g, test::random_tensor({1, 2, 7, 6}, 1));
  }
}

TEST(TrainGrad, ReluLeakyReluSigmoid) {
  for (const char* op : {"Relu", "LeakyRelu", "Sigmoid"}) {
    Graph g = test::single_input_graph({2, 3, 4, 4});
    g.nodes.push_back(make_node(op, {"x"}, {"y"}, {{"alpha", 0.2F}}));
    check_graph(g, test::separated_tensor({2, 3, 4, 4}, 1, 0.04F));
  }
}

TEST(TrainGrad, PReluPerChannel) {
  Graph g = test::single_input_graph({2, 3, 4, 4});
  g.weights["slope"] = test::random_tensor({3, 1, 1}, 7, 0.1F, 0.4F);
  g.nodes.push_back(make_node("PRelu", {"x", "slope"}, {"y"}));
  check_graph(g, test::separated_tensor({2, 3, 4, 4}, 1, 0.04F));
}

TEST(TrainGrad, AddSameShapeAndBroadcast) {
  Graph g = test::single_input_graph({2, 3, 4, 5});
  g.weights["same"] = test::random_tensor({2, 3, 4, 5}, 8);
  g.weights["bias"] = test::random_tensor({3, 1, 1}, 9);
  g.nodes.push_back(make_node("Add", {"x", "same"}, {"a"}));
  g.nodes.push_back(make_node("Add", {"a", "bias"}, {"y"}));
  check_graph(g, test::random_tensor({2, 3, 4, 5}, 1));
}

TEST(TrainGrad, FanOutAccumulatesThroughConcat) {
  // x feeds a conv and the concat directly; the conv output also feeds an Add with x: three
  // contributions to dL/dx must sum.
  Graph g = test::single_input_graph({2, 3, 5, 5});
  g.weights["w"] = test::random_tensor({3, 3, 3, 3}, 2);
  g.nodes.push_back(make_node("Conv", {"x", "w"}, {"c"}, {{"pads", Ints{1, 1, 1, 1}}}));
  g.nodes.push_back(make_node("Add", {"c", "x"}, {"s"}));
  g.nodes.push_back(make_node("Concat", {"s", "x", "c"}, {"y"}, {{"axis", int64_t{1}}}));
  check_graph(g, test::random_tensor({2, 3, 5, 5}, 1));
}

TEST(TrainGrad, BlockedLayoutsBetweenOps) {
  // Channels that are multiples of 8 are kept nChw8c between Conv, BN, eltwise, pooling and Concat:
  // s1 fans out (its gradient sums in the blocked layout), "cat" concatenates two blocked values, and
  // "out" mixes a blocked and a plain (4-channel) input. Smooth ops only, so central differences hold.
  Graph g = test::single_input_graph({2, 3, 6, 6});
  g.weights["w1"] = test::random_tensor({8, 3, 3, 3}, 2);
  g.weights["bs"] = test::random_tensor({8}, 5, 0.5F, 1.5F);
  g.weights["bb"] = test::random_tensor({8}, 6);
  g.weights["bm"] = Tensor({8}, 0.0F);
  g.weights["bv"] = Tensor({8}, 1.0F);
  g.weights["w2"] = test::random_tensor({16, 8, 3, 3}, 3, -0.3F, 0.3F);
  g.weights["b2"] = test::random_tensor({16}, 4);
  g.weights["wu"] = test::random_tensor({16, 8, 2, 2}, 7, -0.5F, 0.5F);
  g.weights["bu"] = test::random_tensor({8}, 8);
  g.weights["wq"] = test::random_tensor({4, 8, 1, 1}, 9);
  g.weights["wh"] = test::random_tensor({2, 20, 1, 1}, 10, -0.5F, 0.5F);
  const Ints pad1{1, 1, 1, 1}, two{2, 2};
  g.nodes.push_back(make_node("Conv", {"x", "w1"}, {"c1"}, {{"pads", pad1}}));
  g.nodes.push_back(make_node("BatchNormalization", {"c1", "bs", "bb", "bm", "bv"}, {"n1"}, {{"epsilon", 1e-3F}}));
  g.nodes.push_back(make_node("Sigmoid", {"n1"}, {"s1"}));
  g.nodes.push_back(make_node("AveragePool", {"s1"}, {"p1"}, {{"kernel_shape", two}, {"strides", two}}));
  g.nodes.push_back(make_node("Conv", {"p1", "w2", "b2"}, {"c2"}, {{"pads", pad1}}));
  g.nodes.push_back(make_node("Sigmoid", {"c2"}, {"s2"}));
  g.nodes.push_back(make_node("ConvTranspose", {"s2", "wu", "bu"}, {"u"}, {{"strides", two}}));
  g.nodes.push_back(make_node("Concat", {"s1", "u"}, {"cat"}, {{"axis", int64_t{1}}}));
  g.nodes.push_back(make_node("Conv", {"s1", "wq"}, {"q"}));
  g.nodes.push_back(make_node("Concat", {"cat", "q"}, {"out"}, {{"axis", int64_t{1}}}));
  g.nodes.push_back(make_node("Conv", {"out", "wh"}, {"y"}));
  check_graph(g, test::random_tensor({2, 3, 6, 6}, 1), GradCheck{1e-2F, 3e-3, 2e-2, 24});
}

TEST(TrainGrad, BlockedPReluAndAdd) {
  // c1 is nChw8c (read by PRelu and Add only); its biases of +-3 keep every value 2 or more away from
  // PRelu's kink. "s" adds two blocked values; "t" broadcasts a bias onto a blocked value (plain).
  Graph g = test::single_input_graph({2, 3, 5, 5});
  g.weights["w1"] = test::random_tensor({8, 3, 1, 1}, 2, -0.3F, 0.3F);
  Tensor b1({8});
  for (int64_t c = 0; c < 8; ++c) b1.data()[c] = c % 2 == 0 ? 3.0F : -3.0F;
  g.weights["b1"] = b1;
  g.weights["slope"] = test::random_tensor({8, 1, 1}, 3, 0.1F, 0.4F);
  g.weights["bias"] = test::random_tensor({8, 1, 1}, 4);
  g.weights["wh"] = test::random_tensor({2, 8, 1, 1}, 5);
  g.nodes.push_back(make_node("Conv", {"x", "w1", "b1"}, {"c1"}));
  g.nodes.push_back(make_node("PRelu", {"c1", "slope"}, {"p"}));
  g.nodes.push_back(make_node("Add", {"p", "c1"}, {"s"}));
  g.nodes.push_back(make_node("Add", {"s", "bias"}, {"t"}));
  g.nodes.push_back(make_node("Conv", {"t", "wh"}, {"y"}));
  check_graph(g, test::random_tensor({2, 3, 5, 5}, 1));
}

TEST(TrainGrad, PadConstantReflectEdge) {
  for (const char* mode : {"constant", "reflect", "edge"}) {
    Graph g = test::single_input_graph({1, 2, 4, 5});
    g.nodes.push_back(make_node(
        "Pad", {"x"}, {"y"}, {{"mode", std::string(mode)}, {"pads", Ints{0, 0, 1, 2, 0, 0, 2, 1}}, {"value", 0.5F}}));
    check_graph(g, test::random_tensor({1, 2, 4, 5}, 1));
  }
}

TEST(TrainGrad, ResizeLinearAndNearest) {
  for (const char* mode : {"linear", "nearest"}) {
    Graph g = test::single_input_graph({1, 2, 3, 4});
    g.nodes.push_back(make_node("Resize", {"x"}, {"y"},
                                {{"mode", std::string(mode)},
                                 {"scales", std::vector<float>{1, 1, 2, 2}},
                                 {"coordinate_transformation_mode", std::string("half_pixel")}}));
    check_graph(g, test::random_tensor({1, 2, 3, 4}, 1));
  }
}

/// The training executor's forward pass against the inference engine's (which follows the ONNX
/// definitions and passes ONNX's conformance vectors), element by element within `tolerance`.
void expect_forward_equals_engine(const Graph& g, const Tensor& input, float tolerance) {
  Tensor expected;
  Engine(g).run(input, expected);
  TrainGraph tg(g);
  const Tensor out = tg.forward(input, false);
  ASSERT_EQ(out.dims(), expected.dims());
  for (int64_t i = 0; i < out.size(); ++i) ASSERT_NEAR(out.data()[i], expected.data()[i], tolerance) << "element " << i;
}

// Nearest resizing in every coordinate and rounding mode, to sizes that are not integer multiples:
// the trainer's forward equals the inference engine's (which follows the ONNX definition and passes
// its conformance vectors), and the gradient checks.
TEST(TrainGrad, ResizeNearestFollowsEveryOnnxMode) {
  struct Case {
    const char* transform;
    const char* rounding;
    Ints sizes;
  };
  const Case cases[] = {{"asymmetric", "floor", {1, 2, 7, 9}},  // PyTorch's nearest export
                        {"half_pixel", "round_prefer_floor", {1, 2, 5, 7}},
                        {"align_corners", "round_prefer_ceil", {1, 2, 8, 6}},
                        {"pytorch_half_pixel", "ceil", {1, 2, 2, 3}},  // shrinking
                        {"half_pixel", "round_prefer_ceil", {1, 2, 6, 8}}};
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.transform) + "/" + c.rounding);
    Graph g = test::single_input_graph({1, 2, 3, 4});
    g.nodes.push_back(make_node("Resize", {"x"}, {"y"},
                                {{"mode", std::string("nearest")},
                                 {"sizes", c.sizes},
                                 {"coordinate_transformation_mode", std::string(c.transform)},
                                 {"nearest_mode", std::string(c.rounding)}}));
    const Tensor input = test::random_tensor({1, 2, 3, 4}, 5);
    expect_forward_equals_engine(g, input, 0.0F);  // a gather: bit-exact
    check_graph(g, input);
  }
}

// ConvTranspose sized by output_shape or SAME_* auto_pad (ONNX's total-padding rule): the trainer's
// forward equals the inference engine's, and the gradients check.
TEST(TrainGrad, ConvTransposeOutputShapeAndSamePadding) {
  const std::vector<std::map<std::string, AttrValue>> variants = {
      {{"strides", Ints{2, 2}}, {"output_shape", Ints{8, 9}}},
      {{"strides", Ints{2, 2}}, {"output_shape", Ints{1, 2, 7, 8}}, {"auto_pad", std::string("SAME_UPPER")}},
      {{"strides", Ints{2, 3}}, {"auto_pad", std::string("SAME_LOWER")}},
      {{"strides", Ints{2, 2}}, {"auto_pad", std::string("SAME_UPPER")}, {"output_padding", Ints{1, 0}}}};
  for (size_t v = 0; v < variants.size(); ++v) {
    SCOPED_TRACE("variant " + std::to_string(v));
    const Graph g = conv_graph("ConvTranspose", {1, 3, 4, 4}, {3, 2, 3, 3}, true, variants[v]);
    const Tensor input = test::random_tensor({1, 3, 4, 4}, 7);
    expect_forward_equals_engine(g, input, 1e-5F);
    check_graph(g, input);
  }
}

// Linear resizing in every coordinate mode the trainer takes, at scales that are not out / in (3 x 1.5
// = 4.5 -> 4 rows sampled at scale 1.5, as ONNX says): forward equals the engine's, gradient checks.
TEST(TrainGrad, ResizeLinearFollowsOnnxOffTheIntegerGrid) {
  for (const char* transform : {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"}) {
    SCOPED_TRACE(transform);
    Graph g = test::single_input_graph({1, 2, 3, 5});
    g.nodes.push_back(make_node("Resize", {"x"}, {"y"},
                                {{"mode", std::string("linear")},
                                 {"scales", std::vector<float>{1, 1, 1.5F, 0.6F}},
                                 {"coordinate_transformation_mode", std::string(transform)}}));
    const Tensor input = test::random_tensor({1, 2, 3, 5}, 3);
    expect_forward_equals_engine(g, input, 1e-6F);
    check_graph(g, input);
  }
}

// A decoder's 2x upsampling at a training batch's shape (oneDNN 2.6's linear resampling crashed there).
TEST(TrainGrad, ResizeLinearAtABatchShape) {
  Graph g = test::single_input_graph({4, 96, 20, 26});
  g.nodes.push_back(make_node("Resize", {"x"}, {"y"},
                              {{"mode", std::string("linear")},
                               {"scales", std::vector<float>{1, 1, 2, 2}},
                               {"coordinate_transformation_mode", std::string("half_pixel")}}));
  expect_forward_equals_engine(g, test::random_tensor({4, 96, 20, 26}, 5), 1e-5F);
}

}  // namespace
}  // namespace terraseg
