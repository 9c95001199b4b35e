// Training labels from vectors (geo/vector_labels.hpp): widths in ground metres, the unknown band at
// the edges, attribute filters, OSM road types, vectors in another CRS than the image.
#include <gdal_priv.h>
#include <gtest/gtest.h>
#include <ogrsf_frmts.h>

#include <cmath>
#include <filesystem>

#include "gdal_ok.hpp"
#include "geo_test_util.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/vector_labels.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using terraseg::geo::rasterize_labels;
using terraseg::geo::VectorLabelOptions;

namespace {

constexpr double kX0 = 500000.0;  // UTM 32N, metres: a 100 x 100 m image of 1 m pixels
constexpr double kY0 = 5880000.0;

fs::path make_image(const fs::path& path) {
  GDALAllRegister();
  GDALDatasetUniquePtr image(
      GetGDALDriverManager()->GetDriverByName("GTiff")->Create(path.c_str(), 100, 100, 3, GDT_Byte, nullptr));
  double gt[6] = {kX0, 1.0, 0.0, kY0, 0.0, -1.0};
  terraseg::test::gdal_ok(image->SetGeoTransform(gt));
  OGRSpatialReference utm;
  terraseg::test::gdal_ok(utm.importFromEPSG(32632));
  terraseg::test::gdal_ok(image->SetSpatialRef(&utm));
  return path;
}

struct Road {
  double y;  ///< metres below the image's top
  const char* highway;
};

/// A GeoPackage of horizontal roads across the image, in `epsg` (the image's 32632, or 4326).
fs::path make_roads(const fs::path& path, const std::vector<Road>& roads, int epsg = 32632) {
  GDALDatasetUniquePtr data(
      GetGDALDriverManager()->GetDriverByName("GPKG")->Create(path.c_str(), 0, 0, 0, GDT_Unknown, nullptr));
  OGRSpatialReference crs;
  terraseg::test::gdal_ok(crs.importFromEPSG(epsg));
  crs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  OGRSpatialReference utm;
  terraseg::test::gdal_ok(utm.importFromEPSG(32632));
  utm.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  std::unique_ptr<OGRCoordinateTransformation> to_crs(OGRCreateCoordinateTransformation(&utm, &crs));
  OGRLayer* layer = data->CreateLayer("lines", &crs, wkbLineString, nullptr);
  OGRFieldDefn highway("highway", OFTString);
  terraseg::test::gdal_ok(layer->CreateField(&highway));
  for (const Road& road : roads) {
    OGRFeature feature(layer->GetLayerDefn());
    feature.SetField("highway", road.highway);
    OGRLineString line;
    line.addPoint(kX0 - 20.0, kY0 - road.y);
    line.addPoint(kX0 + 120.0, kY0 - road.y);
    line.transform(to_crs.get());
    feature.SetGeometry(&line);
    EXPECT_EQ(layer->CreateFeature(&feature), OGRERR_NONE);
  }
  return path;
}

/// The label of the pixel whose centre lies `metres` below the image's top, in column 50.
int label_at(const std::vector<float>& labels, double metres) {
  const int row = static_cast<int>(std::floor(metres));
  return static_cast<int>(labels[static_cast<size_t>(row) * 100 + 50]);
}

}  // namespace

TEST(VectorLabels, LinesBecomeRoadsOfTheirTypesWidthWithAnUnknownEdge) {
  terraseg::test::TempDir dir;
  const fs::path image = make_image(dir / "tile.tif");
  // A residential road (7 m) at 30 m, a motorway (24 m) at 70 m.
  const fs::path roads = make_roads(dir / "roads.gpkg", {{30.0, "residential"}, {70.0, "motorway"}});
  VectorLabelOptions options;
  options.width_by = "highway";
  options.widths = terraseg::geo::osm_highway_widths();
  options.ignore_m = 1.0;
  const auto stats = rasterize_labels(image.string(), roads.string(), options, (dir / "tile.png").string());
  EXPECT_EQ(stats.features, 2);
  const std::vector<float> labels = terraseg::geo::test::read_band((dir / "tile.png").string(), 1);
  ASSERT_EQ(labels.size(), 100U * 100U);
  // Residential: half width 3.5 m; road within 2.5 m of the centreline, unknown to 4.5 m, then background.
  EXPECT_EQ(label_at(labels, 30.5), 1);
  EXPECT_EQ(label_at(labels, 32.2), 1);
  EXPECT_EQ(label_at(labels, 33.5), 255);
  EXPECT_EQ(label_at(labels, 35.5), 0);
  EXPECT_EQ(label_at(labels, 26.5), 255);
  // Motorway: half width 12 m: road from 59 to 81 m, unknown to 57 and 83 m.
  EXPECT_EQ(label_at(labels, 60.5), 1);
  EXPECT_EQ(label_at(labels, 80.5), 1);
  EXPECT_EQ(label_at(labels, 82.5), 255);
  EXPECT_EQ(label_at(labels, 84.5), 0);
  EXPECT_EQ(label_at(labels, 50.5), 0);
  EXPECT_GT(stats.pixels.at(1), 0);
  EXPECT_GT(stats.pixels.at(255), 0);
}

TEST(VectorLabels, FiltersPickClassesAndVectorsInAnotherCrsLandInPlace) {
  terraseg::test::TempDir dir;
  const fs::path image = make_image(dir / "tile.tif");
  // The same roads in WGS 84 lon/lat: transformed, then buffered in metres.
  const fs::path roads = make_roads(dir / "roads.gpkg", {{30.0, "residential"}, {70.0, "footway"}}, 4326);
  VectorLabelOptions options;
  options.classes = {{1, "highway <> 'footway'"}, {2, "highway = 'footway'"}};
  options.width_by = "highway";
  options.widths = terraseg::geo::osm_highway_widths();
  options.ignore_m = 0.0;
  rasterize_labels(image.string(), roads.string(), options, (dir / "tile.tif.png").string());
  const std::vector<float> labels = terraseg::geo::test::read_band((dir / "tile.tif.png").string(), 1);
  EXPECT_EQ(label_at(labels, 30.5), 1);
  EXPECT_EQ(label_at(labels, 32.5), 1);  // 7 m wide, no unknown band
  EXPECT_EQ(label_at(labels, 34.5), 0);
  EXPECT_EQ(label_at(labels, 70.5), 2);  // the footway, 2.5 m wide
  EXPECT_EQ(label_at(labels, 72.5), 0);
  // A filter OGR cannot read names the class and says what a filter is.
  options.classes = {{1, "no_such_field = 1"}};
  try {
    rasterize_labels(image.string(), roads.string(), options, (dir / "bad.png").string());
    ADD_FAILURE() << "a bad filter was accepted";
  } catch (const terraseg::Error& e) {
    EXPECT_NE(std::string(e.what()).find("class 1 'no_such_field = 1': OGR cannot filter layer 'lines'"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "bad.png"));
}

TEST(VectorLabels, AnImageWithoutAGeoreferenceIsRefused) {
  terraseg::test::TempDir dir;
  GDALAllRegister();
  {
    GDALDatasetUniquePtr plain(GetGDALDriverManager()->GetDriverByName("GTiff")->Create((dir / "plain.tif").c_str(), 8,
                                                                                        8, 3, GDT_Byte, nullptr));
  }
  const fs::path roads = make_roads(dir / "roads.gpkg", {{3.0, "residential"}});
  try {
    rasterize_labels((dir / "plain.tif").string(), roads.string(), {}, (dir / "plain.png").string());
    ADD_FAILURE() << "accepted";
  } catch (const terraseg::Error& e) {
    EXPECT_NE(std::string(e.what()).find("has no georeference"), std::string::npos) << e.what();
  }
}

// The Bremen sample's SUMO lanes (scripts/make-lane-mask.py --gpkg) burned by terraseg agree with the
// lane mask the Python script draws with GDAL's rasteriser (its own lane-by-lane geometry).
TEST(VectorLabels, BremenLanesAgreeWithTheSampleLaneMask) {
  const fs::path root = terraseg::test::source_dir();
  const fs::path photo = root / "samples/aerial/bremen-a1.tif";
  const fs::path lanes_mask = root / "samples/aerial/bremen-a1-lanes.tif";
  const fs::path lanes = root / "samples/aerial/bremen-a1-lanes.gpkg";
  if (!fs::exists(photo) || !fs::exists(lanes_mask) || !fs::exists(lanes)) {
    GTEST_SKIP() << "the Bremen sample is not made (scripts/make-samples.sh)";
  }
  terraseg::test::TempDir dir;
  VectorLabelOptions options;
  options.width_field = "width";
  options.ignore_m = 0.0;
  rasterize_labels(photo.string(), lanes.string(), options, (dir / "lanes.tif").string());
  const std::vector<float> ours = terraseg::geo::test::read_band((dir / "lanes.tif").string(), 1);
  const std::vector<float> theirs = terraseg::geo::test::read_band(lanes_mask.string(), 1);
  ASSERT_EQ(ours.size(), theirs.size());
  long long both = 0, either = 0;
  for (size_t i = 0; i < ours.size(); ++i) {
    const bool a = ours[i] == 1.0F;
    const bool b = theirs[i] == 1.0F;
    both += (a && b) ? 1 : 0;
    either += (a || b) ? 1 : 0;
  }
  ASSERT_GT(either, 1000);
  EXPECT_GT(static_cast<double>(both) / static_cast<double>(either), 0.9) << both << " of " << either;
}
