#include <gtest/gtest.h>

#include <fstream>

#include "terraseg/core/error.hpp"
#include "terraseg/pipeline/config.hpp"
#include "test_support.hpp"

using terraseg::Error;
using terraseg::parse_run_config;

namespace {

/// Expects `yaml` to be rejected with a message containing every fragment.
void expect_error(const std::string& yaml, const std::vector<std::string>& fragments) {
  try {
    parse_run_config(yaml, "/tmp/region.yaml");
    FAIL() << "expected an error for:\n" << yaml;
  } catch (const Error& e) {
    for (const auto& fragment : fragments) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what() << "\nmissing: " << fragment;
    }
  }
}

constexpr const char* kValid = R"(
output_dir: out/chicago
threads: 2
tiling: {tile: 256, overlap: 32}
models:
  roads: {builder: unet, classes: 2, class_names: [background, road]}
regions:
  - name: chicago
    inputs: [/etc/hostname]
)";

}  // namespace

TEST(RunConfig, ParsesValidConfigWithDefaultsAndRelativePaths) {
  const auto config = parse_run_config(kValid, "/tmp/cfg/region.yaml");
  EXPECT_EQ(config.output_dir, std::filesystem::path("/tmp/cfg/out/chicago"));
  EXPECT_EQ(config.threads, 2);
  EXPECT_EQ(config.tiling.tile, (std::array<int, 2>{256, 256}));
  EXPECT_EQ(config.tiling.overlap, 32);
  EXPECT_TRUE(config.outputs.masks);
  EXPECT_FALSE(config.outputs.scores);
  ASSERT_EQ(config.regions.size(), 1U);
  EXPECT_EQ(config.regions[0].tasks, std::vector<std::string>{"roads"});
  EXPECT_EQ(config.models.at("roads").builder, "unet");
  EXPECT_DOUBLE_EQ(config.indicators.cell_size_m, 250.0);
}

TEST(RunConfig, InferencePassesOverrideTheCardsAndBadScalesNameTheKey) {
  std::string yaml = kValid;
  yaml.replace(yaml.find("tiling: {tile: 256, overlap: 32}"), 32,
               "tiling: {tile: 256, overlap: 32, scales: [1, 1.5], flip: true}");
  const auto config = parse_run_config(yaml, "/tmp/cfg/region.yaml");
  EXPECT_EQ(config.tiling.scales, (std::vector<double>{1.0, 1.5}));
  EXPECT_EQ(config.tiling.flip, true);
  EXPECT_FALSE(parse_run_config(kValid, "/tmp/cfg/region.yaml").tiling.scales);  // unset: each card's
  yaml = kValid;
  yaml.replace(yaml.find("tiling: {tile: 256, overlap: 32}"), 32, "tiling: {tile: 256, overlap: 32, scales: [1, 0.1]}");
  expect_error(yaml, {"/tmp/region.yaml", "'tiling.scales'", "0.25..4"});
}

TEST(RunConfig, UnknownKeySuggestsNearestWithLine) {
  std::string yaml = kValid;
  yaml += "tilng: {tile: 256}\n";
  expect_error(yaml, {"/tmp/region.yaml:10", "'tilng'", "did you mean 'tiling'"});
}

TEST(RunConfig, WrongTypeNamesKeyAndLine) {
  std::string yaml = kValid;
  yaml.replace(yaml.find("threads: 2"), 10, "threads: many");
  expect_error(yaml, {"/tmp/region.yaml:3", "'threads'", "integer"});
}

TEST(RunConfig, MalformedYamlNamesLine) {
  expect_error("regions: [a, b\n  x: :\n", {"/tmp/region.yaml:", "malformed YAML"});
}

TEST(RunConfig, MissingInputNamesFile) {
  std::string yaml = kValid;
  yaml.replace(yaml.find("/etc/hostname"), 13, "/no/such/file.tif");
  expect_error(yaml, {"regions[0].inputs", "/no/such/file.tif", "does not exist"});
}

TEST(RunConfig, TaskWithoutModelIsRejected) {
  std::string yaml = kValid;
  yaml += "    tasks: [landcover]\n";
  expect_error(yaml, {"regions[0].tasks", "landcover"});
}

TEST(RunConfig, EmptyAreaOfInterestIsRejected) {
  std::string yaml = kValid;
  yaml += "    aoi: {bbox: [10, 10, 5, 20], crs: 'EPSG:26771'}\n";
  expect_error(yaml, {"regions[0].aoi.bbox", "min < max"});
}

TEST(RunConfig, MissingFileNamesIt) {
  try {
    terraseg::load_run_config("/no/such/config.yaml");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/no/such/config.yaml"), std::string::npos);
  }
}

TEST(RunConfig, ShippedSampleConfigsParse) {
  const auto configs = terraseg::test::source_dir() / "configs";
  int parsed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(configs)) {
    if (entry.path().extension() != ".yaml") continue;
    EXPECT_NO_THROW(terraseg::load_run_config(entry.path())) << entry.path();
    ++parsed;
  }
  EXPECT_GE(parsed, 1);
}

TEST(RunConfig, IndicatorAndWalkabilityKeys) {
  std::string yaml = kValid;
  yaml +=
      "indicators: {red_band: 3, nir_band: 4, ndvi_threshold: 0.25}\n"
      "street_view: {points: p.csv, model: roads, levels: breakpoints, invert: [C],\n"
      "  breakpoints: {G: [0.1, 0.2, 0.3, 0.4], C: [0.01, 0.02, 0.03, 0.04], S: [1, 2, 3, 4], D: [1, 1.2, 1.4, "
      "1.6]}}\n";
  const auto config = parse_run_config(yaml, "/tmp/cfg/region.yaml");
  EXPECT_EQ(config.indicators.red_band, 3);
  EXPECT_EQ(config.indicators.nir_band, 4);
  EXPECT_DOUBLE_EQ(config.indicators.ndvi_threshold, 0.25);
  EXPECT_EQ(config.street_view.levels, "breakpoints");
  EXPECT_EQ(config.street_view.breakpoints.at("S")[3], 4.0);
  EXPECT_EQ(config.street_view.invert, std::vector<std::string>{"C"});
  EXPECT_EQ(config.street_view.points, std::filesystem::path("/tmp/cfg/p.csv"));
}

TEST(RunConfig, RoadGraphKeysDefaultToUnsetAndZeroMeansOff) {
  const auto defaults = parse_run_config(kValid, "/tmp/cfg/region.yaml");
  EXPECT_DOUBLE_EQ(defaults.indicators.road_width_m, 8.0);
  EXPECT_FALSE(defaults.indicators.min_spur_m);  // scaled from road_width_m and the pixel size
  EXPECT_FALSE(defaults.indicators.merge_junctions_m);
  EXPECT_FALSE(defaults.indicators.smooth_mask_m);
  std::string yaml = kValid;
  yaml += "indicators: {road_width_m: 12, min_spur_m: 0, merge_junctions_m: 5}\n";
  const auto config = parse_run_config(yaml, "/tmp/cfg/region.yaml");
  EXPECT_DOUBLE_EQ(config.indicators.road_width_m, 12.0);
  ASSERT_TRUE(config.indicators.min_spur_m);
  EXPECT_DOUBLE_EQ(*config.indicators.min_spur_m, 0.0);
  EXPECT_DOUBLE_EQ(config.indicators.merge_junctions_m.value_or(-1), 5.0);
  EXPECT_FALSE(config.indicators.smooth_mask_m);
  expect_error(std::string(kValid) + "indicators: {road_width_m: 0}\n", {"road_width_m", "must be positive"});
  expect_error(std::string(kValid) + "indicators: {min_spur_m: -1}\n", {"min_spur_m", "0 (off) or positive"});
}

TEST(RunConfig, BreakpointsMustAscend) {
  std::string yaml = kValid;
  yaml +=
      "street_view: {points: p.csv, model: roads, levels: breakpoints,\n"
      "  breakpoints: {G: [0.4, 0.2, 0.3, 0.1], C: [1, 2, 3, 4], S: [1, 2, 3, 4], D: [1, 2, 3, 4]}}\n";
  expect_error(yaml, {"street_view.breakpoints", "ascending"});
}

TEST(RunConfig, EmptyModelEntryIsRejected) {
  // Found by fuzz_config: a model key without a value.
  expect_error("output_dir: o\nmodels:\n  roads:\nregions: []\n", {"'models.roads'", "is empty"});
}

TEST(RunConfig, GdalVirtualPathsAreKeptAsWritten) {
  using terraseg::RunConfig;
  const RunConfig config = parse_run_config(
      "output_dir: out\nmodels:\n  roads: {builder: unet, classes: 2}\nregions:\n  - name: web\n"
      "    inputs: ['/vsicurl/https://example.org/data/cog.tif', '/vsizip//tmp/a.zip/b.tif']\n",
      "/somewhere/configs/region.yaml");
  ASSERT_EQ(config.regions.at(0).inputs.size(), 2U);
  EXPECT_EQ(config.regions[0].inputs[0].string(), "/vsicurl/https://example.org/data/cog.tif");
  EXPECT_EQ(config.regions[0].inputs[1].string(), "/vsizip//tmp/a.zip/b.tif");
}
