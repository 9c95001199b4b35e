#include <gtest/gtest.h>
#include <ogrsf_frmts.h>

#include <cmath>
#include <numbers>

#include "geo_test_util.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/indicators.hpp"
#include "test_support.hpp"

namespace terraseg::geo {
namespace {

/// 100 x 100 pixels of 1 m in EPSG:32631; a plus of two 41-pixel roads (class 1) crossing at pixel (50, 50).
test::SyntheticRaster metre_grid() {
  test::SyntheticRaster raster;
  raster.width = 100;
  raster.height = 100;
  raster.nodata = 255.0;
  raster.geotransform = GeoTransform{500000.0, 1.0, 0.0, 4000000.0, 0.0, -1.0};
  return raster;
}

double plus_road(int, int x, int y) {
  const bool horizontal = y == 50 && x >= 30 && x <= 70;
  const bool vertical = x == 50 && y >= 30 && y <= 70;
  return horizontal || vertical ? 1.0 : 0.0;
}

void expect_grid(const std::string& path, int epsg, const GeoTransform& expected, int width, int height) {
  GDALDatasetUniquePtr ds = test::open_output(path);
  ASSERT_NE(ds->GetSpatialRef(), nullptr) << path;
  EXPECT_STREQ(ds->GetSpatialRef()->GetAuthorityCode(nullptr), std::to_string(epsg).c_str()) << path;
  GeoTransform gt{};
  ASSERT_EQ(ds->GetGeoTransform(gt.data()), CE_None);
  for (int i = 0; i < 6; ++i)
    EXPECT_NEAR(gt[static_cast<size_t>(i)], expected[static_cast<size_t>(i)], 1e-9) << "gt[" << i << "]";
  EXPECT_EQ(ds->GetRasterXSize(), width);
  EXPECT_EQ(ds->GetRasterYSize(), height);
}

std::vector<std::string> band_descriptions(const std::string& path) {
  GDALDatasetUniquePtr ds = test::open_output(path);
  std::vector<std::string> names;
  for (int b = 1; b <= ds->GetRasterCount(); ++b) names.emplace_back(ds->GetRasterBand(b)->GetDescription());
  return names;
}

TEST(AerialIndicators, PlusRoadGivesExactRatiosLengthsAndIntersection) {
  terraseg::test::TempDir dir;
  const std::string roads = dir / "roads.tif";
  test::write_raster(roads, metre_grid(), plus_road);
  AerialInputs inputs;
  inputs.roads_mask = roads;
  AerialOptions options;
  options.cell_size_m = 50.0;
  const AerialSummary summary = compute_aerial_indicators(inputs, dir / "ind.tif", dir / "lines.gpkg", options);
  EXPECT_EQ(summary.strips, 1);
  EXPECT_EQ(summary.intersections, 1);
  EXPECT_EQ(summary.dead_ends, 4);
  EXPECT_NEAR(summary.road_length_km, 0.080, 1e-12);
  EXPECT_NEAR(*summary.road_area_ratio, 81.0 / 10000.0, 1e-12);
  EXPECT_NEAR(*summary.road_length_density, 0.080 / 0.01, 1e-9);
  EXPECT_NEAR(*summary.intersection_density, 100.0, 1e-9);

  expect_grid(dir / "ind.tif", 32631, {500000.0, 50.0, 0.0, 4000000.0, 0.0, -50.0}, 2, 2);
  EXPECT_EQ(
      band_descriptions(dir / "ind.tif"),
      (std::vector<std::string>{"road_area_ratio", "road_length_density_km_per_km2", "intersection_density_per_km2"}));
  // Cells (row-major): up arm in (0,1), left arm in (1,0), right and down arms and the crossing in (1,1).
  const std::vector<float> ratio = test::read_band(dir / "ind.tif", 1);
  const std::vector<double> expected_ratio{0.0, 20.0 / 2500.0, 20.0 / 2500.0, 41.0 / 2500.0};
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(ratio[i], expected_ratio[i], 1e-7) << "cell " << i;
  const std::vector<float> length = test::read_band(dir / "ind.tif", 2);
  const std::vector<float> expected_length{0.0F, 0.020F / 0.0025F, 0.020F / 0.0025F, 0.040F / 0.0025F};
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(length[i], expected_length[i], 1e-4) << "cell " << i;
  const std::vector<float> crossings = test::read_band(dir / "ind.tif", 3);
  const std::vector<double> expected_crossings{0.0, 0.0, 0.0, 400.0};  // one per 0.0025 km2
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(crossings[i], expected_crossings[i], 1e-3) << "cell " << i;

  GDALDatasetUniquePtr gpkg(GDALDataset::Open((dir / "lines.gpkg").c_str(), GDAL_OF_VECTOR));
  ASSERT_TRUE(gpkg);
  OGRLayer* lines = gpkg->GetLayerByName("centrelines");
  ASSERT_NE(lines, nullptr);
  EXPECT_STREQ(lines->GetSpatialRef()->GetAuthorityCode(nullptr), "32631");
  EXPECT_EQ(lines->GetFeatureCount(), 4);
  double total = 0.0;
  for (const auto& feature : *lines) {
    total += feature->GetFieldAsDouble("length_m");
    EXPECT_NEAR(feature->GetGeometryRef()->toLineString()->get_Length(), 20.0, 1e-9);  // map units are metres
  }
  EXPECT_NEAR(total, 80.0, 1e-9);
  EXPECT_EQ(gpkg->GetLayerByName("road_nodes")->GetFeatureCount(), 5);
}

TEST(AerialIndicators, StripsWithHaloMatchTheWholeMask) {
  terraseg::test::TempDir dir;
  const std::string roads = dir / "roads.tif";
  test::write_raster(roads, metre_grid(), plus_road);
  AerialInputs inputs;
  inputs.roads_mask = roads;
  AerialOptions options;
  options.cell_size_m = 50.0;
  const AerialSummary whole = compute_aerial_indicators(inputs, dir / "whole.tif", "", options);
  options.whole_mask_max_pixels = 1000;  // one cell row (50 pixel rows) per strip; the crossing sits on the border
  options.strip_halo_px = 16;
  const AerialSummary strips = compute_aerial_indicators(inputs, dir / "strips.tif", dir / "strips.gpkg", options);
  EXPECT_EQ(strips.strips, 2);
  EXPECT_EQ(strips.intersections, whole.intersections);
  EXPECT_EQ(strips.dead_ends, whole.dead_ends);
  EXPECT_NEAR(strips.road_length_km, whole.road_length_km, 1e-12);
  for (int b = 1; b <= 3; ++b)
    EXPECT_EQ(test::read_band(dir / "strips.tif", b), test::read_band(dir / "whole.tif", b)) << b;
}

TEST(AerialIndicators, StripsPruneAndMergeLikeTheWholeMask) {
  // 0.5 m pixels, two 8 m (16-pixel) roads crossing on the border between two strips, with a bump that
  // thins into a spur; the clean-up of road_graph_defaults() must give the same graph either way.
  terraseg::test::TempDir dir;
  const std::string roads = dir / "roads.tif";
  test::SyntheticRaster raster = metre_grid();
  raster.width = 200;
  raster.height = 200;
  raster.geotransform = GeoTransform{500000.0, 0.5, 0.0, 4000000.0, 0.0, -0.5};
  test::write_raster(roads, raster, [](int, int x, int y) {
    const bool horizontal = y >= 92 && y < 108 && x >= 10 && x < 190;
    const bool vertical = x >= 92 && x < 108 && y >= 10 && y < 190;
    const bool bump = x >= 130 && x < 136 && y >= 108 && y < 113;
    return horizontal || vertical || bump ? 1.0 : 0.0;
  });
  AerialInputs inputs;
  inputs.roads_mask = roads;
  AerialOptions options;
  options.cell_size_m = 50.0;
  options.graph = road_graph_defaults(8.0, PixelSizeM{0.5, 0.5});
  const AerialSummary whole = compute_aerial_indicators(inputs, dir / "whole.tif", "", options);
  EXPECT_EQ(whole.strips, 1);
  EXPECT_EQ(whole.intersections, 1);
  EXPECT_EQ(whole.dead_ends, 4);
  options.whole_mask_max_pixels = int64_t{200} * 100;  // one cell row (100 pixel rows) per strip
  options.strip_halo_px = 16;                          // widened to fit the 20 m spurs
  const AerialSummary strips = compute_aerial_indicators(inputs, dir / "strips.tif", dir / "strips.gpkg", options);
  EXPECT_EQ(strips.strips, 2);
  EXPECT_EQ(strips.intersections, 1);
  EXPECT_EQ(strips.dead_ends, 4);
  EXPECT_NEAR(strips.road_length_km, whole.road_length_km, 0.5e-3);
}

TEST(AerialIndicators, LandcoverGreeneryExcludesNodata) {
  terraseg::test::TempDir dir;
  const std::string landcover = dir / "landcover.tif";
  // Vegetation (class 2) in the left half, class 0 right; the top 10 rows are nodata (255).
  test::write_raster(landcover, metre_grid(), [](int, int x, int y) { return y < 10 ? 255.0 : (x < 50 ? 2.0 : 0.0); });
  AerialInputs inputs;
  inputs.landcover_mask = landcover;
  inputs.vegetation_classes = {2};
  AerialOptions options;
  options.cell_size_m = 50.0;
  const AerialSummary summary = compute_aerial_indicators(inputs, dir / "ind.tif", "", options);
  EXPECT_NEAR(*summary.greenery_landcover, 0.5, 1e-12);
  EXPECT_FALSE(summary.road_area_ratio.has_value());
  EXPECT_EQ(band_descriptions(dir / "ind.tif"), std::vector<std::string>{"greenery_landcover"});
  EXPECT_EQ(test::read_band(dir / "ind.tif", 1), (std::vector<float>{1.0F, 0.0F, 1.0F, 0.0F}));
}

// A 50 x 50 m image on 40 m cells: the second column and row of cells lie mostly past its edge (10 m
// of 40), so they carry nodata, not a figure of the sliver they overlap; the grid gets its QGIS style.
TEST(AerialIndicators, CellsMostlyPastTheImageAreNodataAndTheGridIsStyled) {
  terraseg::test::TempDir dir;
  const std::string landcover = dir / "landcover.tif";
  test::SyntheticRaster raster = metre_grid();
  raster.width = 50;
  raster.height = 50;
  test::write_raster(landcover, raster, [](int, int x, int) { return x < 20 ? 2.0 : 0.0; });
  AerialInputs inputs;
  inputs.landcover_mask = landcover;
  inputs.vegetation_classes = {2};
  AerialOptions options;
  options.cell_size_m = 40.0;
  const AerialSummary summary = compute_aerial_indicators(inputs, dir / "ind.tif", "", options);
  EXPECT_NEAR(*summary.greenery_landcover, 0.4, 1e-12);  // the region's figure counts every pixel
  const float nodata = static_cast<float>(kIndicatorNodata);
  EXPECT_EQ(test::read_band(dir / "ind.tif", 1), (std::vector<float>{0.5F, nodata, nodata, nodata}));
  const std::string qml = terraseg::test::read_file(dir / "ind.qml");
  EXPECT_NE(qml.find("type=\"singlebandpseudocolor\" band=\"1\""), std::string::npos) << qml;
  EXPECT_NE(qml.find("maximumValue=\"1\""), std::string::npos) << qml;
}

TEST(AerialIndicators, ClassesAreFoundByCategoryName) {
  terraseg::test::TempDir dir;
  const std::string mask = dir / "landcover.tif";
  test::write_raster(mask, metre_grid(), [](int, int, int) { return 0.0; });
  {
    GDALDatasetUniquePtr ds(GDALDataset::Open(mask.c_str(), GDAL_OF_RASTER | GDAL_OF_UPDATE));
    const char* names[] = {"Building", "Land", "Road", "Vegetation", "Water", "Trees", nullptr};
    ds->GetRasterBand(1)->SetCategoryNames(const_cast<char**>(names));
  }
  EXPECT_EQ(classes_named(mask, {"vegetation", "tree"}), (std::vector<int>{3, 5}));
  EXPECT_EQ(classes_named(mask, {"ROAD"}), std::vector<int>{2});
  EXPECT_TRUE(classes_named(mask, {"forest"}).empty());
}

TEST(AerialIndicators, NdviGreeneryOnTwoBandRaster) {
  terraseg::test::TempDir dir;
  const std::string image = dir / "rn.tif";
  test::SyntheticRaster raster;
  raster.width = 4;
  raster.height = 4;  // the whole 40 m cell: a cell the image covers less than half of is nodata
  raster.bands = 2;
  raster.type = GDT_Float32;
  raster.geotransform = GeoTransform{500000.0, 10.0, 0.0, 4000000.0, 0.0, -10.0};
  raster.descriptions = {"Red", "NIR"};
  // (red, nir) in every row: NDVI 0.8, 0.0, 0.4 and undefined (0, 0).
  const double red[] = {10, 50, 30, 0};
  const double nir[] = {90, 50, 70, 0};
  test::write_raster(image, raster, [&](int b, int x, int) { return b == 1 ? red[x] : nir[x]; });
  AerialInputs inputs;
  inputs.spectral = image;
  AerialOptions options;
  options.cell_size_m = 40.0;
  const AerialSummary summary = compute_aerial_indicators(inputs, dir / "ndvi.tif", "", options);
  EXPECT_NEAR(*summary.greenery_ndvi, 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(test::read_band(dir / "ndvi.tif", 1)[0], 2.0F / 3.0F, 1e-6);
  options.ndvi_threshold = 0.5;
  inputs.red_band = 1;  // explicit numbers give the same bands
  inputs.nir_band = 2;
  EXPECT_NEAR(*compute_aerial_indicators(inputs, dir / "ndvi5.tif", "", options).greenery_ndvi, 1.0 / 3.0, 1e-12);
  inputs.red_band = 0;
  inputs.nir_band = 3;
  EXPECT_THROW(compute_aerial_indicators(inputs, dir / "bad.tif", "", options), Error);
}

TEST(AerialIndicators, RgbVegetationIndexGreeneryCountsGreenLeavesOnly) {
  terraseg::test::TempDir dir;
  const std::string image = dir / "rgb.tif";
  test::SyntheticRaster raster;
  raster.width = 4;
  raster.height = 4;  // one whole 40 m cell
  raster.bands = 3;
  raster.colours = {GCI_RedBand, GCI_GreenBand, GCI_BlueBand};
  // Columns: canopy green, grey asphalt, dark green water (below 12 % of the brightest value: too dark
  // to judge, not green), sand; the brightest value is 200.
  const double rgb[4][3] = {{60, 120, 40}, {120, 120, 120}, {10, 16, 12}, {200, 180, 120}};
  test::write_raster(image, raster, [&](int b, int x, int) { return rgb[x][b - 1]; });
  AerialInputs inputs;
  inputs.rgb = image;
  AerialOptions options;
  options.cell_size_m = 40.0;
  const AerialSummary summary = compute_aerial_indicators(inputs, dir / "vi.tif", "", options);
  ASSERT_TRUE(summary.greenery_rgb_index.has_value());
  EXPECT_NEAR(*summary.greenery_rgb_index, 0.25, 1e-12) << "the canopy column alone";
  EXPECT_EQ(summary.bands, std::vector<std::string>{kBandGreeneryRgbIndex});
  EXPECT_NEAR(test::read_band(dir / "vi.tif", 1)[0], 0.25F, 1e-6);
  EXPECT_FALSE(summary.greenery_ndvi.has_value());
  // Bands named by number where the colours do not say.
  raster.colours.clear();
  const std::string untagged = dir / "untagged.tif";
  test::write_raster(untagged, raster, [&](int b, int x, int) { return rgb[x][b - 1]; });
  inputs.rgb = untagged;
  EXPECT_THROW(compute_aerial_indicators(inputs, dir / "bad.tif", "", options), Error);
  inputs.rgb_bands = {1, 2, 3};
  EXPECT_NEAR(*compute_aerial_indicators(inputs, dir / "vi2.tif", "", options).greenery_rgb_index, 0.25, 1e-12);
}

/// Metres per degree of longitude and latitude on WGS 84 at `lat_deg`.
std::array<double, 2> wgs84_metres_per_degree(double lat_deg) {
  const double a = 6378137.0;
  const double e2 = 0.00669437999014;
  const double phi = lat_deg * std::numbers::pi / 180.0;
  const double w = 1.0 - e2 * std::sin(phi) * std::sin(phi);
  return {std::numbers::pi * a * std::cos(phi) / (180.0 * std::sqrt(w)),
          std::numbers::pi * a * (1.0 - e2) / (180.0 * w * std::sqrt(w))};
}

TEST(AerialIndicators, GeographicGridGetsMetresConvertedToDegrees) {
  terraseg::test::TempDir dir;
  const std::string roads = dir / "roads.tif";
  test::SyntheticRaster raster = metre_grid();
  raster.epsg = 4326;
  raster.geotransform = GeoTransform{4.0, 0.0001, 0.0, 51.0, 0.0, -0.0001};
  test::write_raster(roads, raster, plus_road);
  AerialInputs inputs;
  inputs.roads_mask = roads;
  AerialOptions options;
  options.cell_size_m = 100.0;
  const AerialSummary summary = compute_aerial_indicators(inputs, dir / "ind.tif", "", options);
  const auto per_degree = wgs84_metres_per_degree(51.0 - 0.005);  // the raster's centre latitude
  const double dx = 100.0 / per_degree[0];
  const double dy = 100.0 / per_degree[1];
  GDALDatasetUniquePtr ds = test::open_output(dir / "ind.tif");
  GeoTransform gt{};
  ASSERT_EQ(ds->GetGeoTransform(gt.data()), CE_None);
  EXPECT_NEAR(gt[1], dx, dx * 1e-6);
  EXPECT_NEAR(gt[5], -dy, dy * 1e-6);
  EXPECT_EQ(gt[0], 4.0);
  EXPECT_EQ(gt[3], 51.0);
  EXPECT_STREQ(ds->GetSpatialRef()->GetAuthorityCode(nullptr), "4326");
  // Cells hold the pixels whose centres fall in them: the last pixel centre is 99.5 pixels east.
  EXPECT_EQ(ds->GetRasterXSize(), static_cast<int>(std::floor(99.5 * 0.0001 / dx)) + 1);
  // 80 pixels of road along x and y in metres at this latitude.
  EXPECT_NEAR(summary.road_length_km, (40 * 0.0001 * per_degree[0] + 40 * 0.0001 * per_degree[1]) / 1000.0, 1e-6);
}

TEST(AerialIndicators, InputsOnDifferentGridsAreRejected) {
  terraseg::test::TempDir dir;
  test::write_raster(dir / "roads.tif", metre_grid(), plus_road);
  test::SyntheticRaster small = metre_grid();
  small.width = 50;
  test::write_raster(dir / "landcover.tif", small, [](int, int, int) { return 0.0; });
  AerialInputs inputs;
  inputs.roads_mask = dir / "roads.tif";
  inputs.landcover_mask = dir / "landcover.tif";
  try {
    compute_aerial_indicators(inputs, dir / "ind.tif", "", {});
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("share one grid"), std::string::npos) << error.what();
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "ind.tif"));
}

}  // namespace
}  // namespace terraseg::geo
