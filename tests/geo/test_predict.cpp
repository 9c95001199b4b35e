#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <set>

#include "geo_test_util.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/bands.hpp"
#include "terraseg/geo/predict.hpp"
#include "test_support.hpp"

namespace terraseg::geo {
namespace {

std::vector<ClassInfo> three_classes() {
  return {{0, "water", {0, 0, 255}}, {1, "road", {128, 128, 128}}, {2, "forest", {0, 160, 0}}};
}

PredictOptions small_tiles() {
  PredictOptions opt;
  opt.tile_height = opt.tile_width = 64;
  opt.overlap = 16;  // context 7 (7/16 of it) >= the box model's radius 2
  opt.warn = [](const std::string&) {};
  return opt;
}

/// Whole-image reference: the raster normalised like predict_raster does, run through box_model at once.
Tensor whole_image_scores(const std::string& path, const InputSpec& spec) {
  const RasterInfo info = read_raster_info(path);
  const BandPlan plan = resolve_bands(spec, info);
  const int w = info.width;
  const int h = info.height;
  Tensor input({1, plan.channels(), h, w});
  for (int c = 0; c < plan.channels(); ++c) {
    const std::vector<float> raw = test::read_band(path, plan.source_bands[static_cast<size_t>(c)]);
    for (size_t i = 0; i < raw.size(); ++i) {
      input.data()[static_cast<size_t>(c) * raw.size() + i] =
          raw[i] * plan.gain[static_cast<size_t>(c)] + plan.offset[static_cast<size_t>(c)];
    }
  }
  Tensor scores;
  test::box_model(input, scores);
  return scores;
}

TEST(Predict, TiledEqualsWholeImageOnOddSizedMultibandRaster) {
  terraseg::test::TempDir dir;
  const std::string input = dir / "in.tif";
  test::SyntheticRaster raster;
  raster.width = 333;
  raster.height = 517;
  raster.bands = 4;
  test::write_raster(input, raster);
  InputSpec spec;
  spec.bands = {"3", "1", "4"};
  spec.scale = 1.0 / 255.0;
  spec.mean = {0.4F, 0.5F, 0.3F};
  spec.std = {0.2F, 0.3F, 0.25F};
  const PredictOutputs out{dir / "mask.tif", dir / "scores.tif"};
  const PredictStats stats = predict_raster(input, out, spec, test::box_model, 3, three_classes(), small_tiles());
  EXPECT_EQ(stats.tiles,
            7 * 11);  // step 48, last flush with the end: 1 + ceil((333 - 64) / 48) x 1 + ceil((517 - 64) / 48)
  EXPECT_EQ(stats.tiles_skipped, 0);

  const Tensor reference = whole_image_scores(input, spec);
  const size_t plane = size_t{333} * 517;
  const std::vector<float> mask = test::read_band(out.mask_path, 1);
  float worst = 0.0F;
  int64_t checked_classes = 0;
  for (int k = 0; k < 3; ++k) {
    const std::vector<float> tiled = test::read_band(out.scores_path, k + 1);
    for (size_t i = 0; i < plane; ++i) worst = std::max(worst, std::abs(tiled[i] - reference.data()[k * plane + i]));
  }
  EXPECT_LT(worst, 2e-5F) << "tiled scores differ from whole-image scores";
  for (size_t i = 0; i < plane; ++i) {
    float best = -1e30F;
    float second = -1e30F;
    int arg = 0;
    for (int k = 0; k < 3; ++k) {
      const float s = reference.data()[k * plane + i];
      if (s > best) {
        second = best;
        best = s;
        arg = k;
      } else {
        second = std::max(second, s);
      }
    }
    if (best - second < 1e-4F) continue;  // a near tie may flip on rounding
    ASSERT_EQ(static_cast<int>(mask[i]), arg) << "pixel " << i;
    ++checked_classes;
  }
  EXPECT_GT(checked_classes, static_cast<int64_t>(plane * 9 / 10));
}

/// Largest |tiled - whole| over all classes and pixels of a scores GeoTIFF against box_model's
/// whole-image scores.
float worst_score_difference(const std::string& scores_path, const Tensor& reference, int classes) {
  const size_t plane = static_cast<size_t>(reference.dim(2) * reference.dim(3));
  float worst = 0.0F;
  for (int k = 0; k < classes; ++k) {
    const std::vector<float> tiled = test::read_band(scores_path, k + 1);
    for (size_t i = 0; i < plane; ++i) worst = std::max(worst, std::abs(tiled[i] - reference.data()[k * plane + i]));
  }
  return worst;
}

TEST(Predict, AnImageThatFitsRunsWholeAtItsOwnSizeRoundedToTheStride) {
  terraseg::test::TempDir dir;
  const std::string input = dir / "photo.tif";
  test::SyntheticRaster raster;
  raster.width = 181;
  raster.height = 99;
  raster.bands = 3;
  test::write_raster(input, raster);
  std::vector<Dims> seen;
  const TileInfer model = [&](const Tensor& in, Tensor& scores) {
    seen.push_back(in.dims());
    test::box_model(in, scores);
  };
  PredictOptions opt = small_tiles();
  opt.tile_height = opt.tile_width = 256;
  opt.multiple = 8;
  const PredictOutputs out{dir / "mask.tif", dir / "scores.tif"};
  const PredictStats stats = predict_raster(input, out, InputSpec{}, model, 3, three_classes(), opt);
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0], (Dims{1, 3, 104, 184}));  // 99 x 181 padded to multiples of 8, not to the tile
  EXPECT_EQ(stats.window_height, 104);
  EXPECT_EQ(stats.window_width, 184);
  EXPECT_LT(worst_score_difference(out.scores_path, whole_image_scores(input, InputSpec{}), 3), 1e-5F);
}

TEST(Predict, NonSquareTilesOnANonSquareRasterEqualTheWholeImage) {
  terraseg::test::TempDir dir;
  const std::string input = dir / "wide.tif";
  test::SyntheticRaster raster;
  raster.width = 410;
  raster.height = 150;
  raster.bands = 3;
  test::write_raster(input, raster);
  std::set<Dims> shapes;
  const TileInfer model = [&](const Tensor& in, Tensor& scores) {
    shapes.insert(in.dims());
    test::box_model(in, scores);
  };
  PredictOptions opt = small_tiles();
  opt.tile_height = 48;
  opt.tile_width = 128;
  opt.multiple = 16;
  const PredictOutputs out{dir / "mask.tif", dir / "scores.tif"};
  const PredictStats stats = predict_raster(input, out, InputSpec{}, model, 3, three_classes(), opt);
  EXPECT_EQ(shapes, (std::set<Dims>{{1, 3, 48, 128}}));
  EXPECT_GT(stats.tiles, 8);
  EXPECT_LT(worst_score_difference(out.scores_path, whole_image_scores(input, InputSpec{}), 3), 1e-4F);  // scores ~1e3
}

TEST(Predict, FixedSizeModelsGetExactlyTheirSizeAndResultsAreCroppedBack) {
  terraseg::test::TempDir dir;
  const std::string input = dir / "small.tif";
  test::SyntheticRaster raster;
  raster.width = 50;
  raster.height = 40;
  test::write_raster(input, raster);
  std::set<Dims> shapes;
  const TileInfer model = [&](const Tensor& in, Tensor& scores) {
    shapes.insert(in.dims());
    test::box_model(in, scores);
  };
  PredictOptions opt = small_tiles();
  opt.tile_height = 64;
  opt.tile_width = 96;
  opt.overlap = 0;
  opt.fixed_size = true;
  const PredictOutputs out{dir / "mask.tif", ""};
  predict_raster(input, out, InputSpec{}, model, 3, three_classes(), opt);
  EXPECT_EQ(shapes, (std::set<Dims>{{1, 1, 64, 96}}));
  const RasterInfo info = read_raster_info(out.mask_path);
  EXPECT_EQ(info.width, 50);
  EXPECT_EQ(info.height, 40);
}

TEST(Predict, SixteenBitInputIsStretchedOntoAnEightBitModelsRangeAndSaysSo) {
  terraseg::test::TempDir dir;
  const std::string eight = dir / "eight.tif", sixteen = dir / "sixteen.tif";
  test::SyntheticRaster raster;
  raster.width = 80;
  raster.height = 60;
  raster.bands = 3;
  raster.colours = {GCI_RedBand, GCI_GreenBand, GCI_BlueBand};
  // Full range in both: 0 and 255 occur, so min/max recover the 8-bit values exactly.
  const auto value = [](int b, int x, int y) {
    return x == 0 && y == 0 ? 0.0 : x == 1 && y == 0 ? 255.0 : std::floor(test::texture(b, x, y));
  };
  test::write_raster(eight, raster, value);
  raster.type = GDT_UInt16;
  test::write_raster(sixteen, raster, [&](int b, int x, int y) { return value(b, x, y) * 257.0; });
  InputSpec spec;
  spec.bands = {"red", "green", "blue"};
  spec.scale = 1.0 / 255.0;
  std::vector<Tensor> inputs;
  const TileInfer model = [&](const Tensor& in, Tensor& scores) {
    inputs.push_back(in);
    test::box_model(in, scores);
  };
  std::vector<std::string> warnings;
  PredictOptions opt = small_tiles();
  opt.tile_height = opt.tile_width = 128;
  opt.input_range = std::array<double, 2>{0.0, 255.0};
  opt.warn = [&](const std::string& w) { warnings.push_back(w); };
  predict_raster(eight, PredictOutputs{dir / "m8.tif", ""}, spec, model, 3, {}, opt);
  EXPECT_TRUE(warnings.empty()) << "8-bit input into an 8-bit model needs no stretch";
  predict_raster(sixteen, PredictOutputs{dir / "m16.tif", ""}, spec, model, 3, {}, opt);
  ASSERT_EQ(inputs.size(), 2U);
  ASSERT_EQ(warnings.size(), 1U);
  EXPECT_NE(warnings[0].find("UInt16"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("stretched"), std::string::npos) << warnings[0];
  float worst = 0.0F;
  for (int64_t i = 0; i < inputs[0].size(); ++i)
    worst = std::max(worst, std::abs(inputs[0].data()[i] - inputs[1].data()[i]));
  EXPECT_LT(worst, 1e-5F) << "the stretched 16-bit copy must feed the model what the 8-bit original does";
  EXPECT_EQ(test::read_band(dir / "m8.tif", 1), test::read_band(dir / "m16.tif", 1));
}

TEST(Predict, StatedPixelSizeResamplesAnInputWithoutGeoreference) {
  terraseg::test::TempDir dir;
  const std::string input = dir / "plain.png";
  std::vector<uint8_t> plane(size_t{60} * 40);
  for (size_t i = 0; i < plane.size(); ++i) plane[i] = static_cast<uint8_t>(i % 251);
  test::write_png(input, 60, 40, {plane});
  PredictOptions opt = small_tiles();
  opt.tile_height = opt.tile_width = 256;
  opt.model_pixel_size_m = 0.5;
  std::vector<std::string> warnings;
  opt.warn = [&](const std::string& w) { warnings.push_back(w); };
  const PredictOutputs out{dir / "mask.tif", ""};
  const PredictStats unknown = predict_raster(input, out, InputSpec{}, test::box_model, 3, {}, opt);
  EXPECT_FALSE(unknown.resample_ratio.has_value());
  ASSERT_EQ(warnings.size(), 1U);
  EXPECT_NE(warnings[0].find("--pixel-size"), std::string::npos) << warnings[0];
  std::filesystem::remove(out.mask_path);
  opt.input_pixel_size_m = 1.0;
  const PredictStats stats = predict_raster(input, out, InputSpec{}, test::box_model, 3, {}, opt);
  ASSERT_TRUE(stats.resample_ratio.has_value());
  EXPECT_DOUBLE_EQ(*stats.resample_ratio, 2.0);
  EXPECT_EQ(stats.model_width, 120);
  EXPECT_EQ(stats.model_height, 80);
  const RasterInfo info = read_raster_info(out.mask_path);
  EXPECT_EQ(info.width, 60);
  EXPECT_EQ(info.height, 40);
  EXPECT_FALSE(info.geotransform.has_value()) << "no georeference is invented for the output";
  size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_LE(files, 3U) << "only the input, the mask and its .aux.xml may remain";
}

TEST(Predict, NodataPropagatesAndEmptyWindowsAreSkipped) {
  terraseg::test::TempDir dir;
  const std::string input = dir / "holes.tif";
  test::SyntheticRaster raster;
  raster.width = 300;
  raster.height = 301;
  raster.type = GDT_UInt16;
  raster.nodata = 0.0;
  // Left 150 columns are nodata (whole windows there), plus a hole in the middle of the data.
  const auto is_hole = [](int x, int y) { return x < 150 || (x >= 200 && x < 230 && y >= 100 && y < 120); };
  test::write_raster(input, raster,
                     [&](int b, int x, int y) { return is_hole(x, y) ? 0.0 : 1000.0 + test::texture(b, x, y) * 100; });
  int calls = 0;
  const TileInfer counting = [&](const Tensor& in, Tensor& scores) {
    ++calls;
    test::box_model(in, scores);
  };
  const PredictOutputs out{dir / "mask.tif", ""};
  const PredictStats stats = predict_raster(input, out, InputSpec{}, counting, 3, three_classes(), small_tiles());
  EXPECT_EQ(calls, stats.tiles_inferred);
  EXPECT_GT(stats.tiles_skipped, 0);
  EXPECT_EQ(stats.tiles_inferred + stats.tiles_skipped, stats.tiles);
  const std::vector<float> mask = test::read_band(out.mask_path, 1);
  for (int y = 0; y < 301; ++y) {
    for (int x = 0; x < 300; ++x) {
      const float v = mask[static_cast<size_t>(y) * 300 + x];
      if (is_hole(x, y)) {
        ASSERT_EQ(v, 255.0F) << x << "," << y;
      } else {
        ASSERT_LT(v, 3.0F) << x << "," << y;
      }
    }
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "scores.tif"));
}

TEST(Predict, AlphaMaskedPixelsBecomeNodata) {
  terraseg::test::TempDir dir;
  const std::string input = dir / "rgba.tif";
  test::SyntheticRaster raster;
  raster.width = 90;
  raster.height = 70;
  raster.bands = 4;
  raster.colours = {GCI_RedBand, GCI_GreenBand, GCI_BlueBand, GCI_AlphaBand};
  test::write_raster(input, raster,
                     [](int b, int x, int y) { return b == 4 ? (x < 30 ? 0.0 : 255.0) : test::texture(b, x, y); });
  int channels = 0;
  const TileInfer model = [&](const Tensor& in, Tensor& scores) {
    channels = static_cast<int>(in.dim(1));
    test::box_model(in, scores);
  };
  const PredictOutputs out{dir / "mask.tif", ""};
  predict_raster(input, out, InputSpec{}, model, 3, three_classes(), small_tiles());
  EXPECT_EQ(channels, 3);
  const std::vector<float> mask = test::read_band(out.mask_path, 1);
  for (int y = 0; y < 70; ++y) {
    for (int x = 0; x < 90; ++x) EXPECT_EQ(mask[static_cast<size_t>(y) * 90 + x] == 255.0F, x < 30);
  }
}

TEST(Predict, GeoreferencingStylesAndRotationRoundTrip) {
  terraseg::test::TempDir dir;
  const std::string input = dir / "rotated.tif";
  test::SyntheticRaster raster;
  raster.width = 600;
  raster.height = 300;
  raster.geotransform = GeoTransform{500000.0, 8.660254, -5.0, 4000000.0, -5.0, -8.660254};
  test::write_raster(input, raster);
  const PredictOutputs out{dir / "mask.tif", dir / "scores.tif"};
  predict_raster(input, out, InputSpec{}, test::box_model, 3, three_classes(), small_tiles());

  GDALDatasetUniquePtr in = open_raster(input);
  GDALDatasetUniquePtr mask = test::open_output(out.mask_path);
  GDALDatasetUniquePtr scores = test::open_output(out.scores_path);
  for (GDALDataset* ds : {mask.get(), scores.get()}) {
    EXPECT_EQ(ds->GetRasterXSize(), 600);
    EXPECT_EQ(ds->GetRasterYSize(), 300);
    EXPECT_STREQ(ds->GetProjectionRef(), in->GetProjectionRef());
    double a[6];
    double b[6];
    ASSERT_EQ(in->GetGeoTransform(a), CE_None);
    ASSERT_EQ(ds->GetGeoTransform(b), CE_None);
    for (int i = 0; i < 6; ++i) EXPECT_EQ(a[i], b[i]) << "geotransform[" << i << "]";
  }
  GDALRasterBand* band = mask->GetRasterBand(1);
  EXPECT_EQ(band->GetRasterDataType(), GDT_Byte);
  int has_nodata = 0;
  EXPECT_EQ(band->GetNoDataValue(&has_nodata), 255.0);
  EXPECT_TRUE(has_nodata);
  ASSERT_NE(band->GetColorTable(), nullptr);
  const GDALColorEntry* road = band->GetColorTable()->GetColorEntry(1);
  EXPECT_EQ(road->c1, 128);
  EXPECT_EQ(band->GetColorTable()->GetColorEntry(255)->c4, 0);
  char** names = band->GetCategoryNames();
  ASSERT_NE(names, nullptr);
  ASSERT_EQ(CSLCount(names), 3);
  EXPECT_STREQ(names[2], "forest");
  EXPECT_GE(band->GetOverviewCount(), 1);
  EXPECT_STREQ(mask->GetMetadataItem("COMPRESSION", "IMAGE_STRUCTURE"), "DEFLATE");
  int bx = 0;
  int by = 0;
  band->GetBlockSize(&bx, &by);
  EXPECT_EQ(bx, 256);
  const std::vector<float> classes = test::read_band(out.mask_path, 1);
  for (float v : classes) ASSERT_LT(v, 3.0F);
  ASSERT_EQ(scores->GetRasterCount(), 3);
  EXPECT_EQ(scores->GetRasterBand(1)->GetRasterDataType(), GDT_Float32);
  EXPECT_STREQ(scores->GetRasterBand(2)->GetDescription(), "road");
}

TEST(Predict, NoGeoreferencingStaysWithout) {
  terraseg::test::TempDir dir;
  const std::string input = dir / "plain.tif";
  test::SyntheticRaster raster;
  raster.geotransform.reset();
  raster.epsg = 0;
  test::write_raster(input, raster);
  const PredictOutputs out{dir / "mask.tif", ""};
  const PredictStats stats = predict_raster(input, out, InputSpec{}, test::box_model, 3, {}, small_tiles());
  const RasterInfo info = read_raster_info(out.mask_path);
  EXPECT_FALSE(info.geotransform.has_value());
  // The writer counted every class id it wrote: the counts are the finished mask's.
  std::array<int64_t, 256> read_back{};
  for (float v : test::read_band(out.mask_path, 1)) ++read_back[static_cast<size_t>(v)];
  EXPECT_EQ(stats.class_pixels, read_back);
  EXPECT_TRUE(info.crs_wkt.empty());
  GDALDatasetUniquePtr mask = test::open_output(out.mask_path);
  EXPECT_STREQ(mask->GetRasterBand(1)->GetCategoryNames()[1], "class 1");
}

TEST(Predict, GreySixteenBitIntoRgbModelWarnsAndReplicates) {
  terraseg::test::TempDir dir;
  const std::string input = dir / "grey16.tif";
  test::SyntheticRaster raster;
  raster.type = GDT_UInt16;
  test::write_raster(input, raster, [](int, int x, int y) { return 40000.0 + x * 100 + y; });
  ModelCard card;
  card.bands = {"red", "green", "blue"};
  card.scale = 1.0 / 65535.0;
  std::vector<std::string> warnings;
  PredictOptions opt = small_tiles();
  opt.warn = [&](const std::string& w) { warnings.push_back(w); };
  bool same = true;
  const TileInfer model = [&](const Tensor& in, Tensor& scores) {
    const size_t plane = static_cast<size_t>(in.dim(2) * in.dim(3));
    for (size_t i = 0; i < plane; ++i)
      same = same && in.data()[i] == in.data()[plane + i] && in.data()[i] == in.data()[2 * plane + i];
    EXPECT_GT(in.data()[0], 0.5F);
    test::box_model(in, scores);
  };
  predict_raster(input, PredictOutputs{dir / "m.tif", ""}, input_spec_from_card(card), model, 3, {}, opt);
  EXPECT_TRUE(same);
  EXPECT_EQ(warnings.size(), 1U);
}

TEST(Predict, NoFileUnderFinalNameWhenModelThrows) {
  terraseg::test::TempDir dir;
  const std::string input = dir / "in.tif";
  test::SyntheticRaster raster;
  raster.width = 400;
  raster.height = 400;
  test::write_raster(input, raster);
  int calls = 0;
  const TileInfer failing = [&](const Tensor& in, Tensor& scores) {
    if (++calls == 40) throw std::runtime_error("device lost");
    test::box_model(in, scores);
  };
  const PredictOutputs out{dir / "mask.tif", dir / "scores.tif"};
  try {
    predict_raster(input, out, InputSpec{}, failing, 3, three_classes(), small_tiles());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("device lost"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("in.tif"), std::string::npos);
  }
  std::vector<std::string> left;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) left.push_back(entry.path().filename());
  EXPECT_EQ(left, std::vector<std::string>{"in.tif"});
}

TEST(Predict, WrongScoreShapeIsAnError) {
  terraseg::test::TempDir dir;
  const std::string input = dir / "in.tif";
  test::write_raster(input, test::SyntheticRaster{});
  const TileInfer wrong = [](const Tensor& in, Tensor& scores) { scores.resize({1, 2, in.dim(2), in.dim(3)}); };
  EXPECT_THROW(predict_raster(input, PredictOutputs{dir / "m.tif", ""}, InputSpec{}, wrong, 3, {}, small_tiles()),
               Error);
  EXPECT_FALSE(std::filesystem::exists(dir / "m.tif"));
}

TEST(Predict, UnwritableOutputNamesThePath) {
  terraseg::test::TempDir dir;
  const std::string input = dir / "in.tif";
  test::write_raster(input, test::SyntheticRaster{});
  const std::string mask = dir / "missing-dir" / "mask.tif";
  try {
    predict_raster(input, PredictOutputs{mask, ""}, InputSpec{}, test::box_model, 3, {}, small_tiles());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(mask), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("writable"), std::string::npos) << e.what();
  }
}

TEST(Predict, CloudOptimizedOutputKeepsNames) {
  terraseg::test::TempDir dir;
  const std::string input = dir / "in.tif";
  test::SyntheticRaster raster;
  raster.width = 700;
  raster.height = 520;
  test::write_raster(input, raster);
  PredictOptions opt = small_tiles();
  opt.output.cog = true;
  const PredictOutputs out{dir / "mask.tif", ""};
  predict_raster(input, out, InputSpec{}, test::box_model, 3, three_classes(), opt);
  GDALDatasetUniquePtr mask = test::open_output(out.mask_path);
  EXPECT_STREQ(mask->GetMetadataItem("LAYOUT", "IMAGE_STRUCTURE"), "COG");
  EXPECT_GE(mask->GetRasterBand(1)->GetOverviewCount(), 1);
  ASSERT_NE(mask->GetRasterBand(1)->GetCategoryNames(), nullptr);
  EXPECT_STREQ(mask->GetRasterBand(1)->GetCategoryNames()[0], "water");
  ASSERT_NE(mask->GetRasterBand(1)->GetColorTable(), nullptr);
  size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_LE(files, 3U) << "only in.tif, mask.tif and its .aux.xml may remain";
}

}  // namespace
}  // namespace terraseg::geo
