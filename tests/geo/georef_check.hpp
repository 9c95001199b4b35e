#pragma once
/// Shared check: predict on a real raster and compare the outputs' grid with the input's.
#include <gtest/gtest.h>

#include "geo_test_util.hpp"
#include "terraseg/geo/predict.hpp"
#include "test_support.hpp"

namespace terraseg::geo::test {

/// Runs box_model over `input` with `spec` and expects the class mask and scores to carry the input's
/// size, CRS WKT (byte for byte) and geotransform (exactly), with class ids in range.
inline void expect_georef_round_trip(const std::string& input, const InputSpec& spec) {
  terraseg::test::TempDir dir;
  const PredictOutputs out{dir / "mask.tif", dir / "scores.tif"};
  PredictOptions opt;
  opt.tile_height = opt.tile_width = 256;
  opt.overlap = 32;
  opt.warn = [](const std::string&) {};
  const std::vector<ClassInfo> classes{{0, "a", {1, 2, 3}}, {1, "b", {4, 5, 6}}, {2, "c", {7, 8, 9}}};
  predict_raster(input, out, spec, box_model, 3, classes, opt);
  GDALDatasetUniquePtr in = open_raster(input);
  for (const std::string& path : {out.mask_path, out.scores_path}) {
    GDALDatasetUniquePtr ds = open_output(path);
    EXPECT_EQ(ds->GetRasterXSize(), in->GetRasterXSize()) << path;
    EXPECT_EQ(ds->GetRasterYSize(), in->GetRasterYSize()) << path;
    EXPECT_STREQ(ds->GetProjectionRef(), in->GetProjectionRef()) << path;
    double a[6];
    double b[6];
    ASSERT_EQ(in->GetGeoTransform(a), CE_None);
    ASSERT_EQ(ds->GetGeoTransform(b), CE_None);
    for (int i = 0; i < 6; ++i) EXPECT_EQ(a[i], b[i]) << path << " geotransform[" << i << "]";
  }
  for (float v : read_band(out.mask_path, 1)) ASSERT_TRUE(v < 3.0F || v == 255.0F);
}

}  // namespace terraseg::geo::test
