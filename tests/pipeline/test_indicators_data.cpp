// Walkability of the Leuven sample point with the real Cityscapes ESPNet from ../shared/weights
// (label "data": skips when the weights are absent).
#include <gtest/gtest.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "models.hpp"
#include "street_view_step.hpp"
#include "terraseg/core/engine.hpp"
#include "terraseg/core/threads.hpp"
#include "test_support.hpp"

namespace terraseg {
namespace {

using nlohmann::json;
using terraseg::test::TempDir;

constexpr const char* kLeuvenA = "/usr/share/doc/opencv-doc/examples/data/leuvenA.jpg";

/// Cityscapes ESPNet (MIT, ../shared/weights) with the preprocessing its authors use, as a card.
ModelCard espnet_card() {
  ModelCard card;
  card.name = "espnet_city";
  const std::vector<std::string> names{
      "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation", "terrain",
      "sky",  "person",   "rider",    "car",  "truck", "bus",  "train",         "motorcycle",   "bicycle",    "void"};
  for (size_t i = 0; i < names.size(); ++i) card.classes.push_back({static_cast<int>(i), names[i], {0, 0, 0}});
  card.bands = {"blue", "green", "red"};
  card.scale = 1.0 / 255.0;  // x = (p - mean) / std / 255 = (p / 255 - mean / 255) / std
  card.mean = {72.3923F / 255.0F, 82.9081F / 255.0F, 73.1584F / 255.0F};
  card.std = {45.3192F, 46.1527F, 44.9149F};
  return card;
}

TEST(IndicatorsRun, LeuvenStreetViewWithTrainedEspnet) {
  const auto weights = test::shared_weights_dir();
  if (!weights || !std::filesystem::exists(*weights / "espnet_city.onnx") || !std::filesystem::exists(kLeuvenA)) {
    GTEST_SKIP() << "needs ../shared/weights/espnet_city.onnx and opencv-doc";
  }
  TempDir dir;
  const LoadedModel model = load_model_file((*weights / "espnet_city.onnx").string());
  set_thread_count(2);
  Engine engine(model.graph, EngineOptions{});
  StreetViewOptions options;
  const StreetViewResult result =
      run_street_view(engine, espnet_card(), 20, test::source_dir() / "samples/street/leuven.csv", dir.path(), options,
                      [](const std::string&) {});
  ASSERT_EQ(result.points.size(), 1U);
  const json doc = street_view_json(result);
  std::cout << "Leuven sample point (ESPNet Cityscapes): " << doc.at("by_point").dump() << '\n';
  EXPECT_EQ(result.role_scheme, "class names");
  const geo::StreetIndicators& ind = result.points[0].indicators;
  ASSERT_TRUE(ind.greenery && ind.crowdedness);
  EXPECT_GE(*ind.greenery, 0.0);
  EXPECT_LE(*ind.greenery, 1.0);
  EXPECT_GT(result.points[0].counts.counted, 0);
}

}  // namespace
}  // namespace terraseg
