// Areas of interest: a bbox or polygon in any CRS restricts a region's inputs; an empty one is refused.
#include <gdal_priv.h>
#include <gdal_utils.h>
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <fstream>

#include "cli_runner.hpp"
#include "test_support.hpp"

using terraseg::test::run_terraseg;
using terraseg::test::TempDir;

namespace {

constexpr const char* kChicago = "/usr/lib/R/site-library/rgdal/pictures/SP27GTIF.TIF";

std::filesystem::path write_config(const TempDir& dir, const std::string& aoi) {
  auto config = dir / "region.yaml";
  std::ofstream(config) << "output_dir: out\ntiling: {tile: 128, overlap: 16}\n"
                        << "models:\n  roads: {builder: unet, classes: 2, base_width: 4, depth: 2}\n"
                        << "regions:\n  - name: chicago\n    inputs: ['" << kChicago << "']\n"
                        << "    aoi: " << aoi << "\n";
  return config;
}

GDALDatasetUniquePtr open(const std::filesystem::path& path) {
  GDALAllRegister();
  return GDALDatasetUniquePtr(GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
}

}  // namespace

TEST(AreaOfInterest, ProjectedBboxCropsOnTheInputGrid) {
  if (!std::filesystem::exists(kChicago)) GTEST_SKIP() << "r-cran-rgdal is not installed";
  TempDir dir;
  // Input origin (681480, 1913050) US ft, 32.8 ft pixels: this bbox covers columns 100..199, rows 50..149.
  const auto result = run_terraseg(
      {"run", write_config(dir, "{bbox: [684760, 1908130, 688040, 1911410], crs: 'EPSG:26771'}").string(), "-q"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto mask = open(dir / "out/chicago/roads.tif");
  ASSERT_TRUE(mask);
  EXPECT_EQ(mask->GetRasterXSize(), 100);
  EXPECT_EQ(mask->GetRasterYSize(), 100);
  double gt[6];
  ASSERT_EQ(mask->GetGeoTransform(gt), CE_None);
  EXPECT_NEAR(gt[0], 684760.0, 1e-6);
  EXPECT_NEAR(gt[3], 1911410.0, 1e-6);
  EXPECT_NEAR(gt[1], 32.8, 1e-9);
}

TEST(AreaOfInterest, GeographicPolygonMasksOutsidePixels) {
  if (!std::filesystem::exists(kChicago)) GTEST_SKIP() << "r-cran-rgdal is not installed";
  TempDir dir;
  // A triangle in lon/lat inside the Chicago scene: pixels of the window outside it become nodata.
  const auto result = run_terraseg(
      {"run",
       write_config(dir, "{polygon: [[-87.65, 41.85], [-87.60, 41.85], [-87.65, 41.90]], crs: 'EPSG:4326'}").string(),
       "-q"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto mask = open(dir / "out/chicago/roads.tif");
  ASSERT_TRUE(mask);
  const int width = mask->GetRasterXSize();
  const int height = mask->GetRasterYSize();
  EXPECT_LT(width, 699);
  EXPECT_LT(height, 929);
  std::vector<uint8_t> ids(static_cast<size_t>(width) * static_cast<size_t>(height));
  ASSERT_EQ(mask->GetRasterBand(1)->RasterIO(GF_Read, 0, 0, width, height, ids.data(), width, height, GDT_Byte, 0, 0),
            CE_None);
  // The top-right corner of the triangle's bounding box lies outside it; its centroid (a third of the
  // way in from the right-angle corner at the bottom left) inside.
  EXPECT_EQ(ids[static_cast<size_t>(width - 2)], 255);
  EXPECT_LE(ids[static_cast<size_t>(height * 2 / 3) * static_cast<size_t>(width) + static_cast<size_t>(width / 3)], 1);
  size_t nodata = 0;
  for (uint8_t id : ids) nodata += id == 255 ? 1 : 0;
  EXPECT_GT(nodata, ids.size() / 3);
  EXPECT_LT(nodata, ids.size() * 2 / 3);
}

TEST(AreaOfInterest, EmptyIntersectionIsRefusedAndWritesNoMask) {
  if (!std::filesystem::exists(kChicago)) GTEST_SKIP() << "r-cran-rgdal is not installed";
  TempDir dir;
  const auto result =
      run_terraseg({"run", write_config(dir, "{bbox: [2.29, 48.85, 2.30, 48.86], crs: 'EPSG:4326'}").string(), "-q"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("does not intersect"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("chicago"), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "out/chicago/roads.tif"));
  EXPECT_FALSE(std::filesystem::exists(dir / "out/run-summary.json"));
}

// Region grids: inputs in different CRSs (the Chicago scene in State Plane feet and a lon/lat copy of
// it) come out on one grid: the region's CRS, its pixel size, pixel edges on multiples of it.
TEST(RegionGrid, InputsInDifferentCrssShareOneGrid) {
  if (!std::filesystem::exists(kChicago)) GTEST_SKIP() << "r-cran-rgdal is not installed";
  TempDir dir;
  {
    GDALAllRegister();
    GDALDatasetUniquePtr source(GDALDataset::Open(kChicago, GDAL_OF_RASTER | GDAL_OF_READONLY));
    const char* args[] = {"-t_srs", "EPSG:4326", nullptr};
    GDALWarpAppOptions* options = GDALWarpAppOptionsNew(const_cast<char**>(args), nullptr);
    GDALDatasetH handle = GDALDataset::ToHandle(source.get());
    GDALDatasetH out = GDALWarp((dir / "lonlat.tif").c_str(), nullptr, 1, &handle, options, nullptr);
    GDALWarpAppOptionsFree(options);
    ASSERT_NE(out, nullptr);
    GDALClose(out);
  }
  const auto config = dir / "region.yaml";
  std::ofstream(config) << "output_dir: out\ntiling: {tile: 128, overlap: 16}\n"
                        << "models:\n  roads: {builder: unet, classes: 2, base_width: 4, depth: 2}\n"
                        << "regions:\n  - name: chicago\n    inputs: ['" << kChicago << "', lonlat.tif]\n"
                        << "    grid: {crs: 'EPSG:32616', pixel_size_m: 20}\n";
  const auto result = run_terraseg({"run", config.string(), "-q", "--threads", "1"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::vector<std::array<double, 6>> grids;
  for (const char* name : {"out/chicago/roads/SP27GTIF.tif", "out/chicago/roads/lonlat.tif"}) {
    const auto mask = open(dir / name);
    ASSERT_TRUE(mask) << name;
    EXPECT_NE(std::string(mask->GetProjectionRef()).find("UTM zone 16N"), std::string::npos) << name;
    std::array<double, 6> gt{};
    ASSERT_EQ(mask->GetGeoTransform(gt.data()), CE_None);
    EXPECT_DOUBLE_EQ(gt[1], 20.0) << name;
    EXPECT_DOUBLE_EQ(gt[5], -20.0) << name;
    EXPECT_NEAR(std::remainder(gt[0], 20.0), 0.0, 1e-6) << name;
    EXPECT_NEAR(std::remainder(gt[3], 20.0), 0.0, 1e-6) << name;
    grids.push_back(gt);
  }
  // The same ground, so nearly the same extent (the lon/lat copy was resampled once more).
  EXPECT_NEAR(grids[0][0], grids[1][0], 60.0);
  EXPECT_NEAR(grids[0][3], grids[1][3], 60.0);
}

TEST(RegionGrid, UnknownCrsIsNamedWithItsKey) {
  TempDir dir;
  const auto config = dir / "region.yaml";
  std::ofstream(config) << "output_dir: out\n"
                        << "models:\n  roads: {builder: unet, classes: 2, base_width: 4, depth: 2}\n"
                        << "regions:\n  - name: r\n    inputs: ['" << kChicago << "']\n"
                        << "    grid: {crs: 'EPSG:999999', pixel_size_m: 20}\n";
  const auto result = run_terraseg({"run", config.string(), "-q"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("crs"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("EPSG:999999"), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "out/r"));
}
