// Bad input gets one clear message naming the file, a non-zero exit, and no output left behind.
#include <gtest/gtest.h>

#include <fstream>

#include "cli_runner.hpp"
#include "test_support.hpp"

using terraseg::test::run_terraseg;
using terraseg::test::TempDir;

namespace {

size_t count_files(const std::filesystem::path& dir) {
  if (!std::filesystem::exists(dir)) return 0;
  size_t count = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) count += entry.is_regular_file() ? 1 : 0;
  return count;
}

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream stream(path);
  stream << text;
}

}  // namespace

TEST(CliErrors, MissingConfigNamesFile) {
  const auto result = run_terraseg({"run", "/no/such/region.yaml", "-q"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("/no/such/region.yaml"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("not found"), std::string::npos) << result.err;
}

TEST(CliErrors, ConfigWithMissingRasterNamesItAndWritesNothing) {
  TempDir dir;
  write_text(dir / "region.yaml",
             "output_dir: out\nmodels:\n  roads: {builder: unet, classes: 2}\n"
             "regions:\n  - name: r\n    inputs: [/no/such/scene.tif]\n");
  const auto result = run_terraseg({"run", (dir / "region.yaml").string(), "-q"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("/no/such/scene.tif"), std::string::npos) << result.err;
  EXPECT_EQ(count_files(dir / "out"), 0U);
}

TEST(CliErrors, ConfigWithNonRasterInputNamesItAndLeavesNoOutput) {
  TempDir dir;
  write_text(dir / "notes.tif", "this is text, not a raster\n");
  write_text(dir / "region.yaml",
             "output_dir: out\nmodels:\n  roads: {builder: unet, classes: 2, base_width: 4, depth: 1}\n"
             "regions:\n  - name: r\n    inputs: [notes.tif]\n");
  const auto result = run_terraseg({"run", (dir / "region.yaml").string(), "-q"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("notes.tif"), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "out" / "r" / "roads.tif"));
  EXPECT_FALSE(std::filesystem::exists(dir / "out" / "run-summary.json"));
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir / "out")) {
    EXPECT_EQ(entry.path().extension() == ".tif", false) << "partial output left: " << entry.path();
  }
}

TEST(CliErrors, PredictMissingModelNamesIt) {
  TempDir dir;
  const auto result =
      run_terraseg({"predict", "--model", "/no/model.onnx", "/etc/hostname", "-o", (dir / "o.tif").string()});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("/no/model.onnx"), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "o.tif"));
}

TEST(CliErrors, PredictMissingInputNamesIt) {
  TempDir dir;
  const auto result =
      run_terraseg({"predict", "--model", "/no/model.onnx", "/no/input.tif", "-o", (dir / "o.tif").string()});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("/no/input.tif"), std::string::npos) << result.err;
}

TEST(CliErrors, BadShardIsRejected) {
  const auto result =
      run_terraseg({"run", (terraseg::test::source_dir() / "configs/sample.yaml").string(), "--shard", "4/4", "-q"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("--shard"), std::string::npos) << result.err;
}

TEST(CliErrors, UnwritableOutputDirIsNamed) {
  TempDir dir;
  write_text(dir / "blocker", "a file where a directory should be\n");
  write_text(dir / "region.yaml",
             "output_dir: blocker/out\nmodels:\n  roads: {builder: unet, classes: 2, base_width: 4, depth: 1}\n"
             "regions:\n  - name: r\n    inputs: [/usr/lib/R/site-library/rgdal/pictures/SP27GTIF.TIF]\n");
  if (!std::filesystem::exists("/usr/lib/R/site-library/rgdal/pictures/SP27GTIF.TIF"))
    GTEST_SKIP() << "r-cran-rgdal not installed";
  const auto result = run_terraseg({"run", (dir / "region.yaml").string(), "-q"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("blocker/out"), std::string::npos) << result.err;
}

TEST(CliErrors, TileBelowTheModelsStrideNamesTheConfigKey) {
  TempDir dir;
  write_text(dir / "region.yaml",
             "output_dir: out\ntiling: {tile: 32, overlap: 0}\n"
             "models:\n  roads: {builder: unet, classes: 2, base_width: 4, depth: 6}\n"
             "regions:\n  - name: r\n    inputs: [/usr/lib/R/site-library/rgdal/pictures/SP27GTIF.TIF]\n");
  if (!std::filesystem::exists("/usr/lib/R/site-library/rgdal/pictures/SP27GTIF.TIF"))
    GTEST_SKIP() << "r-cran-rgdal not installed";
  const auto result = run_terraseg({"run", (dir / "region.yaml").string(), "-q"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("key 'tiling.tile'"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("minimum of 64"), std::string::npos) << result.err;  // six 2x poolings
  EXPECT_FALSE(std::filesystem::exists(dir / "out/r/roads.tif"));
}

TEST(CliErrors, PredictOverlapOfHalfTheTileNamesTheFlag) {
  TempDir dir;
  const auto model = terraseg::test::source_dir() / "tests/reference/unet_opset11.onnx";
  const std::string input = "/usr/lib/R/site-library/rgdal/pictures/SP27GTIF.TIF";
  if (!std::filesystem::exists(input)) GTEST_SKIP() << "r-cran-rgdal not installed";
  const auto result = run_terraseg({"predict", "--model", model.string(), input, "-o", (dir / "o.tif").string(),
                                    "--tile", "64", "--overlap", "32", "-q"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("--overlap"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("less than half the tile"), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "o.tif"));
}

TEST(CliErrors, PredictMalformedTileNamesTheFlag) {
  TempDir dir;
  const auto model = terraseg::test::source_dir() / "tests/reference/unet_opset11.onnx";
  const auto result = run_terraseg({"predict", "--model", model.string(), "/etc/hostname", "-o",
                                    (dir / "o.tif").string(), "--tile", "512by512", "-q"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("--tile"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("512x1024"), std::string::npos) << result.err;  // the example of the form it takes
}

TEST(CliErrors, PredictBadScalesOrFlipNameTheFlagAndWriteNothing) {
  TempDir dir;
  const auto model = terraseg::test::source_dir() / "tests/reference/unet_opset11.onnx";
  for (const std::vector<std::string>& flags :
       {std::vector<std::string>{"--scales", "1,0.1"}, std::vector<std::string>{"--scales", "one"},
        std::vector<std::string>{"--flip", "yes"}}) {
    std::vector<std::string> args{"predict", "--model", model.string(), "/etc/hostname", "-o", (dir / "o.tif").string(),
                                  "-q"};
    args.insert(args.end(), flags.begin(), flags.end());
    const auto result = run_terraseg(args);
    EXPECT_EQ(result.exit_code, 1) << flags[1];
    EXPECT_NE(result.err.find(flags[0] + " '" + flags[1] + "'"), std::string::npos) << result.err;
    EXPECT_FALSE(std::filesystem::exists(dir / "o.tif"));
  }
}

TEST(CliErrors, UsageErrorsExitOneAndHelpExitsZero) {
  const auto unknown = run_terraseg({"predict", "--no-such-flag"});
  EXPECT_EQ(unknown.exit_code, 1) << unknown.err;
  const auto missing = run_terraseg({"eval", "--model", "m.onnx"});
  EXPECT_EQ(missing.exit_code, 1) << missing.err;
  EXPECT_NE(missing.err.find("--images"), std::string::npos) << missing.err;
  const auto help = run_terraseg({"predict", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--tile"), std::string::npos);
}
