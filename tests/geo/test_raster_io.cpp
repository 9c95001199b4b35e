#include <gtest/gtest.h>

#include <fstream>

#include "geo_test_util.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/raster_io.hpp"
#include "test_support.hpp"

namespace terraseg::geo {
namespace {

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(RasterInfo, DescribesSizeBandsCrsAndPixelSize) {
  terraseg::test::TempDir dir;
  const std::string path = dir / "info.tif";
  test::SyntheticRaster spec;
  spec.width = 333;
  spec.height = 517;
  spec.bands = 3;
  spec.type = GDT_UInt16;
  spec.nodata = 0.0;
  spec.colours = {GCI_RedBand, GCI_GreenBand, GCI_BlueBand};
  test::write_raster(path, spec);
  const RasterInfo info = read_raster_info(path);
  EXPECT_EQ(info.driver, "GTiff");
  EXPECT_EQ(info.width, 333);
  EXPECT_EQ(info.height, 517);
  ASSERT_EQ(info.band_count(), 3);
  EXPECT_EQ(info.bands[0].index, 1);
  EXPECT_EQ(info.bands[1].colour, GCI_GreenBand);
  EXPECT_EQ(info.bands[2].data_type_name, "UInt16");
  ASSERT_TRUE(info.bands[0].nodata.has_value());
  EXPECT_EQ(*info.bands[0].nodata, 0.0);
  EXPECT_NE(info.bands[0].mask_flags & GMF_NODATA, 0);
  EXPECT_NE(info.crs_wkt.find("UTM zone 31N"), std::string::npos);
  EXPECT_FALSE(info.crs_is_geographic);
  ASSERT_TRUE(info.geotransform.has_value());
  EXPECT_TRUE(info.axis_aligned);
  ASSERT_TRUE(info.pixel_size_m.has_value());
  EXPECT_DOUBLE_EQ(info.pixel_size_m->x, 10.0);
  EXPECT_DOUBLE_EQ(info.pixel_size_m->y, 10.0);
  EXPECT_DOUBLE_EQ(*model_scale_ratio(info, 0.5), 20.0);
}

TEST(RasterInfo, GeographicPixelSizeUsesCentreLatitude) {
  terraseg::test::TempDir dir;
  const std::string path = dir / "geo.tif";
  test::SyntheticRaster spec;
  spec.epsg = 4326;
  // 1e-4 degree pixels centred near 60 N: ~5.58 m east-west, ~11.14 m north-south on WGS 84.
  spec.geotransform = GeoTransform{10.0, 1e-4, 0.0, 60.0 + 24 * 1e-4, 0.0, -1e-4};
  test::write_raster(path, spec);
  const RasterInfo info = read_raster_info(path);
  EXPECT_TRUE(info.crs_is_geographic);
  ASSERT_TRUE(info.pixel_size_m.has_value());
  EXPECT_NEAR(info.pixel_size_m->x, 5.580, 0.002);
  EXPECT_NEAR(info.pixel_size_m->y, 11.141, 0.002);
}

TEST(RasterInfo, RotatedGeotransformIsReportedAndMeasured) {
  terraseg::test::TempDir dir;
  const std::string path = dir / "rot.tif";
  test::SyntheticRaster spec;
  spec.geotransform = GeoTransform{500000.0, 8.0, 6.0, 4000000.0, 6.0, -8.0};
  test::write_raster(path, spec);
  const RasterInfo info = read_raster_info(path);
  EXPECT_FALSE(info.axis_aligned);
  ASSERT_TRUE(info.pixel_size_m.has_value());
  EXPECT_DOUBLE_EQ(info.pixel_size_m->x, 10.0);
  EXPECT_DOUBLE_EQ(info.pixel_size_m->y, 10.0);
}

TEST(RasterInfo, NoGeoreferencingMeansNoPixelSize) {
  terraseg::test::TempDir dir;
  const std::string path = dir / "plain.tif";
  test::SyntheticRaster spec;
  spec.geotransform.reset();
  spec.epsg = 0;
  test::write_raster(path, spec);
  const RasterInfo info = read_raster_info(path);
  EXPECT_TRUE(info.crs_wkt.empty());
  EXPECT_FALSE(info.geotransform.has_value());
  EXPECT_FALSE(info.pixel_size_m.has_value());
}

TEST(RasterInfo, MissingFileErrorNamesFileAndFix) {
  const std::string message = error_of([] { read_raster_info("/nonexistent/dir/scene.tif"); });
  EXPECT_NE(message.find("/nonexistent/dir/scene.tif"), std::string::npos) << message;
  EXPECT_NE(message.find("check the path"), std::string::npos) << message;
}

TEST(RasterInfo, NotARasterErrorNamesFileAndFix) {
  terraseg::test::TempDir dir;
  const std::string path = dir / "notes.tif";
  std::ofstream(path) << "this is a text file, not an image\n";
  const std::string message = error_of([&] { read_raster_info(path); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("is not a raster GDAL can open: check the path"), std::string::npos) << message;
}

}  // namespace
}  // namespace terraseg::geo
