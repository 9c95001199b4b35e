// SpaceNet Las Vegas fixtures from ../shared/data (label "data"; skipped when absent).
#include <gtest/gtest.h>

#include "georef_check.hpp"
#include "terraseg/geo/raster_io.hpp"

namespace terraseg::geo {
namespace {

TEST(SpaceNet, GeographicUInt16InfoAndRoundTrip) {
  TERRASEG_REQUIRE_DATA(data);
  const std::string path = (data / "spacenet-vegas" / "road_mask_input.tif").string();
  const RasterInfo info = read_raster_info(path);
  EXPECT_EQ(info.width, 1300);
  EXPECT_EQ(info.band_count(), 1);
  EXPECT_EQ(info.bands[0].data_type, GDT_UInt16);
  EXPECT_TRUE(info.crs_is_geographic);
  ASSERT_TRUE(info.pixel_size_m.has_value());
  // 2.7e-6 degrees at 36.14 N: ~0.24 m east-west, ~0.30 m north-south.
  EXPECT_NEAR(info.pixel_size_m->x, 0.243, 0.002);
  EXPECT_NEAR(info.pixel_size_m->y, 0.300, 0.002);
  InputSpec spec;
  spec.bands = {"grey"};
  spec.scale = 1.0 / 2047.0;  // 11-bit panchromatic
  test::expect_georef_round_trip(path, spec);
}

TEST(SpaceNet, UtmRoundTrip) {
  TERRASEG_REQUIRE_DATA(data);
  const std::string path = (data / "spacenet-vegas" / "sample_geotiff.tif").string();
  const RasterInfo info = read_raster_info(path);
  EXPECT_NE(info.crs_wkt.find("UTM zone 16N"), std::string::npos);
  ASSERT_TRUE(info.pixel_size_m.has_value());
  EXPECT_NEAR(info.pixel_size_m->x, 0.5, 1e-6);
  InputSpec spec;
  spec.scale = 1.0 / 65535.0;
  test::expect_georef_round_trip(path, spec);
}

}  // namespace
}  // namespace terraseg::geo
