// The HTML report opens in a real headless Chromium and shows the quicklook and the class table.
#include <gdal_priv.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli_runner.hpp"
#include "test_support.hpp"

using terraseg::test::run_terraseg;
using terraseg::test::TempDir;

namespace {

const char* kChicago = "/usr/lib/R/site-library/rgdal/pictures/SP27GTIF.TIF";
const char* kChromium = "/usr/bin/chromium";

std::string chromium(const TempDir& dir, const std::string& args) {
  const std::string command = std::string(kChromium) +
                              " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
                              " --disable-background-networking --disable-component-update --disable-sync"
                              " --user-data-dir=" + (dir / "profile").string() + " " + args + " 2>/dev/null";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  std::string output;
  std::array<char, 4096> buffer{};
  while (pipe && fgets(buffer.data(), buffer.size(), pipe.get()) != nullptr) output += buffer.data();
  return output;
}

}  // namespace

TEST(Report, RendersInHeadlessChromium) {
  if (!std::filesystem::exists(kChicago)) GTEST_SKIP() << "r-cran-rgdal is not installed";
  if (!std::filesystem::exists(kChromium)) GTEST_SKIP() << "chromium is not installed (scripts/setup.sh installs it)";
  TempDir dir;
  std::ofstream(dir / "region.yaml") << "output_dir: out\nmodels:\n  roads: {builder: unet, classes: 2, class_names: "
                                        "[background, road], base_width: 4, depth: 2}\n"
                                        "regions:\n  - name: chicago\n    inputs: ['"
                                     << kChicago << "']\n";
  ASSERT_EQ(run_terraseg({"run", (dir / "region.yaml").string(), "-q"}).exit_code, 0);
  const auto report = dir / "out" / "report.html";
  ASSERT_TRUE(std::filesystem::exists(report));

  const std::string dom = chromium(dir, "--dump-dom file://" + report.string());
  EXPECT_NE(dom.find("terraseg run report"), std::string::npos) << dom.substr(0, 500);
  EXPECT_NE(dom.find("chicago · roads"), std::string::npos);
  EXPECT_NE(dom.find("UNTRAINED"), std::string::npos);
  EXPECT_NE(dom.find("<img src=\"report/chicago-roads-SP27GTIF.png\""), std::string::npos);
  EXPECT_NE(dom.find(">road</td>"), std::string::npos);

  // The screenshot shows the quicklook: a region of the page with real image variation.
  chromium(dir, "--window-size=1000,900 --screenshot=" + (dir / "shot.png").string() + " file://" + report.string());
  GDALAllRegister();
  GDALDatasetUniquePtr shot(GDALDataset::Open((dir / "shot.png").c_str(), GDAL_OF_RASTER));
  ASSERT_TRUE(shot) << "chromium wrote no screenshot";
  std::vector<uint8_t> row(1000);
  ASSERT_EQ(shot->GetRasterBand(1)->RasterIO(GF_Read, 0, 500, 1000, 1, row.data(), 1000, 1, GDT_Byte, 0, 0), CE_None);
  std::array<int, 256> histogram{};
  for (uint8_t value : row) ++histogram[value];
  int distinct = 0;
  for (int count : histogram) distinct += count > 0 ? 1 : 0;
  EXPECT_GT(distinct, 20) << "row 500 of the screenshot should cross the quicklook image";
}
