// The README's sample path end to end: a real georeferenced aerial photo made from a Debian package,
// read in tiles, resampled to each model's pixel size, a oneDNN forward pass, class-id GeoTIFFs back on
// the input's grid, indicators and run-summary.json.
#include <gdal_priv.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_runner.hpp"
#include "gdal_ok.hpp"
#include "terraseg/core/domain.hpp"
#include "test_support.hpp"

using terraseg::test::read_file;
using terraseg::test::run_terraseg;
using terraseg::test::TempDir;

namespace {

/// Made by scripts/make-samples.sh (scripts/setup.sh runs it).
std::filesystem::path sample_image() { return terraseg::test::source_dir() / "samples/aerial/bremen-a1.tif"; }

/// The sample config with its output redirected into `dir`.
std::filesystem::path sample_config_in(const TempDir& dir) {
  std::string text = read_file(terraseg::test::source_dir() / "configs/sample.yaml");
  const size_t begin = text.find("output_dir:");
  text.replace(begin, text.find('\n', begin) - begin, "output_dir: " + (dir / "out").string());
  // Paths relative to configs/ must keep pointing into the source tree from the copy.
  const std::string relative = "../samples/";
  for (size_t at = text.find(relative); at != std::string::npos; at = text.find(relative, at)) {
    text.replace(at, relative.size(), (terraseg::test::source_dir() / "samples").string() + "/");
  }
  auto config = dir / "region.yaml";
  std::ofstream(config) << text;
  return config;
}

}  // namespace

TEST(SampleRun, MasksKeepTheInputCrsAndGeotransform) {
  if (!std::filesystem::exists(sample_image())) GTEST_SKIP() << "no sample image: run scripts/make-samples.sh";
  TempDir dir;
  const auto result = run_terraseg({"run", sample_config_in(dir).string(), "-q", "--threads", "2"});
  ASSERT_EQ(result.exit_code, 0) << result.err;

  GDALAllRegister();
  GDALDatasetUniquePtr input(GDALDataset::Open(sample_image().c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  GDALDatasetUniquePtr mask(
      GDALDataset::Open((dir / "out/bremen-a1/roads.tif").c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  ASSERT_TRUE(input && mask);
  EXPECT_EQ(mask->GetRasterXSize(), input->GetRasterXSize());
  EXPECT_EQ(mask->GetRasterYSize(), input->GetRasterYSize());
  EXPECT_EQ(mask->GetRasterCount(), 1);
  EXPECT_EQ(mask->GetRasterBand(1)->GetRasterDataType(), GDT_Byte);
  EXPECT_STREQ(mask->GetProjectionRef(), input->GetProjectionRef());
  double gt_in[6];
  double gt_out[6];
  ASSERT_EQ(input->GetGeoTransform(gt_in), CE_None);
  ASSERT_EQ(mask->GetGeoTransform(gt_out), CE_None);
  for (int i = 0; i < 6; ++i) EXPECT_DOUBLE_EQ(gt_out[i], gt_in[i]) << "geotransform[" << i << "]";

  const int width = mask->GetRasterXSize();
  const int height = mask->GetRasterYSize();
  std::vector<uint8_t> ids(static_cast<size_t>(width) * static_cast<size_t>(height));
  ASSERT_EQ(mask->GetRasterBand(1)->RasterIO(GF_Read, 0, 0, width, height, ids.data(), width, height, GDT_Byte, 0, 0),
            CE_None);
  for (uint8_t id : ids) ASSERT_LE(id, 1) << "class ids of a 2-class model must be 0 or 1";

  const auto summary = nlohmann::json::parse(read_file(dir / "out/run-summary.json"));
  EXPECT_TRUE(summary.at("all_models_trained").get<bool>());  // the shipped models
  EXPECT_EQ(summary.at("threads"), 2);
  EXPECT_FALSE(summary.at("cpu").at("isa").get<std::string>().empty());
  for (const auto& unit : summary.at("units")) {
    EXPECT_EQ(unit.at("engine").at("precision"), "f32");  // the config's default
    EXPECT_NE(unit.at("engine").at("plan").get<std::string>().find("(rules)"), std::string::npos)
        << "tests plan by rules (TERRASEG_TUNING): " << unit.at("engine");
  }
  ASSERT_EQ(summary.at("units").size(), 2U);  // roads and landcover
  EXPECT_TRUE(summary.at("indicators").contains("street_view"));
  // Each region's inputs taken together, per task (one input here: its own figure, no second warning).
  ASSERT_EQ(summary.at("domain_shift_by_region").size(), 2U) << "the shipped models carry training_domain";
  for (const auto& region : summary.at("domain_shift_by_region")) {
    EXPECT_EQ(region.at("region"), "bremen-a1");
    EXPECT_EQ(region.at("inputs"), 1);
    const auto& unit = summary.at("units").at(region.at("task") == summary["units"][0]["task"] ? 0 : 1);
    EXPECT_EQ(region.at("median"), unit.at("domain_shift").at("value"));
    EXPECT_EQ(region.at("warning"), unit.at("domain_shift").at("warning"));
  }
  EXPECT_EQ(result.err.find("taken together"), std::string::npos) << result.err;
  EXPECT_TRUE(std::filesystem::exists(dir / "out/bremen-a1/indicators.tif"));
  EXPECT_TRUE(std::filesystem::exists(dir / "out/street-view/walkability.gpkg"));
  EXPECT_TRUE(std::filesystem::exists(dir / "out/report.html"));

  // The structured log: one JSON object per line, from run_start to run_done.
  std::ifstream log(dir / "out/terraseg-log.jsonl");
  std::vector<std::string> events;
  for (std::string line; std::getline(log, line);) events.push_back(nlohmann::json::parse(line).at("event"));
  ASSERT_GE(events.size(), 4U);
  EXPECT_EQ(events.front(), "run_start");
  EXPECT_EQ(std::count(events.begin(), events.end(), "unit_done"), 2);
  EXPECT_EQ(events.back(), "run_done");
  EXPECT_EQ(summary["units"][0]["input"]["width"].get<int>(), width);
  EXPECT_TRUE(summary["units"][0]["model"]["trained"].get<bool>());
  // 0.25 m pixels; the roads model works at 0.45 m (its card): the model saw the photo shrunk.
  EXPECT_NEAR(summary["units"][0]["resample_ratio"].get<double>(), 0.25 / 0.45, 0.01);
}

// A region of several rasters is judged by their median domain_shift: two copies of the sample, which
// the Dubai-trained land-cover model warns on (docs/models.md), give one more warning for the region.
TEST(SampleRun, ARegionOfSeveralInputsIsJudgedByTheirMedianDomainShift) {
  if (!std::filesystem::exists(sample_image())) GTEST_SKIP() << "no sample image: run scripts/make-samples.sh";
  TempDir dir;
  std::filesystem::copy_file(sample_image(), dir / "copy.tif");
  std::string text = read_file(sample_config_in(dir));
  const std::string one = "inputs: [" + sample_image().string() + "]";
  ASSERT_NE(text.find(one), std::string::npos) << text;
  text.replace(text.find(one), one.size(),
               "inputs: [" + sample_image().string() + ", " + (dir / "copy.tif").string() + "]");
  std::ofstream(dir / "two.yaml") << text;
  const auto result = run_terraseg({"run", (dir / "two.yaml").string(), "-q"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto summary = nlohmann::json::parse(read_file(dir / "out/run-summary.json"));
  nlohmann::json landcover;
  for (const auto& region : summary.at("domain_shift_by_region"))
    if (region.at("task") == "landcover") landcover = region;
  ASSERT_TRUE(landcover.is_object()) << summary.at("domain_shift_by_region");
  EXPECT_EQ(landcover.at("inputs"), 2);
  EXPECT_GT(landcover.at("median").get<double>(), terraseg::kDomainShiftWarning);
  EXPECT_TRUE(landcover.at("warning").get<bool>());
  EXPECT_NE(result.err.find("the 2 inputs of region 'bremen-a1' (landcover), taken together, are unlike"),
            std::string::npos)
      << result.err;
}

TEST(SampleRun, ResumeFindsNothingToDoAndKeepsBytes) {
  if (!std::filesystem::exists(sample_image())) GTEST_SKIP() << "no sample image: run scripts/make-samples.sh";
  TempDir dir;
  const auto config = sample_config_in(dir);
  ASSERT_EQ(run_terraseg({"run", config.string(), "-q"}).exit_code, 0);
  const std::string before = read_file(dir / "out/bremen-a1/roads.tif");
  const auto modified = std::filesystem::last_write_time(dir / "out/bremen-a1/roads.tif");
  ASSERT_EQ(run_terraseg({"run", config.string(), "--resume", "-q"}).exit_code, 0);
  EXPECT_EQ(std::filesystem::last_write_time(dir / "out/bremen-a1/roads.tif"), modified)
      << "resume recomputed a done unit";
  EXPECT_EQ(read_file(dir / "out/bremen-a1/roads.tif"), before);
}

// A full-range UInt16 copy of the sample photo gets what the 8-bit photo gets (it used to come out all
// background, silently), and the log says how its values were scaled.
TEST(SampleRun, SixteenBitCopyOfThePhotoIsStretchedAndSaysSo) {
  if (!std::filesystem::exists(sample_image())) GTEST_SKIP() << "run scripts/make-samples.sh first";
  TempDir dir;
  GDALAllRegister();
  {
    GDALDatasetUniquePtr src(GDALDataset::Open(sample_image().c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
    ASSERT_TRUE(src);
    const int w = src->GetRasterXSize(), h = src->GetRasterYSize(), bands = src->GetRasterCount();
    std::vector<uint16_t> values(static_cast<size_t>(w) * h * bands);
    ASSERT_EQ(src->RasterIO(GF_Read, 0, 0, w, h, values.data(), w, h, GDT_UInt16, bands, nullptr, 0, 0, 0, nullptr),
              CE_None);
    for (uint16_t& v : values) v = static_cast<uint16_t>(v * 257);
    GDALDatasetUniquePtr wide(GetGDALDriverManager()->GetDriverByName("GTiff")->Create((dir / "wide.tif").c_str(), w, h,
                                                                                       bands, GDT_UInt16, nullptr));
    ASSERT_TRUE(wide);
    double gt[6];
    ASSERT_EQ(src->GetGeoTransform(gt), CE_None);
    terraseg::test::gdal_ok(wide->SetGeoTransform(gt));
    terraseg::test::gdal_ok(wide->SetProjection(src->GetProjectionRef()));
    ASSERT_EQ(wide->RasterIO(GF_Write, 0, 0, w, h, values.data(), w, h, GDT_UInt16, bands, nullptr, 0, 0, 0, nullptr),
              CE_None);
    for (int b = 1; b <= bands; ++b)
      terraseg::test::gdal_ok(
          wide->GetRasterBand(b)->SetColorInterpretation(src->GetRasterBand(b)->GetColorInterpretation()));
  }
  const auto model = terraseg::test::source_dir() / "samples/models/roads-aerial.onnx";
  const auto eight = run_terraseg(
      {"predict", "-q", "--model", model.string(), sample_image().string(), "-o", (dir / "r8.tif").string()});
  ASSERT_EQ(eight.exit_code, 0) << eight.err;
  const auto sixteen = run_terraseg(
      {"predict", "--model", model.string(), (dir / "wide.tif").string(), "-o", (dir / "r16.tif").string()});
  ASSERT_EQ(sixteen.exit_code, 0) << sixteen.err;
  EXPECT_NE(sixteen.err.find("UInt16 values"), std::string::npos) << sixteen.err;
  EXPECT_NE(sixteen.err.find("stretched linearly onto the model's input range 0..255"), std::string::npos)
      << sixteen.err;
  const auto read = [](const std::filesystem::path& path) {
    GDALDatasetUniquePtr ds(GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
    std::vector<uint8_t> ids(static_cast<size_t>(ds->GetRasterXSize()) * ds->GetRasterYSize());
    EXPECT_EQ(ds->GetRasterBand(1)->RasterIO(GF_Read, 0, 0, ds->GetRasterXSize(), ds->GetRasterYSize(), ids.data(),
                                             ds->GetRasterXSize(), ds->GetRasterYSize(), GDT_Byte, 0, 0, nullptr),
              CE_None);
    return ids;
  };
  const std::vector<uint8_t> a = read(dir / "r8.tif"), b = read(dir / "r16.tif");
  ASSERT_EQ(a.size(), b.size());
  size_t same = 0, road = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    same += a[i] == b[i] ? 1 : 0;
    road += b[i] == 1 ? 1 : 0;
  }
  EXPECT_GT(static_cast<double>(same) / static_cast<double>(a.size()), 0.99);
  EXPECT_GT(road, a.size() / 100) << "the motorway must be found in the 16-bit copy too";
}
