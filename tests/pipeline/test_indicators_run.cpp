// Urban indicators through the pipeline: masks of the "roads" and "landcover" tasks into
// <out>/<region>/indicators.tif, NDVI on a real Landsat scene, and street-view walkability of the
// Leuven sample point with an untrained builder model (the ESPNet run is in test_indicators_data.cpp).
#include <gdal_priv.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "gdal_ok.hpp"
#include "indicators_step.hpp"
#include "models.hpp"
#include "terraseg/pipeline/config.hpp"
#include "test_support.hpp"

namespace terraseg {
namespace {

using nlohmann::json;
using terraseg::test::TempDir;

constexpr const char* kLandsat = "/usr/lib/R/site-library/stars/tif/L7_ETMs.tif";
constexpr const char* kLeuvenA = "/usr/share/doc/opencv-doc/examples/data/leuvenA.jpg";

/// A 100 x 100 GeoTIFF of 1 m pixels in EPSG:32631 with `value(x, y)` and optional category names.
void write_tif(const std::filesystem::path& path, const std::function<double(int, int)>& value,
               const std::vector<std::string>& categories = {}) {
  GDALAllRegister();
  std::filesystem::create_directories(path.parent_path());
  GDALDatasetUniquePtr ds(
      GetGDALDriverManager()->GetDriverByName("GTiff")->Create(path.c_str(), 100, 100, 1, GDT_Byte, nullptr));
  double gt[6] = {500000.0, 1.0, 0.0, 4000000.0, 0.0, -1.0};
  terraseg::test::gdal_ok(ds->SetGeoTransform(gt));
  OGRSpatialReference srs;
  terraseg::test::gdal_ok(srs.importFromEPSG(32631));
  terraseg::test::gdal_ok(ds->SetSpatialRef(&srs));
  std::vector<uint8_t> pixels(size_t{100} * 100);
  for (int y = 0; y < 100; ++y) {
    for (int x = 0; x < 100; ++x) pixels[static_cast<size_t>(y) * 100 + x] = static_cast<uint8_t>(value(x, y));
  }
  ASSERT_EQ(ds->GetRasterBand(1)->RasterIO(GF_Write, 0, 0, 100, 100, pixels.data(), 100, 100, GDT_Byte, 0, 0), CE_None);
  terraseg::test::gdal_ok(ds->GetRasterBand(1)->SetNoDataValue(255));
  if (!categories.empty()) {
    CPLStringList names;
    for (const auto& name : categories) names.AddString(name.c_str());
    ds->GetRasterBand(1)->SetCategoryNames(names.List());
  }
}

RunConfig config_for(const TempDir& dir, const std::string& extra) {
  const std::string yaml =
      "output_dir: " + (dir / "out").string() +
      "\nmodels:\n  roads: {builder: unet, classes: 2}\n  landcover: {builder: unet, classes: 3}\n" +
      "indicators: {cell_size_m: 50}\nregions:\n  - name: town\n    inputs: [" + (dir / "image.tif").string() +
      "]\n    tasks: [roads, landcover]\n" + extra;
  return parse_run_config(yaml, dir / "run.yaml");
}

TEST(IndicatorsRun, RegionMasksGiveIndicatorGridAndSummary) {
  TempDir dir;
  write_tif(dir / "image.tif", [](int, int) { return 100.0; });
  const auto plus = [](int x, int y) {
    return (y == 50 && x >= 30 && x <= 70) || (x == 50 && y >= 30 && y <= 70) ? 1.0 : 0.0;
  };
  write_tif(dir / "out/town/roads.tif", plus, {"background", "road"});
  write_tif(dir / "out/town/landcover.tif", [](int x, int) { return x < 25 ? 2.0 : 0.0; },
            {"building", "road", "vegetation"});
  RunConfig config = config_for(dir, "");
  config.indicators.road_width_m = 4.0;  // 1-pixel roads with 20 m arms: keep the arms (spurs < 10 m go)
  const json result = compute_run_indicators(config);
  const json& town = result.at("indicators").at("aerial").at(0);
  EXPECT_EQ(town.at("region"), "town");
  EXPECT_EQ(town.at("road_graph"),
            json({{"road_width_m", 4.0}, {"min_spur_m", 10.0}, {"merge_junctions_m", 4.0}, {"smooth_mask_m", 1.0}}));
  EXPECT_EQ(town.at("intersections"), 1);
  EXPECT_EQ(town.at("dead_ends"), 4);
  EXPECT_NEAR(town.at("road_length_km").get<double>(), 0.08, 1e-12);
  EXPECT_NEAR(town.at("greenery_landcover").get<double>(), 0.25, 1e-12);
  EXPECT_TRUE(town.at("greenery_ndvi").is_null());
  EXPECT_EQ(town.at("grid"), (dir / "out/town/indicators.tif").string());
  EXPECT_TRUE(std::filesystem::exists(dir / "out/town/roads-centrelines.gpkg"));
  EXPECT_EQ(result.at("maps").size(), 4U);  // land-cover greenery + three road bands
  EXPECT_FALSE(result.at("indicators").contains("street_view"));
  GDALDatasetUniquePtr grid(GDALDataset::Open((dir / "out/town/indicators.tif").c_str(), GDAL_OF_RASTER));
  ASSERT_TRUE(grid);
  EXPECT_STREQ(grid->GetSpatialRef()->GetAuthorityCode(nullptr), "32631");
  double gt[6];
  ASSERT_EQ(grid->GetGeoTransform(gt), CE_None);
  EXPECT_DOUBLE_EQ(gt[0], 500000.0);
  EXPECT_DOUBLE_EQ(gt[1], 50.0);
  EXPECT_DOUBLE_EQ(gt[3], 4000000.0);
  EXPECT_DOUBLE_EQ(gt[5], -50.0);
}

TEST(IndicatorsRun, WideRoadsGiveOneJunctionByDefaultAndTheRawGraphWithZeros) {
  TempDir dir;
  write_tif(dir / "image.tif", [](int, int) { return 100.0; });
  // Two 9 m roads crossing, one with a 3 m bump on its edge: thinning alone gives extra junctions.
  const auto plus = [](int x, int y) {
    const bool horizontal = y >= 46 && y <= 54 && x >= 5 && x <= 95;
    const bool vertical = x >= 46 && x <= 54 && y >= 5 && y <= 95;
    const bool bump = x >= 20 && x <= 23 && y >= 55 && y <= 57;
    return horizontal || vertical || bump ? 1.0 : 0.0;
  };
  write_tif(dir / "out/town/roads.tif", plus, {"background", "road"});
  write_tif(dir / "out/town/landcover.tif", [](int, int) { return 0.0; }, {"building", "road", "vegetation"});
  const json cleaned = compute_run_indicators(config_for(dir, "")).at("indicators").at("aerial").at(0);
  EXPECT_EQ(cleaned.at("intersections"), 1);
  EXPECT_EQ(cleaned.at("dead_ends"), 4);
  RunConfig off = config_for(dir, "");
  off.indicators.min_spur_m = 0.0;
  off.indicators.merge_junctions_m = 0.0;
  off.indicators.smooth_mask_m = 0.0;
  const json raw = compute_run_indicators(off).at("indicators").at("aerial").at(0);
  EXPECT_GT(raw.at("intersections").get<int>(), 1) << raw.dump();
  EXPECT_EQ(raw.at("road_graph").at("min_spur_m"), 0.0);
}

TEST(IndicatorsRun, LandsatNdviGreeneryOnTheInputGrid) {
  if (!std::filesystem::exists(kLandsat))
    GTEST_SKIP() << "r-cran-stars is not installed (scripts/setup.sh installs it)";
  TempDir dir;
  const RunConfig config =
      parse_run_config("output_dir: " + (dir / "out").string() +
                           "\nmodels:\n  roads: {builder: unet, classes: 2}\nregions:\n  - name: brazil\n"
                           "    inputs: [" +
                           std::string(kLandsat) + "]\n    tasks: []\n",
                       dir / "run.yaml");
  IndicatorStepOptions options;
  options.red_band = 3;  // Landsat 7 ETM+ band 3 = red, band 4 = near infrared
  options.nir_band = 4;
  RegionConfig region = config.regions.at(0);
  region.tasks.clear();  // no masks: NDVI from the input alone
  const json doc = region_input_indicators(config, region, kLandsat, options);
  ASSERT_TRUE(doc.at("greenery_ndvi").is_number()) << doc.dump();
  const double greenery = doc.at("greenery_ndvi").get<double>();
  EXPECT_GT(greenery, 0.0);
  EXPECT_LT(greenery, 1.0);
  std::cout << "L7_ETMs NDVI > 0.3 share: " << greenery << '\n';
  GDALDatasetUniquePtr input(GDALDataset::Open(kLandsat, GDAL_OF_RASTER));
  GDALDatasetUniquePtr grid(GDALDataset::Open(doc.at("grid").get<std::string>().c_str(), GDAL_OF_RASTER));
  ASSERT_TRUE(input && grid);
  EXPECT_TRUE(grid->GetSpatialRef()->IsSame(input->GetSpatialRef()));
  double in[6];
  double out[6];
  input->GetGeoTransform(in);
  grid->GetGeoTransform(out);
  EXPECT_DOUBLE_EQ(out[0], in[0]);
  EXPECT_DOUBLE_EQ(out[3], in[3]);
  EXPECT_NEAR(out[1], 250.0, 1e-6);  // the default cell size in metres of a metre-based CRS
  EXPECT_NEAR(out[5], -250.0, 1e-6);
}

std::string street_yaml(const TempDir& dir) {
  return "output_dir: " + (dir / "out").string() +
         "\ntiling: {tile: 256, overlap: 32}\nmodels:\n  street:\n    builder: unet\n    classes: 12\n    base_width: "
         "4\n"
         "    depth: 2\n    class_names: [Sky, Building, Pole, Road, Pavement, Tree, SignSymbol, Fence, Car, "
         "Pedestrian,"
         " Bicyclist, Unlabelled]\nstreet_view:\n  points: " +
         (test::source_dir() / "samples/street/leuven.csv").string() +
         "\n  model: street\nregions:\n  - name: none\n    inputs: [" + (dir / "image.tif").string() +
         "]\n    tasks: []\n";
}

TEST(IndicatorsRun, LeuvenStreetViewWithUntrainedModelWritesEveryOutput) {
  if (!std::filesystem::exists(kLeuvenA)) GTEST_SKIP() << "opencv-doc is not installed (scripts/setup.sh installs it)";
  TempDir dir;
  write_tif(dir / "image.tif", [](int, int) { return 0.0; });
  const RunConfig config = parse_run_config(street_yaml(dir), dir / "run.yaml");
  const json street = run_street_view_step(config);
  EXPECT_EQ(street.at("points"), 1);
  EXPECT_EQ(street.at("images"), 2);
  EXPECT_EQ(street.at("role_map"), "class names");
  EXPECT_FALSE(street.at("trained").get<bool>());
  EXPECT_TRUE(street.contains("notice"));
  EXPECT_TRUE(std::filesystem::exists(dir / "out/street-view/walkability.gpkg"));
  EXPECT_TRUE(std::filesystem::exists(dir / "out/street-view/masks/leuven-begijnhof-1.tif"));
  std::ifstream csv(dir / "out/street-view/walkability.csv");
  std::string header;
  std::string row;
  std::getline(csv, header);
  std::getline(csv, row);
  EXPECT_EQ(row.rfind("leuven-begijnhof,4.6995,50.8707,", 0), 0U) << row;
  // The grid exists exactly when the point has an IVW (an untrained model may predict no road).
  EXPECT_EQ(std::filesystem::exists(dir / "out/street-view/walkability-grid.tif"),
            street.at("by_point").at(0).at("IVW").is_number());
}

}  // namespace
}  // namespace terraseg
