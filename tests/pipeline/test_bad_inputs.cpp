// Bad inputs that reach the raster stage: each gets one clear message, a non-zero exit, nothing partial,
// and earlier outputs stay intact.
#include <gdal_priv.h>
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <fstream>

#include "cli_runner.hpp"
#include "terraseg/core/builders.hpp"
#include "terraseg/core/onnx.hpp"
#include "test_support.hpp"

using terraseg::test::run_terraseg;
using terraseg::test::read_file;
using terraseg::test::TempDir;

namespace {

const char* kChicago = "/usr/lib/R/site-library/rgdal/pictures/SP27GTIF.TIF";

/// A 3-band 64x48 Byte GeoTIFF with a UTM grid.
std::filesystem::path make_rgb_raster(const std::filesystem::path& path) {
  GDALAllRegister();
  GDALDriver* driver = GetGDALDriverManager()->GetDriverByName("GTiff");
  GDALDatasetUniquePtr dataset(driver->Create(path.c_str(), 64, 48, 3, GDT_Byte, nullptr));
  double gt[6] = {500000, 1, 0, 5700000, 0, -1};
  dataset->SetGeoTransform(gt);
  OGRSpatialReference utm;
  utm.importFromEPSG(32631);
  dataset->SetSpatialRef(&utm);
  for (int band = 1; band <= 3; ++band) dataset->GetRasterBand(band)->Fill(40.0 * band);
  return path;
}

}  // namespace

TEST(BadInputs, ModelBandsMissingFromRasterAreNamed) {
  TempDir dir;
  terraseg::UNetSpec spec;
  spec.in_channels = 4;
  spec.classes = 2;
  spec.depth = 1;
  spec.base_width = 4;
  terraseg::Graph graph = terraseg::build_unet(spec);
  graph.card.present = true;
  graph.card.bands = {"red", "green", "blue", "nir"};
  graph.card.classes = {{0, "background", {0, 0, 0}}, {1, "road", {255, 255, 255}}};
  terraseg::save_onnx(graph, (dir / "rgbn.onnx").string());
  const auto raster = make_rgb_raster(dir / "rgb.tif");

  const auto result = run_terraseg({"predict", "--model", (dir / "rgbn.onnx").string(), raster.string(), "-o",
                                    (dir / "mask.tif").string(), "-q"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("rgb.tif"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("nir"), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "mask.tif"));
}

TEST(BadInputs, DiskFullFailsCleanlyAndKeepsEarlierOutputs) {
  if (!std::filesystem::exists(kChicago)) GTEST_SKIP() << "r-cran-rgdal is not installed";
  TempDir dir;
  const auto disk = dir / "disk";
  std::filesystem::create_directories(disk);
  // A 192 KiB file system: room for an earlier output, not for this run's mask and temporaries.
  if (mount("tmpfs", disk.c_str(), "tmpfs", 0, "size=192k") != 0) {
    GTEST_SKIP() << "cannot mount a small tmpfs here (needs root): disk-full simulation unavailable";
  }
  struct Unmount {
    std::filesystem::path path;
    ~Unmount() { umount(path.c_str()); }
  } unmount{disk};
  std::filesystem::create_directories(disk / "out" / "earlier");
  const std::string earlier(184 * 1024, 'x');
  std::ofstream(disk / "out" / "earlier" / "mask.tif", std::ios::binary) << earlier;
  std::ofstream(dir / "region.yaml") << "output_dir: " << (disk / "out").string() << "\n"
                                     << "models:\n  roads: {builder: unet, classes: 2, base_width: 4, depth: 2}\n"
                                     << "regions:\n  - name: chicago\n    inputs: ['" << kChicago << "']\n";

  const auto result = run_terraseg({"run", (dir / "region.yaml").string(), "-q"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find(disk.string()), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(disk / "out" / "chicago" / "roads.tif"));
  EXPECT_FALSE(std::filesystem::exists(disk / "out" / "run-summary.json"));
  for (const auto& entry : std::filesystem::recursive_directory_iterator(disk / "out")) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos) << "temporary left: " << entry.path();
  }
  EXPECT_EQ(read_file(disk / "out" / "earlier" / "mask.tif"), earlier);
}
