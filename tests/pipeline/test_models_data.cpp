// The shipped models give correct class ids through `terraseg predict` on images of their datasets
// (label "data": needs ../shared/data; skips when absent or when a model has not shipped yet).
#include <gdal_priv.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>

#include "cli_runner.hpp"
#include "test_support.hpp"

using terraseg::test::run_terraseg;
using terraseg::test::TempDir;

namespace {

std::vector<uint8_t> read_band(const std::filesystem::path& path, int& width, int& height) {
  GDALAllRegister();
  GDALDatasetUniquePtr dataset(GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  if (!dataset) return {};
  width = dataset->GetRasterXSize();
  height = dataset->GetRasterYSize();
  std::vector<uint8_t> values(static_cast<size_t>(width) * static_cast<size_t>(height));
  if (dataset->GetRasterBand(1)->RasterIO(GF_Read, 0, 0, width, height, values.data(), width, height, GDT_Byte, 0, 0) !=
      CE_None) {
    return {};
  }
  return values;
}

}  // namespace

TEST(ShippedModels, StreetCamvidPredictsValidationImages) {
  TERRASEG_REQUIRE_DATA(data);
  const auto model = terraseg::test::source_dir() / "samples/models/street-camvid.onnx";
  if (!std::filesystem::exists(model)) GTEST_SKIP() << "samples/models/street-camvid.onnx has not shipped";
  TempDir dir;
  // Three validation images spread over the split (first, middle, last by name).
  std::vector<std::filesystem::path> images;
  for (const auto& entry : std::filesystem::directory_iterator(data / "camvid/val")) images.push_back(entry.path());
  std::sort(images.begin(), images.end());
  ASSERT_GE(images.size(), 3U);
  for (const auto& image : {images.front(), images[images.size() / 2], images.back()}) {
    const auto out = dir / (image.stem().string() + ".tif");
    const auto result = run_terraseg({"predict", "--model", model.string(), image.string(), "-o", out.string(), "-q",
                                      "--tile", "512", "--overlap", "64"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    int width = 0, height = 0, mask_width = 0, mask_height = 0;
    const auto predicted = read_band(out, width, height);
    const auto truth = read_band(data / "camvid/valannot" / image.filename(), mask_width, mask_height);
    ASSERT_EQ(width, mask_width);
    ASSERT_EQ(height, mask_height);
    size_t counted = 0, correct = 0;
    for (size_t i = 0; i < truth.size(); ++i) {
      ASSERT_LE(predicted[i], 10) << "class ids are CamVid's 0..10";
      if (truth[i] == 11) continue;  // Unlabelled
      ++counted;
      correct += predicted[i] == truth[i] ? 1 : 0;
    }
    const double accuracy = static_cast<double>(correct) / static_cast<double>(counted);
    std::cout << image.filename().string() << ": pixel accuracy " << accuracy << '\n';
    EXPECT_GT(accuracy, 0.75) << image;
  }
}
