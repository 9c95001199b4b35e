// export_for_deepness on a tiny U-Net: the exported graph, fed what Deepness feeds (red, green, blue /
// 255), gives the probabilities of the original fed as its card says, with a binary card's threshold
// built in; the written file declares a fixed input, its output's class count and Deepness's keys,
// and loads back ready. The peer check on the shipped models is tests/pipeline/test_deepness_export.cpp.
#include <gtest/gtest.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "terraseg/core/builders.hpp"
#include "terraseg/core/deepness.hpp"
#include "terraseg/core/engine.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/onnx.hpp"
#include "test_support.hpp"

namespace terraseg {
namespace {

using test::TempDir;

constexpr int kSide = 32;

Graph tiny_unet(int classes) {
  UNetSpec spec;
  spec.classes = classes;
  spec.depth = 2;
  spec.base_width = 8;
  spec.seed = 7;
  Graph graph = build_unet(spec);
  ModelCard& card = graph.card;
  card.present = true;
  card.bands = {"blue", "green", "red"};
  card.scale = 1.0 / 255.0;
  card.mean = {0.40F, 0.45F, 0.50F};
  card.std = {0.20F, 0.25F, 0.30F};
  card.pixel_size_m = 0.45;
  card.tile = std::array<int, 2>{kSide, kSide};
  card.tile_overlap = 8;
  if (classes == 2) {
    card.classes = {{0, "background", {0, 0, 0}}, {1, "road", {255, 0, 0}}};
    card.threshold = 0.3;
  }
  return graph;
}

/// A deterministic RGB image, bytes in pixel order (r, g, b).
std::vector<uint8_t> rgb_image(uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> value(0, 255);
  std::vector<uint8_t> rgb(static_cast<size_t>(kSide * kSide * 3));
  for (uint8_t& v : rgb) v = static_cast<uint8_t>(value(rng));
  return rgb;
}

/// What terraseg feeds the original: the card's bands (blue, green, red), (raw * scale - mean) / std.
Tensor as_the_card_says(const std::vector<uint8_t>& rgb, const ModelCard& card) {
  Tensor input({1, 3, kSide, kSide});
  const size_t plane = static_cast<size_t>(kSide) * kSide;
  for (size_t c = 0; c < 3; ++c) {
    const size_t source = 2 - c;  // blue, green, red from r, g, b
    for (size_t p = 0; p < plane; ++p) {
      input.data()[c * plane + p] = static_cast<float>((rgb[p * 3 + source] * card.scale - card.mean[c]) / card.std[c]);
    }
  }
  return input;
}

/// What Deepness feeds: red, green, blue / 255, then (x - mean) / std with its metadata's values.
Tensor as_deepness_feeds(const std::vector<uint8_t>& rgb, const std::vector<float>& mean,
                         const std::vector<float>& std_dev) {
  Tensor input({1, 3, kSide, kSide});
  const size_t plane = static_cast<size_t>(kSide) * kSide;
  for (size_t c = 0; c < 3; ++c) {
    for (size_t p = 0; p < plane; ++p) {
      input.data()[c * plane + p] = (static_cast<float>(rgb[p * 3 + c]) / 255.0F - mean[c]) / std_dev[c];
    }
  }
  return input;
}

std::map<std::string, std::string> metadata_of(const std::filesystem::path& path, onnx::ModelProto& model) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(model.ParseFromIstream(&in));
  std::map<std::string, std::string> metadata;
  for (const auto& entry : model.metadata_props()) metadata[entry.key()] = entry.value();
  return metadata;
}

std::vector<int64_t> dims_of(const onnx::ValueInfoProto& info) {
  std::vector<int64_t> dims;
  for (const auto& dim : info.type().tensor_type().shape().dim())
    dims.push_back(dim.has_dim_value() ? dim.dim_value() : -1);
  return dims;
}

TEST(DeepnessExport, ABinaryModelGivesTheOriginalsClassesFromRgbOver255) {
  const Graph original = tiny_unet(2);
  const Graph exported = export_for_deepness(original, 0);
  EXPECT_EQ(exported.input_dims, (Dims{1, 3, kSide, kSide}));
  EXPECT_EQ(exported.card.bands, (std::vector<std::string>{"red", "green", "blue"}));
  EXPECT_NEAR(exported.card.scale, 1.0 / 255.0, 1e-12);
  EXPECT_FALSE(exported.card.threshold.has_value()) << "the threshold is in the graph";
  Graph profiled = original;  // statistics of the original's normalised input and raw scores
  profiled.card.training_domain = DomainProfile{{"mean grey"}, {1.0F}, {{0.0F}, {1.0F}}, 1.0, 2, "two", std::nullopt};
  EXPECT_FALSE(export_for_deepness(profiled, 0).card.training_domain.has_value()) << "they do not describe the export";

  const std::vector<uint8_t> rgb = rgb_image(11);
  Engine reference(original, EngineOptions{});
  Tensor logits;
  reference.run(as_the_card_says(rgb, original.card), logits);
  Engine deepness(exported, EngineOptions{});
  Tensor probabilities;
  deepness.run(as_deepness_feeds(rgb, exported.card.mean, exported.card.std), probabilities);
  ASSERT_EQ(probabilities.dims(), (Dims{1, 2, kSide, kSide}));

  const size_t plane = static_cast<size_t>(kSide) * kSide;
  const double shift = std::log(0.3 / 0.7);
  float worst = 0.0F;
  int disagreements = 0, decided = 0;
  for (size_t p = 0; p < plane; ++p) {
    const float l0 = logits.data()[p], l1 = logits.data()[plane + p];
    const float p0 = probabilities.data()[p], p1 = probabilities.data()[plane + p];
    EXPECT_NEAR(p0 + p1, 1.0F, 1e-5F);
    const double margin = static_cast<double>(l1) - l0 - shift;  // predict: class 1 where l1 - l0 > logit(t)
    worst = std::max(worst, std::abs(p1 - static_cast<float>(1.0 / (1.0 + std::exp(-margin)))));
    if (std::abs(margin) < 1e-4) continue;
    ++decided;
    // Deepness: probabilities under seg_thresh 0.5 set to 0, then the arg-max.
    const float kept0 = p0 < 0.5F ? 0.0F : p0, kept1 = p1 < 0.5F ? 0.0F : p1;
    const int theirs = kept1 > kept0 ? 1 : 0;  // numpy's argmax takes the first of equals
    disagreements += theirs != (margin > 0 ? 1 : 0) ? 1 : 0;
  }
  EXPECT_LT(worst, 1e-5F) << "class-1 probability against sigmoid(l1 - l0 - logit(t))";
  EXPECT_GT(decided, static_cast<int>(plane) * 9 / 10);
  EXPECT_EQ(disagreements, 0);

  // The written file: fixed input, the output's class count, Deepness's keys; read back, ready.
  TempDir dir;
  save_onnx(exported, (dir / "roads-deepness.onnx").string());
  onnx::ModelProto model;
  const auto metadata = metadata_of(dir / "roads-deepness.onnx", model);
  EXPECT_NO_THROW(onnx::checker::check_model(model));
  ASSERT_EQ(model.graph().input_size(), 1);
  EXPECT_EQ(dims_of(model.graph().input(0)), (std::vector<int64_t>{1, 3, kSide, kSide}));
  ASSERT_EQ(model.graph().output_size(), 1);
  EXPECT_EQ(dims_of(model.graph().output(0)), (std::vector<int64_t>{1, 2, kSide, kSide}));
  EXPECT_EQ(metadata.at("model_type"), "\"Segmentor\"");
  EXPECT_EQ(nlohmann::json::parse(metadata.at("class_names")),
            nlohmann::json::parse(R"({"0": "background", "1": "road"})"));
  EXPECT_EQ(nlohmann::json::parse(metadata.at("tiles_size")), kSide);
  EXPECT_EQ(nlohmann::json::parse(metadata.at("tile_size")), kSide);
  EXPECT_EQ(nlohmann::json::parse(metadata.at("tiles_overlap")), 25);  // 8 of 32 px
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(metadata.at("resolution")).get<double>(), 45.0);
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(metadata.at("seg_thresh")).get<double>(), 0.5);
  EXPECT_EQ(nlohmann::json::parse(metadata.at("seg_small_segment")), 0);
  EXPECT_EQ(nlohmann::json::parse(metadata.at("standardization_mean")), nlohmann::json::parse("[0.0, 0.0, 0.0]"));
  EXPECT_EQ(nlohmann::json::parse(metadata.at("standardization_std")), nlohmann::json::parse("[1.0, 1.0, 1.0]"));

  const Graph loaded = load_onnx((dir / "roads-deepness.onnx").string());
  const DeepnessReadiness ready = deepness_readiness(loaded);
  EXPECT_TRUE(ready.ready()) << (ready.problems.empty() ? "" : ready.problems.front());
  EXPECT_EQ(ready.tile, kSide);
  EXPECT_EQ(ready.output, DeepnessOutput::softmax);
  Engine again(loaded, EngineOptions{});
  Tensor reloaded;
  again.run(as_deepness_feeds(rgb, loaded.card.mean, loaded.card.std), reloaded);
  for (int64_t i = 0; i < reloaded.size(); ++i) ASSERT_EQ(reloaded.data()[i], probabilities.data()[i]);

  // The original as terraseg writes it is not ready, and says why.
  save_onnx(original, (dir / "roads.onnx").string());
  const DeepnessReadiness not_ready = deepness_readiness(load_onnx((dir / "roads.onnx").string()));
  EXPECT_FALSE(not_ready.ready());
  EXPECT_FALSE(not_ready.rgb_over_255);
  EXPECT_EQ(not_ready.output, DeepnessOutput::logits);
  EXPECT_FALSE(not_ready.tile.has_value());
  ASSERT_GE(not_ready.problems.size(), 3U);
  onnx::ModelProto plain;
  const auto plain_metadata = metadata_of(dir / "roads.onnx", plain);
  EXPECT_EQ(plain_metadata.count("seg_thresh"), 0U) << "no probability threshold on logits";
  EXPECT_EQ(plain_metadata.at("tile_size"), plain_metadata.at("tiles_size"));
}

TEST(DeepnessExport, MoreClassesGiveASoftmaxWithDeepnessThresholdOff) {
  const Graph original = tiny_unet(4);
  const Graph exported = export_for_deepness(original, 0);
  const std::vector<uint8_t> rgb = rgb_image(5);
  Engine reference(original, EngineOptions{});
  Tensor logits;
  reference.run(as_the_card_says(rgb, original.card), logits);
  Engine deepness(exported, EngineOptions{});
  Tensor probabilities;
  deepness.run(as_deepness_feeds(rgb, exported.card.mean, exported.card.std), probabilities);
  const size_t plane = static_cast<size_t>(kSide) * kSide;
  for (size_t p = 0; p < plane; ++p) {
    double sum = 0.0;
    for (size_t k = 0; k < 4; ++k) sum += std::exp(static_cast<double>(logits.data()[k * plane + p]));
    for (size_t k = 0; k < 4; ++k) {
      ASSERT_NEAR(probabilities.data()[k * plane + p],
                  std::exp(static_cast<double>(logits.data()[k * plane + p])) / sum, 1e-5);
    }
  }
  EXPECT_EQ(exported.card.classes.size(), 4U) << "the class table completed to the output's channels";
  const auto metadata = deepness_metadata(exported);
  EXPECT_EQ(metadata.at("seg_thresh"), "0") << "Deepness's default 0.5 would turn pixels without a majority class to 0";
  // A tile of the caller's choosing.
  EXPECT_EQ(export_for_deepness(original, 64).input_dims, (Dims{1, 3, 64, 64}));
  EXPECT_THROW(export_for_deepness(original, 30), Error) << "not a multiple of the U-Net's 4";
}

TEST(DeepnessExport, BandsOtherThanRgbAreRefusedNamingThem) {
  Graph original = tiny_unet(2);
  original.source = "nir.onnx";
  original.card.bands = {"nir", "red", "green"};
  try {
    export_for_deepness(original, 0);
    FAIL() << "Deepness feeds red, green and blue";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nir.onnx"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nir, red, green"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace terraseg
