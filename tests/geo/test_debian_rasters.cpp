// Real georeferenced rasters from Debian packages (r-cran-stars, r-cran-rgdal), installed on every
// machine by the setup script; the tests skip, saying why, where they are absent.
#include <gtest/gtest.h>

#include <filesystem>

#include "georef_check.hpp"
#include "terraseg/geo/raster_io.hpp"

namespace terraseg::geo {
namespace {

const std::string kLandsat = "/usr/lib/R/site-library/stars/tif/L7_ETMs.tif";
const std::string kChicago = "/usr/lib/R/site-library/rgdal/pictures/SP27GTIF.TIF";

#define REQUIRE_FILE(path)            \
  if (!std::filesystem::exists(path)) \
  GTEST_SKIP() << (path) << " not installed (apt-get install r-cran-stars r-cran-rgdal)"

TEST(DebianRasters, LandsatInfo) {
  REQUIRE_FILE(kLandsat);
  const RasterInfo info = read_raster_info(kLandsat);
  EXPECT_EQ(info.width, 349);
  EXPECT_EQ(info.height, 352);
  EXPECT_EQ(info.band_count(), 6);
  EXPECT_NE(info.crs_wkt.find("31985"), std::string::npos);
  ASSERT_TRUE(info.pixel_size_m.has_value());
  EXPECT_NEAR(info.pixel_size_m->x, 28.5, 1e-6);
  EXPECT_NEAR(info.pixel_size_m->y, 28.5, 1e-6);
}

TEST(DebianRasters, LandsatFalseColourRoundTrip) {
  REQUIRE_FILE(kLandsat);
  InputSpec spec;
  spec.bands = {"4", "3", "2"};  // NIR, red, green
  spec.scale = 1.0 / 255.0;
  test::expect_georef_round_trip(kLandsat, spec);
}

TEST(DebianRasters, ChicagoStatePlaneFeetInfoAndRoundTrip) {
  REQUIRE_FILE(kChicago);
  const RasterInfo info = read_raster_info(kChicago);
  EXPECT_EQ(info.width, 699);
  EXPECT_EQ(info.height, 929);
  EXPECT_NE(info.crs_wkt.find("26771"), std::string::npos);
  ASSERT_TRUE(info.pixel_size_m.has_value());
  EXPECT_NEAR(info.pixel_size_m->x, 10.0, 0.1);  // 32.8 US survey feet
  InputSpec spec;
  spec.bands = {"red", "green", "blue"};  // grey into an RGB model: replicated
  spec.scale = 1.0 / 255.0;
  test::expect_georef_round_trip(kChicago, spec);
}

}  // namespace
}  // namespace terraseg::geo
