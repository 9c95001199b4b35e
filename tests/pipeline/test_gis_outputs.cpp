// What GIS users' tools take as they are: STAC Items and the run's Collection (checked against the
// vendored schemas by scripts/validate-stac.py), QGIS styles beside masks, GDAL's --config / -co / -r,
// GDAL-style progress into logs, and `info` as a readable table.
#include <gdal_priv.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_runner.hpp"
#include "progress.hpp"
#include "raster_fixtures.hpp"
#include "stac.hpp"
#include "terraseg/core/builders.hpp"
#include "terraseg/core/onnx.hpp"
#include "terraseg/geo/qgis_style.hpp"
#include "test_support.hpp"

using nlohmann::json;
using terraseg::test::make_rgb_raster;
using terraseg::test::read_file;
using terraseg::test::run_terraseg;
using terraseg::test::TempDir;
namespace fs = std::filesystem;

namespace {

/// A two-class U-Net with a card whose second class name has a space (STAC names must not).
fs::path save_model(const TempDir& dir) {
  terraseg::UNetSpec spec;
  spec.classes = 2;
  spec.depth = 1;
  spec.base_width = 4;
  terraseg::Graph graph = terraseg::build_unet(spec);
  graph.card.present = true;
  graph.card.name = "tiny roads";
  graph.card.bands = {"red", "green", "blue"};
  graph.card.scale = 1.0 / 255.0;
  graph.card.mean = {0.5F, 0.5F, 0.5F};
  graph.card.std = {0.25F, 0.25F, 0.25F};
  graph.card.classes = {{0, "background", {0, 0, 0}}, {1, "paved road", {0xAB, 0x12, 0xEF}}};
  fs::path path = dir / "m.onnx";
  terraseg::save_onnx(graph, path.string());
  return path;
}

int validate_stac(const fs::path& target, std::string* output = nullptr) {
  const fs::path log = fs::temp_directory_path() / ("validate-stac-" + std::to_string(getpid()) + ".log");
  const std::string command = "/usr/bin/python3 " +
                              (terraseg::test::source_dir() / "scripts/validate-stac.py").string() + " '" +
                              target.string() + "' > '" + log.string() + "' 2>&1";
  // NOLINTNEXTLINE(cert-env33-c): runs a fixed tool of the test (GDAL's validator, PyQGIS) on its own output
  const int status = std::system(command.c_str());
  if (output) *output = read_file(log);
  fs::remove(log);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

json read_json(const fs::path& path) { return json::parse(read_file(path)); }

std::string gdal_metadata(const fs::path& path, const char* key, const char* domain) {
  GDALDatasetUniquePtr dataset(GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  const char* value = dataset ? dataset->GetMetadataItem(key, domain) : nullptr;
  return value ? value : "";
}

}  // namespace

TEST(GisOutputs, PredictWritesAQgisStyleWithEveryClass) {
  TempDir dir;
  const auto model = save_model(dir);
  const auto raster = make_rgb_raster(dir / "in.tif");
  const auto result = run_terraseg(
      {"predict", "--model", model.string(), raster.string(), "-o", (dir / "out/mask.tif").string(), "-q"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string qml = read_file(dir / "out/mask.qml");
  EXPECT_NE(qml.find("type=\"paletted\""), std::string::npos) << qml;
  // The background of a binary mask is see-through in the style QGIS loads with the mask (a TIFF
  // colour map has no alpha: the style is where transparency can live).
  EXPECT_NE(qml.find("<paletteEntry value=\"0\" color=\"#000000\" alpha=\"0\" label=\"background\"/>"),
            std::string::npos);
  EXPECT_NE(qml.find("<paletteEntry value=\"1\" color=\"#ab12ef\" alpha=\"255\" label=\"paved road\"/>"),
            std::string::npos);
  EXPECT_EQ(terraseg::geo::qgis_style_path((dir / "out/mask.tif").string()), (dir / "out/mask.qml").string());
}

TEST(GisOutputs, QgisStyleEscapesClassNames) {
  const std::string qml = terraseg::geo::qgis_paletted_style({{3, "a<b & \"c\"", {1, 2, 3}}});
  EXPECT_NE(qml.find("value=\"3\" color=\"#010203\" alpha=\"255\" label=\"a&lt;b &amp; &quot;c&quot;\""),
            std::string::npos)
      << qml;
}

TEST(GisOutputs, CreationOptionsReachTheFileAndBadOnesAreRefusedBeforeAnyOutput) {
  TempDir dir;
  const auto model = save_model(dir);
  const auto raster = make_rgb_raster(dir / "in.tif");
  auto result = run_terraseg({"predict", "--model", model.string(), raster.string(), "-o", (dir / "lzw.tif").string(),
                              "-co", "COMPRESS=LZW", "-q"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(gdal_metadata(dir / "lzw.tif", "COMPRESSION", "IMAGE_STRUCTURE"), "LZW");
  result =
      run_terraseg({"predict", "--model", model.string(), raster.string(), "-o", (dir / "default.tif").string(), "-q"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(gdal_metadata(dir / "default.tif", "COMPRESSION", "IMAGE_STRUCTURE"), "DEFLATE");

  for (const char* bad : {"COMPRESS=NOPE", "NOT_AN_OPTION=1", "COMPRESS"}) {
    result = run_terraseg(
        {"predict", "--model", model.string(), raster.string(), "-o", (dir / "bad.tif").string(), "-co", bad, "-q"});
    EXPECT_EQ(result.exit_code, 1) << bad;
    EXPECT_NE(result.err.find(std::string("-co '") + bad + "'"), std::string::npos) << result.err;
    EXPECT_FALSE(fs::exists(dir / "bad.tif"));
  }
}

TEST(GisOutputs, ResamplingNamesAreGdalsAndOthersAreRefused) {
  TempDir dir;
  const auto model = save_model(dir);
  const auto raster = make_rgb_raster(dir / "in.tif");
  auto result = run_terraseg(
      {"predict", "--model", model.string(), raster.string(), "-o", (dir / "a.tif").string(), "-r", "cubic", "-q"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  result = run_terraseg(
      {"predict", "--model", model.string(), raster.string(), "-o", (dir / "b.tif").string(), "-r", "bicubic", "-q"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("-r 'bicubic'"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("cubicspline"), std::string::npos) << result.err;
  EXPECT_FALSE(fs::exists(dir / "b.tif"));
}

TEST(GisOutputs, GdalConfigOptionsApply) {
  TempDir dir;
  const auto model = save_model(dir);
  const auto raster = make_rgb_raster(dir / "in.tif");
  // With GDAL's persistent auxiliary metadata off, no .aux.xml sidecar appears beside the mask.
  auto result = run_terraseg({"predict", "--config", "GDAL_PAM_ENABLED", "NO", "--model", model.string(),
                              raster.string(), "-o", (dir / "nopam.tif").string(), "-q"});
  CPLSetConfigOption("GDAL_PAM_ENABLED", nullptr);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_FALSE(fs::exists(dir / "nopam.tif.aux.xml"));
  result =
      run_terraseg({"predict", "--model", model.string(), raster.string(), "-o", (dir / "pam.tif").string(), "-q"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(fs::exists(dir / "pam.tif.aux.xml"));
  result = run_terraseg({"predict", "--config", "GDAL_PAM_ENABLED", "--model", model.string(), raster.string(), "-o",
                         (dir / "x.tif").string()});
  EXPECT_EQ(result.exit_code, 1) << "--config takes KEY VALUE";
}

TEST(GisOutputs, ProgressIntoALogIsGdalsFormat) {
  std::FILE* log = std::tmpfile();
  ASSERT_NE(log, nullptr);
  {
    terraseg::ProgressDisplay display(false, terraseg::ProgressDisplay::Style::gdal, log);
    display.begin("bremen roads");
    display.update(0.26);
    display.warn("something odd");
    display.update(0.5);
    display.update(0.5);
    display.end();
  }
  std::rewind(log);
  std::string text(4096, '\0');
  text.resize(std::fread(text.data(), 1, text.size(), log));
  EXPECT_EQ(std::fclose(log), 0);
  EXPECT_EQ(text.substr(0, text.find(" - done")),
            "bremen roads: 0...10...20..\nterraseg: warning: something odd\n"
            "bremen roads: .30...40...50...60...70...80...90...100");
  EXPECT_NE(text.find(" - done in "), std::string::npos);
  EXPECT_EQ(text.find('\r'), std::string::npos) << "no carriage returns in a log";
}

TEST(GisOutputs, InfoIsAReadableTable) {
  TempDir dir;
  const auto model = save_model(dir);
  const auto result = run_terraseg({"info", model.string(), "--height", "32", "--width", "32"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string& out = result.out;
  EXPECT_NE(out.find("classes       id  colour   name"), std::string::npos) << out;
  EXPECT_NE(out.find(" 1  #AB12EF  paved road"), std::string::npos) << out;
  // mean 0.5 and std 0.25 after scaling by 1/255 are 127.5 and 63.75 in raw band values.
  EXPECT_NE(out.find("x = (raw - mean) / std, in raw band values: mean 127.5 127.5 127.5, std 63.75 63.75 63.75"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("bands         red, green, blue"), std::string::npos) << out;
  EXPECT_EQ(out.find("{\""), std::string::npos) << "no raw JSON in the text view";
  const auto as_json = run_terraseg({"info", model.string(), "--json", "--height", "32", "--width", "32"});
  const json doc = json::parse(as_json.out);
  EXPECT_DOUBLE_EQ(doc.at("normalisation_raw").at("mean")[0].get<double>(), 127.5);
}

TEST(GisOutputs, StacItemsAndCollectionValidateAndSayWhereTheDatetimeCameFrom) {
  TempDir dir;
  const auto model = save_model(dir);
  const auto dated = make_rgb_raster(dir / "dated.tif", "2021:06:30 10:15:00");
  const auto undated = make_rgb_raster(dir / "undated.tif");
  for (const auto& input : {dated, undated}) {
    const auto result = run_terraseg(
        {"predict", "--model", model.string(), input.string(), "-o", (dir / "out" / input.filename()).string(), "-q"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
  }
  const fs::path collection = terraseg::stac_collection_path(dir / "out");
  std::vector<std::string> items;
  const terraseg::ModelCard card = [] {
    terraseg::ModelCard c;
    c.classes = {{0, "background", {0, 0, 0}}, {1, "paved road", {0xAB, 0x12, 0xEF}}};
    return c;
  }();
  for (const auto& input : {dated, undated}) {
    terraseg::StacItemRequest request;
    request.id = "unit-" + input.stem().string();
    request.source = input.string();
    request.run_started = "2026-12-03T19:00:00Z";
    request.collection = collection;
    request.properties = {{"title", "test " + input.stem().string()}, {"terraseg:task", "roads"}};
    const std::string mask = (dir / "out" / input.filename()).string();
    terraseg::write_stac_item(mask, card, request);
    items.push_back(terraseg::stac_item_path(mask));
  }
  std::ofstream(dir / "out/summary.json") << "{}";
  terraseg::write_stac_collection(dir / "out", "test.yaml", items, {(dir / "out/summary.json").string()});

  const json item = read_json(items[0]);
  EXPECT_EQ(item["properties"]["datetime"], "2021-06-30T10:15:00Z");
  EXPECT_EQ(item["properties"]["terraseg:datetime_source"], "TIFFTAG_DATETIME of the source");
  // The source lies outside the run's folder: a file URL (relative hrefs are for what the run wrote).
  EXPECT_EQ(item["properties"]["terraseg:source"], "file://" + fs::absolute(dated).lexically_normal().string());
  EXPECT_EQ(item["links"][0]["rel"], "derived_from");
  EXPECT_EQ(item["links"][0]["href"], "file://" + fs::absolute(dated).lexically_normal().string());
  EXPECT_EQ(item["links"][1], json({{"rel", "self"},
                                    {"href", "file://" + fs::absolute(items[0]).lexically_normal().string()},
                                    {"type", "application/geo+json"}}));
  EXPECT_EQ(item["collection"], "out");
  const json& data = item["assets"]["data"];
  EXPECT_EQ(data["href"], "./dated.tif");
  EXPECT_EQ(data["type"], "image/tiff; application=geotiff; profile=cloud-optimized");  // predict's default
  EXPECT_EQ(data["file:size"].get<uintmax_t>(), fs::file_size(dir / "out/dated.tif"));
  EXPECT_EQ(data["raster:bands"][0]["data_type"], "uint8");
  EXPECT_EQ(data["raster:bands"][0]["nodata"], 255);
  EXPECT_DOUBLE_EQ(data["raster:bands"][0]["spatial_resolution"].get<double>(), 1.0);
  EXPECT_EQ(data["classification:classes"][1],
            json({{"value", 1}, {"name", "paved_road"}, {"description", "paved road"}, {"color_hint", "AB12EF"}}));
  EXPECT_EQ(item["assets"]["style"]["href"], "./dated.qml");

  const json other = read_json(items[1]);
  EXPECT_EQ(other["properties"]["datetime"], "2026-12-03T19:00:00Z");
  EXPECT_NE(other["properties"]["terraseg:datetime_source"].get<std::string>().find("run's start"), std::string::npos);

  const json run = read_json(collection);
  EXPECT_EQ(run["extent"]["temporal"]["interval"][0], json({"2021-06-30T10:15:00Z", "2026-12-03T19:00:00Z"}));
  EXPECT_EQ(run["links"][1], json({{"rel", "self"},
                                   {"href", "file://" + fs::absolute(collection).lexically_normal().string()},
                                   {"type", "application/json"}}));
  EXPECT_EQ(
      run["links"][2],
      json(
          {{"rel", "item"}, {"href", "./dated.stac.json"}, {"type", "application/geo+json"}, {"title", "unit-dated"}}));
  EXPECT_EQ(run["assets"]["summary.json"]["roles"], json({"metadata"}));

  std::string report;
  EXPECT_EQ(validate_stac(dir / "out", &report), 0) << report;
  EXPECT_NE(report.find("3 document(s), 0 problem(s)"), std::string::npos) << report;

  // The validator does check: an Item without any datetime, and a class without its description, fail.
  json broken = item;
  broken["properties"]["datetime"] = nullptr;
  broken["assets"]["data"]["classification:classes"][0].erase("description");
  std::ofstream(dir / "out/broken.stac.json") << broken.dump();
  EXPECT_EQ(validate_stac(dir / "out/broken.stac.json", &report), 1);
  EXPECT_NE(report.find("start_datetime"), std::string::npos) << report;
  EXPECT_NE(report.find("description"), std::string::npos) << report;
}

TEST(GisOutputs, ClassNamesTravelInsideTheTiff) {
  TempDir dir;
  const auto model = save_model(dir);
  const auto raster = make_rgb_raster(dir / "in.tif");
  const auto result =
      run_terraseg({"predict", "--model", model.string(), raster.string(), "-o", (dir / "m.tif").string(), "-q"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  fs::create_directories(dir / "copy");
  fs::copy_file(dir / "m.tif", dir / "copy/m.tif");  // the TIFF alone, without its .aux.xml
  GDALDatasetUniquePtr copy(GDALDataset::Open((dir / "copy/m.tif").c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  ASSERT_TRUE(copy);
  const char* classes = copy->GetRasterBand(1)->GetMetadataItem("CLASSES");
  ASSERT_NE(classes, nullptr);
  EXPECT_STREQ(classes, "0=background;1=paved road");
}

// A run's outputs as the clients users run take them: GDAL's COG validator passes on every raster, and
// QGIS itself (scripts/check-qgis.py, PyQGIS headless) loads each with its style, draws the binary mask's
// background see-through and lists one legend entry per class.
TEST(GisOutputs, ARunsOutputsPassTheCogValidatorAndLoadInQgis) {
  const char* validator = "/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_cloud_optimized_geotiff.py";
  const char* chicago = "/usr/lib/R/site-library/rgdal/pictures/SP27GTIF.TIF";
  if (!fs::exists(validator) || !fs::exists(chicago)) GTEST_SKIP() << "python3-gdal or r-cran-rgdal is not installed";
  TempDir dir;
  std::ofstream(dir / "job.yaml") << "output_dir: out\ntiling: {tile: 256, overlap: 32}\n"
                                  << "models:\n  roads: {builder: unet, classes: 2, base_width: 4, depth: 2, seed: 3, "
                                     "class_names: [background, road]}\n"
                                  << "  landcover: {builder: unet, classes: 5, base_width: 4, depth: 2, seed: 4}\n"
                                  << "indicators: {cell_size_m: 500}\n"
                                  << "regions:\n  - name: chicago\n    inputs: ['" << chicago << "']\n";
  const auto result = run_terraseg({"run", (dir / "job.yaml").string(), "-q"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  int rasters = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir / "out")) {
    if (entry.path().extension() != ".tif") continue;
    ++rasters;
    const std::string command = std::string("/usr/bin/python3 ") + validator + " -q '" + entry.path().string() + "'";
    // NOLINTNEXTLINE(cert-env33-c): runs a fixed tool of the test (GDAL's validator, PyQGIS) on its own output
    EXPECT_EQ(std::system(command.c_str()), 0) << entry.path() << " is not a valid COG";
  }
  EXPECT_EQ(rasters, 3);  // two masks and the indicator grid
  const std::string qgis = (terraseg::test::source_dir() / "scripts/check-qgis.py").string() + " '" +
                           (dir / "out").string() + "' '" + (dir / "renders").string() + "' > '" +
                           (dir / "qgis.log").string() + "' 2>&1";
  // NOLINTNEXTLINE(cert-env33-c): runs a fixed tool of the test (GDAL's validator, PyQGIS) on its own output
  const int status = std::system(qgis.c_str());
  const std::string log = read_file(dir / "qgis.log");
  if (WIFEXITED(status) && WEXITSTATUS(status) == 77) GTEST_SKIP() << log;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << log;
  EXPECT_NE(log.find("roads.tif: paletted, 2 classes ['background', 'road']"), std::string::npos) << log;
  EXPECT_NE(log.find("indicators.tif: pseudocolour of band 1"), std::string::npos) << log;
}
