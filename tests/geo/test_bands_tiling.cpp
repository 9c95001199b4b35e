#include <gtest/gtest.h>

#include "geo_test_util.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/bands.hpp"
#include "terraseg/geo/tiling.hpp"
#include "test_support.hpp"

namespace terraseg::geo {
namespace {

RasterInfo fake_raster(std::vector<GDALColorInterp> colours, std::vector<std::string> descriptions = {}) {
  RasterInfo info;
  info.path = "scene.tif";
  for (size_t i = 0; i < colours.size(); ++i) {
    BandInfo band;
    band.index = static_cast<int>(i) + 1;
    band.colour = colours[i];
    band.colour_name = GDALGetColorInterpretationName(colours[i]);
    if (i < descriptions.size()) band.description = descriptions[i];
    info.bands.push_back(band);
  }
  return info;
}

InputSpec spec_of(std::vector<std::string> bands) {
  InputSpec spec;
  spec.bands = std::move(bands);
  return spec;
}

TEST(Bands, ColourInterpretationDecidesOrder) {
  const RasterInfo bgr = fake_raster({GCI_BlueBand, GCI_GreenBand, GCI_RedBand});
  EXPECT_EQ(resolve_bands(spec_of({"red", "green", "blue"}), bgr).source_bands, (std::vector<int>{3, 2, 1}));
}

TEST(Bands, NumbersDescriptionsAndUntaggedRgb) {
  const RasterInfo landsat =
      fake_raster(std::vector<GDALColorInterp>(6, GCI_Undefined), {"b1", "b2", "b3", "NIR", "b5", "b7"});
  EXPECT_EQ(resolve_bands(spec_of({"4", "3", "2"}), landsat).source_bands, (std::vector<int>{4, 3, 2}));
  EXPECT_EQ(resolve_bands(spec_of({"nir", "3"}), landsat).source_bands, (std::vector<int>{4, 3}));
  int warnings = 0;
  const auto plan = resolve_bands(spec_of({"red", "green", "blue"}), landsat, [&](const std::string&) { ++warnings; });
  EXPECT_EQ(plan.source_bands, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(warnings, 1);  // more than 3 untagged bands: the assumed order is worth a warning
}

TEST(Bands, ThreeUntaggedBandsAreTakenInFileOrderWithAWarningNamingTheFix) {
  const RasterInfo untagged = fake_raster(std::vector<GDALColorInterp>(3, GCI_Undefined));
  std::vector<std::string> warnings;
  const auto plan = resolve_bands(spec_of({"red", "green", "blue"}), untagged,
                                  [&](const std::string& message) { warnings.push_back(message); });
  EXPECT_EQ(plan.source_bands, (std::vector<int>{1, 2, 3}));
  ASSERT_EQ(warnings.size(), 1U);
  EXPECT_NE(warnings[0].find("in file order"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("--bands 3,2,1"), std::string::npos) << warnings[0];
  // Tagged bands need no warning.
  warnings.clear();
  resolve_bands(spec_of({"red", "green", "blue"}), fake_raster({GCI_RedBand, GCI_GreenBand, GCI_BlueBand}),
                [&](const std::string& message) { warnings.push_back(message); });
  EXPECT_TRUE(warnings.empty());
}

TEST(Bands, GreyIsReplicatedToRgbWithOneWarning) {
  const RasterInfo grey = fake_raster({GCI_GrayIndex});
  std::vector<std::string> warnings;
  const auto plan =
      resolve_bands(spec_of({"red", "green", "blue"}), grey, [&](const std::string& w) { warnings.push_back(w); });
  EXPECT_EQ(plan.source_bands, (std::vector<int>{1, 1, 1}));
  ASSERT_EQ(warnings.size(), 1U);
  EXPECT_NE(warnings[0].find("replicating"), std::string::npos);
}

TEST(Bands, AlphaIsNotAnInputChannelByDefault) {
  const RasterInfo rgba = fake_raster({GCI_RedBand, GCI_GreenBand, GCI_BlueBand, GCI_AlphaBand});
  EXPECT_EQ(resolve_bands(InputSpec{}, rgba).source_bands, (std::vector<int>{1, 2, 3}));
}

TEST(Bands, ErrorsNameRasterAndFix) {
  const RasterInfo rgb = fake_raster({GCI_RedBand, GCI_GreenBand, GCI_BlueBand});
  try {
    resolve_bands(spec_of({"nir"}), rgb);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("scene.tif"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("--bands"), std::string::npos);
  }
  EXPECT_THROW(resolve_bands(spec_of({"7"}), rgb), Error);
  EXPECT_THROW(resolve_bands(spec_of({"grey"}), rgb), Error);
}

TEST(Bands, NormalisationFromCard) {
  ModelCard card;
  card.bands = {"red", "green", "blue"};
  card.scale = 1.0 / 255.0;
  card.mean = {0.5F, 0.4F, 0.3F};
  card.std = {0.25F, 0.5F, 1.0F};
  const InputSpec spec = input_spec_from_card(card, parse_band_list(" 3, 2 ,1"));
  EXPECT_EQ(spec.bands, (std::vector<std::string>{"3", "2", "1"}));
  const auto plan = resolve_bands(spec, fake_raster({GCI_Undefined, GCI_Undefined, GCI_Undefined}));
  EXPECT_EQ(plan.source_bands, (std::vector<int>{3, 2, 1}));
  // raw 255 -> (1.0 - 0.5) / 0.25 = 2
  EXPECT_NEAR(255.0F * plan.gain[0] + plan.offset[0], 2.0F, 1e-5F);
  EXPECT_THROW(input_spec_from_card(card, {"1", "2"}), Error);
  card.std = {1.0F};
  EXPECT_THROW(input_spec_from_card(card), Error);
}

TEST(Tiling, UsefulPartsCoverTheAxisWithWeightsSummingToOne) {
  for (int length : {1, 7, 100, 112, 113, 129, 333, 517, 2000}) {
    for (int multiple : {1, 8, 16}) {
      const AxisTiling axis(length, 128, 32, multiple);
      EXPECT_EQ(axis.useful_begin(0), 0);
      EXPECT_EQ(axis.useful_end(axis.count() - 1), length);
      for (int i = 0; i < axis.count(); ++i) {
        EXPECT_EQ(axis.origin(i) % multiple, 0) << "window " << i << " starts off the model's stride grid";
        EXPECT_GE(axis.origin(i), 0);
        if (i > 0) {
          EXPECT_LE(axis.useful_begin(i), axis.useful_end(i - 1)) << "no pixel between two windows' useful parts";
        }
      }
      for (int x = 0; x < length; ++x)
        EXPECT_NEAR(axis.weight_sum(x), 1.0F, 1e-6F) << "length " << length << " x " << x;
    }
  }
}

TEST(Tiling, AnAxisThatFitsRunsWholeAtItsOwnSizeRoundedToTheStride) {
  const AxisTiling exact(480, 512, 64, 8);
  EXPECT_EQ(exact.count(), 1);
  EXPECT_EQ(exact.window(), 480);  // not padded to the tile: the photo is seen at its own size
  const AxisTiling odd(357, 512, 64, 8);
  EXPECT_EQ(odd.count(), 1);
  EXPECT_EQ(odd.window(), 360);  // padded by reflection to the stride multiple, cropped back
  EXPECT_EQ(odd.useful_end(0), 357);
  EXPECT_EQ(odd.weight(0, 0), 1.0F);
  EXPECT_EQ(odd.weight(0, 356), 1.0F);
}

TEST(Tiling, LongAxesGetWindowsFlushWithBothEndsAndContextAtInnerEdges) {
  const AxisTiling axis(1000, 256, 64, 16);
  ASSERT_GT(axis.count(), 1);
  EXPECT_EQ(axis.window(), 256);
  EXPECT_EQ(axis.origin(0), 0);
  EXPECT_EQ(axis.origin(axis.count() - 1) + axis.window(), 1008);  // 1000 padded to the stride
  for (int i = 0; i + 1 < axis.count(); ++i) {
    const int shared = axis.origin(i) + axis.window() - axis.origin(i + 1);
    EXPECT_GE(shared, 64);
    // Window i + 1 only counts from 7/16 of the shared band on: its inner edge is context only.
    EXPECT_GE(axis.useful_begin(i + 1) - axis.origin(i + 1), 7 * 64 / 16);
    EXPECT_GE(axis.origin(i) + axis.window() - axis.useful_end(i), 7 * 64 / 16);
    EXPECT_EQ(axis.weight(i + 1, axis.useful_begin(i + 1) - 1), 0.0F);
    EXPECT_GT(axis.weight(i + 1, axis.useful_begin(i + 1)), 0.0F);
  }
}

TEST(Tiling, FixedSizeModelsGetExactlyTheirWindowEvenOnShortAxes) {
  const AxisTiling short_axis(360, 512, 0, 8, true);
  EXPECT_EQ(short_axis.count(), 1);
  EXPECT_EQ(short_axis.window(), 512);
  const AxisTiling long_axis(1500, 1024, 128, 8, true);
  EXPECT_EQ(long_axis.window(), 1024);
  EXPECT_EQ(long_axis.count(), 2);
  EXPECT_EQ(long_axis.origin(1) + 1024, 1504);
}

TEST(Tiling, RejectsBadOverlapAndTiles) {
  EXPECT_THROW(AxisTiling(100, 128, 64), Error);
  EXPECT_THROW(AxisTiling(100, 128, -1), Error);
  EXPECT_THROW(AxisTiling(100, 4, 0), Error);
  EXPECT_THROW(AxisTiling(100, 100, 0, 16), Error);  // not a multiple of the stride
  EXPECT_NO_THROW(AxisTiling(100, 128, 0));
  EXPECT_NO_THROW(AxisTiling(100, 100, 0, 16, true));
}

TEST(Tiling, Reflect101) {
  EXPECT_EQ(reflect_101(-1, 5), 1);
  EXPECT_EQ(reflect_101(-2, 5), 2);
  EXPECT_EQ(reflect_101(5, 5), 3);
  EXPECT_EQ(reflect_101(4, 5), 4);
  EXPECT_EQ(reflect_101(9, 5), 1);  // folded twice
  EXPECT_EQ(reflect_101(-100, 1), 0);
}

}  // namespace
}  // namespace terraseg::geo
