// Inputs read as what they are (issue 35): paletted rasters as their colours, NaN and infinite values
// as nodata, absurd pixel sizes refused before anything is allocated, non-finite scores refused.
#include <gdal_alg.h>
#include <gdal_utils.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>

#include "gdal_ok.hpp"
#include "geo_test_util.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/predict.hpp"
#include "terraseg/geo/target_grid.hpp"
#include "test_support.hpp"

namespace terraseg::geo {
namespace {

namespace fs = std::filesystem;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

/// Two classes per pixel: class 1 where the first channel (scaled to 0..1) is above 0.5.
void threshold_model(const Tensor& input, Tensor& scores) {
  const int64_t plane = input.dim(2) * input.dim(3);
  scores.resize({1, 2, input.dim(2), input.dim(3)});
  for (int64_t i = 0; i < plane; ++i) {
    scores.data()[i] = 0.0F;
    scores.data()[plane + i] = input.data()[i] - 0.5F;
  }
}

/// Class 1 where red is above green (channels red, green, blue).
void red_over_green(const Tensor& input, Tensor& scores) {
  const int64_t plane = input.dim(2) * input.dim(3);
  scores.resize({1, 2, input.dim(2), input.dim(3)});
  for (int64_t i = 0; i < plane; ++i) {
    scores.data()[i] = input.data()[plane + i];
    scores.data()[plane + i] = input.data()[i];
  }
}

std::vector<ClassInfo> two_classes() { return {{0, "ground", {0, 0, 0}}, {1, "road", {255, 255, 255}}}; }

PredictOptions quiet_options(std::vector<std::string>* warnings = nullptr) {
  PredictOptions opt;
  opt.tile_height = opt.tile_width = 64;
  opt.overlap = 16;
  opt.warn = [warnings](const std::string& w) {
    if (warnings != nullptr) warnings->push_back(w);
  };
  return opt;
}

InputSpec eight_bit_grey() {
  InputSpec spec;
  spec.scale = 1.0 / 255.0;
  return spec;
}

InputSpec eight_bit_rgb() {
  InputSpec spec;
  spec.bands = {"red", "green", "blue"};
  spec.scale = 1.0 / 255.0;
  return spec;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string joined(const std::vector<std::string>& lines) {
  std::string all;
  for (const auto& line : lines) all += line + "\n";
  return all;
}

// ---- NaN and infinite values ----------------------------------------------------------------------

constexpr int kW = 80, kH = 60;
/// Rows of NaN, +Inf, -Inf and (Float64 only) a value beyond float's range.
constexpr int kNanRow = 10, kPlusRow = 25, kMinusRow = 40, kHugeRow = 52;

bool bad_row(int y, GDALDataType type) {
  return y == kNanRow || y == kPlusRow || y == kMinusRow || (type == GDT_Float64 && y == kHugeRow);
}

/// Bright (900) and dark (100) vertical stripes of 10 px: far outside an 8-bit model's range, so the
/// values are stretched onto it from their finite min/max.
double stripes(int x) { return (x / 10) % 2 != 0 ? 900.0 : 100.0; }

std::string write_non_finite(const std::string& path, GDALDataType type, std::optional<GeoTransform> gt) {
  test::SyntheticRaster raster;
  raster.width = kW;
  raster.height = kH;
  raster.type = type;
  raster.geotransform = gt;
  test::write_raster(path, raster, [type](int, int x, int y) {
    if (y == kNanRow) return std::numeric_limits<double>::quiet_NaN();
    if (y == kPlusRow) return kInf;
    if (y == kMinusRow) return -kInf;
    if (y == kHugeRow && type == GDT_Float64) return 1e300;
    return stripes(x);
  });
  return path;
}

class NonFiniteValues : public ::testing::TestWithParam<GDALDataType> {};

TEST_P(NonFiniteValues, AreNodataOutOfTheStretchAndTheRestIsPredicted) {
  const GDALDataType type = GetParam();
  terraseg::test::TempDir dir;
  const std::string input = write_non_finite(dir / "float.tif", type, GeoTransform{500000, 1, 0, 4000000, 0, -1});
  std::vector<std::string> warnings;
  PredictOptions opt = quiet_options(&warnings);
  opt.input_range = std::array<double, 2>{0.0, 255.0};
  const PredictOutputs out{dir / "mask.tif", dir / "scores.tif"};
  predict_raster(input, out, eight_bit_grey(), threshold_model, 2, two_classes(), opt);
  const std::vector<float> mask = test::read_band(out.mask_path, 1);
  const std::vector<float> score = test::read_band(out.scores_path, 2);
  for (int y = 0; y < kH; ++y) {
    for (int x = 0; x < kW; ++x) {
      const size_t at = static_cast<size_t>(y) * kW + static_cast<size_t>(x);
      if (bad_row(y, type)) {
        ASSERT_EQ(mask[at], 255.0F) << x << "," << y;
        ASSERT_TRUE(std::isnan(score[at])) << x << "," << y;
      } else {
        ASSERT_EQ(mask[at], stripes(x) > 500.0 ? 1.0F : 0.0F) << x << "," << y;
      }
    }
  }
  // The stretch came from the finite values only, and the log says what became nodata.
  const std::string log = joined(warnings);
  EXPECT_TRUE(contains(log, "values 100..900")) << log;
  EXPECT_TRUE(contains(log, "NaN or infinite; those pixels are read as nodata")) << log;
}

TEST_P(NonFiniteValues, StayNodataAndDoNotSpreadWhenResampled) {
  const GDALDataType type = GetParam();
  for (const double model_pixel : {0.5, 2.0}) {  // enlarged (bilinear) and shrunk (average)
    terraseg::test::TempDir dir;
    const std::string input = write_non_finite(dir / "float.tif", type, GeoTransform{500000, 1, 0, 4000000, 0, -1});
    PredictOptions opt = quiet_options();
    opt.input_range = std::array<double, 2>{0.0, 255.0};
    opt.model_pixel_size_m = model_pixel;
    const PredictOutputs out{dir / "mask.tif", ""};
    const PredictStats stats = predict_raster(input, out, eight_bit_grey(), threshold_model, 2, two_classes(), opt);
    ASSERT_TRUE(stats.resample_ratio.has_value());
    const std::vector<float> mask = test::read_band(out.mask_path, 1);
    const int reach = model_pixel > 1.0 ? 2 : 1;  // input rows a model pixel spans
    for (int y = 0; y < kH; ++y) {
      bool near_bad = false;
      for (int d = -reach; d <= reach; ++d) near_bad = near_bad || (y + d >= 0 && y + d < kH && bad_row(y + d, type));
      for (int x = 0; x < kW; ++x) {
        const float v = mask[static_cast<size_t>(y) * kW + static_cast<size_t>(x)];
        if (model_pixel < 1.0 && bad_row(y, type)) {
          ASSERT_EQ(v, 255.0F) << model_pixel << ": " << x << "," << y;
        }
        const bool stripe_edge = x % 10 < 2 || x % 10 >= 8;
        if (!near_bad && !stripe_edge) {
          ASSERT_EQ(v, stripes(x) > 500.0 ? 1.0F : 0.0F) << model_pixel << ": " << x << "," << y;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(FloatTypes, NonFiniteValues, ::testing::Values(GDT_Float32, GDT_Float64),
                         [](const auto& param_info) { return std::string(GDALGetDataTypeName(param_info.param)); });

TEST(InputValues, ARasterWithoutAnyFiniteValueIsAnErrorNotAnEmptyMask) {
  terraseg::test::TempDir dir;
  const std::string input = dir / "all-nan.tif";
  test::SyntheticRaster raster;
  raster.type = GDT_Float32;
  test::write_raster(input, raster, [](int, int x, int) { return x % 2 != 0 ? kInf : std::nan(""); });
  PredictOptions opt = quiet_options();
  opt.input_range = std::array<double, 2>{0.0, 255.0};
  try {
    predict_raster(input, PredictOutputs{dir / "mask.tif", ""}, eight_bit_grey(), threshold_model, 2, two_classes(),
                   opt);
    FAIL() << "a raster of NaN and infinity was predicted";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "all-nan.tif: the model's bands hold no finite value")) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "mask.tif"));
}

// ---- Non-finite scores ----------------------------------------------------------------------------

TEST(InputValues, NonFiniteScoresAreAnErrorNamingTheModelAndTheInput) {
  const struct {
    float value;
    const char* kind;
  } cases[] = {{kNaN, "gave NaN scores"},
               {std::numeric_limits<float>::infinity(), "gave infinite scores"},
               {-std::numeric_limits<float>::infinity(), "gave infinite scores"}};
  for (const auto& c : cases) {
    terraseg::test::TempDir dir;
    const std::string input = dir / "in.tif";
    test::write_raster(input, test::SyntheticRaster{});
    const float bad = c.value;
    const TileInfer broken = [bad](const Tensor& in, Tensor& scores) {
      threshold_model(in, scores);
      scores.data()[scores.size() - 1] = bad;  // one score of one pixel
    };
    PredictOptions opt = quiet_options();
    opt.model_name = "models/broken.onnx";
    try {
      predict_raster(input, PredictOutputs{dir / "mask.tif", dir / "scores.tif"}, eight_bit_grey(), broken, 2,
                     two_classes(), opt);
      FAIL() << c.kind << ": accepted";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_TRUE(contains(message, std::string("model 'models/broken.onnx' ") + c.kind)) << message;
      EXPECT_TRUE(contains(message, "at 1 of the 3072 valid pixels of window (row 0, col 0) of '" + input + "'"))
          << message;
      EXPECT_TRUE(contains(message, "retrain or re-export it")) << message;
    }
    EXPECT_FALSE(fs::exists(dir / "mask.tif"));
    EXPECT_FALSE(fs::exists(dir / "scores.tif"));
    for (const auto& entry : fs::directory_iterator(dir.path())) {
      EXPECT_EQ(entry.path().filename(), "in.tif") << "left behind: " << entry.path();
    }
  }
}

TEST(InputValues, NonFiniteScoresAtNodataPixelsAreNotUsedAndNotAnError) {
  terraseg::test::TempDir dir;
  const std::string input = dir / "holes.tif";
  test::SyntheticRaster raster;
  raster.nodata = 0.0;
  test::write_raster(input, raster, [](int, int x, int) { return x < 8 ? 0.0 : 200.0; });
  // NaN wherever the input is nodata (read as 0 there): only valid pixels count.
  const TileInfer model = [](const Tensor& in, Tensor& scores) {
    threshold_model(in, scores);
    const int64_t plane = in.dim(2) * in.dim(3);
    for (int64_t i = 0; i < plane; ++i) {
      if (in.data()[i] == 0.0F) scores.data()[i] = kNaN;
    }
  };
  predict_raster(input, PredictOutputs{dir / "mask.tif", ""}, eight_bit_grey(), model, 2, two_classes(),
                 quiet_options());
  const std::vector<float> mask = test::read_band(dir / "mask.tif", 1);
  EXPECT_EQ(mask[0], 255.0F);
  EXPECT_EQ(mask[20], 1.0F);
}

// ---- Paletted rasters -----------------------------------------------------------------------------

/// Red-over-green blobs on a greenish ground: about 40 % of the pixels are class 1 for red_over_green.
double colourful(int band, int x, int y) {
  const bool blob = ((x / 12) + (y / 9)) % 5 < 2;
  const double shade = (x * 7 + y * 3) % 40;
  if (band == 1) return blob ? 180.0 + shade : 60.0 + shade;
  if (band == 2) return blob ? 70.0 + shade : 150.0 + shade;
  return 90.0 + shade;
}

std::string write_rgb(const std::string& path, int width = 96, int height = 72,
                      std::optional<GeoTransform> gt = GeoTransform{500000, 1, 0, 4000000, 0, -1}) {
  test::SyntheticRaster raster;
  raster.width = width;
  raster.height = height;
  raster.bands = 3;
  raster.geotransform = gt;
  raster.colours = {GCI_RedBand, GCI_GreenBand, GCI_BlueBand};
  test::write_raster(path, raster, colourful);
  return path;
}

/// What rgb2pct.py does: a median-cut colour table of `colours` entries and Floyd-Steinberg dithering.
std::string write_paletted(const std::string& rgb_path, const std::string& path, int colours = 64,
                           std::optional<double> nodata_index = std::nullopt) {
  GDALDatasetUniquePtr rgb = open_raster(rgb_path);
  GDALColorTable table;
  GDALRasterBandH r = rgb->GetRasterBand(1), g = rgb->GetRasterBand(2), b = rgb->GetRasterBand(3);
  EXPECT_EQ(GDALComputeMedianCutPCT(r, g, b, nullptr, colours, &table, nullptr, nullptr), CE_None);
  GDALDriver* driver = GetGDALDriverManager()->GetDriverByName("GTiff");
  GDALDatasetUniquePtr out(
      driver->Create(path.c_str(), rgb->GetRasterXSize(), rgb->GetRasterYSize(), 1, GDT_Byte, nullptr));
  GeoTransform gt{};
  if (rgb->GetGeoTransform(gt.data()) == CE_None) terraseg::test::gdal_ok(out->SetGeoTransform(gt.data()));
  terraseg::test::gdal_ok(out->SetSpatialRef(rgb->GetSpatialRef()));
  GDALRasterBand* band = out->GetRasterBand(1);
  terraseg::test::gdal_ok(band->SetColorTable(&table));
  terraseg::test::gdal_ok(band->SetColorInterpretation(GCI_PaletteIndex));
  EXPECT_EQ(GDALDitherRGB2PCT(r, g, b, band, &table, nullptr, nullptr), CE_None);
  if (nodata_index) {
    // The top-left 10 x 10 pixels are nodata.
    std::vector<uint8_t> hole(100, static_cast<uint8_t>(*nodata_index));
    EXPECT_EQ(band->RasterIO(GF_Write, 0, 0, 10, 10, hole.data(), 10, 10, GDT_Byte, 0, 0), CE_None);
    terraseg::test::gdal_ok(band->SetNoDataValue(*nodata_index));
  }
  return path;
}

std::string predict_error_rgb(const std::string& input, const std::string& mask) {
  try {
    predict_raster(input, PredictOutputs{mask, ""}, eight_bit_rgb(), red_over_green, 2, two_classes(), quiet_options());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

double agreement(const std::vector<float>& a, const std::vector<float>& b) {
  size_t same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i] ? 1 : 0;
  return static_cast<double>(same) / static_cast<double>(a.size());
}

double share_of(const std::vector<float>& mask, float value) {
  size_t count = 0;
  for (float v : mask) count += v == value ? 1 : 0;
  return static_cast<double>(count) / static_cast<double>(mask.size());
}

TEST(Palette, APalettedCopyIsPredictedLikeItsRgbOriginal) {
  for (const std::optional<double> model_pixel : {std::optional<double>{}, std::optional<double>{0.5}}) {
    terraseg::test::TempDir dir;
    const std::string rgb = write_rgb(dir / "rgb.tif");
    const std::string pct = write_paletted(rgb, dir / "pct.tif");
    PredictOptions opt = quiet_options();
    opt.model_pixel_size_m = model_pixel;
    predict_raster(rgb, PredictOutputs{dir / "rgb-mask.tif", ""}, eight_bit_rgb(), red_over_green, 2, two_classes(),
                   opt);
    std::vector<std::string> warnings;
    opt.warn = [&](const std::string& w) { warnings.push_back(w); };
    predict_raster(pct, PredictOutputs{dir / "pct-mask.tif", ""}, eight_bit_rgb(), red_over_green, 2, two_classes(),
                   opt);
    const std::vector<float> reference = test::read_band(dir / "rgb-mask.tif", 1);
    const std::vector<float> paletted = test::read_band(dir / "pct-mask.tif", 1);
    // The palette's colours give the original's answer, up to dithering ...
    EXPECT_GT(agreement(reference, paletted), 0.95) << (model_pixel ? "resampled" : "own grid");
    // ... where its indices, read as grey (red = green: class 0 everywhere), would miss every class-1 pixel.
    EXPECT_GT(share_of(reference, 1.0F), 0.3);
    EXPECT_LT(share_of(reference, 0.0F), 0.7);
    ASSERT_EQ(warnings.size(), 1U) << joined(warnings);
    EXPECT_TRUE(contains(warnings[0], "pct.tif' is paletted (band 1 holds indices into a colour table of 256 entries)"))
        << warnings[0];
    EXPECT_TRUE(contains(warnings[0], "read as the red, green and blue colours")) << warnings[0];
  }
}

TEST(Palette, TheNodataIndexStaysNodataAndGreyPalettesAreGrey) {
  terraseg::test::TempDir dir;
  const std::string rgb = write_rgb(dir / "rgb.tif");
  const std::string pct = write_paletted(rgb, dir / "pct.tif", 32, 31.0);
  std::vector<std::string> warnings;
  predict_raster(pct, PredictOutputs{dir / "mask.tif", ""}, eight_bit_rgb(), red_over_green, 2, two_classes(),
                 quiet_options(&warnings));
  const std::vector<float> mask = test::read_band(dir / "mask.tif", 1);
  for (int y = 0; y < 10; ++y) {
    for (int x = 0; x < 10; ++x)
      ASSERT_EQ(mask[static_cast<size_t>(y) * 96 + static_cast<size_t>(x)], 255.0F) << x << "," << y;
  }
  EXPECT_TRUE(contains(joined(warnings), "its nodata index as nodata")) << joined(warnings);

  // A grey palette (a reversed ramp) is read as the grey levels it gives, not as its indices.
  const std::string grey = dir / "grey-pct.tif";
  {
    GDALDatasetUniquePtr out(
        GetGDALDriverManager()->GetDriverByName("GTiff")->Create(grey.c_str(), 64, 48, 1, GDT_Byte, nullptr));
    GDALColorTable table;
    for (int i = 0; i < 256; ++i) {
      const auto level = static_cast<short>(255 - i);
      const GDALColorEntry entry{level, level, level, 255};
      table.SetColorEntry(i, &entry);
    }
    GDALRasterBand* band = out->GetRasterBand(1);
    terraseg::test::gdal_ok(band->SetColorTable(&table));
    terraseg::test::gdal_ok(band->SetColorInterpretation(GCI_PaletteIndex));
    std::vector<uint8_t> indices(size_t{64} * 48);
    for (size_t i = 0; i < indices.size(); ++i) indices[i] = (i % 64) < 32 ? 20 : 235;  // bright left, dark right
    ASSERT_EQ(band->RasterIO(GF_Write, 0, 0, 64, 48, indices.data(), 64, 48, GDT_Byte, 0, 0), CE_None);
  }
  warnings.clear();
  predict_raster(grey, PredictOutputs{dir / "grey-mask.tif", ""}, eight_bit_grey(), threshold_model, 2, two_classes(),
                 quiet_options(&warnings));
  const std::vector<float> grey_mask = test::read_band(dir / "grey-mask.tif", 1);
  EXPECT_EQ(grey_mask[0], 1.0F);   // index 20 is level 235: bright
  EXPECT_EQ(grey_mask[63], 0.0F);  // index 235 is level 20: dark
  EXPECT_TRUE(contains(joined(warnings), "read as the grey levels")) << joined(warnings);
}

TEST(Palette, ARegionGridWarpsTheColoursNotTheIndices) {
  terraseg::test::TempDir dir;
  const std::string rgb = write_rgb(dir / "rgb.tif");
  const std::string pct = write_paletted(rgb, dir / "pct.tif");
  const std::string vrt = dir / "grid.vrt";
  warp_to_grid(pct, TargetGrid{"EPSG:32631", 0.5}, vrt);
  // Opened afresh from another working directory: the VRT names the palette's colours on its own.
  const fs::path cwd = fs::current_path();
  fs::current_path("/");
  GDALDatasetUniquePtr view = open_raster(vrt);
  fs::current_path(cwd);
  ASSERT_GE(view->GetRasterCount(), 3);
  EXPECT_EQ(view->GetRasterBand(1)->GetColorInterpretation(), GCI_RedBand);
  EXPECT_EQ(view->GetRasterBand(1)->GetColorTable(), nullptr);
  predict_raster(vrt, PredictOutputs{dir / "grid-mask.tif", ""}, eight_bit_rgb(), red_over_green, 2, two_classes(),
                 quiet_options());
  EXPECT_GT(share_of(test::read_band(dir / "grid-mask.tif", 1), 1.0F), 0.3);
}

TEST(Palette, APaletteWithAnAlphaBandKeepsItsAlpha) {
  // What an area-of-interest polygon makes of a paletted input: the palette band and an alpha band
  // (0 outside the polygon; here, outside the raster: the view reaches 16 px beyond its right edge).
  terraseg::test::TempDir dir;
  const std::string rgb = write_rgb(dir / "rgb.tif");
  const std::string pct = write_paletted(rgb, dir / "pct.tif");
  const std::string vrt = dir / "cut.vrt";
  {
    CPLStringList args;
    for (const char* arg : {"-of", "VRT", "-r", "near", "-dstalpha", "-te", "500000", "3999928", "500112", "4000000",
                            "-ts", "112", "72"}) {
      args.AddString(arg);
    }
    std::unique_ptr<GDALWarpAppOptions, decltype(&GDALWarpAppOptionsFree)> options(
        GDALWarpAppOptionsNew(args.List(), nullptr), &GDALWarpAppOptionsFree);
    GDALDatasetUniquePtr source = open_raster(pct);
    GDALDatasetH handle = GDALDataset::ToHandle(source.get());
    GDALDatasetH out = GDALWarp(vrt.c_str(), nullptr, 1, &handle, options.get(), nullptr);
    ASSERT_NE(out, nullptr);
    GDALClose(out);
  }
  ASSERT_EQ(read_raster_info(vrt).bands.size(), 2U);
  std::vector<std::string> warnings;
  predict_raster(vrt, PredictOutputs{dir / "mask.tif", ""}, eight_bit_rgb(), red_over_green, 2, two_classes(),
                 quiet_options(&warnings));
  predict_raster(rgb, PredictOutputs{dir / "rgb-mask.tif", ""}, eight_bit_rgb(), red_over_green, 2, two_classes(),
                 quiet_options());
  const std::vector<float> mask = test::read_band(dir / "mask.tif", 1);
  const std::vector<float> reference = test::read_band(dir / "rgb-mask.tif", 1);
  size_t same = 0;
  for (int y = 0; y < 72; ++y) {
    for (int x = 0; x < 112; ++x) {
      const float v = mask[static_cast<size_t>(y) * 112 + static_cast<size_t>(x)];
      if (x >= 96) {
        ASSERT_EQ(v, 255.0F) << x << "," << y;  // alpha 0: nodata
      } else {
        same += v == reference[static_cast<size_t>(y) * 96 + static_cast<size_t>(x)] ? 1 : 0;
      }
    }
  }
  EXPECT_GT(static_cast<double>(same) / (96.0 * 72.0), 0.95);
  EXPECT_TRUE(contains(joined(warnings), "its alpha band kept")) << joined(warnings);
}

TEST(Palette, TwoPaletteBandsOrAPaletteBesideColourBandsAreAnErrorNamingTheFile) {
  terraseg::test::TempDir dir;
  GDALAllRegister();
  const auto write_vrt = [](const std::string& path, bool second_palette) {
    GDALDatasetUniquePtr vrt(
        GetGDALDriverManager()->GetDriverByName("VRT")->Create(path.c_str(), 16, 16, 2, GDT_Byte, nullptr));
    GDALColorTable table;
    const GDALColorEntry entry{10, 20, 30, 255};
    table.SetColorEntry(0, &entry);
    terraseg::test::gdal_ok(vrt->GetRasterBand(1)->SetColorTable(&table));
    terraseg::test::gdal_ok(vrt->GetRasterBand(1)->SetColorInterpretation(GCI_PaletteIndex));
    if (second_palette) {
      terraseg::test::gdal_ok(vrt->GetRasterBand(2)->SetColorTable(&table));
      terraseg::test::gdal_ok(vrt->GetRasterBand(2)->SetColorInterpretation(GCI_PaletteIndex));
    } else {
      terraseg::test::gdal_ok(vrt->GetRasterBand(2)->SetColorInterpretation(GCI_GreenBand));
    }
  };
  write_vrt(dir / "two.vrt", true);
  write_vrt(dir / "mixed.vrt", false);
  const std::string two = predict_error_rgb(dir / "two.vrt", dir / "mask.tif");
  EXPECT_TRUE(contains(two, "two.vrt': bands 1 and 2 are both palette indices")) << two;
  const std::string mixed = predict_error_rgb(dir / "mixed.vrt", dir / "mask.tif");
  EXPECT_TRUE(
      contains(mixed, "mixed.vrt': band 1 of its 2 bands is palette indices (a colour table) beside other bands"))
      << mixed;
  EXPECT_TRUE(contains(mixed, "gdal_translate -b 1 -expand rgb")) << mixed;
  EXPECT_FALSE(fs::exists(dir / "mask.tif"));
}

// ---- Absurd pixel sizes ---------------------------------------------------------------------------

std::string predict_error(const std::string& input, const PredictOptions& opt, const std::string& mask) {
  try {
    predict_raster(input, PredictOutputs{mask, ""}, eight_bit_grey(), threshold_model, 2, two_classes(), opt);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(PixelSizes, AGridOfLessThanOnePixelIsRefusedNamingBothSizesAndTheWaysOut) {
  terraseg::test::TempDir dir;
  test::SyntheticRaster raster;  // 64 x 48
  raster.geotransform = GeoTransform{500000, 1e-9, 0, 4000000, 0, -1e-9};
  const std::string input = dir / "nano.tif";
  test::write_raster(input, raster);
  PredictOptions opt = quiet_options();
  opt.model_pixel_size_m = 0.5;
  const std::string message = predict_error(input, opt, dir / "mask.tif");
  EXPECT_TRUE(contains(message, input +
                                    ": its georeference gives pixels of 1e-09 m x 1e-09 m; at the 0.5 m the model "
                                    "works at, its 64 x 48 pixels would be 1.28e-07 x 9.6e-08 pixels, less than one"))
      << message;
  EXPECT_TRUE(contains(message, "gdal_edit.py -tr")) << message;
  EXPECT_TRUE(contains(message, "--pixel-size")) << message;
  EXPECT_TRUE(contains(message, "--no-resample")) << message;
  EXPECT_FALSE(fs::exists(dir / "mask.tif"));

  // The same for a pixel size the user stated for an input without a georeference.
  raster.geotransform.reset();
  raster.epsg = 0;
  const std::string plain = dir / "plain.tif";
  test::write_raster(plain, raster);
  opt.input_pixel_size_m = 1e-6;
  const std::string stated = predict_error(plain, opt, dir / "mask.tif");
  EXPECT_TRUE(contains(stated, plain + ": --pixel-size gives pixels of 1e-06 m x 1e-06 m")) << stated;
  EXPECT_TRUE(contains(stated, "check --pixel-size")) << stated;
  EXPECT_FALSE(fs::exists(dir / "mask.tif"));
}

TEST(PixelSizes, AbsurdlyCoarsePixelsAreRefusedAsCoarseNotAsAHugeRaster) {
  terraseg::test::TempDir dir;
  test::SyntheticRaster raster;
  raster.geotransform = GeoTransform{500000, 1e9, 0, 4000000, 0, -1e9};
  const std::string input = dir / "giga.tif";
  test::write_raster(input, raster);
  PredictOptions opt = quiet_options();
  opt.model_pixel_size_m = 0.5;
  const std::string message = predict_error(input, opt, dir / "mask.tif");
  EXPECT_TRUE(contains(message, input + ": its pixels (1e+09 m) are 2e+09x coarser than the 0.5 m")) << message;
  EXPECT_TRUE(contains(message, "--no-resample")) << message;
  EXPECT_TRUE(contains(message, "the pixel size is wrong: fix its georeference")) << message;
  EXPECT_FALSE(fs::exists(dir / "mask.tif"));
}

TEST(PixelSizes, AGridWhoseRowOfWindowsWouldNotFitInMemoryIsRefusedBeforeAllocating) {
  terraseg::test::TempDir dir;
  test::SyntheticRaster raster;  // 64 x 48 at 10 m: 320 x 240 at 2 m
  const std::string input = dir / "in.tif";
  test::write_raster(input, raster);
  PredictOptions opt = quiet_options();
  opt.model_pixel_size_m = 2.0;
  opt.memory_limit_bytes = 64.0 * 1024;  // 64 KiB
  const std::string message = predict_error(input, opt, dir / "mask.tif");
  EXPECT_TRUE(contains(message, input + ": at the 2 m pixels the model works at, this raster would be 320 x 240 pixels "
                                        "(its own are 10 m); a row of windows across it needs about"))
      << message;
  EXPECT_TRUE(contains(message, "--no-resample")) << message;
  EXPECT_FALSE(fs::exists(dir / "mask.tif"));
  opt.memory_limit_bytes = 1e9;
  EXPECT_EQ(predict_error(input, opt, dir / "mask.tif"), "");
}

}  // namespace
}  // namespace terraseg::geo
