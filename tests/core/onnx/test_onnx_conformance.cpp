// ONNX backend conformance: Debian's libonnx-testdata node vectors, imported with load_onnx and run
// through terraseg::Engine, compared with the vectors' expected outputs.
//
// Two adaptations, because a terraseg model has one NCHW float image input:
//  * graph inputs after the first (weights, pads, scales, sizes, slopes, the second Add operand)
//    become initialisers holding the vector's input data, as they are in real models;
//  * for ops whose result does not depend on it (element-wise ops, Softmax, ArgMax), an image of
//    rank < 4 gets leading 1-extents, and a non-negative `axis` shifts with them.
//
// Vectors run, and must match (op -> test names, test_ prefix dropped):
// | op                 | vectors                                                                        |
// |--------------------|--------------------------------------------------------------------------------|
// | Conv               | basic_conv_with_padding, basic_conv_without_padding, conv_with_autopad_same,   |
// |                    | conv_with_strides_padding, conv_with_strides_no_padding,                       |
// |                    | conv_with_strides_and_asymmetric_padding                                       |
// | ConvTranspose      | convtranspose, convtranspose_dilations, convtranspose_kernel_shape,            |
// |                    | convtranspose_pad, convtranspose_pads, convtranspose_autopad_same              |
// | MaxPool            | maxpool_2d_default, _ceil, _dilations, _pads, _precomputed_pads,               |
// |                    | _precomputed_same_upper, _precomputed_strides, _same_lower, _same_upper,       |
// |                    | _strides, maxpool_with_argmax_2d_precomputed_pads (Indices as a graph output)  |
// | AveragePool        | averagepool_2d_default, _ceil, _pads, _pads_count_include_pad,                 |
// |                    | _precomputed_pads, _precomputed_pads_count_include_pad,                        |
// |                    | _precomputed_same_upper, _precomputed_strides, _same_lower, _same_upper,       |
// |                    | _strides                                                                       |
// | GlobalAveragePool  | globalaveragepool, globalaveragepool_precomputed (the files declare opset 1;   |
// |                    | the op is unchanged since, so the harness declares opset 9)                    |
// | BatchNormalization | batchnorm_epsilon, batchnorm_example                                           |
// | Relu / Sigmoid     | relu, sigmoid, sigmoid_example                                                 |
// | LeakyRelu          | leakyrelu, leakyrelu_default, leakyrelu_example                                |
// | Add / Mul          | add, add_bcast, mul, mul_bcast, mul_example                                    |
// | Sub / Div          | sub, sub_bcast, sub_example, div, div_bcast, div_example                       |
// | Tanh / Elu         | tanh, tanh_example, elu, elu_default, elu_example (Elu declared opset 6 -> 9,  |
// |                    | as for GlobalAveragePool)                                                      |
// | Clip               | clip, clip_default_inbounds, clip_default_max, clip_default_min, clip_example, |
// |                    | clip_inbounds, clip_outbounds, clip_splitbounds                                |
// | Identity / Dropout | identity, dropout_default, dropout_default_ratio, dropout_default_old,         |
// |                    | dropout_random_old                                                             |
// | Pad                | constant_pad                                                                   |
// | Upsample           | upsample_nearest (opset 9, imported as Resize)                                 |
// | Resize             | resize_{up,down}sample_scales_nearest, resize_{up,down}sample_scales_linear,   |
// |                    | resize_{up,down}sample_scales_linear_align_corners,                            |
// |                    | resize_{up,down}sample_sizes_nearest,                                          |
// |                    | resize_downsample_sizes_linear_pytorch_half_pixel,                             |
// |                    | resize_upsample_sizes_nearest_{ceil_half_pixel, floor_align_corners,           |
// |                    | round_prefer_ceil_asymmetric}                                                  |
// | Softmax            | softmax_axis_{0,1,2}, softmax_default_axis, softmax_example,                   |
// |                    | softmax_large_number, softmax_negative_axis                                    |
// | ArgMax             | argmax_default_axis_random, argmax_default_axis_random_select_last_index       |
//
// Refused with an Error (kRefused, each checked to fail cleanly, never to crash or mis-compute):
//  * by the importer: cubic Resize (9 vectors), tf_crop_and_resize, MaxPool storage_order=1
//    (maxpool_with_argmax_2d_precomputed_strides), integer images (maxpool_2d_uint8, add_uint8,
//    mul_uint8, sub_uint8, div_uint8, clip_default_int8_*, edge_pad, reflect_pad), training-mode outputs
//    (batchnorm_*_training_mode, dropout_default_mask*, training_dropout*), opset 8 (convtranspose_with_kernel);
//  * by the engine: 1-D and 3-D pooling/conv (NCHW only), PRelu slopes that are not per channel
//    (prelu_broadcast, prelu_example), Concat of a constant (all 12 concat_* vectors: their second
//    operand can only be a constant here; Concat is covered by the ESPNet and U-Net parity tests),
//    ArgMax over an axis other than channels (the other 14 argmax_* vectors), ConvTranspose
//    output_shape beyond the natural size (convtranspose_output_shape), tf_half_pixel_for_nn.
// Not run, with the reason:
//  * maxunpool_export_*: the indices are a second graph input of int64 data;
//  * reshape_*, flatten_*: their data is the graph input, and terraseg folds these ops only on
//    constants (see OnnxImport.ConstantReshapeFlattenCastAndIdentityFold);
//  * constant (no image input), identity_opt / identity_sequence (optional and sequence types).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "onnx_test_util.hpp"
#include "terraseg/core/engine.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/onnx.hpp"

namespace terraseg {
namespace {

const std::filesystem::path kVectorRoot = "/usr/share/libonnx-testdata/data/node";

onnx::TensorProto read_tensor(const std::filesystem::path& path) {
  onnx::TensorProto tensor;
  if (!tensor.ParseFromString(test::read_bytes(path.string()))) throw Error(path.string() + ": not a TensorProto");
  return tensor;
}

Dims lifted(const onnx::TensorProto& t, size_t extra) {
  Dims dims(extra, 1);
  dims.insert(dims.end(), t.dims().begin(), t.dims().end());
  return dims;
}

bool rank_agnostic(const onnx::ModelProto& model) {
  static const std::set<std::string> ops = {"Add",     "Sub",      "Mul",       "Div",     "Relu",
                                            "Sigmoid", "Tanh",     "LeakyRelu", "Elu",     "Clip",
                                            "PRelu",   "Identity", "Dropout",   "Softmax", "ArgMax"};
  return std::ranges::all_of(model.graph().node(),
                             [](const onnx::NodeProto& node) { return ops.contains(node.op_type()); });
}

/// Leading 1-extents for a rank < 4 image: on the image, same-rank constants, and `axis`.
void lift_to_4d(onnx::ModelProto& model, std::vector<onnx::TensorProto>& inputs, size_t extra) {
  const int image_rank = inputs[0].dims_size();
  for (onnx::TensorProto& t : inputs) {
    if (t.dims_size() != image_rank) continue;
    const Dims dims = lifted(t, extra);
    t.clear_dims();
    for (int64_t d : dims) t.add_dims(d);
  }
  for (onnx::NodeProto& node : *model.mutable_graph()->mutable_node()) {
    const bool has_axis = std::any_of(node.attribute().begin(), node.attribute().end(),
                                      [](const onnx::AttributeProto& a) { return a.name() == "axis"; });
    if (node.op_type() == "ArgMax" && !has_axis) test::set_attr(node, "axis", int64_t{0});
    for (onnx::AttributeProto& attr : *node.mutable_attribute()) {
      if (attr.name() == "axis" && attr.i() >= 0) attr.set_i(attr.i() + static_cast<int64_t>(extra));
    }
  }
}

struct Loaded {
  Graph graph;
  Tensor image;
  std::vector<onnx::TensorProto> expected;
  size_t lift = 0;
};

/// The vector as a terraseg model: inputs after the first become initialisers.
Loaded load_vector(const std::string& name) {
  const std::filesystem::path dir = kVectorRoot / name;
  onnx::ModelProto model;
  if (!model.ParseFromString(test::read_bytes((dir / "model.onnx").string()))) throw Error(name + ": unreadable");
  // GlobalAveragePool (opset 1) and Elu (opset 6) are unchanged since: declare the oldest we read.
  if (name.find("globalaveragepool") != std::string::npos || name.find("test_elu") == 0) {
    model.mutable_opset_import(0)->set_version(9);
  }
  std::vector<onnx::TensorProto> inputs;
  inputs.reserve(model.graph().input_size());
  for (int i = 0; i < model.graph().input_size(); ++i) {
    inputs.push_back(read_tensor(dir / "test_data_set_0" / ("input_" + std::to_string(i) + ".pb")));
  }
  Loaded loaded;
  const int rank = inputs.empty() ? 4 : inputs[0].dims_size();
  if (rank < 4 && rank_agnostic(model)) {
    loaded.lift = static_cast<size_t>(4 - rank);
    lift_to_4d(model, inputs, loaded.lift);
  }
  onnx::GraphProto& graph = *model.mutable_graph();
  for (int i = graph.input_size() - 1; i >= 1; --i) {
    onnx::TensorProto& init = *graph.add_initializer();
    init = inputs[static_cast<size_t>(i)];
    init.set_name(graph.input(i).name());
    graph.mutable_input()->DeleteSubrange(i, 1);
  }
  if (graph.input_size() == 1 && !inputs.empty()) {
    onnx::TensorShapeProto& shape = *graph.mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape();
    shape.clear_dim();
    for (int64_t d : inputs[0].dims()) shape.add_dim()->set_dim_value(d);
  }
  loaded.graph = load_onnx_bytes(model.SerializeAsString(), name);
  if (!inputs.empty()) {
    const onnx::TensorProto& image = inputs[0];
    loaded.image = Tensor(Dims(image.dims().begin(), image.dims().end()), test::tensor_values(image));
  }
  for (int i = 0; i < model.graph().output_size(); ++i) {
    loaded.expected.push_back(read_tensor(dir / "test_data_set_0" / ("output_" + std::to_string(i) + ".pb")));
  }
  return loaded;
}

void expect_close(const Tensor& actual, const onnx::TensorProto& expected, size_t lift, const std::string& what) {
  Dims dims(lift, 1);
  dims.insert(dims.end(), expected.dims().begin(), expected.dims().end());
  ASSERT_EQ(actual.dims(), dims) << what;
  const std::vector<float> want = test::tensor_values(expected);
  int reported = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const float got = actual.values()[i];
    if (std::fabs(got - want[i]) > 1e-4F + 1e-4F * std::fabs(want[i]) && reported++ < 5) {
      ADD_FAILURE() << what << "[" << i << "]: got " << got << ", expected " << want[i];
    }
  }
}

class OnnxConformance : public testing::TestWithParam<std::string> {};

TEST_P(OnnxConformance, MatchesExpectedOutputs) {
  if (!std::filesystem::is_directory(kVectorRoot)) {
    GTEST_SKIP() << kVectorRoot << " is absent: install Debian's libonnx-testdata (scripts/setup.sh does)";
  }
  Loaded v = load_vector(GetParam());
  Engine engine(v.graph);
  std::vector<Tensor> outputs = engine.run_all(v.image);
  ASSERT_EQ(outputs.size(), v.expected.size());
  for (size_t i = 0; i < outputs.size(); ++i)
    expect_close(outputs[i], v.expected[i], v.lift, GetParam() + " output " + std::to_string(i));
}

class OnnxConformanceRefused : public testing::TestWithParam<std::string> {};

TEST_P(OnnxConformanceRefused, FailsWithAnError) {
  if (!std::filesystem::is_directory(kVectorRoot)) GTEST_SKIP() << kVectorRoot << " is absent";
  EXPECT_THROW(
      {
        Loaded v = load_vector(GetParam());
        Engine engine(v.graph);
        engine.run_all(v.image);
      },
      Error);
}

std::string test_name(const testing::TestParamInfo<std::string>& info) { return info.param.substr(5); }

const std::vector<std::string> kConv = {
    "test_basic_conv_with_padding",      "test_basic_conv_without_padding",
    "test_conv_with_autopad_same",       "test_conv_with_strides_padding",
    "test_conv_with_strides_no_padding", "test_conv_with_strides_and_asymmetric_padding"};
const std::vector<std::string> kConvTranspose = {
    "test_convtranspose",     "test_convtranspose_dilations", "test_convtranspose_kernel_shape",
    "test_convtranspose_pad", "test_convtranspose_pads",      "test_convtranspose_autopad_same"};
const std::vector<std::string> kPool = {"test_maxpool_2d_default",
                                        "test_maxpool_2d_ceil",
                                        "test_maxpool_2d_dilations",
                                        "test_maxpool_2d_pads",
                                        "test_maxpool_2d_precomputed_pads",
                                        "test_maxpool_2d_precomputed_same_upper",
                                        "test_maxpool_2d_precomputed_strides",
                                        "test_maxpool_2d_same_lower",
                                        "test_maxpool_2d_same_upper",
                                        "test_maxpool_2d_strides",
                                        "test_maxpool_with_argmax_2d_precomputed_pads",
                                        "test_averagepool_2d_default",
                                        "test_averagepool_2d_ceil",
                                        "test_averagepool_2d_pads",
                                        "test_averagepool_2d_pads_count_include_pad",
                                        "test_averagepool_2d_precomputed_pads",
                                        "test_averagepool_2d_precomputed_pads_count_include_pad",
                                        "test_averagepool_2d_precomputed_same_upper",
                                        "test_averagepool_2d_precomputed_strides",
                                        "test_averagepool_2d_same_lower",
                                        "test_averagepool_2d_same_upper",
                                        "test_averagepool_2d_strides",
                                        "test_globalaveragepool",
                                        "test_globalaveragepool_precomputed"};
const std::vector<std::string> kElementwise = {"test_batchnorm_epsilon",
                                               "test_batchnorm_example",
                                               "test_relu",
                                               "test_sigmoid",
                                               "test_sigmoid_example",
                                               "test_leakyrelu",
                                               "test_leakyrelu_default",
                                               "test_leakyrelu_example",
                                               "test_add",
                                               "test_add_bcast",
                                               "test_mul",
                                               "test_mul_bcast",
                                               "test_mul_example",
                                               "test_identity",
                                               "test_dropout_default",
                                               "test_dropout_default_ratio",
                                               "test_dropout_default_old",
                                               "test_dropout_random_old",
                                               "test_sub",
                                               "test_sub_bcast",
                                               "test_sub_example",
                                               "test_div",
                                               "test_div_bcast",
                                               "test_div_example",
                                               "test_tanh",
                                               "test_tanh_example",
                                               "test_elu",
                                               "test_elu_default",
                                               "test_elu_example",
                                               "test_clip",
                                               "test_clip_default_inbounds",
                                               "test_clip_default_max",
                                               "test_clip_default_min",
                                               "test_clip_example",
                                               "test_clip_inbounds",
                                               "test_clip_outbounds",
                                               "test_clip_splitbounds"};
const std::vector<std::string> kResizePad = {"test_constant_pad",
                                             "test_upsample_nearest",
                                             "test_resize_upsample_scales_nearest",
                                             "test_resize_downsample_scales_nearest",
                                             "test_resize_upsample_scales_linear",
                                             "test_resize_downsample_scales_linear",
                                             "test_resize_upsample_scales_linear_align_corners",
                                             "test_resize_downsample_scales_linear_align_corners",
                                             "test_resize_upsample_sizes_nearest",
                                             "test_resize_downsample_sizes_nearest",
                                             "test_resize_downsample_sizes_linear_pytorch_half_pixel",
                                             "test_resize_upsample_sizes_nearest_ceil_half_pixel",
                                             "test_resize_upsample_sizes_nearest_floor_align_corners",
                                             "test_resize_upsample_sizes_nearest_round_prefer_ceil_asymmetric"};
const std::vector<std::string> kSoftmax = {
    "test_softmax_axis_0",  "test_softmax_axis_1",       "test_softmax_axis_2",       "test_softmax_default_axis",
    "test_softmax_example", "test_softmax_large_number", "test_softmax_negative_axis"};
const std::vector<std::string> kArgMax = {"test_argmax_default_axis_random",
                                          "test_argmax_default_axis_random_select_last_index"};
const std::vector<std::string> kRefused = {"test_resize_downsample_scales_cubic",
                                           "test_resize_downsample_scales_cubic_A_n0p5_exclude_outside",
                                           "test_resize_downsample_scales_cubic_align_corners",
                                           "test_resize_downsample_sizes_cubic",
                                           "test_resize_upsample_scales_cubic",
                                           "test_resize_upsample_scales_cubic_A_n0p5_exclude_outside",
                                           "test_resize_upsample_scales_cubic_align_corners",
                                           "test_resize_upsample_scales_cubic_asymmetric",
                                           "test_resize_upsample_sizes_cubic",
                                           "test_resize_tf_crop_and_resize",
                                           "test_maxpool_with_argmax_2d_precomputed_strides",
                                           "test_maxpool_2d_uint8",
                                           "test_add_uint8",
                                           "test_mul_uint8",
                                           "test_sub_uint8",
                                           "test_div_uint8",
                                           "test_clip_default_int8_inbounds",
                                           "test_clip_default_int8_max",
                                           "test_clip_default_int8_min",
                                           "test_edge_pad",
                                           "test_reflect_pad",
                                           "test_batchnorm_epsilon_training_mode",
                                           "test_batchnorm_example_training_mode",
                                           "test_dropout_default_mask",
                                           "test_dropout_default_mask_ratio",
                                           "test_training_dropout",
                                           "test_training_dropout_default",
                                           "test_training_dropout_default_mask",
                                           "test_training_dropout_mask",
                                           "test_training_dropout_zero_ratio",
                                           "test_training_dropout_zero_ratio_mask",
                                           "test_convtranspose_with_kernel",
                                           "test_averagepool_1d_default",
                                           "test_averagepool_3d_default",
                                           "test_maxpool_1d_default",
                                           "test_maxpool_3d_default",
                                           "test_convtranspose_1d",
                                           "test_convtranspose_3d",
                                           "test_prelu_broadcast",
                                           "test_prelu_example",
                                           "test_convtranspose_output_shape",
                                           "test_resize_downsample_sizes_nearest_tf_half_pixel_for_nn",
                                           "test_concat_1d_axis_0",
                                           "test_concat_1d_axis_negative_1",
                                           "test_concat_2d_axis_0",
                                           "test_concat_2d_axis_1",
                                           "test_concat_2d_axis_negative_1",
                                           "test_concat_2d_axis_negative_2",
                                           "test_concat_3d_axis_0",
                                           "test_concat_3d_axis_1",
                                           "test_concat_3d_axis_2",
                                           "test_concat_3d_axis_negative_1",
                                           "test_concat_3d_axis_negative_2",
                                           "test_concat_3d_axis_negative_3",
                                           "test_argmax_default_axis_example",
                                           "test_argmax_default_axis_example_select_last_index",
                                           "test_argmax_keepdims_example",
                                           "test_argmax_keepdims_example_select_last_index",
                                           "test_argmax_keepdims_random",
                                           "test_argmax_keepdims_random_select_last_index",
                                           "test_argmax_negative_axis_keepdims_example",
                                           "test_argmax_negative_axis_keepdims_example_select_last_index",
                                           "test_argmax_negative_axis_keepdims_random",
                                           "test_argmax_negative_axis_keepdims_random_select_last_index",
                                           "test_argmax_no_keepdims_example",
                                           "test_argmax_no_keepdims_example_select_last_index",
                                           "test_argmax_no_keepdims_random",
                                           "test_argmax_no_keepdims_random_select_last_index"};

INSTANTIATE_TEST_SUITE_P(Conv, OnnxConformance, testing::ValuesIn(kConv), test_name);
INSTANTIATE_TEST_SUITE_P(ConvTranspose, OnnxConformance, testing::ValuesIn(kConvTranspose), test_name);
INSTANTIATE_TEST_SUITE_P(Pool, OnnxConformance, testing::ValuesIn(kPool), test_name);
INSTANTIATE_TEST_SUITE_P(Elementwise, OnnxConformance, testing::ValuesIn(kElementwise), test_name);
INSTANTIATE_TEST_SUITE_P(ResizePad, OnnxConformance, testing::ValuesIn(kResizePad), test_name);
INSTANTIATE_TEST_SUITE_P(Softmax, OnnxConformance, testing::ValuesIn(kSoftmax), test_name);
INSTANTIATE_TEST_SUITE_P(ArgMax, OnnxConformance, testing::ValuesIn(kArgMax), test_name);
INSTANTIATE_TEST_SUITE_P(Unsupported, OnnxConformanceRefused, testing::ValuesIn(kRefused), test_name);

}  // namespace
}  // namespace terraseg
