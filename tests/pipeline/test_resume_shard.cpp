// Crash safety and scale-out: kill -9 at any moment then --resume gives byte-identical outputs;
// shards plus a final --resume equal a single run.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli_runner.hpp"
#include "test_support.hpp"

using terraseg::test::read_file;
using terraseg::test::run_terraseg;
using terraseg::test::TempDir;
using terraseg::test::wait_exit;

namespace {

constexpr const char* kChicago = "/usr/lib/R/site-library/rgdal/pictures/SP27GTIF.TIF";

/// A region of four small rasters (copies of the Chicago sample) and two tasks: eight units.
std::filesystem::path make_job(const TempDir& dir, const std::string& out) {
  std::filesystem::create_directories(dir / "in");
  for (const char* name : {"a", "b", "c", "d"}) {
    std::filesystem::copy_file(kChicago, dir / "in" / (std::string(name) + ".tif"),
                               std::filesystem::copy_options::overwrite_existing);
  }
  auto config = dir / (out + ".yaml");
  std::ofstream(config) << "output_dir: " << out << "\n"
                        << "tiling: {tile: 128, overlap: 16}\n"
                        << "models:\n"
                        << "  roads: {builder: unet, classes: 2, base_width: 8, depth: 2, seed: 3}\n"
                        << "  landcover: {builder: unet, classes: 5, base_width: 8, depth: 2, seed: 4}\n"
                        << "regions:\n  - name: city\n    inputs: ['in/*.tif']\n";
  return config;
}

/// Every output raster under `dir` (relative path -> bytes), excluding bookkeeping.
std::map<std::string, std::string> outputs(const std::filesystem::path& dir) {
  std::map<std::string, std::string> files;
  if (!std::filesystem::exists(dir / "city")) return files;  // killed before the first output
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir / "city")) {
    if (entry.is_regular_file()) files[std::filesystem::relative(entry.path(), dir).string()] = read_file(entry.path());
  }
  return files;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// A STAC Item without what differs between two runs into two folders: `created`, `datetime` where it
/// is the run's start because the input records no acquisition time (terraseg:datetime_source says
/// so), `collection` (the output folder's name) and the `self` link (its absolute URL).
std::string without_run_time(const std::string& item_text) {
  nlohmann::json item = nlohmann::json::parse(item_text);
  item.erase("collection");
  nlohmann::json links = nlohmann::json::array();  // the self link is the absolute URL of the folder
  for (const auto& link : item["links"]) {
    if (link.value("rel", "") != "self") links.push_back(link);
  }
  item["links"] = links;
  nlohmann::json& properties = item["properties"];
  properties.erase("created");
  if (properties.value("terraseg:datetime_source", "").find("run's start") != std::string::npos) {
    properties.erase("datetime");
  }
  return item.dump();
}

/// Names of files that are missing, extra or differ — never the bytes (gtest's diff of multi-MB strings
/// exhausts memory). GeoPackages store their write time (gpkg_contents.last_change), so they are
/// compared by presence only; STAC Items record when the run started, so they are compared without it.
std::vector<std::string> differences(const std::map<std::string, std::string>& actual,
                                     const std::map<std::string, std::string>& expected) {
  std::vector<std::string> names;
  for (const auto& [name, bytes] : expected) {
    const auto found = actual.find(name);
    if (found == actual.end()) {
      names.push_back("missing " + name);
    } else if (ends_with(name, ".stac.json")) {
      if (without_run_time(found->second) != without_run_time(bytes)) names.push_back("differs " + name);
    } else if (!ends_with(name, ".gpkg") && found->second != bytes) {
      names.push_back("differs " + name);
    }
  }
  for (const auto& entry : actual) {
    if (!expected.contains(entry.first)) names.push_back("extra " + entry.first);
  }
  return names;
}

pid_t spawn_run(const std::filesystem::path& config, bool resume) {
  std::vector<std::string> args{"run", config.string(), "-q", "--threads", "1"};
  if (resume) args.emplace_back("--resume");
  return terraseg::test::spawn_terraseg(args);
}

}  // namespace

TEST(CrashSafety, KillNineThenResumeIsByteIdentical) {
  if (!std::filesystem::exists(kChicago)) GTEST_SKIP() << "r-cran-rgdal is not installed";
  TempDir dir;
  ASSERT_EQ(wait_exit(spawn_run(make_job(dir, "reference"), false)), 0);
  const auto expected = outputs(dir / "reference");
  ASSERT_EQ(expected.count("city/roads/a.tif"), 1U);
  ASSERT_EQ(expected.count("city/landcover/d.tif"), 1U);

  const auto config = make_job(dir, "killed");
  // Kill at several moments of increasing depth into the run, resuming after each.
  for (int delay_ms : {150, 400, 700, 1000}) {
    const pid_t pid = spawn_run(config, true);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    kill(pid, SIGKILL);
    wait_exit(pid);
    for (const auto& [name, bytes] : outputs(dir / "killed")) {
      if (name.find(".tmp-") != std::string::npos) continue;  // temporaries are not outputs
      if (expected.contains(name) && name.find(".gpkg") == std::string::npos) {
        const bool same = ends_with(name, ".stac.json") ? without_run_time(bytes) == without_run_time(expected.at(name))
                                                        : bytes == expected.at(name);
        EXPECT_TRUE(same) << "partial file under output name " << name;
      }
    }
  }
  ASSERT_EQ(wait_exit(spawn_run(config, true)), 0);
  EXPECT_EQ(differences(outputs(dir / "killed"), expected), std::vector<std::string>{});
  EXPECT_TRUE(std::filesystem::exists(dir / "killed" / "run-summary.json"));
}

TEST(ScaleOut, ShardsThenResumeEqualSingleRun) {
  if (!std::filesystem::exists(kChicago)) GTEST_SKIP() << "r-cran-rgdal is not installed";
  TempDir dir;
  ASSERT_EQ(run_terraseg({"run", make_job(dir, "single").string(), "-q", "--threads", "1"}).exit_code, 0);
  const auto config = make_job(dir, "sharded");
  for (const char* shard : {"0/3", "1/3", "2/3"}) {
    ASSERT_EQ(run_terraseg({"run", config.string(), "--shard", shard, "-q", "--threads", "1"}).exit_code, 0);
  }
  EXPECT_TRUE(std::filesystem::exists(dir / "sharded" / "run-summary.json")) << "the last shard merges";
  const auto merged = run_terraseg({"run", config.string(), "--resume", "-q"});
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  EXPECT_EQ(differences(outputs(dir / "sharded"), outputs(dir / "single")), std::vector<std::string>{});
  // The merging run named no thread count: the summary records the count it resolved, not 0.
  const auto summary = nlohmann::json::parse(read_file(dir / "sharded" / "run-summary.json"));
  EXPECT_GT(summary.at("threads").get<int>(), 0);
}

TEST(ScaleOut, KubernetesIndexFromEnvironment) {
  if (!std::filesystem::exists(kChicago)) GTEST_SKIP() << "r-cran-rgdal is not installed";
  TempDir dir;
  const auto config = make_job(dir, "k8s");
  setenv("JOB_COMPLETION_INDEX", "1", 1);
  setenv("TERRASEG_SHARD_COUNT", "4", 1);
  const auto result = run_terraseg({"run", config.string(), "-q", "--threads", "1"});
  unsetenv("JOB_COMPLETION_INDEX");
  unsetenv("TERRASEG_SHARD_COUNT");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  // Units are ordered task-major (landcover a..d, then roads a..d): shard 1 of 4 gets landcover/b, roads/b.
  const auto files = outputs(dir / "k8s");
  EXPECT_EQ(files.count("city/roads/b.tif"), 1U);
  EXPECT_EQ(files.count("city/landcover/b.tif"), 1U);
  EXPECT_EQ(files.count("city/roads/a.tif"), 0U);
  EXPECT_FALSE(std::filesystem::exists(dir / "k8s" / "run-summary.json"));
}

TEST(CrashSafety, ResumeRemovesWhatAKilledRunLeftBehind) {
  if (!std::filesystem::exists(kChicago)) GTEST_SKIP() << "r-cran-rgdal is not installed";
  TempDir dir;
  const auto config = make_job(dir, "left");
  // What a kill -9 leaves: a temporary beside an output, and a native-pixel-size scratch directory.
  std::filesystem::create_directories(dir / "left/city/roads/a.tif.native-999999-0");
  std::ofstream(dir / "left/city/roads/a.tif.native-999999-0/classes.tif") << "partial";
  std::ofstream(dir / "left/city/roads/a.tmp-999999-0.tif") << "partial";
  ASSERT_EQ(run_terraseg({"run", config.string(), "--resume", "-q", "--threads", "1"}).exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(dir / "left/city/roads/a.tif.native-999999-0"));
  EXPECT_FALSE(std::filesystem::exists(dir / "left/city/roads/a.tmp-999999-0.tif"));
  EXPECT_TRUE(std::filesystem::exists(dir / "left/city/roads/a.tif"));
}

// What kill -9 leaves in every stage (units, indicators, road graph, street view, summary, report) is
// found and removed by the next --resume; the finished outputs stay as they were.
TEST(CrashSafety, ResumeRemovesEveryStagesLeftovers) {
  const char* leuven = "/usr/share/doc/opencv-doc/examples/data/leuvenA.jpg";
  if (!std::filesystem::exists(kChicago) || !std::filesystem::exists(leuven)) {
    GTEST_SKIP() << "r-cran-rgdal or opencv-doc is not installed";
  }
  TempDir dir;
  std::ofstream(dir / "points.csv") << "id,lon,lat,image\np1,4.6995,50.8707," << leuven << "\n";
  const auto config = dir / "job.yaml";
  std::ofstream(config) << "output_dir: out\n"
                        << "models:\n  roads: {builder: unet, classes: 2, base_width: 4, depth: 2, seed: 3}\n"
                        << "  street:\n    builder: unet\n    classes: 12\n    base_width: 4\n    depth: 2\n"
                        << "    class_names: [Sky, Building, Pole, Road, Pavement, Tree, SignSymbol, Fence, Car,"
                        << " Pedestrian, Bicyclist, Unlabelled]\n"
                        << "street_view: {points: points.csv, model: street}\n"
                        << "regions:\n  - name: city\n    inputs: ['" << kChicago << "']\n    tasks: [roads]\n";
  const auto first = run_terraseg({"run", config.string(), "-q", "--threads", "1"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const auto out = dir / "out";
  ASSERT_TRUE(std::filesystem::exists(out / "city/indicators.tif"));
  ASSERT_TRUE(std::filesystem::exists(out / "street-view/masks/p1-0.tif"));
  const std::vector<std::filesystem::path> leftovers{out / "city/roads.tmp-999999-0.tif",
                                                     out / "city/roads.tif.native-999999-1",
                                                     out / "city/indicators.tmp-999999-2.tif",
                                                     out / "city/roads-centrelines.tmp-999999-3.gpkg",
                                                     out / "street-view/masks/p1-0.tmp-999999-4.tif",
                                                     out / "street-view/walkability.tmp-999999-5.gpkg",
                                                     out / "street-view/walkability-grid.tmp-999999-6.tif",
                                                     out / "run-summary.json.tmp-999999",
                                                     out / "report.html.tmp"};
  for (const auto& path : leftovers) std::ofstream(path) << "partial";
  const auto resumed = run_terraseg({"run", config.string(), "--resume", "-q", "--threads", "1"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  for (const auto& path : leftovers) EXPECT_FALSE(std::filesystem::exists(path)) << "left behind: " << path;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(out)) {
    const std::string name = entry.path().filename().string();
    EXPECT_EQ(name.find(".tmp"), std::string::npos) << "temporary left: " << entry.path();
    EXPECT_EQ(name.find(".native-"), std::string::npos) << "scratch left: " << entry.path();
  }
  EXPECT_TRUE(std::filesystem::exists(out / "city/roads.tif"));
  EXPECT_TRUE(std::filesystem::exists(out / "street-view/walkability.csv"));
  EXPECT_TRUE(std::filesystem::exists(out / "report.html"));
}
