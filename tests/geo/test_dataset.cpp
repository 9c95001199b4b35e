// Training data: pairing by stem, the three mask encodings, seeded augmentation, and the batch loader's
// determinism and per-source mask encodings and pixel-size factors (data.extra_sources).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "geo_test_util.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/dataset.hpp"
#include "test_support.hpp"

namespace terraseg::geo {
namespace {

namespace fs = std::filesystem;
using test::write_png;

/// An n x n RGB image whose red band is `red` everywhere and green band a gradient.
std::vector<std::vector<uint8_t>> rgb_image(int n, uint8_t red) {
  std::vector<std::vector<uint8_t>> bands(3, std::vector<uint8_t>(static_cast<size_t>(n * n), red));
  for (int i = 0; i < n * n; ++i) bands[1][static_cast<size_t>(i)] = static_cast<uint8_t>(i % 251);
  return bands;
}

/// Two data sources side by side: "a" with class-id masks (1 in the left half), "b" with 0/255 masks
/// (255 in the left half) as the EPFL roads set has them.
struct TwoSources {
  terraseg::test::TempDir dir;
  static constexpr int n = 8;
  TwoSources() {
    for (const char* sub : {"a/images", "a/masks", "b/images", "b/masks"}) fs::create_directories(dir / sub);
    std::vector<uint8_t> ids(static_cast<size_t>(n) * n), bytes(static_cast<size_t>(n) * n);
    for (int i = 0; i < n * n; ++i) {
      ids[static_cast<size_t>(i)] = i % n < n / 2 ? 1 : 0;
      bytes[static_cast<size_t>(i)] = i % n < n / 2 ? 255 : 0;
    }
    for (int k = 0; k < 2; ++k) {
      const std::string stem = "tile" + std::to_string(k) + ".png";
      write_png((dir / "a/images" / stem).string(), n, n, rgb_image(n, 10));
      write_png((dir / "a/masks" / stem).string(), n, n, {ids});
      write_png((dir / "b/images" / stem).string(), n, n, rgb_image(n, 200));
      write_png((dir / "b/masks" / stem).string(), n, n, {bytes});
    }
  }
  std::vector<TrainingPair> pairs() const {
    std::vector<TrainingPair> all;
    for (int source = 0; source < 2; ++source) {
      const std::string root = (dir / (source == 0 ? "a" : "b")).string();
      for (auto& [image, mask] : pair_by_stem({root + "/images"}, {root + "/masks"}, DatasetSplit{})) {
        all.push_back({image, mask, source});
      }
    }
    return all;
  }
  static LoaderConfig config() {
    LoaderConfig config;
    config.batch = 1;
    config.shuffle = false;
    config.normalisation.mean = {0.0F, 0.0F, 0.0F};
    config.normalisation.std = {1.0F, 1.0F, 1.0F};
    MaskEncoding ids;
    ids.classes = 2;
    MaskEncoding threshold;
    threshold.kind = MaskKind::threshold;
    config.sources = {DataSource{ids, 1.0}, DataSource{threshold, 2.0}};
    return config;
  }
};

TEST(Dataset, PairsByStemAndSplitsEveryNth) {
  TwoSources data;
  const std::string images = (data.dir / "a/images").string(), masks = (data.dir / "a/masks").string();
  const auto all = pair_by_stem({images}, {masks}, DatasetSplit{});
  ASSERT_EQ(all.size(), 2U);
  EXPECT_EQ(fs::path(all[0].first).filename(), "tile0.png");
  EXPECT_EQ(fs::path(all[0].second).filename(), "tile0.png");
  EXPECT_EQ(all[0].second, masks + "/tile0.png");
  const auto val = pair_by_stem({images}, {masks}, DatasetSplit{2, 0, true});
  const auto train = pair_by_stem({images}, {masks}, DatasetSplit{2, 0, false});
  ASSERT_EQ(val.size(), 1U);
  ASSERT_EQ(train.size(), 1U);
  EXPECT_EQ(fs::path(val[0].first).filename(), "tile0.png");
  EXPECT_EQ(fs::path(train[0].first).filename(), "tile1.png");
}

TEST(Dataset, MaskEncodings) {
  TwoSources data;
  const std::string b_image = (data.dir / "b/images/tile0.png").string(),
                    b_mask = (data.dir / "b/masks/tile0.png").string();
  MaskEncoding threshold;
  threshold.kind = MaskKind::threshold;
  const Sample thresholded = load_sample({b_image, b_mask}, threshold);
  ASSERT_EQ(thresholded.labels.size(), 64U);
  EXPECT_EQ(thresholded.labels[0], 1);
  EXPECT_EQ(thresholded.labels[7], 0);
  EXPECT_EQ(thresholded.rgb[0], 200);  // red first

  MaskEncoding ids;
  ids.classes = 2;  // 255 is not a class: ignored
  EXPECT_EQ(load_sample({b_image, b_mask}, ids).labels[0], kIgnoreLabel);
  ids.ignore_ids = {0};
  EXPECT_EQ(load_sample({b_image, b_mask}, ids).labels[7], kIgnoreLabel);

  // A palette needs an RGB mask: the image itself serves (red 200, green gradient).
  MaskEncoding palette;
  palette.kind = MaskKind::palette;
  palette.palette = {{{200, 0, 200}, 3}};
  const Sample coloured = load_sample({b_image, b_image}, palette);
  EXPECT_EQ(coloured.labels[0], 3);             // (200, 0, 200)
  EXPECT_EQ(coloured.labels[1], kIgnoreLabel);  // (200, 1, 200) is not listed
  // A single-band mask is read as grey RGB: none of its colours is listed, so everything is ignored.
  const Sample grey = load_sample({b_image, b_mask}, palette);
  EXPECT_EQ(std::count(grey.labels.begin(), grey.labels.end(), kIgnoreLabel), 64);
  EXPECT_THROW(load_sample({b_image, (data.dir / "missing.png").string()}, palette), Error);
}

TEST(Dataset, AugmentIsSeeded) {
  TwoSources data;
  const Sample sample =
      load_sample({(data.dir / "a/images/tile0.png").string(), (data.dir / "a/masks/tile0.png").string()},
                  TwoSources::config().sources[0].mask);
  AugmentConfig config;
  config.hflip = config.vflip = config.rot90 = true;
  config.scale_min = 1.5;
  config.scale_max = 2.0;
  config.brightness = 0.3;
  const Sample one = augment(sample, config, 6, 6, 42), again = augment(sample, config, 6, 6, 42);
  EXPECT_EQ(one.rgb, again.rgb);
  EXPECT_EQ(one.labels, again.labels);
  EXPECT_EQ(one.height, 6);
  bool differs = false;
  for (uint64_t seed = 1; seed < 20 && !differs; ++seed) {
    const Sample other = augment(sample, config, 6, 6, seed);
    differs = other.rgb != one.rgb || other.labels != one.labels;
  }
  EXPECT_TRUE(differs);
}

/// An n x n sample: class 1 (bright, 200) in the left half, class 0 (dark, 20) in the right half.
Sample halves(int n) {
  Sample s;
  s.height = s.width = n;
  s.rgb.resize(static_cast<size_t>(n) * n * 3);
  s.labels.resize(static_cast<size_t>(n) * n);
  for (int i = 0; i < n * n; ++i) {
    const bool left = i % n < n / 2;
    s.labels[static_cast<size_t>(i)] = left ? 1 : 0;
    for (int c = 0; c < 3; ++c) s.rgb[static_cast<size_t>(i) * 3 + c] = left ? 200 : 20;
  }
  return s;
}

TEST(Dataset, RotationKeepsLabelsOnTheirPixelsAndIgnoresWhatComesFromOutside) {
  const Sample sample = halves(64);
  AugmentConfig config;
  config.rotate_deg = 180.0;
  config.scale_min = 0.5;
  config.scale_max = 2.0;
  int rotated = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    const Sample out = augment(sample, config, 48, 40, seed);
    ASSERT_EQ(out.height, 48);
    ASSERT_EQ(out.width, 40);
    int mismatched = 0, labelled = 0;
    for (size_t p = 0; p < out.labels.size(); ++p) {
      const uint8_t label = out.labels[p], red = out.rgb[p * 3];
      if (label == kIgnoreLabel) {
        EXPECT_LT(red, 200) << "seed " << seed << ": an ignored pixel from outside the image is not class 1's colour";
        continue;
      }
      ASSERT_LE(label, 1);
      ++labelled;
      if ((label == 1) != (red > 110)) ++mismatched;  // only along the class boundary (linear vs nearest)
    }
    EXPECT_GT(labelled, 0);
    EXPECT_LT(mismatched, 2 * (48 + 40)) << "seed " << seed << ": labels moved with their pixels";
    // The boundary was vertical; a row whose labels change more than once is what rotation makes.
    const auto id = [&](int y, int x) { return out.labels[static_cast<size_t>(y) * 40 + x]; };
    rotated += id(0, 0) != id(47, 0) || id(0, 39) != id(47, 39) ? 1 : 0;
  }
  EXPECT_GT(rotated, 0) << "some of 20 draws turn the class boundary away from vertical";
  // A crop much larger than the image at the smallest scale: most of it comes from outside.
  config.scale_min = config.scale_max = 0.5;
  const Sample wide = augment(sample, config, 96, 96, 7);
  EXPECT_GT(std::count(wide.labels.begin(), wide.labels.end(), kIgnoreLabel), 96 * 96 / 2);
}

TEST(Dataset, SensorAppearanceChangesPixelsNotLabels) {
  Sample sample = halves(32);
  for (size_t p = 0; p < sample.rgb.size(); ++p)
    sample.rgb[p] = static_cast<uint8_t>(sample.rgb[p] + p % 7 * 5);  // texture
  AugmentConfig geometry;
  geometry.hflip = geometry.vflip = true;
  AugmentConfig appearance = geometry;
  appearance.channel_gain = 0.3;
  appearance.gamma = 1.0;
  appearance.equalize = appearance.blur = appearance.jpeg = 1.0;
  appearance.noise = 10.0;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    const Sample plain = augment(sample, geometry, 24, 24, seed), styled = augment(sample, appearance, 24, 24, seed);
    EXPECT_EQ(styled.labels, plain.labels) << "appearance draws come after geometry's, so the crops agree";
    EXPECT_NE(styled.rgb, plain.rgb);
    EXPECT_EQ(augment(sample, appearance, 24, 24, seed).rgb, styled.rgb) << "seeded, noise included";
  }
  // Sharpening instead of blur, and every step off: the pixels are the crop's own.
  appearance.blur = 0.0;
  appearance.sharpen = 1.0;
  EXPECT_NE(augment(sample, appearance, 24, 24, 3).rgb, augment(sample, geometry, 24, 24, 3).rgb);
  EXPECT_EQ(augment(sample, AugmentConfig{}, 32, 32, 3).rgb, sample.rgb);
}

TEST(Dataset, EachSourceDecodesWithItsOwnEncodingAndScale) {
  TwoSources data;
  BatchLoader loader(data.pairs(), TwoSources::config(), 0, 0);
  ASSERT_EQ(loader.batches_per_epoch(), 4);
  for (int b = 0; b < 4; ++b) {
    const Batch batch = loader.next();
    const bool second_source = b >= 2;  // no shuffle: source a's two pairs, then b's
    const int64_t n = second_source ? 2 * TwoSources::n : TwoSources::n;
    ASSERT_EQ(batch.labels.h, n) << "batch " << b << ": source b is resized by its scale 2";
    ASSERT_EQ(batch.labels.w, n);
    // Left half is class 1 in both encodings; nothing is ignored.
    EXPECT_EQ(batch.labels.ids[0], 1) << "batch " << b;
    EXPECT_EQ(batch.labels.ids[static_cast<size_t>(n - 1)], 0) << "batch " << b;
    EXPECT_EQ(std::count(batch.labels.ids.begin(), batch.labels.ids.end(), kIgnoreLabel), 0);
    EXPECT_FLOAT_EQ(batch.images.data()[0], second_source ? 200.0F / 255.0F : 10.0F / 255.0F);
  }
}

TEST(Dataset, RescaleSmoothsTheImageAndKeepsLabelsExact) {
  Sample sample;
  sample.height = 4;
  sample.width = 6;
  for (int y = 0; y < 4; ++y) {
    for (int x = 0; x < 6; ++x) {
      const uint8_t v = x < 3 ? 0 : 240;
      sample.rgb.insert(sample.rgb.end(), {v, v, v});
      sample.labels.push_back(x < 3 ? uint8_t{1} : (y < 2 ? uint8_t{0} : kIgnoreLabel));
    }
  }
  const Sample same = rescale(sample, 1.0);
  EXPECT_EQ(same.rgb, sample.rgb);
  EXPECT_EQ(same.labels, sample.labels);

  const Sample big = rescale(sample, 2.0);
  ASSERT_EQ(big.width, 12);
  ASSERT_EQ(big.height, 8);
  std::set<uint8_t> values(big.rgb.begin(), big.rgb.end());
  EXPECT_GT(values.size(), 2U) << "bilinear: grey values at the edge";
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 12; ++x) {
      const uint8_t label = big.labels[static_cast<size_t>(y) * 12 + x];
      EXPECT_EQ(label, sample.labels[static_cast<size_t>((y / 2) * 6 + x / 2)])
          << x << "," << y << ": nearest, no new ids";
    }
  }
  const Sample small = rescale(sample, 0.5);
  ASSERT_EQ(small.width, 3);
  ASSERT_EQ(small.height, 2);
  EXPECT_EQ(small.rgb[0], 0);
  EXPECT_EQ(small.rgb[6], 240);  // pixel 2, red
  EXPECT_EQ(small.rgb[3], 120) << "area: the middle pixel averages a dark and a bright column";
  for (uint8_t label : small.labels) EXPECT_TRUE(label == 0 || label == 1 || label == kIgnoreLabel);
}

TEST(Dataset, LoaderIsDeterministicAcrossResume) {
  TwoSources data;
  LoaderConfig config = TwoSources::config();
  config.shuffle = true;
  config.augment.hflip = true;
  config.crop_h = config.crop_w = 6;
  std::vector<std::vector<uint8_t>> straight;
  {
    BatchLoader loader(data.pairs(), config, 0, 0);
    for (int i = 0; i < 8; ++i) straight.push_back(loader.next().labels.ids);
  }
  BatchLoader resumed(data.pairs(), config, 1, 1);  // epoch 1, batch 1 = the 6th batch
  for (int i = 5; i < 8; ++i) EXPECT_EQ(resumed.next().labels.ids, straight[static_cast<size_t>(i)]) << "batch " << i;
}

/// A 250 x 200 georeferenced RGB raster and its label raster: class 1 in every other 10-pixel column
/// stripe (red 200 there, 20 elsewhere); green is the row number, blue the column, so a window's
/// position can be read back from its pixels.
struct BigRaster {
  terraseg::test::TempDir dir;
  std::string image = (dir / "scene.tif").string(), labels = (dir / "scene_labels.tif").string();
  static bool road(int x) { return (x / 10) % 2 == 1; }
  BigRaster() {
    test::SyntheticRaster spec;
    spec.width = 250;
    spec.height = 200;
    spec.bands = 3;
    test::write_raster(image, spec, [](int b, int x, int y) { return b == 1 ? (road(x) ? 200 : 20) : b == 2 ? y : x; });
    spec.bands = 1;
    test::write_raster(labels, spec, [](int, int x, int) { return road(x) ? 1 : 0; });
  }
};

MaskEncoding two_class_ids() {
  MaskEncoding ids;
  ids.classes = 2;
  return ids;
}

TEST(Dataset, WindowsOfLargeRastersComeFromOnePlaceInBoth) {
  BigRaster raster;
  std::set<int> origins;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    const Sample window = load_window({raster.image, raster.labels}, two_class_ids(), 32, 48, seed);
    ASSERT_EQ(window.height, 32);
    ASSERT_EQ(window.width, 48);
    const int y0 = window.rgb[1], x0 = window.rgb[2];
    origins.insert(y0 * 1000 + x0);
    for (int r = 0; r < window.height; ++r) {
      for (int c = 0; c < window.width; ++c) {
        const size_t i = static_cast<size_t>(r) * window.width + c;
        ASSERT_EQ(window.rgb[3 * i + 1], y0 + r);                                         // rows in order
        ASSERT_EQ(window.labels[i], BigRaster::road(x0 + c) ? 1 : 0) << "seed " << seed;  // labels from the same window
        ASSERT_EQ(window.rgb[3 * i] == 200, window.labels[i] == 1);
      }
    }
  }
  EXPECT_GT(origins.size(), 4U) << "windows are drawn at different places";
  EXPECT_EQ(load_window({raster.image, raster.labels}, two_class_ids(), 32, 48, 3).rgb,
            load_window({raster.image, raster.labels}, two_class_ids(), 32, 48, 3).rgb);
  // Larger than the raster: clipped. Centre window: centred.
  EXPECT_EQ(load_window({raster.image, raster.labels}, two_class_ids(), 500, 500, 1).width, 250);
  const Sample centre = load_centre_window({raster.image, raster.labels}, two_class_ids(), 100, 100);
  EXPECT_EQ(centre.rgb[1], 50);
  EXPECT_EQ(centre.rgb[2], 75);
}

TEST(Dataset, WindowRastersMustShareAGridAndBeEightBit) {
  BigRaster raster;
  test::SyntheticRaster spec;
  spec.width = 250;
  spec.height = 200;
  spec.geotransform = GeoTransform{500000.0, 10.0, 0.0, 4000100.0, 0.0, -10.0};  // shifted north
  const std::string shifted = (raster.dir / "shifted.tif").string();
  test::write_raster(shifted, spec, [](int, int, int) { return 0; });
  try {
    load_window({raster.image, shifted}, two_class_ids(), 16, 16, 1);
    FAIL() << "a label raster off the image's grid was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("shifted.tif"), std::string::npos) << e.what();
  }
  spec.geotransform = test::SyntheticRaster{}.geotransform;
  spec.width = 249;
  const std::string narrow = (raster.dir / "narrow.tif").string();
  test::write_raster(narrow, spec, [](int, int, int) { return 0; });
  EXPECT_THROW(load_window({raster.image, narrow}, two_class_ids(), 16, 16, 1), Error);
  spec.width = 250;
  spec.bands = 3;
  spec.type = GDT_UInt16;
  const std::string deep = (raster.dir / "deep.tif").string();
  test::write_raster(deep, spec, [](int, int, int) { return 1000; });
  try {
    load_window({deep, raster.labels}, two_class_ids(), 16, 16, 1);
    FAIL() << "a 16-bit image was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("8-bit"), std::string::npos) << e.what();
  }
}

TEST(Dataset, LoaderReadsWindowsAndCountsWholeLabelRasters) {
  BigRaster raster;
  LoaderConfig config;
  config.batch = 2;
  config.crop_h = config.crop_w = 24;
  config.augment.hflip = true;
  config.augment.scale_min = 0.8;
  config.augment.scale_max = 1.2;
  config.normalisation.mean = {0.0F, 0.0F, 0.0F};
  config.normalisation.std = {1.0F, 1.0F, 1.0F};
  config.sources = {DataSource{two_class_ids(), 1.0, true}};
  const std::vector<TrainingPair> pairs(3, TrainingPair{raster.image, raster.labels, 0});
  ASSERT_FALSE(pairs[2].mask.empty());
  std::vector<std::vector<uint8_t>> straight;
  {
    BatchLoader loader(pairs, config, 0, 0);
    for (int b = 0; b < 4; ++b) {
      const Batch batch = loader.next();
      ASSERT_EQ(batch.labels.h, 24);
      ASSERT_EQ(batch.labels.w, 24);
      // Red is 200 exactly where the label is 1 (bilinear rescaling blurs the stripe edges only).
      int agree = 0;
      for (size_t i = 0; i < batch.labels.ids.size(); ++i) {
        agree += (batch.images.data()[i % 576 + (i / 576) * 3 * 576] > 110.0F / 255.0F) == (batch.labels.ids[i] == 1);
      }
      EXPECT_GT(agree, static_cast<int>(batch.labels.ids.size() * 9 / 10)) << "batch " << b;
      straight.push_back(batch.labels.ids);
    }
  }
  // One batch per epoch (3 pairs / 2): the third batch is epoch 2, batch 0; "epoch 1, batch 1" is the same.
  EXPECT_EQ(BatchLoader(pairs, config, 2, 0).next().labels.ids, straight[2]);
  EXPECT_EQ(BatchLoader(pairs, config, 1, 1).next().labels.ids, straight[2]);

  std::vector<int64_t> pixels, image_pixels;
  class_statistics(pairs, config.sources, 2, pixels, image_pixels);
  EXPECT_EQ(pixels[1], 3 * 120 * 200);  // 12 of the 25 stripes
  EXPECT_EQ(pixels[0], 3 * 130 * 200);
  EXPECT_EQ(image_pixels[1], 3 * 250 * 200);

  config.crop_h = 0;
  EXPECT_THROW(BatchLoader(pairs, config, 0, 0), Error);
}

TEST(Dataset, LoaderRefusesAnUnknownSource) {
  TwoSources data;
  auto pairs = data.pairs();
  pairs[1].source = 5;
  EXPECT_THROW(BatchLoader(pairs, TwoSources::config(), 0, 0), Error);
}

}  // namespace
}  // namespace terraseg::geo
