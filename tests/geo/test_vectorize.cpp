#include <gtest/gtest.h>
#include <ogrsf_frmts.h>

#include <filesystem>
#include <map>

#include "geo_test_util.hpp"
#include "terraseg/geo/predict.hpp"
#include "terraseg/geo/vectorize.hpp"
#include "test_support.hpp"

namespace terraseg::geo {
namespace {

TEST(Vectorize, ClassMaskToNamedPolygonsInRasterCrs) {
  terraseg::test::TempDir dir;
  const std::string mask = dir / "mask.tif";
  test::SyntheticRaster raster;
  raster.width = 40;
  raster.height = 30;
  raster.nodata = 255.0;
  // Three blocks: class 0 left, class 1 right, nodata in the top-right corner.
  test::write_raster(mask, raster, [](int, int x, int y) { return x < 20 ? 0.0 : (y < 5 && x >= 35 ? 255.0 : 1.0); });
  const std::vector<ClassInfo> classes{{0, "water", {0, 0, 255}}, {1, "it's road", {9, 9, 9}}};
  const std::string gpkg = dir / "mask.gpkg";
  EXPECT_EQ(vectorize_classes(mask, gpkg, classes), 2);

  GDALDatasetUniquePtr ds(GDALDataset::Open(gpkg.c_str(), GDAL_OF_VECTOR));
  ASSERT_TRUE(ds);
  OGRLayer* layer = ds->GetLayerByName("classes");
  ASSERT_NE(layer, nullptr);
  ASSERT_NE(layer->GetSpatialRef(), nullptr);
  EXPECT_STREQ(layer->GetSpatialRef()->GetAuthorityCode(nullptr), "32631");
  std::map<int, std::string> names;
  double area = 0.0;
  for (const auto& feature : *layer) {
    names[feature->GetFieldAsInteger("class_id")] = feature->GetFieldAsString("class_name");
    area += feature->GetGeometryRef()->toPolygon()->get_Area();
  }
  EXPECT_EQ(names, (std::map<int, std::string>{{0, "water"}, {1, "it's road"}}));
  EXPECT_DOUBLE_EQ(area, (40.0 * 30.0 - 5.0 * 5.0) * 100.0);  // 10 m pixels; the nodata corner is left out
  size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 2U);
}

}  // namespace
}  // namespace terraseg::geo
