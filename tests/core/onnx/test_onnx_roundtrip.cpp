// save_onnx -> load_onnx gives back the same IR: nodes, attributes, weights (bit-exact in float32,
// to float16 precision with fp16 storage) and the model card; the file is valid opset-13 ONNX.
#include <gtest/gtest.h>
#include <onnx/checker.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "onnx_test_util.hpp"
#include "terraseg/core/builders.hpp"
#include "terraseg/core/engine.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/onnx.hpp"
#include "test_support.hpp"

namespace terraseg {
namespace {

using test::expect_same_graph;
using test::TempDir;
using Ints = std::vector<int64_t>;
using Floats = std::vector<float>;

Tensor random_tensor(const Dims& dims, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0F, 1.0F);
  Tensor t(dims);
  for (float& v : t.values()) v = dist(rng);
  return t;
}

void add(Graph& g, const std::string& name, const std::string& op, std::vector<std::string> inputs,
         std::map<std::string, AttrValue> attrs, std::vector<std::string> outputs = {}) {
  if (outputs.empty()) outputs = {name};
  g.nodes.push_back(Node{name, op, std::move(inputs), std::move(outputs), std::move(attrs)});
}

ModelCard sample_card() {
  ModelCard card;
  card.name = "sample";
  card.architecture = "hand-made";
  card.classes = {{0, "background", {0, 0, 0}}, {1, "road", {255, 128, 0}}};
  card.ignore_ids = {255};
  card.bands = {"red", "green", "blue"};
  card.scale = 1.0 / 255.0;
  card.mean = {0.485F, 0.456F, 0.406F};
  card.std = {0.229F, 0.224F, 0.225F};
  card.pixel_size_m = 0.3;
  card.metrics = {{"val_miou", 0.5}};
  card.notes = "round trip";
  card.present = true;
  return card;
}

/// Every op the IR knows, in the canonical attribute forms the importer produces.
Graph sample_graph() {
  Graph g;
  g.name = "sample";
  g.input = "image";
  g.input_dims = {1, 3, -1, -1};
  g.weights["conv1.w"] = random_tensor({4, 3, 3, 3}, 1);
  g.weights["conv1.b"] = random_tensor({4}, 2);
  for (const char* p : {"bn.scale", "bn.bias", "bn.mean"}) g.weights[p] = random_tensor({4}, 3);
  g.weights["bn.var"] = Tensor({4}, 0.5F);
  g.weights["prelu.slope"] = random_tensor({4, 1, 1}, 4);
  g.weights["up.w"] = random_tensor({4, 4, 2, 2}, 5);
  g.weights["head.w"] = random_tensor({2, 8, 1, 1}, 6);
  g.weights["offset"] = random_tensor({1, 8, 1, 1}, 7);
  add(g, "conv1", "Conv", {"image", "conv1.w", "conv1.b"},
      {{"kernel_shape", Ints{3, 3}}, {"pads", Ints{1, 1, 1, 1}}, {"strides", Ints{1, 1}}, {"group", int64_t{1}}});
  add(g, "bn", "BatchNormalization", {"conv1", "bn.scale", "bn.bias", "bn.mean", "bn.var"},
      {{"epsilon", 1e-3F}, {"momentum", 0.9F}});
  add(g, "prelu", "PRelu", {"bn", "prelu.slope"}, {});
  add(g, "pool", "MaxPool", {"prelu"}, {{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}},
      {"pool", "pool.indices"});
  add(g, "unpool", "MaxUnpool", {"pool", "pool.indices"},
      {{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}, {"output_shape", Ints{1, 4, 8, 8}}});
  add(g, "leaky", "LeakyRelu", {"unpool"}, {{"alpha", 0.2F}});
  add(g, "pad", "Pad", {"leaky"},
      {{"pads", Ints{0, 0, 1, 1, 0, 0, 1, 1}}, {"mode", std::string("reflect")}, {"constant_value", 0.0F}});
  add(g, "avg", "AveragePool", {"pad"}, {{"kernel_shape", Ints{3, 3}}, {"count_include_pad", int64_t{0}}});
  add(g, "up", "ConvTranspose", {"avg", "up.w"}, {{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}});
  add(g, "down", "Resize", {"up"},
      {{"mode", std::string("linear")},
       {"coordinate_transformation_mode", std::string("half_pixel")},
       {"nearest_mode", std::string("round_prefer_floor")},
       {"scales", Floats{1.0F, 1.0F, 0.5F, 0.5F}}});
  add(g, "fixed", "Resize", {"prelu"},
      {{"mode", std::string("nearest")},
       {"coordinate_transformation_mode", std::string("asymmetric")},
       {"nearest_mode", std::string("floor")},
       {"sizes", Ints{1, 4, 8, 8}}});
  add(g, "cat", "Concat", {"down", "fixed"}, {{"axis", int64_t{1}}});
  add(g, "sum", "Add", {"cat", "offset"}, {});
  add(g, "sig", "Sigmoid", {"sum"}, {});
  add(g, "gate", "Mul", {"sum", "sig"}, {});
  add(g, "clip", "Clip", {"gate"}, {{"min", 0.0F}, {"max", 6.0F}});
  add(g, "half_clip", "Clip", {"clip"}, {{"max", 5.0F}});
  add(g, "tanh", "Tanh", {"half_clip"}, {});
  add(g, "elu", "Elu", {"tanh"}, {{"alpha", 0.5F}});
  add(g, "less", "Sub", {"elu", "offset"}, {});
  add(g, "ratio", "Div", {"less", "offset"}, {});
  add(g, "relu", "Relu", {"ratio"}, {});
  add(g, "same", "Identity", {"relu"}, {});
  add(g, "head", "Conv", {"same", "head.w"}, {{"kernel_shape", Ints{1, 1}}});
  add(g, "gap", "GlobalAveragePool", {"head"}, {});
  add(g, "softmax", "Softmax", {"head"}, {{"axis", int64_t{1}}});
  add(g, "argmax", "ArgMax", {"softmax"}, {{"axis", int64_t{1}}, {"keepdims", int64_t{1}}});
  g.outputs = {"head", "argmax", "gap"};
  g.card = sample_card();
  return g;
}

TEST(OnnxRoundTrip, EveryOpAttributeWeightAndCard) {
  TempDir dir;
  const Graph original = sample_graph();
  save_onnx(original, (dir / "sample.onnx").string());
  EXPECT_FALSE(std::filesystem::exists(dir / "sample.onnx.tmp"));
  const Graph loaded = load_onnx((dir / "sample.onnx").string());
  expect_same_graph(original, loaded);
  EXPECT_EQ(loaded.name, "sample");
}

TEST(OnnxRoundTrip, FileIsOpset13WithCardAndDynamicSpatialDims) {
  TempDir dir;
  save_onnx(sample_graph(), (dir / "sample.onnx").string());
  onnx::ModelProto model;
  ASSERT_TRUE(model.ParseFromString(test::read_bytes((dir / "sample.onnx").string())));
  EXPECT_EQ(model.producer_name(), "terraseg");
  ASSERT_EQ(model.opset_import_size(), 1);
  EXPECT_EQ(model.opset_import(0).version(), 13);
  ASSERT_GE(model.metadata_props_size(), 1);
  EXPECT_EQ(model.metadata_props(0).key(), "terraseg.model_card");
  EXPECT_EQ(ModelCard::from_json(model.metadata_props(0).value(), "test").name, "sample");
  // With classes, the card is also written in the QGIS Deepness plugin's keys.
  std::map<std::string, std::string> metadata;
  for (const auto& entry : model.metadata_props()) metadata[entry.key()] = entry.value();
  if (!sample_graph().card.classes.empty()) {
    EXPECT_EQ(metadata.at("model_type"), "\"Segmentor\"");
    EXPECT_EQ(nlohmann::json::parse(metadata.at("class_names")).size(), sample_graph().card.classes.size());
  }
  const auto& shape = model.graph().input(0).type().tensor_type().shape();
  ASSERT_EQ(shape.dim_size(), 4);
  EXPECT_EQ(shape.dim(1).dim_value(), 3);
  EXPECT_EQ(shape.dim(2).dim_param(), "height");
  EXPECT_EQ(shape.dim(3).dim_param(), "width");
  for (const auto& init : model.graph().initializer()) {
    if (init.data_type() == onnx::TensorProto::FLOAT) {
      EXPECT_TRUE(init.has_raw_data()) << init.name();
    }
  }
  // Opset 13 takes Pad pads and Resize scales/sizes as inputs, not attributes.
  for (const auto& node : model.graph().node()) {
    if (node.op_type() == "Pad") {
      EXPECT_EQ(node.input_size(), 3);
    } else if (node.op_type() == "Resize") {
      EXPECT_GE(node.input_size(), 3);
    }
  }
}

/// The ONNX checker accepts what we write: attribute types, opset-13 operand forms, output shapes,
/// and the Cast nodes of fp16 weights.
TEST(OnnxRoundTrip, OnnxCheckerAcceptsExports) {
  TempDir dir;
  const std::vector<std::pair<std::string, Graph>> graphs = {{"sample", sample_graph()},
                                                             {"unet", build_unet(UNetSpec{3, 2, 2, 8, false, true, 1})},
                                                             {"segnet", build_segnet(SegNetSpec{3, 5, true, 8, 1})}};
  for (const auto& [name, graph] : graphs) {
    for (bool fp16 : {false, true}) {
      const std::string path = (dir / (name + (fp16 ? "_f16.onnx" : ".onnx"))).string();
      save_onnx(graph, path, OnnxSaveOptions{fp16});
      onnx::ModelProto model;
      ASSERT_TRUE(model.ParseFromString(test::read_bytes(path)));
      EXPECT_NO_THROW(onnx::checker::check_model(model)) << path;
    }
  }
}

TEST(OnnxRoundTrip, Fp16WeightsLoadBackAsFloatAtHalfPrecision) {
  TempDir dir;
  Graph original = sample_graph();
  original.weights["conv1.b"] = Tensor({4}, std::vector<float>{1.0F, 0.1F, -65504.0F, 1e-7F});
  save_onnx(original, (dir / "f32.onnx").string());
  save_onnx(original, (dir / "f16.onnx").string(), OnnxSaveOptions{true});
  Graph loaded = load_onnx((dir / "f16.onnx").string());
  ASSERT_EQ(loaded.weights.size(), original.weights.size());
  for (const auto& [name, weight] : original.weights) {
    const Tensor& half = loaded.weights.at(name);
    ASSERT_EQ(half.dims(), weight.dims()) << name;
    for (int64_t i = 0; i < weight.size(); ++i) {
      const float v = weight.data()[i];
      EXPECT_NEAR(half.data()[i], v, std::fabs(v) / 2048.0F + 3e-8F) << name << "[" << i << "]";
    }
  }
  const std::vector<float> expected_bias{1.0F, 0.0999755859375F, -65504.0F, 1.1920928955078125e-07F};
  EXPECT_EQ(
      std::vector<float>(loaded.weights.at("conv1.b").values().begin(), loaded.weights.at("conv1.b").values().end()),
      expected_bias);
  loaded.weights = original.weights;
  expect_same_graph(original, loaded);
}

TEST(OnnxRoundTrip, Fp16HalvesTheFile) {
  TempDir dir;
  const Graph unet = build_unet(UNetSpec{3, 2, 3, 16, true, true, 1});
  save_onnx(unet, (dir / "f32.onnx").string());
  save_onnx(unet, (dir / "f16.onnx").string(), OnnxSaveOptions{true});
  const auto f32 = static_cast<double>(std::filesystem::file_size(dir / "f32.onnx"));
  const auto f16 = static_cast<double>(std::filesystem::file_size(dir / "f16.onnx"));
  EXPECT_LT(f16, 0.55 * f32);
  EXPECT_EQ(load_onnx((dir / "f16.onnx").string()).parameter_count(), unet.parameter_count());
}

TEST(OnnxRoundTrip, Fp16RefusesWeightsBeyondHalfRange) {
  TempDir dir;
  Graph graph = sample_graph();
  graph.weights["conv1.b"].data()[0] = 1e6F;
  EXPECT_THROW(save_onnx(graph, (dir / "big.onnx").string(), OnnxSaveOptions{true}), Error);
  EXPECT_FALSE(std::filesystem::exists(dir / "big.onnx"));
  EXPECT_FALSE(std::filesystem::exists(dir / "big.onnx.tmp"));
}

TEST(OnnxRoundTrip, UnwritableDirectoryLeavesNoFile) {
  TempDir dir;
  const std::string path = (dir / "missing" / "model.onnx").string();
  try {
    save_onnx(sample_graph(), path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

/// Native builders' graphs survive the round trip; the importer only spells out opset-13 defaults.
void expect_builder_round_trip(const Graph& original, const std::string& file) {
  save_onnx(original, file);
  const Graph loaded = load_onnx(file);
  ASSERT_EQ(loaded.nodes.size(), original.nodes.size());
  for (size_t i = 0; i < original.nodes.size(); ++i) {
    const Node& a = original.nodes[i];
    const Node& b = loaded.nodes[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.op, b.op);
    EXPECT_EQ(a.inputs, b.inputs);
    EXPECT_EQ(a.outputs, b.outputs);
    for (const auto& [key, value] : a.attrs)
      EXPECT_TRUE(b.attrs.contains(key) && b.attrs.at(key) == value) << a.name << "." << key;
    for (const auto& entry : b.attrs) {
      if (!a.attrs.contains(entry.first)) {
        EXPECT_EQ(entry.first, "nearest_mode") << a.name;
      }
    }
  }
  // A builder's card is not `present` (it was not read from a file); saving makes it so.
  EXPECT_TRUE(loaded.card.present);
  Graph canonical = loaded;
  canonical.nodes = original.nodes;
  canonical.card.present = original.card.present;
  expect_same_graph(original, canonical);
  EXPECT_EQ(loaded.parameter_count(), original.parameter_count());

  Engine before(original);
  Engine after(loaded);
  const Tensor input = random_tensor({1, original.input_dims[1], 32, 48}, 11);
  const Tensor a = before.run_all(input).at(0);
  const Tensor b = after.run_all(input).at(0);
  ASSERT_EQ(a.dims(), b.dims());
  EXPECT_TRUE(std::equal(a.values().begin(), a.values().end(), b.values().begin()));
}

TEST(OnnxRoundTrip, NativeUNet) {
  TempDir dir;
  expect_builder_round_trip(build_unet(UNetSpec{3, 2, 2, 8, true, true, 1}), (dir / "unet.onnx").string());
  expect_builder_round_trip(build_unet(UNetSpec{3, 2, 2, 8, false, false, 2}), (dir / "unet_resize.onnx").string());
}

TEST(OnnxRoundTrip, NativeSegNet) {
  TempDir dir;
  expect_builder_round_trip(build_segnet(SegNetSpec{3, 5, true, 8, 1}), (dir / "segnet.onnx").string());
}

}  // namespace
}  // namespace terraseg
