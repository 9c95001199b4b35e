// A run never destroys a user's file and --resume never keeps a stale answer (docs/reliability.md,
// "Outputs"): every output path is planned and checked before anything runs; --resume redoes exactly
// the units whose input, model or settings changed, or whose outputs no longer read; locks keep two
// runs from interleaving; SIGTERM ends a run or a predict cleanly.
#include <gdal_priv.h>
#include <gtest/gtest.h>
#include <ogrsf_frmts.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <tuple>

#include "cli_runner.hpp"
#include "gdal_ok.hpp"
#include "output_plan.hpp"
#include "raster_fixtures.hpp"
#include "terraseg/core/builders.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/onnx.hpp"
#include "test_support.hpp"

using terraseg::test::make_rgb_raster;
using terraseg::test::read_file;
using terraseg::test::run_terraseg;
using terraseg::test::snapshot;
using terraseg::test::spawn_terraseg;
using terraseg::test::TempDir;
using terraseg::test::wait_exit;
namespace fs = std::filesystem;

namespace {

void write_text(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

/// A tiny two-class U-Net with a card, saved as ONNX; `seed` changes its weights.
fs::path make_model(const fs::path& path, uint64_t seed = 1, double pixel_size_m = 0.0) {
  terraseg::UNetSpec spec;
  spec.classes = 2;
  spec.depth = 1;
  spec.base_width = 4;
  spec.seed = seed;
  terraseg::Graph graph = terraseg::build_unet(spec);
  graph.card.present = true;
  graph.card.bands = {"red", "green", "blue"};
  graph.card.classes = {{0, "background", {0, 0, 0}}, {1, "road", {255, 0, 0}}};
  if (pixel_size_m > 0.0) graph.card.pixel_size_m = pixel_size_m;
  terraseg::save_onnx(graph, path.string());
  return path;
}

/// A 3-band Byte GeoTIFF of `width` x `height` 1 m pixels, band b a gradient offset by `shift`.
fs::path make_gradient_raster(const fs::path& path, int width, int height, int shift = 0) {
  GDALAllRegister();
  GDALDriver* driver = GetGDALDriverManager()->GetDriverByName("GTiff");
  GDALDatasetUniquePtr dataset(driver->Create(path.c_str(), width, height, 3, GDT_Byte, nullptr));
  double gt[6] = {500000, 1, 0, 5700000, 0, -1};
  terraseg::test::gdal_ok(dataset->SetGeoTransform(gt));
  OGRSpatialReference utm;
  terraseg::test::gdal_ok(utm.importFromEPSG(32631));
  terraseg::test::gdal_ok(dataset->SetSpatialRef(&utm));
  std::vector<unsigned char> row(static_cast<size_t>(width));
  for (int band = 1; band <= 3; ++band) {
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x)
        row[static_cast<size_t>(x)] = static_cast<unsigned char>((x * band + y + shift) % 256);
      if (dataset->GetRasterBand(band)->RasterIO(GF_Write, 0, y, width, 1, row.data(), width, 1, GDT_Byte, 0, 0) !=
          CE_None) {
        ADD_FAILURE() << "cannot write " << path;
      }
    }
  }
  return path;
}

const std::string kModels = "models:\n  roads: {builder: unet, classes: 2, base_width: 4, depth: 1}\n";

/// Runs `args`, expects exit 1 with `message` in stderr and `dir` unchanged.
void expect_refused(const TempDir& dir, const std::vector<std::string>& args, const std::string& message) {
  const auto before = snapshot(dir.path());
  const auto result = run_terraseg(args);
  EXPECT_EQ(result.exit_code, 1) << message << "\n" << result.err;
  EXPECT_NE(result.err.find("terraseg: error: "), std::string::npos) << result.err;
  EXPECT_NE(result.err.find(message), std::string::npos) << "expected: " << message << "\ngot: " << result.err;
  EXPECT_EQ(result.err.find("internal error"), std::string::npos) << result.err;
  EXPECT_EQ(snapshot(dir.path()), before) << "a refused command changed files: " << message;
}

/// The log events of one kind after line `from` of `<out>/terraseg-log.jsonl`, by unit.
std::map<std::string, std::string> events(const fs::path& out, const std::string& kind, size_t from = 0) {
  std::map<std::string, std::string> found;
  std::ifstream stream(out / "terraseg-log.jsonl");
  std::string line;
  for (size_t n = 0; std::getline(stream, line); ++n) {
    if (n < from) continue;
    const auto event = nlohmann::json::parse(line, nullptr, false);  // a line being written may be partial
    if (event.is_discarded()) continue;
    if (event.value("event", "") == kind) found[event.value("unit", "")] = event.value("reason", "");
  }
  return found;
}

size_t log_lines(const fs::path& out) {
  std::ifstream stream(out / "terraseg-log.jsonl");
  size_t count = 0;
  for (std::string line; std::getline(stream, line);) ++count;
  return count;
}

/// Files under `dir` whose names say they are temporaries or scratch folders.
std::vector<std::string> leftovers(const fs::path& dir) {
  std::vector<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.find(".tmp") != std::string::npos || name.find(".native-") != std::string::npos) {
      found.push_back(entry.path().string());
    }
  }
  return found;
}

}  // namespace

// ---- names and the output plan ----

TEST(OutputPlan, NamesAreOneSafeFileNameEach) {
  for (const std::string& good :
       std::vector<std::string>{"city", "bremen-a1", "roads_2", "v1.2", "a+b@c", "münchen", "東京"}) {
    EXPECT_FALSE(terraseg::output_name_problem(good)) << good;
  }
  for (const std::string& bad :
       std::vector<std::string>{"", ".", "..", ".hidden", "a/b", "../x", "/abs", "a\\b", "a b", "a:b", "a*", "bad\xff",
                                std::string("nul\0x", 5), std::string(101, 'a')}) {
    EXPECT_TRUE(terraseg::output_name_problem(bad)) << bad;
  }
  EXPECT_TRUE(terraseg::is_utf8("plain ascii, é, 東京, 🙂"));
  for (const std::string& bad : {std::string("\xff"), std::string("\xc0\xaf"), std::string("\xed\xa0\x80"),
                                 std::string("\xe6\x9d"), std::string("\xf4\x90\x80\x80")}) {
    EXPECT_FALSE(terraseg::is_utf8(bad)) << "overlong, surrogate, truncated or out-of-range sequence accepted";
  }
}

TEST(OutputPlan, RefusesCollisionsInputsFoldersAndEscapes) {
  TempDir dir;
  write_text(dir / "in.tif", "x");
  const auto refused = [](const terraseg::OutputPlan& plan, const std::string& message) {
    try {
      plan.check();
      ADD_FAILURE() << "accepted; expected: " << message;
    } catch (const terraseg::Error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  };
  {
    terraseg::OutputPlan plan(dir / "out");
    plan.output(dir / "out" / "a.tif", "A");
    plan.output(dir / "out" / "sub" / ".." / "a.tif", "B");
    refused(plan, "A and B would both write");
  }
  {
    terraseg::OutputPlan plan(dir / "out");
    plan.read(dir / "in.tif", "an input");
    plan.output(dir / "out" / ".." / "in.tif", "A");
    refused(plan, "outside the output folder");
  }
  {
    terraseg::OutputPlan plan;
    plan.read(dir / "in.tif", "an input");
    fs::create_hard_link(dir / "in.tif", dir / "link.tif");
    plan.output(dir / "link.tif", "-o");
    refused(plan, "-o would write '" + (dir / "link.tif").string() + "', which is an input");
  }
  {
    terraseg::OutputPlan plan(dir / "out");
    plan.output(dir / "out" / "report.html", "the report");
    plan.output(dir / "out" / "report.html" / "roads.tif", "region 'report.html'");
    refused(plan, "inside '" + (dir / "out" / "report.html").string() + "', which the report writes as a file");
  }
  {
    terraseg::OutputPlan plan(dir / "out");
    plan.output_folder(dir / "out" / "report", "the report");
    plan.output(dir / "out" / "report" / "roads.tif", "region 'report'");
    refused(plan, "which the report writes as its folder");
  }
  {
    terraseg::OutputPlan plan(dir / "out");
    plan.output(dir / "out" / "a" / "roads.tif", "A");
    plan.output(dir / "out" / "a" / "landcover.tif", "B");
    plan.output_folder(dir / "out" / "report", "the report");
    EXPECT_NO_THROW(plan.check());
  }
}

// ---- run: names, collisions and inputs ----

TEST(OutputSafety, TaskAndRegionNamesCannotLeaveTheOutputFolder) {
  TempDir dir;
  make_rgb_raster(dir / "in.tif");
  make_rgb_raster(dir / "victim.tif");
  const struct {
    std::string models;
    std::string region;
    std::string message;
  } cases[] = {
      {"  ../victim: {builder: unet, classes: 2}\n", "city", "key 'models.../victim' (a task name) is '../victim'"},
      {"  a/b: {builder: unet, classes: 2}\n", "city", "key 'models.a/b' (a task name) is 'a/b'"},
      {"  " + (dir / "victim").string() + ": {builder: unet, classes: 2}\n", "city", "(a task name) is '/"},
      {"  roads: {builder: unet, classes: 2}\n", ".", "key 'regions[0].name' is '.'"},
      {"  roads: {builder: unet, classes: 2}\n", "..", "key 'regions[0].name' is '..'"},
      {"  roads: {builder: unet, classes: 2}\n", "'a b'", "key 'regions[0].name' is 'a b'"},
  };
  for (const auto& c : cases) {
    write_text(dir / "job.yaml", "output_dir: out\nmodels:\n" + c.models + "regions:\n  - name: " + c.region +
                                     "\n    inputs: [in.tif]\n");
    expect_refused(dir, {"run", (dir / "job.yaml").string(), "-q"}, c.message);
  }
}

TEST(OutputSafety, AnOutputThatIsAnInputIsRefusedBeforeAnythingIsWritten) {
  TempDir dir;
  // The user keeps an input where the run's mask would go: <output_dir>/<region>/<task>.tif.
  fs::create_directories(dir / "out" / "city");
  make_rgb_raster(dir / "out" / "city" / "roads.tif");
  write_text(dir / "job.yaml",
             "output_dir: out\n" + kModels + "regions:\n  - name: city\n    inputs: [out/city/roads.tif]\n");
  expect_refused(dir, {"run", (dir / "job.yaml").string(), "-q"},
                 "region 'city', task 'roads', input '" + (dir / "out/city/roads.tif").string() + "' would write '" +
                     (dir / "out/city/roads.tif").string() + "', which is an input of region 'city'");
  // The model and the config are inputs too.
  fs::create_directories(dir / "out2" / "city");
  make_model(dir / "out2" / "city" / "roads.tif");
  make_rgb_raster(dir / "in.tif");
  write_text(dir / "job2.yaml",
             "output_dir: out2\nmodels:\n  roads: {path: out2/city/roads.tif}\n"
             "regions:\n  - name: city\n    inputs: [in.tif]\n");
  expect_refused(dir, {"run", (dir / "job2.yaml").string(), "-q"}, "which is the model of task 'roads'");
  write_text(dir / "run-summary.json",
             "output_dir: .\n" + kModels + "regions:\n  - name: city\n    inputs: [in.tif]\n");
  expect_refused(dir, {"run", (dir / "run-summary.json").string(), "-q"}, "which is the config");
}

TEST(OutputSafety, TwoUnitsOrStepsNeverWriteOneFile) {
  TempDir dir;
  fs::create_directories(dir / "a");
  fs::create_directories(dir / "b");
  make_rgb_raster(dir / "a" / "x.tif");
  make_rgb_raster(dir / "b" / "x.tif");
  make_rgb_raster(dir / "in.tif");
  const struct {
    std::string config;
    std::string message;
  } cases[] = {
      // Inputs of one file name in different folders.
      {"output_dir: out\n" + kModels + "regions:\n  - name: city\n    inputs: [a/x.tif, b/x.tif]\n",
       "input '" + (dir / "a/x.tif").string() + "' and region 'city', task 'roads', input '" +
           (dir / "b/x.tif").string() + "' would both write"},
      // A task named like the indicator grid.
      {"output_dir: out\nmodels:\n  indicators: {builder: unet, classes: 2}\nregions:\n  - name: city\n    inputs: "
       "[in.tif]\n",
       "would both write '" + (dir / "out/city/indicators.tif").string() + "'"},
      // A task named like another task's scores.
      {"output_dir: out\noutputs: {scores: true}\nmodels:\n  roads: {builder: unet, classes: 2}\n"
       "  roads-scores: {builder: unet, classes: 2}\nregions:\n  - name: city\n    inputs: [in.tif]\n",
       "would both write '" + (dir / "out/city/roads-scores.tif").string() + "'"},
      // Unit ids that meet: region a__b + task roads, region a + task b__roads.
      {"output_dir: out\nmodels:\n  roads: {builder: unet, classes: 2}\n  b__roads: {builder: unet, classes: 2}\n"
       "regions:\n  - {name: a__b, inputs: [in.tif], tasks: [roads]}\n  - {name: a, inputs: [in.tif], tasks: "
       "[b__roads]}\n",
       "would both write '" + (dir / "out/.terraseg/units/a__b__roads__in.json").string() + "'"},
      // A region named like the report's folder or a run file.
      {"output_dir: out\n" + kModels + "regions:\n  - name: report\n    inputs: [in.tif]\n",
       "which the report writes as its folder"},
      {"output_dir: out\n" + kModels + "regions:\n  - name: run-summary.json\n    inputs: [in.tif]\n",
       "which the run summary writes as a file"},
  };
  for (const auto& c : cases) {
    write_text(dir / "job.yaml", c.config);
    expect_refused(dir, {"run", (dir / "job.yaml").string(), "-q"}, c.message);
  }
}

// ---- predict ----

TEST(OutputSafety, PredictNeverWritesOverItsModelOrOneOutputOverAnother) {
  TempDir dir;
  const auto model = make_model(dir / "m.onnx");
  const auto raster = make_rgb_raster(dir / "in.tif");
  fs::create_directories(dir / "a");
  fs::create_directories(dir / "b");
  make_rgb_raster(dir / "a" / "x.tif");
  make_rgb_raster(dir / "b" / "x.tif", "2026:01:01 00:00:00");
  const std::string m = model.string();
  const std::string r = raster.string();
  expect_refused(dir, {"predict", "--model", m, r, "-o", m, "-q"}, "-o would write '" + m + "', which is the model");
  expect_refused(dir, {"predict", "--model", m, r, "-o", (dir / "o.tif").string(), "--logits", m, "-q"},
                 "--logits would write '" + m + "', which is the model");
  expect_refused(
      dir, {"predict", "--model", m, r, "-o", (dir / "o.tif").string(), "--logits", (dir / "o.tif").string(), "-q"},
      "-o and --logits would both write");
  expect_refused(dir,
                 {"predict", "--model", m, (dir / "a/x.tif").string(), (dir / "b/x.tif").string(), "--output-dir",
                  (dir / "out").string(), "-q"},
                 "--output-dir for input '" + (dir / "a/x.tif").string() + "' and --output-dir for input '" +
                     (dir / "b/x.tif").string() + "' would both write '" + (dir / "out/x.tif").string() + "'");
  EXPECT_FALSE(fs::exists(dir / "out")) << "a refused predict makes no folder";
}

TEST(OutputSafety, PathsAndNamesThatAreNotUtf8AreRefusedClearly) {
  TempDir dir;
  const auto model = make_model(dir / "m.onnx");
  const std::string bad = (dir / "caf\xe9.tif").string();  // Latin-1, as old archives name files
  make_rgb_raster(bad);
  expect_refused(dir, {"predict", "--model", model.string(), bad, "-o", (dir / "o.tif").string(), "-q"},
                 "is not valid UTF-8");
  write_text(dir / "glob.yaml", "output_dir: out\n" + kModels + "regions:\n  - name: city\n    inputs: ['caf*.tif']\n");
  expect_refused(dir, {"run", (dir / "glob.yaml").string(), "-q"}, "whose name is not valid UTF-8");
  write_text(dir / "name.yaml",
             "output_dir: out\n" + kModels + "regions:\n  - name: caf\xe9\n    inputs: ['m.onnx']\n");
  expect_refused(dir, {"run", (dir / "name.yaml").string(), "-q"}, "key 'regions[0].name' is not valid UTF-8");
}

TEST(OutputSafety, NumbersInConfigsAreFinite) {
  TempDir dir;
  make_rgb_raster(dir / "in.tif");
  const std::string regions = "regions:\n  - name: city\n    inputs: [in.tif]\n";
  for (const auto& [text, key] : std::vector<std::pair<std::string, std::string>>{
           {"indicators: {cell_size_m: .inf}\n", "indicators.cell_size_m"},
           {"indicators: {cell_size_m: .nan}\n", "indicators.cell_size_m"},
           {"indicators: {road_width_m: -.inf}\n", "indicators.road_width_m"},
           {"tiling: {scales: [1, .nan]}\n", "tiling.scales"},
       }) {
    write_text(dir / "job.yaml", "output_dir: out\n" + text + kModels + regions);
    expect_refused(dir, {"run", (dir / "job.yaml").string(), "-q"}, "key '" + key + "' must be a finite number");
  }
  write_text(dir / "grid.yaml",
             "output_dir: out\n" + kModels +
                 "regions:\n  - name: city\n    inputs: [in.tif]\n    grid: {crs: 'EPSG:32631', pixel_size_m: .inf}\n");
  expect_refused(dir, {"run", (dir / "grid.yaml").string(), "-q"},
                 "key 'regions[0].grid.pixel_size_m' must be a finite number");
}

TEST(OutputSafety, ShardSpecsParseStrictly) {
  TempDir dir;
  make_rgb_raster(dir / "in.tif");
  write_text(dir / "job.yaml", "output_dir: out\n" + kModels + "regions:\n  - name: city\n    inputs: [in.tif]\n");
  const std::string config = (dir / "job.yaml").string();
  for (const std::string& spec :
       std::vector<std::string>{"0x1/2", "0/1abc", "1/+2", " 0/2", "0/2 ", "-0/2", "0//2", "/2", "0/"}) {
    expect_refused(dir, {"run", config, "--shard", spec, "-q"},
                   "--shard '" + spec + "': expected I/N in decimal digits");
  }
  setenv("TERRASEG_SHARD_COUNT", "2", 1);
  expect_refused(dir, {"run", config, "-q"}, "TERRASEG_SHARD_COUNT is set but JOB_COMPLETION_INDEX is not");
  unsetenv("TERRASEG_SHARD_COUNT");
  setenv("JOB_COMPLETION_INDEX", "1", 1);
  expect_refused(dir, {"run", config, "-q"}, "JOB_COMPLETION_INDEX is set but TERRASEG_SHARD_COUNT is not");
  setenv("TERRASEG_SHARD_COUNT", "2x", 1);
  expect_refused(dir, {"run", config, "-q"}, "JOB_COMPLETION_INDEX='1', TERRASEG_SHARD_COUNT='2x'");
  unsetenv("JOB_COMPLETION_INDEX");
  unsetenv("TERRASEG_SHARD_COUNT");
}

// ---- --resume redoes exactly what changed ----

TEST(ResumeFingerprint, RedoesExactlyTheUnitsWhoseInputModelOrSettingsChanged) {
  TempDir dir;
  make_gradient_raster(dir / "a.tif", 64, 48);
  make_gradient_raster(dir / "b.tif", 64, 48);
  make_model(dir / "roads.onnx", 1);
  const auto write_config = [&dir](int tile) {
    write_text(dir / "job.yaml",
               "output_dir: out\ntiling: {tile: " + std::to_string(tile) +
                   ", overlap: 8}\nindicators: {enabled: false}\n"
                   "models:\n  roads: {path: roads.onnx}\n"
                   "  landcover: {builder: unet, classes: 3, base_width: 4, depth: 1}\n"
                   "regions:\n  - {name: north, inputs: [a.tif]}\n  - {name: south, inputs: [b.tif]}\n");
  };
  write_config(64);
  const std::string config = (dir / "job.yaml").string();
  const fs::path out = dir / "out";
  ASSERT_EQ(run_terraseg({"run", config, "-q"}).exit_code, 0);
  const auto resume = [&]() {
    const size_t from = log_lines(out);
    const auto result = run_terraseg({"run", config, "--resume", "-q"});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return std::pair{events(out, "unit_redo", from), events(out, "unit_skipped", from)};
  };
  {  // Nothing changed: nothing redone; touching a file without changing its bytes changes nothing.
    fs::last_write_time(dir / "a.tif", fs::last_write_time(dir / "a.tif") + std::chrono::hours(1));
    const auto [redone, skipped] = resume();
    EXPECT_TRUE(redone.empty());
    EXPECT_EQ(skipped.size(), 4U);
  }
  {  // The south input's pixels change (same size): its two units, and only those.
    const std::string before = read_file(out / "south" / "roads.tif");
    make_gradient_raster(dir / "b.tif", 64, 48, 100);
    const auto [redone, skipped] = resume();
    EXPECT_EQ(redone.size(), 2U);
    EXPECT_EQ(redone.count("south__roads__b"), 1U);
    EXPECT_EQ(redone.count("south__landcover__b"), 1U);
    EXPECT_NE(
        redone.at("south__roads__b").find("the input changed ('" + (dir / "b.tif").string() + "': its bytes differ)"),
        std::string::npos)
        << redone.at("south__roads__b");
    EXPECT_EQ(skipped.size(), 2U);
  }
  {  // The roads model file is swapped: the roads units of both regions.
    make_model(dir / "roads.onnx", 7);
    const auto [redone, skipped] = resume();
    EXPECT_EQ(redone, (std::map<std::string, std::string>{{"north__roads__a", "the model file changed"},
                                                          {"south__roads__b", "the model file changed"}}));
    EXPECT_EQ(skipped.size(), 2U);
  }
  {  // A config key that changes outputs: every unit.
    write_config(32);
    const auto [redone, skipped] = resume();
    EXPECT_EQ(redone.size(), 4U);
    for (const auto& [unit, reason] : redone) EXPECT_EQ(reason, "config key 'tiling' changed") << unit;
    EXPECT_TRUE(skipped.empty());
  }
  {  // An output truncated to 0 bytes, or one that no longer reads: that unit is redone, not an error.
    std::ofstream(out / "north" / "landcover.tif", std::ios::trunc).close();
    write_text(out / "south" / "roads.stac.json", "{ half a file");
    const auto [redone, skipped] = resume();
    EXPECT_EQ(redone.size(), 2U);
    EXPECT_NE(redone.at("north__landcover__a").find("is empty"), std::string::npos) << redone.at("north__landcover__a");
    EXPECT_NE(redone.at("south__roads__b").find("is not valid JSON"), std::string::npos)
        << redone.at("south__roads__b");
    EXPECT_GT(fs::file_size(out / "north" / "landcover.tif"), 0U);
  }
  // The summary names what made every mask now, and carries no fingerprint.
  const auto summary = nlohmann::json::parse(read_file(out / "run-summary.json"));
  ASSERT_EQ(summary.at("units").size(), 4U);
  for (const auto& unit : summary.at("units")) EXPECT_FALSE(unit.contains("fingerprint"));
  // A fresh run of the final state equals the resumed one, byte for byte.
  write_text(dir / "fresh.yaml", read_file(dir / "job.yaml").replace(0, 15, "output_dir: fresh"));
  ASSERT_EQ(run_terraseg({"run", (dir / "fresh.yaml").string(), "-q"}).exit_code, 0);
  for (const char* mask : {"north/roads.tif", "north/landcover.tif", "south/roads.tif", "south/landcover.tif"}) {
    EXPECT_EQ(read_file(out / mask), read_file(dir / "fresh" / mask)) << mask;
  }
}

// ---- locks and signals (the real binary in child processes) ----

TEST(Concurrency, TwoRunsOfOneConfigAtOnceBothSucceedAndAgreeWithOne) {
  TempDir dir;
  for (const char* name : {"a", "b", "c"}) make_gradient_raster(dir / (std::string(name) + ".tif"), 256, 192);
  const std::string models = "models:\n  roads: {builder: unet, classes: 2, base_width: 8, depth: 2}\n";
  write_text(dir / "job.yaml", "output_dir: out\n" + models + "regions:\n  - {name: city, inputs: ['*.tif']}\n");
  write_text(dir / "one.yaml", "output_dir: one\n" + models + "regions:\n  - {name: city, inputs: ['*.tif']}\n");
  ASSERT_EQ(run_terraseg({"run", (dir / "one.yaml").string(), "-q"}).exit_code, 0);
  const pid_t first = spawn_terraseg({"run", (dir / "job.yaml").string(), "-q", "--threads", "1"}, dir / "first.log");
  const pid_t second = spawn_terraseg({"run", (dir / "job.yaml").string(), "-q", "--threads", "1"}, dir / "second.log");
  EXPECT_EQ(wait_exit(first), 0) << read_file(dir / "first.log");
  EXPECT_EQ(wait_exit(second), 0) << read_file(dir / "second.log");
  for (const char* name : {"a", "b", "c"}) {
    const std::string mask = std::string("city/roads/") + name + ".tif";
    EXPECT_EQ(read_file(dir / "out" / mask), read_file(dir / "one" / mask)) << mask;
  }
  EXPECT_TRUE(leftovers(dir / "out").empty());
  EXPECT_TRUE(fs::exists(dir / "out" / "run-summary.json"));
}

TEST(Signals, SigtermEndsPredictCleanlyAndTheNextPredictRemovesAKilledOnesScratch) {
  TempDir dir;
  // Resampled to the card's 0.5 m: the native-grid scratch folder exists while it runs.
  const auto model = make_model(dir / "m.onnx", 1, 0.5);
  const auto input = make_gradient_raster(dir / "big.tif", 1500, 1500);
  const fs::path out = dir / "out" / "mask.tif";
  fs::create_directories(out.parent_path());
  // SIGTERM is what Kubernetes sends on eviction, SIGINT what Ctrl-C sends: 128 + the signal, as a shell says.
  for (const auto& [signal_number, code, name] :
       {std::tuple{SIGTERM, 143, "SIGTERM"}, std::tuple{SIGINT, 130, "SIGINT"}}) {
    const fs::path log = dir / (std::string(name) + ".log");
    const pid_t pid = spawn_terraseg(
        {"predict", "--model", model.string(), input.string(), "-o", out.string(), "--threads", "1"}, log);
    // Wait until its scratch folder exists, then send the signal.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (leftovers(out.parent_path()).empty() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_FALSE(leftovers(out.parent_path()).empty()) << read_file(log);
    kill(pid, signal_number);
    EXPECT_EQ(wait_exit(pid), code) << read_file(log);
    EXPECT_NE(read_file(log).find(std::string("interrupted by ") + name), std::string::npos) << read_file(log);
    EXPECT_EQ(leftovers(out.parent_path()), std::vector<std::string>{});
    EXPECT_FALSE(fs::exists(out));
  }
  // What a kill -9 leaves (a dead process's scratch) goes with the next predict; a live one's stays.
  fs::create_directories(out.string() + ".native-999999-0");
  const std::string live = out.string() + ".native-1-0";  // pid 1 is always alive
  fs::create_directories(live);
  const auto small = make_rgb_raster(dir / "small.tif");
  const auto result = run_terraseg({"predict", "--model", model.string(), small.string(), "-o", out.string(), "-q"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_FALSE(fs::exists(out.string() + ".native-999999-0"));
  EXPECT_TRUE(fs::exists(live));
}

TEST(Signals, SigtermEndsARunCleanlyAndResumeFinishesIt) {
  TempDir dir;
  for (const char* name : {"a", "b", "c", "d"}) make_gradient_raster(dir / (std::string(name) + ".tif"), 384, 384);
  const std::string models = "models:\n  roads: {builder: unet, classes: 2, base_width: 8, depth: 2}\n";
  write_text(dir / "job.yaml", "output_dir: out\ntiling: {tile: 128, overlap: 16}\n" + models +
                                   "regions:\n  - {name: city, inputs: ['*.tif']}\n");
  write_text(dir / "one.yaml", "output_dir: one\ntiling: {tile: 128, overlap: 16}\n" + models +
                                   "regions:\n  - {name: city, inputs: ['*.tif']}\n");
  ASSERT_EQ(run_terraseg({"run", (dir / "one.yaml").string(), "-q"}).exit_code, 0);
  const pid_t pid = spawn_terraseg({"run", (dir / "job.yaml").string(), "--threads", "1"}, dir / "run.log");
  // SIGTERM once the second unit has started.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (events(dir / "out", "unit_start").size() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid, SIGTERM);
  EXPECT_EQ(wait_exit(pid), 143) << read_file(dir / "run.log");
  EXPECT_EQ(leftovers(dir / "out"), std::vector<std::string>{});
  EXPECT_EQ(events(dir / "out", "interrupted").size(), 1U);
  // Records are consistent: every unit with a record has its outputs.
  for (const auto& entry : fs::directory_iterator(dir / "out" / ".terraseg" / "units")) {
    const std::string stem = entry.path().stem().string();
    const std::string input = stem.substr(stem.rfind("__") + 2);
    EXPECT_TRUE(fs::exists(dir / "out" / "city" / "roads" / (input + ".tif"))) << stem;
  }
  ASSERT_EQ(run_terraseg({"run", (dir / "job.yaml").string(), "--resume", "-q"}).exit_code, 0);
  for (const char* name : {"a", "b", "c", "d"}) {
    const std::string mask = std::string("city/roads/") + name + ".tif";
    EXPECT_EQ(read_file(dir / "out" / mask), read_file(dir / "one" / mask)) << mask;
  }
}

TEST(OutputSafety, StreetPointsThatMeetInOneFileNameOrAreNotUtf8AreRefusedBeforeAnyUnitRuns) {
  TempDir dir;
  make_rgb_raster(dir / "in.tif");
  make_rgb_raster(dir / "photo.tif");
  const std::string street =
      "models:\n  roads: {builder: unet, classes: 2}\n  street: {builder: unet, classes: 12}\n"
      "street_view: {points: points.csv, model: street}\n"
      "regions:\n  - {name: city, inputs: [in.tif], tasks: [roads]}\n";
  write_text(dir / "job.yaml", "output_dir: out\n" + street);
  // "a/b" and "a_b" both name the mask street-view/masks/a_b-0.tif.
  write_text(dir / "points.csv", "id,lon,lat,image\na/b,4.7,50.87,photo.tif\na_b,4.7,50.87,photo.tif\n");
  expect_refused(dir, {"run", (dir / "job.yaml").string(), "-q"},
                 "would both write '" + (dir / "out/street-view/masks/a_b-0.tif").string() + "'");
  write_text(dir / "points.csv", "id,lon,lat,image\np\xe9,4.7,50.87,photo.tif\n");
  expect_refused(dir, {"run", (dir / "job.yaml").string(), "-q"}, "street point 'p\xe9' is not valid UTF-8");
}

// `terraseg labels` (training labels from vectors) follows the same rule: its outputs never replace an
// image or the vectors, a bad filter writes nothing; a good run writes <image stem>.png per image.
TEST(OutputSafety, LabelsFromVectorsNeverReplaceAnImageAndRefuseBadFilters) {
  TempDir dir;
  const auto image = make_rgb_raster(dir / "tile.tif");  // UTM 31N, 1 m pixels
  {
    GDALDatasetUniquePtr data(GetGDALDriverManager()->GetDriverByName("GPKG")->Create((dir / "roads.gpkg").c_str(), 0,
                                                                                      0, 0, GDT_Unknown, nullptr));
    OGRSpatialReference utm;
    terraseg::test::gdal_ok(utm.importFromEPSG(32631));
    OGRLayer* layer = data->CreateLayer("lines", &utm, wkbLineString, nullptr);
    OGRFieldDefn highway("highway", OFTString);
    terraseg::test::gdal_ok(layer->CreateField(&highway));
    OGRFeature feature(layer->GetLayerDefn());
    feature.SetField("highway", "residential");
    OGRLineString line;
    line.addPoint(500000, 5699976);
    line.addPoint(500064, 5699976);
    feature.SetGeometry(&line);
    ASSERT_EQ(layer->CreateFeature(&feature), OGRERR_NONE);
  }
  const std::string vectors = (dir / "roads.gpkg").string();
  expect_refused(dir, {"labels", "--vectors", vectors, image.string(), "-o", image.string(), "-q"},
                 "-o would write '" + image.string() + "', which is an image");
  expect_refused(dir, {"labels", "--vectors", vectors, image.string(), "-o", vectors, "-q"}, "which is the vectors");
  expect_refused(
      dir,
      {"labels", "--vectors", vectors, image.string(), "-o", (dir / "l.png").string(), "--class", "1=nope = 2", "-q"},
      "class 1 'nope = 2': OGR cannot filter layer 'lines'");
  expect_refused(dir,
                 {"labels", "--vectors", vectors, image.string(), "-o", (dir / "l.png").string(), "--class",
                  "300=highway IS NOT NULL", "-q"},
                 "--class '300=highway IS NOT NULL': expected ID=WHERE with ID in 0..254");
  const auto result =
      run_terraseg({"labels", "--vectors", vectors, image.string(), "--output-dir", (dir / "masks").string(), "-q"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  GDALDatasetUniquePtr mask(GDALDataset::Open((dir / "masks" / "tile.png").c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  ASSERT_TRUE(mask);
  EXPECT_EQ(mask->GetRasterXSize(), 64);
  std::vector<uint8_t> column(48);
  ASSERT_EQ(mask->GetRasterBand(1)->RasterIO(GF_Read, 32, 0, 1, 48, column.data(), 1, 48, GDT_Byte, 0, 0), CE_None);
  EXPECT_EQ(column[24], 1);    // on the road (7 m wide, centreline 24 m down)
  EXPECT_EQ(column[27], 255);  // its uncertain edge
  EXPECT_EQ(column[10], 0);    // background
}

TEST(OutputSafety, AnObjectStorageOutputFolderIsRefusedWithTheWayOut) {
  TempDir dir;
  make_rgb_raster(dir / "in.tif");
  write_text(dir / "job.yaml",
             "output_dir: /vsis3/bucket/out\n" + kModels + "regions:\n  - name: city\n    inputs: [in.tif]\n");
  expect_refused(dir, {"run", (dir / "job.yaml").string(), "-q"},
                 "key 'output_dir' is '/vsis3/bucket/out': outputs go to a local or shared POSIX folder");
  EXPECT_FALSE(fs::exists("/vsis3")) << "no local folder named like the bucket";
}

// Shards sharing one folder from different containers all have pid 1: temporaries are named with a
// per-process random part too, so two writers never pick one name; input views are made by the shard
// whose unit reads them, under the view's lock.
TEST(Concurrency, ShardsInOneFolderMakeOnlyTheirOwnInputViews) {
  TempDir dir;
  for (const char* name : {"a", "b"}) make_rgb_raster(dir / (std::string(name) + ".tif"));
  write_text(dir / "job.yaml", "output_dir: out\n" + kModels +
                                   "regions:\n  - name: city\n    inputs: [a.tif, b.tif]\n"
                                   "    aoi: {bbox: [500010, 5699960, 500050, 5699990], crs: 'EPSG:32631'}\n");
  ASSERT_EQ(run_terraseg({"run", (dir / "job.yaml").string(), "--shard", "1/2", "-q"}).exit_code, 0);
  std::vector<std::string> views;
  for (const auto& entry : fs::directory_iterator(dir / "out" / ".terraseg" / "aoi")) {
    views.push_back(entry.path().filename().string());
  }
  EXPECT_EQ(views, std::vector<std::string>{"city__roads__b.vrt"});  // unit 1 of 2: b's
  ASSERT_EQ(run_terraseg({"run", (dir / "job.yaml").string(), "--shard", "0/2", "-q"}).exit_code, 0);
  EXPECT_TRUE(fs::exists(dir / "out" / "run-summary.json")) << "the last shard merges";
  EXPECT_EQ(leftovers(dir / "out"), std::vector<std::string>{});
}

TEST(OutputSafety, ExportNeverWritesOverItsModel) {
  TempDir dir;
  const auto model = make_model(dir / "m.onnx");
  fs::create_hard_link(model, dir / "link.onnx");
  for (const fs::path& target : {model, dir / "." / "m.onnx", dir / "link.onnx"}) {
    expect_refused(dir, {"export", model.string(), "--for", "deepness", "-o", target.string(), "-q"},
                   "-o would write '" + target.string() + "', which is the model");
  }
}
