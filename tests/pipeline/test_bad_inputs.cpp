// Bad inputs that reach the raster stage: each gets one clear message, a non-zero exit, nothing partial,
// and earlier outputs stay intact.
#include <gdal_priv.h>
#include <gdal_utils.h>
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <fstream>
#include <map>

#include "cli_runner.hpp"
#include "raster_fixtures.hpp"
#include "terraseg/core/builders.hpp"
#include "terraseg/core/onnx.hpp"
#include "test_support.hpp"

using terraseg::test::make_rgb_raster;
using terraseg::test::read_file;
using terraseg::test::run_terraseg;
using terraseg::test::snapshot;
using terraseg::test::TempDir;

namespace {

constexpr const char* kChicago = "/usr/lib/R/site-library/rgdal/pictures/SP27GTIF.TIF";

/// The smallest two-class U-Net, without a card.
terraseg::Graph tiny_unet(int in_channels = 3) {
  terraseg::UNetSpec spec;
  spec.in_channels = in_channels;
  spec.classes = 2;
  spec.depth = 1;
  spec.base_width = 4;
  return terraseg::build_unet(spec);
}

/// A red-green-blue-NIR model: RGB rasters lack a band it needs.
void write_rgbn_model(const std::filesystem::path& path) {
  terraseg::Graph graph = tiny_unet(4);
  graph.card.present = true;
  graph.card.bands = {"red", "green", "blue", "nir"};
  graph.card.classes = {{0, "background", {0, 0, 0}}, {1, "road", {255, 255, 255}}};
  terraseg::save_onnx(graph, path.string());
}

}  // namespace

TEST(BadInputs, ModelBandsMissingFromRasterAreNamed) {
  TempDir dir;
  write_rgbn_model(dir / "rgbn.onnx");
  const auto raster = make_rgb_raster(dir / "rgb.tif");

  const auto result = run_terraseg(
      {"predict", "--model", (dir / "rgbn.onnx").string(), raster.string(), "-o", (dir / "mask.tif").string(), "-q"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("rgb.tif"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("nir"), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "mask.tif"));
}

TEST(BadInputs, DiskFullFailsCleanlyAndKeepsEarlierOutputs) {
  if (!std::filesystem::exists(kChicago)) GTEST_SKIP() << "r-cran-rgdal is not installed";
  TempDir dir;
  const auto disk = dir / "disk";
  std::filesystem::create_directories(disk);
  // A 192 KiB file system: room for an earlier output, not for this run's mask and temporaries.
  if (mount("tmpfs", disk.c_str(), "tmpfs", 0, "size=192k") != 0) {
    GTEST_SKIP() << "cannot mount a small tmpfs here (needs root): disk-full simulation unavailable";
  }
  struct Unmount {
    std::filesystem::path path;
    explicit Unmount(std::filesystem::path mounted) : path(std::move(mounted)) {}
    Unmount(const Unmount&) = delete;
    Unmount& operator=(const Unmount&) = delete;
    Unmount(Unmount&&) = delete;
    Unmount& operator=(Unmount&&) = delete;
    ~Unmount() { umount(path.c_str()); }
  } unmount{disk};
  std::filesystem::create_directories(disk / "out" / "earlier");
  const std::string earlier(size_t{184} * 1024, 'x');
  std::ofstream(disk / "out" / "earlier" / "mask.tif", std::ios::binary) << earlier;
  std::ofstream(dir / "region.yaml") << "output_dir: " << (disk / "out").string() << "\n"
                                     << "models:\n  roads: {builder: unet, classes: 2, base_width: 4, depth: 2}\n"
                                     << "regions:\n  - name: chicago\n    inputs: ['" << kChicago << "']\n";

  const auto result = run_terraseg({"run", (dir / "region.yaml").string(), "-q"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find(disk.string()), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(disk / "out" / "chicago" / "roads.tif"));
  EXPECT_FALSE(std::filesystem::exists(disk / "out" / "run-summary.json"));
  for (const auto& entry : std::filesystem::recursive_directory_iterator(disk / "out")) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos) << "temporary left: " << entry.path();
  }
  EXPECT_EQ(read_file(disk / "out" / "earlier" / "mask.tif"), earlier);
}

namespace {

/// A predict model for the path rows: a tiny U-Net with a card.
std::filesystem::path make_model(const std::filesystem::path& path) {
  terraseg::Graph graph = tiny_unet();
  graph.card.present = true;
  graph.card.bands = {"red", "green", "blue"};
  graph.card.classes = {{0, "background", {0, 0, 0}}, {1, "road", {255, 0, 0}}};
  terraseg::save_onnx(graph, path.string());
  return path;
}

void write_text(const std::filesystem::path& path, const std::string& text) { std::ofstream(path) << text; }

std::string region_config(const std::string& regions) {
  return "output_dir: out\nmodels:\n  roads: {builder: unet, classes: 2, base_width: 4, depth: 1}\nregions:\n" +
         regions;
}

}  // namespace

TEST(BadInputs, TwoRegionsOfOneNameAreRefusedBeforeAnythingIsWritten) {
  if (!std::filesystem::exists(kChicago)) GTEST_SKIP() << "r-cran-rgdal is not installed";
  TempDir dir;
  write_text(dir / "region.yaml", region_config(std::string("  - name: city\n    inputs: ['") + kChicago +
                                                "']\n  - name: city\n    inputs: ['" + kChicago + "']\n"));
  const auto before = snapshot(dir.path());
  const auto result = run_terraseg({"run", (dir / "region.yaml").string(), "-q"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("terraseg: error: "), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("region.yaml:7: key 'regions[1].name'"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("'regions[0].name'"), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "out"));
  EXPECT_EQ(snapshot(dir.path()), before);
}

TEST(BadInputs, AKeyGivenTwiceOrAListAsAKeyIsNamedWithItsLine) {
  TempDir dir;
  write_text(dir / "twice.yaml", "output_dir: out\noutput_dir: elsewhere\n");
  auto result = run_terraseg({"run", (dir / "twice.yaml").string(), "-q"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("twice.yaml:2: key 'output_dir' is given twice (first at line 1)"), std::string::npos)
      << result.err;
  write_text(dir / "listkey.yaml", "output_dir: out\ntiling:\n  [a]: 1\n");
  result = run_terraseg({"run", (dir / "listkey.yaml").string(), "-q"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("listkey.yaml:3: a key in 'tiling' is a list or a mapping"), std::string::npos)
      << result.err;
  EXPECT_EQ(result.err.find("internal error"), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "out"));
  EXPECT_FALSE(std::filesystem::exists(dir / "elsewhere"));
}

TEST(BadInputs, HugeTileAndThreadCountsAreRefusedUpFront) {
  if (!std::filesystem::exists(kChicago)) GTEST_SKIP() << "r-cran-rgdal is not installed";
  TempDir dir;
  write_text(dir / "tile.yaml", std::string("output_dir: out\ntiling: {tile: 1000000}\n") +
                                    region_config(std::string("  - name: c\n    inputs: ['") + kChicago + "']\n")
                                        .substr(std::string("output_dir: out\n").size()));
  auto result = run_terraseg({"run", (dir / "tile.yaml").string(), "-q"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("key 'tiling.tile' must be N or [H, W] with sides from 32 to 16384"), std::string::npos)
      << result.err;
  write_text(dir / "threads.yaml", std::string("output_dir: out\nthreads: 100000\n") +
                                       region_config(std::string("  - name: c\n    inputs: ['") + kChicago + "']\n")
                                           .substr(std::string("output_dir: out\n").size()));
  result = run_terraseg({"run", (dir / "threads.yaml").string(), "-q"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("key 'threads' is 100000, more than this machine can use"), std::string::npos)
      << result.err;
  const auto model = make_model(dir / "m.onnx");
  result = run_terraseg(
      {"predict", "--model", model.string(), kChicago, "-o", (dir / "o.tif").string(), "--threads", "100000", "-q"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("--threads 100000 is more than this machine can use"), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "out"));
  EXPECT_FALSE(std::filesystem::exists(dir / "o.tif"));
}

TEST(BadInputs, ATileLargerThanTheRasterIsCappedAtIt) {
  TempDir dir;
  const auto model = make_model(dir / "m.onnx");
  const auto raster = make_rgb_raster(dir / "small.tif");
  const auto result = run_terraseg(
      {"predict", "--model", model.string(), raster.string(), "-o", (dir / "o.tif").string(), "--tile", "8192", "-q"});
  ASSERT_EQ(result.exit_code, 0) << result.err;  // 64 x 48 run whole, not in an 8192² window
  GDALDatasetUniquePtr out(GDALDataset::Open((dir / "o.tif").c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->GetRasterXSize(), 64);
  EXPECT_EQ(out->GetRasterYSize(), 48);
}

TEST(BadInputs, PredictNeverWritesOverItsInputADirectoryOrThroughAFile) {
  TempDir dir;
  const auto model = make_model(dir / "m.onnx");
  const auto raster = make_rgb_raster(dir / "in.tif");
  std::filesystem::create_directories(dir / "existing");
  write_text(dir / "blocker", "a file where a folder should be\n");
  const auto before = snapshot(dir.path());
  const struct {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{"-o", raster.string()}, "-o " + raster.string() + ": is one of the inputs"},
      {{"-o", (dir / "." / "in.tif").string()}, "is one of the inputs"},
      {{"-o", (dir / "existing").string()}, "-o " + (dir / "existing").string() + ": is a directory"},
      {{"-o", (dir / "blocker/sub/x.tif").string()}, "-o: cannot create the folder '" + (dir / "blocker/sub").string()},
      {{"--output-dir", (dir / "blocker").string()},
       "--output-dir " + (dir / "blocker").string() + ": exists and is not a directory"},
      {{"-o", (dir / "o.tif").string(), "--logits", raster.string()},
       "--logits " + raster.string() + ": is one of the inputs"},
      {{"-o", (dir / "notyet").string() + "/"}, "-o " + (dir / "notyet").string() + "/: names a folder"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args{"predict", "--model", model.string(), raster.string(), "-q"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const auto result = run_terraseg(args);
    EXPECT_EQ(result.exit_code, 1) << c.message;
    EXPECT_NE(result.err.find("terraseg: error: "), std::string::npos) << result.err;
    EXPECT_NE(result.err.find(c.message), std::string::npos) << result.err;
    EXPECT_EQ(result.err.find("internal error"), std::string::npos) << result.err;
    EXPECT_EQ(snapshot(dir.path()), before) << c.message << ": a refused command changed a file";
  }
  // A refused command makes no folder either.
  const auto refused = run_terraseg({"predict", "--model", (dir / "no-such-model.onnx").string(), raster.string(),
                                     "--output-dir", (dir / "never").string(), "-q"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_FALSE(std::filesystem::exists(dir / "never"));
  // --output-dir to a folder that does not exist yet makes it and writes <stem>.tif inside.
  const auto made = run_terraseg(
      {"predict", "--model", model.string(), raster.string(), "--output-dir", (dir / "newdir").string(), "-q"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  EXPECT_TRUE(std::filesystem::is_regular_file(dir / "newdir" / "in.tif"));
  // --logits with one input: a path ending in '/' is a folder, made if needed, with <stem>-scores.tif.
  const auto scores = run_terraseg({"predict", "--model", model.string(), raster.string(), "-o",
                                    (dir / "mask.tif").string(), "--logits", (dir / "scores").string() + "/", "-q"});
  ASSERT_EQ(scores.exit_code, 0) << scores.err;
  EXPECT_TRUE(std::filesystem::is_regular_file(dir / "scores" / "in-scores.tif"));
}

TEST(BadInputs, AWindowTooLargeForMemoryIsRefusedBeforeAllocating) {
  if (!std::filesystem::exists(kChicago)) GTEST_SKIP() << "r-cran-rgdal is not installed";
  TempDir dir;
  // A 20000 x 20000 view of the Chicago scan: nothing is read before the refusal.
  GDALAllRegister();
  {
    GDALDatasetUniquePtr src(GDALDataset::Open(kChicago, GDAL_OF_RASTER | GDAL_OF_READONLY));
    ASSERT_TRUE(src);
    CPLStringList options;
    options.AddString("-of");
    options.AddString("VRT");
    options.AddString("-outsize");
    options.AddString("20000");
    options.AddString("20000");
    GDALTranslateOptions* translate = GDALTranslateOptionsNew(options.List(), nullptr);
    GDALDatasetH big = GDALTranslate((dir / "big.vrt").c_str(), GDALDataset::ToHandle(src.get()), translate, nullptr);
    GDALTranslateOptionsFree(translate);
    ASSERT_NE(big, nullptr);
    GDALClose(big);
  }
  const auto model = terraseg::test::source_dir() / "samples/models/street-camvid.onnx";
  setenv("TERRASEG_MAX_MEMORY_GB", "4", 1);  // the same answer on every machine
  const auto result = run_terraseg({"predict", "--model", model.string(), (dir / "big.vrt").string(), "-o",
                                    (dir / "o.tif").string(), "--tile", "8192", "--overlap", "0", "-q"});
  unsetenv("TERRASEG_MAX_MEMORY_GB");
  EXPECT_EQ(result.exit_code, 1);
  // The street model's card runs each window at 1x and 1.5x: the larger pass is what must fit.
  EXPECT_NE(result.err.find("--tile: a 8192x8192 window (at scales 1, 1.5: 12288x12288 at the largest) needs about"),
            std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("give a smaller tile"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("--scales 1"), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "o.tif"));
}

TEST(BadInputs, AFileWhereARegionFolderShouldBeIsNamedNotAnInternalError) {
  if (!std::filesystem::exists(kChicago)) GTEST_SKIP() << "r-cran-rgdal is not installed";
  TempDir dir;
  write_text(dir / "region.yaml", region_config(std::string("  - name: city\n    inputs: ['") + kChicago + "']\n"));
  std::filesystem::create_directories(dir / "out");
  write_text(dir / "out/city", "a file where the region's folder should be\n");
  const auto result = run_terraseg({"run", (dir / "region.yaml").string(), "-q"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("terraseg: error: "), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("out/city"), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find("internal error"), std::string::npos) << result.err;
  EXPECT_EQ(read_file(dir / "out/city"), "a file where the region's folder should be\n");
}

TEST(BadInputs, CardlessModelsTakeTheirNormalisationFromFlagsAndBadNumbersAreNamed) {
  TempDir dir;
  terraseg::save_onnx(tiny_unet(), (dir / "bare.onnx").string());
  const auto raster = make_rgb_raster(dir / "in.tif");
  const auto with_flags = run_terraseg({"predict", "--model", (dir / "bare.onnx").string(), raster.string(), "-o",
                                        (dir / "a.tif").string(), "--scale", "0.00392156862745098", "--mean",
                                        "0.485,0.456,0.406", "--std", "0.229,0.224,0.225", "-q"});
  ASSERT_EQ(with_flags.exit_code, 0) << with_flags.err;
  EXPECT_TRUE(std::filesystem::exists(dir / "a.tif"));
  const auto bad = run_terraseg({"predict", "--model", (dir / "bare.onnx").string(), raster.string(), "-o",
                                 (dir / "b.tif").string(), "--mean", "0.5,x,0.5", "-q"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("--mean '0.5,x,0.5'"), std::string::npos) << bad.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "b.tif"));
  const auto short_std = run_terraseg({"predict", "--model", (dir / "bare.onnx").string(), raster.string(), "-o",
                                       (dir / "c.tif").string(), "--std", "0.2,0.2", "-q"});
  EXPECT_EQ(short_std.exit_code, 1);
  EXPECT_NE(short_std.err.find("std values for 3 input channel(s)"), std::string::npos) << short_std.err;
}

TEST(BadInputs, AUnitsFailureNamesItsRegionTaskAndInputAndTheLogNamesTheUnit) {
  TempDir dir;
  write_rgbn_model(dir / "rgbn.onnx");
  make_rgb_raster(dir / "rgb.tif");
  write_text(dir / "region.yaml",
             "output_dir: out\nmodels:\n  roads: {path: rgbn.onnx}\nregions:\n  - name: city\n    inputs: [rgb.tif]\n");
  const auto result = run_terraseg({"run", (dir / "region.yaml").string(), "-q"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("region 'city', task 'roads', input '"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("nir"), std::string::npos) << result.err;
  const std::string log = read_file(dir / "out/terraseg-log.jsonl");
  const size_t error = log.find(R"("event":"error")");
  ASSERT_NE(error, std::string::npos) << log;
  EXPECT_NE(log.find("\"unit\":\"city__roads__rgb\"", error), std::string::npos) << log;
}
