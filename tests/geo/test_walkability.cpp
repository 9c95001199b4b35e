#include <gtest/gtest.h>
#include <ogrsf_frmts.h>

#include <fstream>

#include "geo_test_util.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/indicators.hpp"
#include "terraseg/geo/walkability.hpp"
#include "test_support.hpp"

namespace terraseg::geo {
namespace {

RoleCounts counts_of(const std::vector<uint8_t>& ids, const StreetRoleMap& map) {
  RoleCounts counts;
  counts.add_image(ids, map);
  return counts;
}

TEST(Walkability, CamvidRatiosAreExactAndUnlabelledIsExcluded) {
  // CamVid ids: 5 tree x2, 1 building, 3 road x2, 4 pavement, 2 pole, 8 car, 11 unlabelled x2.
  const RoleCounts counts = counts_of({5, 5, 1, 3, 3, 4, 2, 8, 11, 11}, camvid_role_map());
  EXPECT_EQ(counts.counted, 8);
  const StreetIndicators ind = street_indicators(counts);
  EXPECT_DOUBLE_EQ(*ind.greenery, 2.0 / 8.0);
  EXPECT_DOUBLE_EQ(*ind.crowdedness, 2.0 / 8.0);
  EXPECT_DOUBLE_EQ(*ind.enclosure, (1.0 + 2.0) / (1.0 + 2.0 + 0.0));
  EXPECT_DOUBLE_EQ(*ind.pavement, (1.0 + 2.0) / 2.0);
}

TEST(Walkability, CountsAreSummedOverImages) {
  RoleCounts counts;
  const StreetRoleMap map = camvid_role_map();
  counts.add_image(std::vector<uint8_t>{5, 0, 0, 3}, map);
  counts.add_image(std::vector<uint8_t>{7, 4, 3, 11}, map);
  EXPECT_EQ(counts.images, 2);
  EXPECT_EQ(counts.counted, 7);
  const StreetIndicators ind = street_indicators(counts);
  EXPECT_DOUBLE_EQ(*ind.greenery, 1.0 / 7.0);
  EXPECT_DOUBLE_EQ(*ind.enclosure, 1.0 / 4.0);  // (0 building + 1 tree) / (1 pavement + 2 road + 1 fence)
  EXPECT_DOUBLE_EQ(*ind.pavement, 3.0 / 2.0);
}

TEST(Walkability, ZeroDenominatorsGiveNull) {
  const StreetIndicators sky = street_indicators(counts_of({0, 0, 0, 5}, camvid_role_map()));
  EXPECT_DOUBLE_EQ(*sky.greenery, 0.25);
  EXPECT_DOUBLE_EQ(*sky.crowdedness, 0.0);
  EXPECT_FALSE(sky.enclosure.has_value());  // no pavement, road or fence
  EXPECT_FALSE(sky.pavement.has_value());   // no road
  const StreetIndicators ignored = street_indicators(counts_of({11, 11}, camvid_role_map()));
  EXPECT_FALSE(ignored.greenery.has_value());
  EXPECT_FALSE(ignored.crowdedness.has_value());
  const StreetIndicators nothing = street_indicators(RoleCounts{});
  EXPECT_FALSE(nothing.greenery || nothing.crowdedness || nothing.enclosure || nothing.pavement);
}

TEST(Walkability, AgreementIsPerPhotoOverPhotosWhereBothAreDefined) {
  const StreetRoleMap camvid = camvid_role_map();
  // Photo 1: mask G 0.5, prediction G 0.25; photo 2: mask G 0.25, prediction 0.5, and only the
  // prediction has road (D defined on one side only: left out); photo 3: mask all unlabelled.
  const std::vector<StreetIndicators> reference{street_indicators(counts_of({5, 5, 0, 3}, camvid)),
                                                street_indicators(counts_of({5, 0, 0, 0}, camvid)),
                                                street_indicators(counts_of({11, 11}, camvid))};
  const std::vector<StreetIndicators> predicted{street_indicators(counts_of({5, 0, 0, 3}, camvid)),
                                                street_indicators(counts_of({5, 5, 3, 0}, camvid)),
                                                street_indicators(counts_of({5, 0}, camvid))};
  const auto agreement = compare_indicators(reference, predicted);
  const IndicatorAgreement& g = agreement[0];
  EXPECT_EQ(g.images, 2);
  EXPECT_DOUBLE_EQ(g.mean_reference, 0.375);
  EXPECT_DOUBLE_EQ(g.mean_predicted, 0.375);
  EXPECT_DOUBLE_EQ(g.mean_absolute_error, 0.25);
  EXPECT_DOUBLE_EQ(g.bias, 0.0);
  EXPECT_DOUBLE_EQ(g.max_absolute_error, 0.25);
  const IndicatorAgreement& d = agreement[3];  // pavement: road in both only on photo 1
  EXPECT_EQ(d.images, 1);
  EXPECT_DOUBLE_EQ(d.mean_absolute_error, 0.0);
  EXPECT_THROW(compare_indicators(reference, std::span<const StreetIndicators>(predicted).first(2)), Error);
}

TEST(Walkability, RoleMapsFromNamesCountsAndOverrides) {
  const std::vector<std::string> names{
      "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation", "terrain",
      "sky",  "person",   "rider",    "car",  "truck", "bus",  "train",         "motorcycle",   "bicycle",    "void"};
  std::vector<ClassInfo> classes;
  for (size_t i = 0; i < names.size(); ++i) classes.push_back({static_cast<int>(i), names[i], {0, 0, 0}});
  const StreetRoleMap by_name = role_map_for_model(classes, {}, 20);
  EXPECT_EQ(by_name.scheme, "class names");
  EXPECT_EQ(by_name.roles, cityscapes_role_map().roles);
  // Upper-case CamVid names resolve like the built-in CamVid ids.
  const std::vector<std::string> camvid{"Sky",        "Building", "Pole", "Road",       "Pavement",  "Tree",
                                        "SignSymbol", "Fence",    "Car",  "Pedestrian", "Bicyclist", "Unlabelled"};
  classes.clear();
  for (size_t i = 0; i < camvid.size(); ++i) classes.push_back({static_cast<int>(i), camvid[i], {0, 0, 0}});
  EXPECT_EQ(role_map_for_model(classes, {}, 12).roles, camvid_role_map().roles);
  // Without names the class count decides; the card's ignore ids win.
  EXPECT_EQ(role_map_for_model({}, {}, 11).scheme, "camvid");
  const StreetRoleMap city = role_map_for_model({{0, "class 0", {0, 0, 0}}}, {10}, 19);
  EXPECT_EQ(city.scheme, "cityscapes");
  EXPECT_EQ(city.role(10), StreetRole::ignore);
  EXPECT_THROW(role_map_for_model({}, {}, 7), Error);
  StreetRoleMap custom = camvid_role_map();
  override_roles(custom, {{"obstacle", {0}}, {"Ignore", {3}}});
  EXPECT_EQ(custom.role(0), StreetRole::obstacle);
  EXPECT_EQ(custom.role(3), StreetRole::ignore);
  EXPECT_EQ(custom.role(200), StreetRole::other);
  EXPECT_THROW(override_roles(custom, {{"bench", {1}}}), Error);
}

TEST(Walkability, QuintileLevelsOnKnownValues) {
  std::vector<std::optional<double>> values;
  for (int v = 1; v <= 10; ++v) values.emplace_back(v);
  values.insert(values.begin() + 3, std::nullopt);
  const auto levels = indicator_levels(values, 0, LevelScheme{});
  const std::vector<std::optional<int>> expected{1, 1, 2, std::nullopt, 2, 3, 3, 4, 4, 5, 5};
  EXPECT_EQ(levels, expected);
  EXPECT_EQ(indicator_levels({0.4}, 1, LevelScheme{}),
            (std::vector<std::optional<int>>{3}));  // a lone point is mid-rank
  EXPECT_EQ(indicator_levels({0.1, 0.1, 0.1, 0.1}, 2, LevelScheme{}), (std::vector<std::optional<int>>{3, 3, 3, 3}));
  LevelScheme inverted;
  inverted.invert[3] = true;
  EXPECT_EQ(indicator_levels({1.0, 2.0, 3.0, 4.0, 5.0}, 3, inverted), (std::vector<std::optional<int>>{5, 4, 3, 2, 1}));
}

TEST(Walkability, BreakpointLevels) {
  LevelScheme scheme;
  scheme.mode = LevelScheme::Mode::breakpoints;
  scheme.breakpoints[0] = {0.1, 0.2, 0.3, 0.4};
  EXPECT_EQ(indicator_levels({0.05, 0.1, 0.35, 0.9}, 0, scheme), (std::vector<std::optional<int>>{1, 2, 4, 5}));
  scheme.breakpoints[1] = {0.3, 0.2, 0.1, 0.4};
  EXPECT_THROW(indicator_levels({0.5}, 1, scheme), Error);
}

/// Five points whose G rises with their index; every other indicator equal, so they are all level 3.
std::vector<WalkabilityPoint> five_points() {
  std::vector<StreetPoint> points;
  std::vector<RoleCounts> counts;
  for (int i = 0; i < 5; ++i) {
    points.push_back({"p" + std::to_string(i), 0.1218 + 0.0003 * i, 52.2053, {"img.png"}});
    RoleCounts c;
    c.counted = 100;
    c.tree = int64_t{10} * i;
    c.road = 20;
    c.pavement = 10;
    c.building = 40 - 10 * i;  // building + tree constant, so S is equal for all
    c.obstacle = 5;
    c.images = 1;
    counts.push_back(c);
  }
  return score_points(points, counts, LevelScheme{});
}

TEST(Walkability, IvwIsFiveTimesTheSumOfLevels) {
  const std::vector<WalkabilityPoint> scored = five_points();
  for (int i = 0; i < 5; ++i) {
    const WalkabilityPoint& p = scored[static_cast<size_t>(i)];
    EXPECT_EQ(p.levels[0], i + 1);
    EXPECT_EQ(p.levels[1], 3);
    ASSERT_TRUE(p.ivw.has_value());
    EXPECT_EQ(*p.ivw, 5 * (i + 1 + 3 + 3 + 3));
  }
}

TEST(Walkability, ReadsPointsResolvingRelativeImages) {
  terraseg::test::TempDir dir;
  {
    std::ofstream csv(dir / "points.csv");
    csv << "# a comment\nid,lon,lat,image1,image2\n\na,4.6995,50.8707,left.jpg,/abs/right.jpg\nb,-1.5,-20.25,x/y.png\n";
  }
  const std::vector<StreetPoint> points = read_street_points(dir / "points.csv");
  ASSERT_EQ(points.size(), 2U);
  EXPECT_EQ(points[0].id, "a");
  EXPECT_DOUBLE_EQ(points[0].lon, 4.6995);
  EXPECT_DOUBLE_EQ(points[0].lat, 50.8707);
  EXPECT_EQ(points[0].images, (std::vector<std::string>{(dir / "left.jpg").string(), "/abs/right.jpg"}));
  EXPECT_EQ(points[1].images, std::vector<std::string>{(dir / "x/y.png").string()});
  {
    std::ofstream csv(dir / "bad.csv");
    csv << "id,lon,lat,image\nq,4.7,95.0,a.jpg\n";
  }
  try {
    read_street_points(dir / "bad.csv");
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("bad.csv:2: lat '95.0'"), std::string::npos) << error.what();
  }
}

TEST(Walkability, GeopackageAndCsvHoldNullForUndefined) {
  terraseg::test::TempDir dir;
  std::vector<WalkabilityPoint> scored = five_points();
  scored[0].indicators.pavement.reset();
  scored[0].levels[3].reset();
  scored[0].ivw.reset();
  write_walkability_gpkg(dir / "w.gpkg", scored);
  write_walkability_csv(dir / "w.csv", scored);
  GDALDatasetUniquePtr ds(GDALDataset::Open((dir / "w.gpkg").c_str(), GDAL_OF_VECTOR));
  ASSERT_TRUE(ds);
  OGRLayer* layer = ds->GetLayerByName("walkability");
  ASSERT_NE(layer, nullptr);
  EXPECT_STREQ(layer->GetSpatialRef()->GetAuthorityCode(nullptr), "4326");
  EXPECT_EQ(layer->GetFeatureCount(), 5);
  for (const auto& feature : *layer) {
    const bool first = std::string(feature->GetFieldAsString("id")) == "p0";
    EXPECT_EQ(feature->IsFieldNull(feature->GetFieldIndex("D")), first);
    EXPECT_EQ(feature->IsFieldNull(feature->GetFieldIndex("IVW")), first);
    EXPECT_NEAR(feature->GetGeometryRef()->toPoint()->getY(), 52.2053, 1e-12);
  }
  std::ifstream csv(dir / "w.csv");
  std::string header;
  std::string row;
  std::getline(csv, header);
  std::getline(csv, row);
  EXPECT_EQ(header, "id,lon,lat,G,C,S,D,G_level,C_level,S_level,D_level,IVW,images,pixels");
  EXPECT_EQ(row, "p0,0.1218,52.2053,0,0.05,1.333333333,,1,3,3,,,1,100");
}

TEST(Walkability, GridInLocalUtmZoneWithMeanIvwAndNodata) {
  terraseg::test::TempDir dir;
  const std::vector<WalkabilityPoint> scored = five_points();  // about 20 m apart along a parallel
  WalkGridOptions options;
  options.cell_size_m = 50.0;
  const WalkGridSummary grid = write_walkability_grid(dir / "grid.tif", scored, options);
  GDALDatasetUniquePtr ds = test::open_output(dir / "grid.tif");
  EXPECT_STREQ(ds->GetSpatialRef()->GetAuthorityCode(nullptr), "32631");  // lon 0.12 lies in UTM zone 31
  GeoTransform gt{};
  ASSERT_EQ(ds->GetGeoTransform(gt.data()), CE_None);
  EXPECT_DOUBLE_EQ(gt[1], 50.0);
  EXPECT_DOUBLE_EQ(gt[5], -50.0);
  EXPECT_DOUBLE_EQ(std::fmod(gt[0], 50.0), 0.0);  // snapped to whole cells
  EXPECT_DOUBLE_EQ(std::fmod(gt[3], 50.0), 0.0);
  EXPECT_EQ(ds->GetRasterYSize(), 1);
  EXPECT_EQ(std::string(ds->GetRasterBand(1)->GetDescription()), "ivw_mean");
  const std::vector<float> mean = test::read_band(dir / "grid.tif", 1);
  const std::vector<float> count = test::read_band(dir / "grid.tif", 2);
  double weighted = 0.0;
  int points = 0;
  for (size_t i = 0; i < mean.size(); ++i) {
    if (count[i] == static_cast<float>(kIndicatorNodata)) {
      EXPECT_EQ(mean[i], static_cast<float>(kIndicatorNodata));
      continue;
    }
    weighted += mean[i] * count[i];
    points += static_cast<int>(count[i]);
  }
  EXPECT_EQ(points, 5);
  EXPECT_NEAR(weighted / 5.0, (50 + 55 + 60 + 65 + 70) / 5.0, 1e-4);
  EXPECT_EQ(grid.cells_with_points,
            static_cast<int>(std::count_if(count.begin(), count.end(), [](float c) { return c > 0; })));

  options.crs = "EPSG:4326";  // geographic: cells of 50 m in degrees at the centroid's latitude
  write_walkability_grid(dir / "grid4326.tif", scored, options);
  GDALDatasetUniquePtr geographic = test::open_output(dir / "grid4326.tif");
  ASSERT_EQ(geographic->GetGeoTransform(gt.data()), CE_None);
  EXPECT_NEAR(gt[1], 50.0 / 68363.40, 50.0 / 68363.40 * 1e-5);     // WGS 84 metres per degree of longitude at 52.2053 N
  EXPECT_NEAR(-gt[5], 50.0 / 111271.25, 50.0 / 111271.25 * 1e-5);  // and of latitude
}

}  // namespace
}  // namespace terraseg::geo
