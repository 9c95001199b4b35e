// Inputs read as what they are (issue 35), through the CLI: paletted rasters as their colours, NaN and
// infinite values as nodata, model cards range-checked, absurd pixel sizes and broken models refused.
// Each refusal: exit 1, one message naming the file and key and what to do, no file changed.
#include <gdal_alg.h>
#include <gdal_priv.h>
#include <gtest/gtest.h>
#include <ogr_spatialref.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>

#include "cli_runner.hpp"
#include "gdal_ok.hpp"
#include "raster_fixtures.hpp"
#include "terraseg/core/builders.hpp"
#include "terraseg/core/onnx.hpp"
#include "test_support.hpp"

using terraseg::test::run_terraseg;
using terraseg::test::snapshot;
using terraseg::test::TempDir;

namespace {

namespace fs = std::filesystem;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

terraseg::ModelCard rgb_card() {
  terraseg::ModelCard card;
  card.present = true;
  card.name = "red over green";
  card.bands = {"red", "green", "blue"};
  card.scale = 1.0 / 255.0;
  card.classes = {{0, "ground", {0, 0, 0}}, {1, "road", {255, 0, 0}}};
  return card;
}

/// A one-layer model with a known answer: a 1x1 convolution scoring class 0 by green, class 1 by red.
fs::path write_red_over_green(const fs::path& path, terraseg::ModelCard card = rgb_card()) {
  terraseg::Graph graph;
  graph.name = "red_over_green";
  graph.input = "image";
  graph.input_dims = {1, 3, -1, -1};
  graph.outputs = {"scores"};
  graph.nodes = {terraseg::Node{"conv", "Conv", {"image", "w", "b"}, {"scores"}, {}}};
  graph.weights["w"] = terraseg::Tensor({2, 3, 1, 1}, {0.0F, 1.0F, 0.0F, 1.0F, 0.0F, 0.0F});
  graph.weights["b"] = terraseg::Tensor({2}, {0.0F, 0.0F});
  graph.card = std::move(card);
  terraseg::save_onnx(graph, path.string());
  return path;
}

GDALDatasetUniquePtr create(const fs::path& path, int w, int h, int bands, GDALDataType type, double pixel = 1.0) {
  GDALAllRegister();
  GDALDatasetUniquePtr ds(
      GetGDALDriverManager()->GetDriverByName("GTiff")->Create(path.c_str(), w, h, bands, type, nullptr));
  double gt[6] = {500000, pixel, 0, 5700000, 0, -pixel};
  terraseg::test::gdal_ok(ds->SetGeoTransform(gt));
  OGRSpatialReference utm;
  terraseg::test::gdal_ok(utm.importFromEPSG(32631));
  terraseg::test::gdal_ok(ds->SetSpatialRef(&utm));
  return ds;
}

/// Red-over-green blobs (about 40 % of the pixels) on a greenish ground, with shading.
double colourful(int band, int x, int y) {
  const bool blob = ((x / 12) + (y / 9)) % 5 < 2;
  const double shade = (x * 7 + y * 3) % 40;
  if (band == 1) return blob ? 180.0 + shade : 60.0 + shade;
  if (band == 2) return blob ? 70.0 + shade : 150.0 + shade;
  return 90.0 + shade;
}

void fill(GDALDataset& ds, const std::function<double(int, int, int)>& value) {
  const int w = ds.GetRasterXSize(), h = ds.GetRasterYSize();
  std::vector<double> plane(static_cast<size_t>(w) * static_cast<size_t>(h));
  for (int b = 1; b <= ds.GetRasterCount(); ++b) {
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) plane[static_cast<size_t>(y) * w + x] = value(b, x, y);
    }
    ASSERT_EQ(ds.GetRasterBand(b)->RasterIO(GF_Write, 0, 0, w, h, plane.data(), w, h, GDT_Float64, 0, 0), CE_None);
  }
}

std::vector<float> read_mask(const fs::path& path) {
  GDALDatasetUniquePtr ds(GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  EXPECT_TRUE(ds) << path;
  if (!ds) return {};
  const int w = ds->GetRasterXSize(), h = ds->GetRasterYSize();
  std::vector<float> values(static_cast<size_t>(w) * static_cast<size_t>(h));
  EXPECT_EQ(ds->GetRasterBand(1)->RasterIO(GF_Read, 0, 0, w, h, values.data(), w, h, GDT_Float32, 0, 0), CE_None);
  return values;
}

std::vector<std::string> predict_args(const fs::path& model, const fs::path& input, const fs::path& output) {
  return {"predict", "--model", model.string(), input.string(), "-o", output.string(), "-q"};
}

}  // namespace

TEST(InputReading, APalettedRasterIsPredictedAsItsColoursLikeItsRgbOriginal) {
  TempDir dir;
  const auto model = write_red_over_green(dir / "rg.onnx");
  {
    GDALDatasetUniquePtr rgb = create(dir / "rgb.tif", 96, 72, 3, GDT_Byte);
    fill(*rgb, colourful);
    for (int b = 1; b <= 3; ++b)
      terraseg::test::gdal_ok(
          rgb->GetRasterBand(b)->SetColorInterpretation(static_cast<GDALColorInterp>(GCI_RedBand + b - 1)));
    // What rgb2pct.py does: a median-cut colour table and dithering into one band of indices.
    GDALColorTable table;
    GDALRasterBandH r = rgb->GetRasterBand(1), g = rgb->GetRasterBand(2), b = rgb->GetRasterBand(3);
    ASSERT_EQ(GDALComputeMedianCutPCT(r, g, b, nullptr, 64, &table, nullptr, nullptr), CE_None);
    GDALDatasetUniquePtr pct = create(dir / "pct.tif", 96, 72, 1, GDT_Byte);
    terraseg::test::gdal_ok(pct->GetRasterBand(1)->SetColorTable(&table));
    terraseg::test::gdal_ok(pct->GetRasterBand(1)->SetColorInterpretation(GCI_PaletteIndex));
    ASSERT_EQ(GDALDitherRGB2PCT(r, g, b, pct->GetRasterBand(1), &table, nullptr, nullptr), CE_None);
  }
  const auto rgb = run_terraseg(predict_args(model, dir / "rgb.tif", dir / "rgb-mask.tif"));
  ASSERT_EQ(rgb.exit_code, 0) << rgb.err;
  const auto before = snapshot(dir.path());
  const auto pct = run_terraseg(predict_args(model, dir / "pct.tif", dir / "pct-mask.tif"));
  ASSERT_EQ(pct.exit_code, 0) << pct.err;
  EXPECT_TRUE(contains(pct.err,
                       "pct.tif' is paletted (band 1 holds indices into a colour table of 256 entries); it is "
                       "read as the red, green and blue colours the indices stand for"))
      << pct.err;
  const std::vector<float> reference = read_mask(dir / "rgb-mask.tif");
  const std::vector<float> paletted = read_mask(dir / "pct-mask.tif");
  ASSERT_EQ(reference.size(), paletted.size());
  size_t same = 0, roads = 0;
  for (size_t i = 0; i < reference.size(); ++i) {
    same += reference[i] == paletted[i] ? 1 : 0;
    roads += reference[i] == 1.0F ? 1 : 0;
  }
  EXPECT_GT(static_cast<double>(same) / reference.size(), 0.95);
  // Read as grey, the indices give red = green, class 0 everywhere: they would miss all of these.
  EXPECT_GT(static_cast<double>(roads) / reference.size(), 0.3);
  // Only the new mask (and its QGIS style) was written; the input is untouched.
  auto after = snapshot(dir.path());
  after.erase((dir / "pct-mask.tif").string());
  after.erase((dir / "pct-mask.qml").string());
  after.erase((dir / "pct-mask.tif.aux.xml").string());
  EXPECT_EQ(after, before);
}

TEST(InputReading, NaNAndInfiniteRowsAreNodataAndTheRestIsPredicted) {
  for (const GDALDataType type : {GDT_Float32, GDT_Float64}) {
    TempDir dir;
    const auto model = write_red_over_green(dir / "rg.onnx");
    constexpr int kNan = 5, kPlus = 20, kMinus = 33;
    {
      GDALDatasetUniquePtr ds = create(dir / "float.tif", 64, 48, 3, type);
      fill(*ds, [](int b, int x, int y) {
        if (y == kNan) return std::numeric_limits<double>::quiet_NaN();
        if (y == kPlus) return std::numeric_limits<double>::infinity();
        if (y == kMinus) return b == 2 ? -std::numeric_limits<double>::infinity() : 1000.0;  // one band suffices
        return 4.0 * colourful(b, x, y);  // 0..1000: stretched onto the model's 0..255
      });
    }
    const auto before = snapshot(dir.path());
    const auto result = run_terraseg(predict_args(model, dir / "float.tif", dir / "mask.tif"));
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_TRUE(
        contains(result.err, "values of the model's bands are NaN or infinite; those pixels are read as nodata"))
        << result.err;
    EXPECT_TRUE(contains(result.err, "NaN and infinite values left out) stretched linearly")) << result.err;
    const std::vector<float> mask = read_mask(dir / "mask.tif");
    ASSERT_EQ(mask.size(), 64U * 48U);
    for (int y = 0; y < 48; ++y) {
      for (int x = 0; x < 64; ++x) {
        const float v = mask[static_cast<size_t>(y) * 64 + static_cast<size_t>(x)];
        if (y == kNan || y == kPlus || y == kMinus) {
          ASSERT_EQ(v, 255.0F) << GDALGetDataTypeName(type) << " " << x << "," << y;
        } else {
          ASSERT_EQ(v, colourful(1, x, y) > colourful(2, x, y) ? 1.0F : 0.0F)
              << GDALGetDataTypeName(type) << " " << x << "," << y;
        }
      }
    }
    auto after = snapshot(dir.path());
    after.erase((dir / "mask.tif").string());
    after.erase((dir / "mask.qml").string());
    after.erase((dir / "mask.tif.aux.xml").string());
    EXPECT_EQ(after, before);
  }
}

TEST(InputReading, AModelCardOutOfRangeIsRefusedNamingTheFileAndTheKey) {
  const struct {
    std::function<void(terraseg::ModelCard&)> change;
    std::string message;
  } cases[] = {
      {[](auto& c) { c.pixel_size_m = 0.0; }, "key 'pixel_size_m' is 0: "},
      {[](auto& c) { c.pixel_size_m = -1.0; }, "key 'pixel_size_m' is -1: "},
      {[](auto& c) { c.pixel_size_m = 1e308; }, "key 'pixel_size_m' is 1e+308: "},
      {[](auto& c) { c.scale = 0.0; }, "key 'scale' is 0: "},
      {[](auto& c) {
         c.mean = {0.5F, 0.5F, 0.5F}, c.std = {0.2F, 0.0F, 0.2F};
       },
       "key 'std[1]' is 0: "},
      {[](auto& c) { c.classes[1].id = 300; }, "key 'classes[1].id' is 300: "},
      {[](auto& c) { c.classes[0].id = -5; }, "key 'classes[0].id' is -5: "},
      {[](auto& c) { c.classes[1].id = 0; }, "key 'classes[1].id' is 0 again: "},
      {[](auto& c) {
         c.input_range = std::array<double, 2>{255.0, 0.0};
       },
       "key 'input_range' is [255, 0]: "},
      {[](auto& c) {
         c.tile = std::array<int, 2>{4, 4};
       },
       "key 'tile' is 4: "},
      {[](auto& c) { c.threshold = 2.0; }, "key 'threshold' is 2: "},
  };
  TempDir dir;
  terraseg::test::make_rgb_raster(dir / "in.tif");
  for (const auto& c : cases) {
    terraseg::ModelCard card = rgb_card();
    c.change(card);
    const auto model = write_red_over_green(dir / "bad.onnx", card);
    const auto before = snapshot(dir.path());
    const auto result = run_terraseg(predict_args(model, dir / "in.tif", dir / "mask.tif"));
    EXPECT_EQ(result.exit_code, 1) << c.message;
    EXPECT_TRUE(contains(result.err, "terraseg: error: " + model.string() + ": model card: " + c.message))
        << result.err;
    EXPECT_TRUE(contains(result.err, "fix the card (scripts/set-card.py MODEL.onnx KEY=VALUE) or re-export the model"))
        << result.err;
    EXPECT_FALSE(fs::exists(dir / "mask.tif"));
    EXPECT_EQ(snapshot(dir.path()), before) << c.message;
  }
}

TEST(InputReading, AbsurdPixelSizesAreRefusedWithTheWayOut) {
  TempDir dir;
  terraseg::ModelCard card = rgb_card();
  card.pixel_size_m = 0.5;
  const auto model = write_red_over_green(dir / "rg.onnx", card);
  {
    GDALDatasetUniquePtr nano = create(dir / "nano.tif", 64, 48, 3, GDT_Byte, 1e-9);
    fill(*nano, colourful);
    GDALDatasetUniquePtr giga = create(dir / "giga.tif", 64, 48, 3, GDT_Byte, 1e9);
    fill(*giga, colourful);
  }
  const auto before = snapshot(dir.path());
  auto result = run_terraseg(predict_args(model, dir / "nano.tif", dir / "mask.tif"));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(
      contains(result.err, "terraseg: error: " + (dir / "nano.tif").string() +
                               ": its georeference gives pixels "
                               "of 1e-09 m x 1e-09 m; at the 0.5 m the model works at, its 64 x 48 pixels would be "))
      << result.err;
  EXPECT_TRUE(contains(result.err, "less than one")) << result.err;
  EXPECT_TRUE(contains(result.err, "--pixel-size")) << result.err;
  EXPECT_TRUE(contains(result.err, "--no-resample")) << result.err;
  result = run_terraseg(predict_args(model, dir / "giga.tif", dir / "mask.tif"));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(contains(result.err, (dir / "giga.tif").string() + ": its pixels (1e+09 m) are 2e+09x coarser"))
      << result.err;
  EXPECT_EQ(snapshot(dir.path()), before);
  // The way out the message gives works.
  auto args = predict_args(model, dir / "nano.tif", dir / "mask.tif");
  args.emplace_back("--no-resample");
  result = run_terraseg(args);
  EXPECT_EQ(result.exit_code, 0) << result.err;
}

TEST(InputReading, AModelWhoseScoresAreNaNIsAnErrorNamingItAndTheInput) {
  TempDir dir;
  terraseg::UNetSpec spec;
  spec.classes = 2;
  spec.depth = 1;
  spec.base_width = 4;
  terraseg::Graph graph = terraseg::build_unet(spec);
  graph.card = rgb_card();
  // One weight of the classifier (the last convolution) is NaN: a ReLU earlier on could swallow it.
  const terraseg::Node* classifier = nullptr;
  for (const terraseg::Node& node : graph.nodes) {
    if (node.op == "Conv") classifier = &node;
  }
  ASSERT_NE(classifier, nullptr);
  graph.weights.at(classifier->inputs.at(1)).data()[0] = std::numeric_limits<float>::quiet_NaN();
  terraseg::save_onnx(graph, (dir / "nan.onnx").string());
  terraseg::test::make_rgb_raster(dir / "in.tif");
  const auto before = snapshot(dir.path());
  const auto result = run_terraseg(predict_args(dir / "nan.onnx", dir / "in.tif", dir / "out" / "mask.tif"));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(contains(result.err, "terraseg: error: model '" + (dir / "nan.onnx").string() + "' gave NaN scores at "))
      << result.err;
  EXPECT_TRUE(contains(result.err, "of '" + (dir / "in.tif").string() + "': no class can be read from them"))
      << result.err;
  EXPECT_FALSE(fs::exists(dir / "out" / "mask.tif"));
  EXPECT_TRUE(!fs::exists(dir / "out") || fs::is_empty(dir / "out"));
  EXPECT_EQ(snapshot(dir.path()), before);
}
