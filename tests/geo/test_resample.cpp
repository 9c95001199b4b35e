// Prediction at the model's native pixel size: the model sees the input warped to its pixel size and
// the results come back on the input's own grid, georeferencing untouched.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "geo_test_util.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/predict.hpp"
#include "test_support.hpp"

namespace terraseg::geo {
namespace {

/// Two classes per pixel: class 1 where the (0..1 scaled) band is above 0.5. Scores: {0, v - 0.5}.
void threshold_model(const Tensor& input, Tensor& scores) {
  const int64_t plane = input.dim(2) * input.dim(3);
  scores.resize({1, 2, input.dim(2), input.dim(3)});
  for (int64_t i = 0; i < plane; ++i) {
    scores.data()[i] = 0.0F;
    scores.data()[plane + i] = input.data()[i] - 0.5F;
  }
}

InputSpec scaled_grey() {
  InputSpec spec;
  spec.scale = 1.0 / 255.0;
  return spec;
}

PredictOptions at_pixel_size(double metres) {
  PredictOptions opt;
  opt.tile_height = opt.tile_width = 64;
  opt.overlap = 16;
  opt.model_pixel_size_m = metres;
  opt.warn = [](const std::string&) {};
  return opt;
}

/// A checkerboard of `square` px squares, 200 and 40.
double checker(int square, int x, int y) { return ((x / square + y / square) % 2) != 0 ? 200.0 : 40.0; }

/// True when (x, y) is within `margin` px of a checkerboard edge.
bool near_edge(int square, int margin, int x, int y) {
  const auto close = [&](int v) { return v % square < margin || v % square >= square - margin; };
  return close(x) || close(y);
}

std::vector<ClassInfo> two_classes() { return {{0, "dark", {0, 0, 0}}, {1, "bright", {255, 255, 255}}}; }

void expect_same_grid(const std::string& input, const std::string& output) {
  const RasterInfo in = read_raster_info(input);
  const RasterInfo out = read_raster_info(output);
  EXPECT_EQ(out.width, in.width);
  EXPECT_EQ(out.height, in.height);
  ASSERT_TRUE(out.geotransform.has_value());
  EXPECT_EQ(*out.geotransform, *in.geotransform);
  EXPECT_EQ(out.crs_wkt, in.crs_wkt);
}

bool scratch_left(const terraseg::test::TempDir& dir) {
  return std::ranges::any_of(std::filesystem::directory_iterator(dir.path()), [](const auto& entry) {
    return entry.path().filename().string().find(".native-") != std::string::npos;
  });
}

TEST(Resample, CoarseInputIsEnlargedToTheModelPixelSizeAndClassesComeBack) {
  terraseg::test::TempDir dir;
  const std::string input = dir / "coarse.tif";
  test::SyntheticRaster raster;  // 10 m pixels, UTM 31N
  raster.width = 90;
  raster.height = 70;
  test::write_raster(input, raster, [](int, int x, int y) { return checker(15, x, y); });
  int64_t tiles_seen = 0;
  const TileInfer model = [&](const Tensor& in, Tensor& scores) {
    ++tiles_seen;
    threshold_model(in, scores);
  };
  const PredictOutputs out{dir / "mask.tif", dir / "scores.tif"};
  const PredictStats stats = predict_raster(input, out, scaled_grey(), model, 2, two_classes(), at_pixel_size(5.0));
  ASSERT_TRUE(stats.resample_ratio.has_value());
  EXPECT_NEAR(*stats.resample_ratio, 2.0, 1e-9);
  EXPECT_EQ(stats.model_width, 180);
  EXPECT_EQ(stats.model_height, 140);
  EXPECT_EQ(tiles_seen, stats.tiles_inferred);
  EXPECT_EQ(stats.width, 90);
  expect_same_grid(input, out.mask_path);
  expect_same_grid(input, out.scores_path);

  const std::vector<float> mask = test::read_band(out.mask_path, 1);
  const std::vector<float> bright = test::read_band(out.scores_path, 2);
  int64_t agree = 0;
  for (int y = 0; y < 70; ++y) {
    for (int x = 0; x < 90; ++x) {
      const size_t i = static_cast<size_t>(y) * 90 + static_cast<size_t>(x);
      const int truth = checker(15, x, y) > 127 ? 1 : 0;
      agree += static_cast<int>(mask[i]) == truth ? 1 : 0;
      if (near_edge(15, 1, x, y)) continue;
      ASSERT_EQ(static_cast<int>(mask[i]), truth) << x << "," << y;
      ASSERT_NEAR(bright[i], static_cast<float>(checker(15, x, y) / 255.0 - 0.5), 1e-4F) << x << "," << y;
    }
  }
  EXPECT_GT(agree, 90 * 70 * 97 / 100);
  EXPECT_FALSE(scratch_left(dir));
}

TEST(Resample, AnOutputNamedWithoutAFolderIsWrittenInTheWorkingDirectory) {
  terraseg::test::TempDir dir;
  const std::string input = dir / "coarse.tif";
  test::SyntheticRaster raster;
  raster.width = 40;
  raster.height = 30;
  test::write_raster(input, raster, [](int, int x, int y) { return checker(10, x, y); });
  const std::filesystem::path before = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  try {
    const PredictOutputs out{"mask.tif", "scores.tif"};
    const PredictStats stats =
        predict_raster(input, out, scaled_grey(), threshold_model, 2, two_classes(), at_pixel_size(5.0));
    std::filesystem::current_path(before);
    ASSERT_TRUE(stats.resample_ratio.has_value());
    expect_same_grid(input, dir / "mask.tif");
    expect_same_grid(input, dir / "scores.tif");
    const std::vector<float> mask = test::read_band(dir / "mask.tif", 1);
    EXPECT_EQ(static_cast<int>(mask[static_cast<size_t>(5) * 40 + 15]), 1);  // a bright square
    EXPECT_EQ(static_cast<int>(mask[static_cast<size_t>(5) * 40 + 5]), 0);   // a dark one
  } catch (...) {
    std::filesystem::current_path(before);
    throw;
  }
  EXPECT_FALSE(scratch_left(dir));
}

TEST(Resample, FineInputIsShrunkAndClassesComeBack) {
  terraseg::test::TempDir dir;
  const std::string input = dir / "fine.tif";
  test::SyntheticRaster raster;
  raster.width = 96;
  raster.height = 80;
  test::write_raster(input, raster, [](int, int x, int y) { return checker(16, x, y); });
  const PredictOutputs out{dir / "mask.tif", ""};
  const PredictStats stats =
      predict_raster(input, out, scaled_grey(), threshold_model, 2, two_classes(), at_pixel_size(20.0));
  ASSERT_TRUE(stats.resample_ratio.has_value());
  EXPECT_NEAR(*stats.resample_ratio, 0.5, 1e-9);
  EXPECT_EQ(stats.model_width, 48);
  EXPECT_EQ(stats.model_height, 40);
  expect_same_grid(input, out.mask_path);
  const std::vector<float> mask = test::read_band(out.mask_path, 1);
  for (int y = 0; y < 80; ++y) {
    for (int x = 0; x < 96; ++x) {
      if (near_edge(16, 2, x, y)) continue;
      ASSERT_EQ(static_cast<int>(mask[static_cast<size_t>(y) * 96 + x]), checker(16, x, y) > 127 ? 1 : 0)
          << x << "," << y;
    }
  }
}

TEST(Resample, WithinToleranceTheInputIsUsedAsItIs) {
  terraseg::test::TempDir dir;
  const std::string input = dir / "in.tif";
  test::SyntheticRaster raster;
  test::write_raster(input, raster);
  const PredictStats stats = predict_raster(input, PredictOutputs{dir / "mask.tif", ""}, scaled_grey(), threshold_model,
                                            2, two_classes(), at_pixel_size(10.5));
  EXPECT_FALSE(stats.resample_ratio.has_value());
  EXPECT_EQ(stats.model_width, raster.width);
}

TEST(Resample, NodataHolesStayNodata) {
  terraseg::test::TempDir dir;
  const std::string input = dir / "holes.tif";
  test::SyntheticRaster raster;
  raster.width = 80;
  raster.height = 60;
  raster.type = GDT_UInt16;
  raster.nodata = 0.0;
  const auto hole = [](int x, int y) { return x >= 20 && x < 40 && y >= 10 && y < 30; };
  test::write_raster(input, raster, [&](int, int x, int y) { return hole(x, y) ? 0.0 : checker(20, x, y); });
  const PredictOutputs out{dir / "mask.tif", ""};
  predict_raster(input, out, scaled_grey(), threshold_model, 2, two_classes(), at_pixel_size(4.0));
  const std::vector<float> mask = test::read_band(out.mask_path, 1);
  for (int y = 0; y < 60; ++y) {
    for (int x = 0; x < 80; ++x) {
      const float v = mask[static_cast<size_t>(y) * 80 + x];
      const bool inner_hole = x >= 21 && x < 39 && y >= 11 && y < 29;
      const bool near_hole = x >= 18 && x < 42 && y >= 8 && y < 32;
      if (inner_hole) {
        ASSERT_EQ(v, 255.0F) << x << "," << y;
      }
      if (!near_hole) {
        ASSERT_LT(v, 2.0F) << x << "," << y;
      }
    }
  }
}

TEST(Resample, GeographicInputIsMeasuredInMetres) {
  terraseg::test::TempDir dir;
  const std::string input = dir / "wgs84.tif";
  test::SyntheticRaster raster;
  raster.width = 40;
  raster.height = 40;
  raster.epsg = 4326;
  // 0.0001 degree pixels at 45 N: about 7.9 m east-west, 11.1 m north-south.
  raster.geotransform = GeoTransform{2.0, 0.0001, 0.0, 45.002, 0.0, -0.0001};
  test::write_raster(input, raster, [](int, int x, int y) { return checker(10, x, y); });
  const PredictOutputs out{dir / "mask.tif", ""};
  const PredictStats stats =
      predict_raster(input, out, scaled_grey(), threshold_model, 2, two_classes(), at_pixel_size(2.0));
  ASSERT_TRUE(stats.resample_ratio.has_value());
  EXPECT_NEAR(stats.model_width, 40 * 7.88 / 2.0, 2.0);
  EXPECT_NEAR(stats.model_height, 40 * 11.12 / 2.0, 2.0);
  expect_same_grid(input, out.mask_path);
}

TEST(Resample, FarTooCoarseInputIsRefusedWithTheRemedy) {
  terraseg::test::TempDir dir;
  const std::string input = dir / "landsat-like.tif";
  test::SyntheticRaster raster;  // 10 m pixels
  test::write_raster(input, raster);
  try {
    predict_raster(input, PredictOutputs{dir / "mask.tif", ""}, scaled_grey(), threshold_model, 2, two_classes(),
                   at_pixel_size(0.5));
    FAIL() << "a 20x enlargement was accepted";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("landsat-like.tif"), std::string::npos) << message;
    EXPECT_NE(message.find("20x coarser"), std::string::npos) << message;
    EXPECT_NE(message.find("tiling.resample: false"), std::string::npos) << message;
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "mask.tif"));
}

TEST(Resample, WithoutACrsItWarnsAndPredictsAsItIs) {
  terraseg::test::TempDir dir;
  const std::string input = dir / "plain.tif";
  test::SyntheticRaster raster;
  raster.epsg = 0;
  raster.geotransform.reset();
  test::write_raster(input, raster);
  std::vector<std::string> warnings;
  PredictOptions opt = at_pixel_size(0.5);
  opt.warn = [&](const std::string& w) { warnings.push_back(w); };
  const PredictStats stats = predict_raster(input, PredictOutputs{dir / "mask.tif", ""}, scaled_grey(), threshold_model,
                                            2, two_classes(), opt);
  EXPECT_FALSE(stats.resample_ratio.has_value());
  ASSERT_FALSE(warnings.empty());
  EXPECT_NE(warnings.front().find("pixel size in metres is unknown"), std::string::npos) << warnings.front();
}

}  // namespace
}  // namespace terraseg::geo
