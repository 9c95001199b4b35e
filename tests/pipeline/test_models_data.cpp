// The shipped models give correct class ids through `terraseg predict` on images of their datasets
// (label "data": needs ../shared/data; skips when absent or when a model has not shipped yet).
#include <gdal_priv.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
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
    const auto result = run_terraseg({"predict", "--model", model.string(), image.string(), "-o", out.string(), "-q"});
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

TEST(ShippedModels, RoadsAerialFindsRoadsOnAValidationImage) {
  TERRASEG_REQUIRE_DATA(data);
  const auto model = terraseg::test::source_dir() / "samples/models/roads-aerial.onnx";
  if (!std::filesystem::exists(model)) GTEST_SKIP() << "samples/models/roads-aerial.onnx has not shipped";
  TempDir dir;
  // satImage_001 is index 0 of the sorted pairs: in the validation split (every 5th from 0).
  const auto image = data / "roads-epfl/images/satImage_001.png";
  const auto result =
      run_terraseg({"predict", "--model", model.string(), image.string(), "-o", (dir / "r.tif").string(), "-q"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  int width = 0, height = 0, mask_width = 0, mask_height = 0;
  const auto predicted = read_band(dir / "r.tif", width, height);
  const auto truth = read_band(data / "roads-epfl/masks/satImage_001.png", mask_width, mask_height);
  ASSERT_EQ(width, mask_width);
  size_t tp = 0, fp = 0, fn = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    ASSERT_LE(predicted[i], 1);
    const bool road = truth[i] >= 128;
    tp += road && predicted[i] == 1;
    fp += !road && predicted[i] == 1;
    fn += road && predicted[i] == 0;
  }
  const double f1 = 2.0 * static_cast<double>(tp) / static_cast<double>(2 * tp + fp + fn);
  std::cout << "satImage_001: road F1 " << f1 << '\n';
  EXPECT_GT(f1, 0.6);
}

TEST(ShippedModels, LandcoverAerialLabelsADubaiTile) {
  TERRASEG_REQUIRE_DATA(data);
  const auto model = terraseg::test::source_dir() / "samples/models/landcover-aerial.onnx";
  if (!std::filesystem::exists(model)) GTEST_SKIP() << "samples/models/landcover-aerial.onnx has not shipped";
  TempDir dir;
  const auto image = data / "landcover-dubai/tile1/images/image_part_001.jpg";
  const auto result =
      run_terraseg({"predict", "--model", model.string(), image.string(), "-o", (dir / "l.tif").string(), "-q"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  int width = 0, height = 0;
  const auto predicted = read_band(dir / "l.tif", width, height);
  ASSERT_FALSE(predicted.empty());
  // The mask is colour-coded: decode the five classes (others, e.g. #9B9B9B Unlabeled, are ignored).
  GDALDatasetUniquePtr mask(GDALDataset::Open((data / "landcover-dubai/tile1/masks/image_part_001.png").c_str(),
                                              GDAL_OF_RASTER | GDAL_OF_READONLY));
  ASSERT_TRUE(mask);
  std::vector<uint8_t> rgb(predicted.size() * 3);
  ASSERT_EQ(mask->RasterIO(GF_Read, 0, 0, width, height, rgb.data(), width, height, GDT_Byte, 3, nullptr, 3,
                           GSpacing{3} * width, 1, nullptr),
            CE_None);
  const std::array<std::array<uint8_t, 3>, 5> colours{
      {{0x3C, 0x10, 0x98}, {0x84, 0x29, 0xF6}, {0x6E, 0xC1, 0xE4}, {0xFE, 0xDD, 0x3A}, {0xE2, 0xA9, 0x29}}};
  size_t counted = 0, correct = 0;
  for (size_t i = 0; i < predicted.size(); ++i) {
    ASSERT_LE(predicted[i], 4) << "class ids are 0 Building .. 4 Water";
    for (size_t k = 0; k < colours.size(); ++k) {
      if (rgb[3 * i] == colours[k][0] && rgb[3 * i + 1] == colours[k][1] && rgb[3 * i + 2] == colours[k][2]) {
        ++counted;
        correct += predicted[i] == k ? 1 : 0;
      }
    }
  }
  ASSERT_GT(counted, predicted.size() / 2);
  const double accuracy = static_cast<double>(correct) / static_cast<double>(counted);
  std::cout << "image_part_001: land-cover pixel accuracy " << accuracy << '\n';
  EXPECT_GT(accuracy, 0.5);
}
