// Import normalisation: old opsets, constant operands turned into attributes, constant folding,
// initialiser dtypes, Softmax axis semantics, the model card and the image input.
#include <gtest/gtest.h>

#include "onnx_test_util.hpp"
#include "terraseg/core/deepness.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/input_geometry.hpp"
#include "terraseg/core/onnx.hpp"

namespace terraseg {
namespace {

using test::OnnxBuilder;
using test::set_attr;
using Ints = std::vector<int64_t>;
using Floats = std::vector<float>;

const Node& node_named(const Graph& graph, const std::string& name) {
  for (const Node& node : graph.nodes) {
    if (node.name == name) return node;
  }
  throw Error("no node " + name);
}

std::string import_error(const OnnxBuilder& builder) {
  try {
    load_onnx_bytes(builder.bytes(), "hand.onnx");
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(OnnxImport, Opset9UpsampleBecomesResizeAndPadAttributesAreKept) {
  OnnxBuilder b(9);
  b.input("x", {1, 3, 224, 224}).output("p");
  b.floats("scales", {4}, {1, 1, 2, 2});
  set_attr(b.node("Upsample", {"x", "scales"}, {"u"}, "up"), "mode", std::string("nearest"));
  auto& pad = b.node("Pad", {"u"}, {"p"}, "pad");
  set_attr(pad, "pads", Ints{0, 0, 1, 2, 0, 0, 3, 4});
  set_attr(pad, "value", 1.5F);
  const Graph g = load_onnx_bytes(b.bytes(), "hand.onnx");
  EXPECT_EQ(g.input_dims, (Dims{1, 3, -1, -1}));
  const Node& up = node_named(g, "up");
  EXPECT_EQ(up.op, "Resize");
  EXPECT_EQ(up.inputs, std::vector<std::string>{"x"});
  EXPECT_EQ(up.attr_floats("scales"), (Floats{1, 1, 2, 2}));
  EXPECT_EQ(up.attr_string("coordinate_transformation_mode", ""), "asymmetric");
  EXPECT_EQ(up.attr_string("nearest_mode", ""), "floor");
  const Node& p = node_named(g, "pad");
  EXPECT_EQ(p.attr_ints("pads"), (Ints{0, 0, 1, 2, 0, 0, 3, 4}));
  EXPECT_EQ(p.attr_string("mode", ""), "constant");
  EXPECT_EQ(p.attr_float("constant_value", 0.0F), 1.5F);
  EXPECT_TRUE(g.weights.empty()) << "scales are an attribute, not a weight";
}

TEST(OnnxImport, Opset11ConstantOperandsBecomeAttributes) {
  OnnxBuilder b(11);
  b.input("x", {1, 3, 8, 8}).output("r2");
  auto& pads = b.node("Constant", {}, {"pads"}, "pads_const");
  auto* value = pads.add_attribute();
  value->set_name("value");
  value->set_type(onnx::AttributeProto::TENSOR);
  value->mutable_t()->set_data_type(onnx::TensorProto::INT64);
  value->mutable_t()->add_dims(8);
  for (int64_t v : Ints{0, 0, 1, 1, 0, 0, 1, 1}) value->mutable_t()->add_int64_data(v);
  set_attr(b.node("Pad", {"x", "pads"}, {"p"}, "pad"), "mode", std::string("edge"));
  b.floats("roi", {0}, {});
  b.floats("scales", {4}, {1, 1, 2, 2});
  b.floats("no_scales", {0}, {});
  b.ints("sizes", {1, 3, 5, 7});
  auto& up = b.node("Resize", {"p", "roi", "scales"}, {"r1"}, "up");
  set_attr(up, "mode", std::string("linear"));
  set_attr(up, "coordinate_transformation_mode", std::string("align_corners"));
  b.node("Resize", {"r1", "roi", "no_scales", "sizes"}, {"r2"}, "fixed");
  const Graph g = load_onnx_bytes(b.bytes(), "hand.onnx");
  ASSERT_EQ(g.nodes.size(), 3U);
  EXPECT_EQ(node_named(g, "pad").inputs.size(), 1U);
  EXPECT_EQ(node_named(g, "pad").attr_ints("pads"), (Ints{0, 0, 1, 1, 0, 0, 1, 1}));
  EXPECT_EQ(node_named(g, "pad").attr_float("constant_value", -1.0F), 0.0F);
  EXPECT_EQ(node_named(g, "up").attr_floats("scales"), (Floats{1, 1, 2, 2}));
  EXPECT_EQ(node_named(g, "up").attr_string("coordinate_transformation_mode", ""), "align_corners");
  EXPECT_EQ(node_named(g, "fixed").attr_ints("sizes"), (Ints{1, 3, 5, 7}));
  EXPECT_FALSE(node_named(g, "fixed").has("scales"));
  EXPECT_EQ(node_named(g, "fixed").attr_string("coordinate_transformation_mode", ""), "half_pixel");
  EXPECT_TRUE(g.weights.empty());
}

TEST(OnnxImport, DoubleAndFloat16InitialisersBecomeFloatWeights) {
  OnnxBuilder b(13);
  b.input("x", {1, 2, 4, 4}).output("z");
  auto& wide = *b.model.mutable_graph()->add_initializer();
  wide.set_name("wide");
  wide.set_data_type(onnx::TensorProto::DOUBLE);
  wide.add_dims(2);
  wide.add_double_data(0.25);
  wide.add_double_data(-3.0);
  auto& half = *b.model.mutable_graph()->add_initializer();
  half.set_name("half");
  half.set_data_type(onnx::TensorProto::FLOAT16);
  half.add_dims(2);
  half.set_raw_data(std::string("\x00\x3c\x00\xc0", 4));  // 1.0, -2.0
  auto& typed = *b.model.mutable_graph()->add_initializer();
  typed.set_name("typed_half");
  typed.set_data_type(onnx::TensorProto::FLOAT16);
  typed.add_dims(1);
  typed.add_int32_data(0x3800);  // 0.5
  b.node("Add", {"x", "wide"}, {"y"});
  b.node("Mul", {"y", "half"}, {"y2"});
  b.node("Add", {"y2", "typed_half"}, {"z"});
  const Graph g = load_onnx_bytes(b.bytes(), "hand.onnx");
  EXPECT_EQ(std::vector<float>(g.weights.at("wide").values().begin(), g.weights.at("wide").values().end()),
            (Floats{0.25F, -3.0F}));
  EXPECT_EQ(std::vector<float>(g.weights.at("half").values().begin(), g.weights.at("half").values().end()),
            (Floats{1.0F, -2.0F}));
  EXPECT_EQ(g.weights.at("typed_half").data()[0], 0.5F);
}

TEST(OnnxImport, ConstantReshapeFlattenCastAndIdentityFold) {
  OnnxBuilder b(13);
  b.input("x", {1, 3, 4, 4}).output("out");
  auto& slope = b.node("Constant", {}, {"slope_flat"});
  auto* floats = slope.add_attribute();
  floats->set_name("value_floats");
  floats->set_type(onnx::AttributeProto::FLOATS);
  for (float v : {0.1F, 0.2F, 0.3F}) floats->add_floats(v);
  b.ints("shape", {-1, 1, 1});
  b.node("Reshape", {"slope_flat", "shape"}, {"slope"});
  b.floats("bias4d", {1, 3, 1, 1}, {1, 2, 3});
  set_attr(b.node("Flatten", {"bias4d"}, {"bias2d"}), "axis", int64_t{3});
  set_attr(b.node("Cast", {"bias2d"}, {"bias_cast"}), "to", int64_t{onnx::TensorProto::FLOAT});
  b.node("Identity", {"bias_cast"}, {"bias"});
  b.node("PRelu", {"x", "slope"}, {"act"}, "prelu");
  b.node("Dropout", {"act"}, {"dropped"}, "drop");
  b.node("Add", {"dropped", "bias"}, {"out"}, "add");
  const Graph g = load_onnx_bytes(b.bytes(), "hand.onnx");
  ASSERT_EQ(g.nodes.size(), 3U);
  EXPECT_EQ(g.weights.at("slope").dims(), (Dims{3, 1, 1}));
  EXPECT_EQ(g.weights.at("bias").dims(), (Dims{3, 1}));
  EXPECT_EQ(g.weights.size(), 2U);
  EXPECT_EQ(node_named(g, "drop").op, "Identity");
  EXPECT_TRUE(node_named(g, "drop").attrs.empty());
}

TEST(OnnxImport, OldSoftmaxOnlyWhenAxisIsLast) {
  for (int64_t axis : {int64_t{3}, int64_t{-1}}) {
    OnnxBuilder b(11);
    b.input("x", {1, 3, 4, 4}).output("y");
    set_attr(b.node("Softmax", {"x"}, {"y"}, "sm"), "axis", axis);
    EXPECT_EQ(load_onnx_bytes(b.bytes(), "hand.onnx").nodes[0].attr_int("axis", 0), -1);
  }
  OnnxBuilder channel(11);
  channel.input("x", {1, 3, 4, 4}).output("y");
  set_attr(channel.node("Softmax", {"x"}, {"y"}, "sm"), "axis", int64_t{1});
  const std::string message = import_error(channel);
  EXPECT_NE(message.find("hand.onnx"), std::string::npos) << message;
  EXPECT_NE(message.find("'sm' (Softmax)"), std::string::npos) << message;
  EXPECT_NE(message.find("C*H*W"), std::string::npos) << message;
  OnnxBuilder current(13);
  current.input("x", {1, 3, 4, 4}).output("y");
  current.node("Softmax", {"x"}, {"y"}, "sm");
  EXPECT_EQ(load_onnx_bytes(current.bytes(), "hand.onnx").nodes[0].attr_int("axis", 0), -1);
}

TEST(OnnxImport, ModelCardFromMetadataOrAbsent) {
  OnnxBuilder b(13);
  b.input("x", {1, 3, 4, 4}).output("y");
  b.node("Relu", {"x"}, {"y"});
  EXPECT_FALSE(load_onnx_bytes(b.bytes(), "hand.onnx").card.present);
  auto* entry = b.model.add_metadata_props();
  entry->set_key("terraseg.model_card");
  entry->set_value(R"({"name": "roads", "classes": [{"id": 0, "name": "bg"}, {"id": 1, "name": "road"}]})");
  const Graph g = load_onnx_bytes(b.bytes(), "hand.onnx");
  EXPECT_TRUE(g.card.present);
  EXPECT_EQ(g.card.name, "roads");
  EXPECT_EQ(g.card.class_name(1), "road");
}

TEST(OnnxImport, TilingFromTheCardOrFromDeepnessMetadata) {
  OnnxBuilder b(13);
  b.input("x", {1, 3, 4, 4}).output("y");
  b.node("Relu", {"x"}, {"y"});
  auto* size = b.model.add_metadata_props();
  size->set_key("tiles_size");
  size->set_value("512");
  auto* overlap = b.model.add_metadata_props();
  overlap->set_key("tiles_overlap");
  overlap->set_value("15");
  Graph g = load_onnx_bytes(b.bytes(), "deepness.onnx");
  ASSERT_TRUE(g.card.tile.has_value());
  EXPECT_EQ(*g.card.tile, (std::array<int, 2>{512, 512}));
  EXPECT_EQ(g.card.tile_overlap, 76);  // 15 % of 512
  // The terraseg card wins where it states the keys.
  auto* card = b.model.add_metadata_props();
  card->set_key("terraseg.model_card");
  card->set_value(R"({"name": "m", "tile": [512, 1024], "tile_overlap": 128, "input_range": [0, 2047]})");
  g = load_onnx_bytes(b.bytes(), "both.onnx");
  EXPECT_EQ(*g.card.tile, (std::array<int, 2>{512, 1024}));
  EXPECT_EQ(g.card.tile_overlap, 128);
  EXPECT_EQ(*g.card.input_range, (std::array<double, 2>{0.0, 2047.0}));
  const ModelCard again = ModelCard::from_json(g.card.to_json(), "round trip");
  EXPECT_EQ(again.tile, g.card.tile);
  EXPECT_EQ(again.tile_overlap, g.card.tile_overlap);
  EXPECT_EQ(again.input_range, g.card.input_range);
  EXPECT_THROW(ModelCard::from_json(R"({"tile": 4})", "small"), Error);
  EXPECT_THROW(ModelCard::from_json(R"({"input_range": [255, 0]})", "reversed"), Error);
}

TEST(OnnxImport, ADeepnessModelLoadsWithItsClassesResolutionTilesAndStandardisation) {
  // Metadata as the Deepness documentation writes it: one json.dumps value per key.
  OnnxBuilder b(13);
  b.input("x", {1, 3, 4, 4}).output("y");
  b.node("Relu", {"x"}, {"y"});
  const std::vector<std::pair<std::string, std::string>> keys{{"model_type", "\"Segmentor\""},
                                                              {"class_names", R"({"0": "background", "1": "field"})"},
                                                              {"resolution", "100"},
                                                              {"tiles_size", "512"},
                                                              {"tiles_overlap", "40"},
                                                              {"seg_thresh", "0.5"},
                                                              {"standardization_mean", "[0.485, 0.456, 0.406]"},
                                                              {"standardization_std", "[0.229, 0.224, 0.225]"}};
  for (const auto& [key, value] : keys) {
    auto* entry = b.model.add_metadata_props();
    entry->set_key(key);
    entry->set_value(value);
  }
  const Graph g = load_onnx_bytes(b.bytes(), "deepness.onnx");
  EXPECT_TRUE(g.card.present);
  ASSERT_EQ(g.card.classes.size(), 2U);
  EXPECT_EQ(g.card.class_name(1), "field");
  ASSERT_TRUE(g.card.pixel_size_m.has_value());
  EXPECT_DOUBLE_EQ(*g.card.pixel_size_m, 1.0);
  EXPECT_EQ(*g.card.tile, (std::array<int, 2>{512, 512}));
  EXPECT_EQ(g.card.tile_overlap, 204);  // 40 % of 512
  EXPECT_EQ(g.card.threshold, 0.5);
  EXPECT_EQ(g.card.bands, (std::vector<std::string>{"red", "green", "blue"}));
  EXPECT_NEAR(g.card.scale, 1.0 / 255.0, 1e-12);
  EXPECT_EQ(g.card.mean, (std::vector<float>{0.485F, 0.456F, 0.406F}));
  EXPECT_EQ(g.card.std, (std::vector<float>{0.229F, 0.224F, 0.225F}));
  // And back: the card written as Deepness metadata says the same.
  const auto written = deepness_metadata(g.card);
  EXPECT_EQ(written.at("resolution"), "100.0");
  EXPECT_EQ(written.at("tiles_size"), "512");
  EXPECT_EQ(written.at("tiles_overlap"), "40");
  EXPECT_EQ(ModelCard(card_from_deepness(written, "again")).class_name(0), "background");

  OnnxBuilder detector(13);
  detector.input("x", {1, 3, 4, 4}).output("y");
  detector.node("Relu", {"x"}, {"y"});
  auto* type = detector.model.add_metadata_props();
  type->set_key("model_type");
  type->set_value("\"Detector\"");
  try {
    load_onnx_bytes(detector.bytes(), "yolo.onnx");
    FAIL() << "a detector is not a segmentation model";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("yolo.onnx"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("Segmentor"), std::string::npos) << e.what();
  }
}

TEST(OnnxImport, InputGeometryIsReadFromStridesAndConstantResizes) {
  OnnxBuilder b(11);
  b.input("x", {1, 3, 512, 1024}).output("y");
  b.floats("w", {3, 3, 3, 3}, std::vector<float>(81, 0.1F));
  auto& down = b.node("Conv", {"x", "w"}, {"d"}, "down");
  set_attr(down, "strides", Ints{2, 2});
  set_attr(down, "pads", Ints{1, 1, 1, 1});
  auto& pool = b.node("MaxPool", {"d"}, {"p"}, "pool");
  set_attr(pool, "kernel_shape", Ints{2, 2});
  set_attr(pool, "strides", Ints{2, 2});
  b.node("GlobalAveragePool", {"p"}, {"g"}, "global");
  b.node("Mul", {"p", "g"}, {"y"}, "scale");
  Graph g = load_onnx_bytes(b.bytes(), "strided.onnx");
  EXPECT_EQ(g.input_dims, (Dims{1, 3, -1, -1})) << "H and W stay dynamic in the graph";
  EXPECT_EQ(g.declared_hw, (std::array<int64_t, 2>{512, 1024}));
  InputGeometry geometry = input_geometry(g);
  EXPECT_EQ(geometry.multiple, 4);
  EXPECT_FALSE(geometry.fixed_hw.has_value()) << "strides alone do not bind the size";
  // A Resize to constant sizes (ESPNetv2's export) only works at the declared size.
  OnnxBuilder fixed(11);
  fixed.input("x", {1, 3, 512, 1024}).output("y");
  fixed.floats("roi", {0}, {});
  fixed.floats("scales", {0}, {});
  fixed.ints("sizes", {1, 3, 64, 128});
  auto& resize = fixed.node("Resize", {"x", "roi", "scales", "sizes"}, {"y"}, "resize");
  set_attr(resize, "mode", std::string("linear"));
  g = load_onnx_bytes(fixed.bytes(), "fixed.onnx");
  geometry = input_geometry(g);
  ASSERT_TRUE(geometry.fixed_hw.has_value());
  EXPECT_EQ(*geometry.fixed_hw, (std::array<int, 2>{512, 1024}));
}

TEST(OnnxImport, InitialisersListedAsInputsAreNotImages) {
  OnnxBuilder b(9);
  b.input("x", {1, 3, 4, 4}).input("w", {3, 1, 1}).output("y");
  b.model.set_ir_version(3);
  b.floats("w", {3, 1, 1}, {1, 2, 3});
  b.node("PRelu", {"x", "w"}, {"y"});
  const Graph g = load_onnx_bytes(b.bytes(), "hand.onnx");
  EXPECT_EQ(g.input, "x");
  EXPECT_EQ(g.outputs, std::vector<std::string>{"y"});
  EXPECT_EQ(g.parameter_count(), 3);
}

TEST(OnnxImport, MaxPoolIndicesFeedMaxUnpoolWithConstantOutputShape) {
  OnnxBuilder b(11);
  b.input("x", {1, 2, 4, 4}).output("u");
  auto& pool = b.node("MaxPool", {"x"}, {"p", "i"}, "pool");
  set_attr(pool, "kernel_shape", Ints{2, 2});
  set_attr(pool, "strides", Ints{2, 2});
  set_attr(pool, "storage_order", int64_t{0});
  b.ints("shape", {1, 2, 4, 4});
  auto& unpool = b.node("MaxUnpool", {"p", "i", "shape"}, {"u"}, "unpool");
  set_attr(unpool, "kernel_shape", Ints{2, 2});
  set_attr(unpool, "strides", Ints{2, 2});
  const Graph g = load_onnx_bytes(b.bytes(), "hand.onnx");
  EXPECT_EQ(node_named(g, "pool").outputs, (std::vector<std::string>{"p", "i"}));
  EXPECT_FALSE(node_named(g, "pool").has("storage_order"));
  EXPECT_EQ(node_named(g, "unpool").inputs, (std::vector<std::string>{"p", "i"}));
  EXPECT_EQ(node_named(g, "unpool").attr_ints("output_shape"), (Ints{1, 2, 4, 4}));
}

}  // namespace
}  // namespace terraseg
