// Multi-scale and mirrored inference (pipeline/src/inference_passes.hpp): the passes a model card or
// the command line asks for, and the averaged scores they give.
#include <gtest/gtest.h>

#include <vector>

#include "inference_passes.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/model_card.hpp"

using terraseg::Dims;
using terraseg::InferencePasses;
using terraseg::ModelCard;
using terraseg::Tensor;

namespace {

/// 1 x 1 x H x W with value row * 100 + col.
Tensor ramp(int64_t height, int64_t width) {
  Tensor t({1, 1, height, width});
  for (int64_t r = 0; r < height; ++r) {
    for (int64_t c = 0; c < width; ++c) t.data()[r * width + c] = static_cast<float>(r * 100 + c);
  }
  return t;
}

float at(const Tensor& t, int64_t channel, int64_t row, int64_t col) {
  return t.data()[(channel * t.dim(2) + row) * t.dim(3) + col];
}

}  // namespace

TEST(InferencePasses, OnePassAtScaleOneIsTheModelItself) {
  int calls = 0;
  const terraseg::ModelFn model = [&calls](const Tensor& input, Tensor& scores) {
    ++calls;
    scores = Tensor({1, 2, input.dim(2), input.dim(3)}, 0.25F);
  };
  Tensor scores;
  terraseg::run_passes(model, InferencePasses{}, 8, ramp(16, 24), scores);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(scores.dims(), (Dims{1, 2, 16, 24}));
  EXPECT_EQ(at(scores, 1, 3, 5), 0.25F);
}

TEST(InferencePasses, TheMirroredPassSeesTheMirrorImageAndIsMirroredBack) {
  // A model that is not mirror-symmetric: each pixel's score is its left neighbour's value (0 at the
  // left edge). Mirrored in and back it becomes the right neighbour's value, so the average of the
  // two passes is the mean of both neighbours.
  std::vector<Dims> seen;
  const terraseg::ModelFn shift_right = [&seen](const Tensor& input, Tensor& scores) {
    seen.push_back(input.dims());
    scores = Tensor(input.dims());
    const int64_t w = input.dim(3);
    for (int64_t r = 0; r < input.dim(2); ++r) {
      for (int64_t c = 1; c < w; ++c) scores.data()[r * w + c] = input.data()[r * w + c - 1];
    }
  };
  InferencePasses passes;
  passes.flip = true;
  Tensor scores;
  terraseg::run_passes(shift_right, passes, 8, ramp(8, 16), scores);
  ASSERT_EQ(seen.size(), 2U);
  EXPECT_EQ(seen[0], (Dims{1, 1, 8, 16}));
  EXPECT_EQ(seen[1], (Dims{1, 1, 8, 16}));
  EXPECT_FLOAT_EQ(at(scores, 0, 2, 5), 0.5F * (204.0F + 206.0F));
  EXPECT_FLOAT_EQ(at(scores, 0, 2, 0), 0.5F * (0.0F + 201.0F));   // left edge: only the mirrored pass sees a neighbour
  EXPECT_FLOAT_EQ(at(scores, 0, 2, 15), 0.5F * (214.0F + 0.0F));  // right edge: only the direct pass
  EXPECT_EQ(passes.describe(), "1 + flip");
}

TEST(InferencePasses, ScaledPassesRunAtMultiplesOfTheStrideAndComeBackOnTheWindowsGrid) {
  std::vector<Dims> seen;
  const terraseg::ModelFn model = [&seen](const Tensor& input, Tensor& scores) {
    seen.push_back(input.dims());
    scores = Tensor({1, 3, input.dim(2), input.dim(3)});
    // Scores 1, 2, 3 everywhere, whatever the size: the average must be exactly that.
    for (int64_t k = 0; k < 3; ++k) {
      for (int64_t i = 0; i < input.dim(2) * input.dim(3); ++i)
        scores.data()[k * input.dim(2) * input.dim(3) + i] = static_cast<float>(k + 1);
    }
  };
  InferencePasses passes;
  passes.scales = {1.0, 1.5, 0.5};
  Tensor scores;
  terraseg::run_passes(model, passes, 8, ramp(20, 30), scores);
  ASSERT_EQ(seen.size(), 3U);
  EXPECT_EQ(seen[0], (Dims{1, 1, 20, 30}));
  EXPECT_EQ(seen[1], (Dims{1, 1, 32, 48}));  // 30 x 45 rounded to multiples of 8
  EXPECT_EQ(seen[2], (Dims{1, 1, 8, 16}));   // 10 x 15 rounded likewise
  EXPECT_EQ(scores.dims(), (Dims{1, 3, 20, 30}));
  EXPECT_FLOAT_EQ(at(scores, 2, 19, 29), 3.0F);
  EXPECT_FLOAT_EQ(at(scores, 0, 7, 11), 1.0F);
  EXPECT_EQ(passes.describe(), "1, 1.5, 0.5");
}

TEST(InferencePasses, AScaledPassResizesTheInputBilinearlyWithPixelCentresAligned) {
  // A model returning its input: at scale 2 a horizontal ramp comes back as itself away from the
  // borders (bilinear with aligned pixel centres reproduces a linear function).
  const terraseg::ModelFn identity = [](const Tensor& input, Tensor& scores) { scores = input; };
  InferencePasses passes;
  passes.scales = {2.0};
  Tensor scores;
  const Tensor input = ramp(8, 16);
  terraseg::run_passes(identity, passes, 8, input, scores);
  ASSERT_EQ(scores.dims(), input.dims());
  for (int64_t c = 1; c < 15; ++c) EXPECT_NEAR(at(scores, 0, 3, c), at(input, 0, 3, c), 1e-3) << "column " << c;
}

TEST(InferencePasses, AModelThatChangesTheSizeIsRefused) {
  const terraseg::ModelFn halves = [](const Tensor& input, Tensor& scores) {
    scores = Tensor({1, 2, input.dim(2) / 2, input.dim(3) / 2});
  };
  InferencePasses passes;
  passes.scales = {1.0, 2.0};
  Tensor scores;
  EXPECT_THROW(terraseg::run_passes(halves, passes, 8, ramp(16, 16), scores), terraseg::Error);
}

TEST(InferencePasses, TheCardDecidesUnlessTheRequestSays) {
  ModelCard card;
  card.inference_scales = {1.0, 1.5};
  card.inference_flip = true;
  const InferencePasses from_card = terraseg::resolve_passes(card, nullptr, nullptr, false, "--scales");
  EXPECT_EQ(from_card.scales, (std::vector<double>{1.0, 1.5}));
  EXPECT_TRUE(from_card.flip);
  EXPECT_EQ(from_card.count(), 4);

  const std::vector<double> one{1.0};
  const bool off = false;
  const InferencePasses overridden = terraseg::resolve_passes(card, &one, &off, false, "--scales");
  EXPECT_EQ(overridden.scales, one);
  EXPECT_FALSE(overridden.flip);
  EXPECT_EQ(overridden.count(), 1);

  const InferencePasses plain = terraseg::resolve_passes(ModelCard{}, nullptr, nullptr, false, "--scales");
  EXPECT_EQ(plain.scales, one);
  EXPECT_FALSE(plain.flip);
}

TEST(InferencePasses, AFixedSizeModelOnlyRunsAtScaleOneAndTheErrorNamesTheSource) {
  const std::vector<double> scales{1.0, 1.5};
  try {
    terraseg::resolve_passes(ModelCard{}, &scales, nullptr, true, "configs/x.yaml: key 'tiling.scales'");
    FAIL() << "a fixed-size model was given scale 1.5";
  } catch (const terraseg::Error& e) {
    EXPECT_NE(std::string(e.what()).find("key 'tiling.scales'"), std::string::npos) << e.what();
  }
  ModelCard card;
  card.inference_scales = {1.0, 2.0};
  try {
    terraseg::resolve_passes(card, nullptr, nullptr, true, "--scales");
    FAIL() << "a fixed-size model's card asked for scale 2";
  } catch (const terraseg::Error& e) {
    EXPECT_NE(std::string(e.what()).find("inference_scales"), std::string::npos) << e.what();
  }
  const std::vector<double> one{1.0};
  EXPECT_NO_THROW(terraseg::resolve_passes(card, &one, nullptr, true, "--scales"));
}

TEST(InferencePasses, ScaleListsAreParsedOrRefusedNamingTheFlag) {
  EXPECT_EQ(terraseg::parse_scales("1, 1.5,0.75", "--scales"), (std::vector<double>{1.0, 1.5, 0.75}));
  for (const std::string bad : {"", "1,abc", "1,,2", "0.1", "5", "nan"}) {
    try {
      terraseg::parse_scales(bad, "--scales");
      FAIL() << "accepted '" << bad << "'";
    } catch (const terraseg::Error& e) {
      EXPECT_NE(std::string(e.what()).find("--scales"), std::string::npos) << e.what();
    }
  }
  EXPECT_TRUE(terraseg::parse_on_off("on", "--flip"));
  EXPECT_FALSE(terraseg::parse_on_off("off", "--flip"));
  EXPECT_THROW(terraseg::parse_on_off("yes", "--flip"), terraseg::Error);
  EXPECT_EQ(terraseg::scaled_side(360, 1.5, 8), 544);  // 540 / 8 = 67.5 -> 68 multiples
  EXPECT_EQ(terraseg::scaled_side(3, 0.5, 8), 8);      // at least one multiple
}

TEST(InferencePasses, TheCardCarriesItsPassesThroughJson) {
  ModelCard card;
  card.inference_scales = {1.0, 1.25, 0.8};
  card.inference_flip = true;
  const ModelCard back = ModelCard::from_json(card.to_json(), "test");
  EXPECT_EQ(back.inference_scales, card.inference_scales);
  EXPECT_TRUE(back.inference_flip);
  const ModelCard plain = ModelCard::from_json(ModelCard{}.to_json(), "test");
  EXPECT_TRUE(plain.inference_scales.empty());
  EXPECT_FALSE(plain.inference_flip);
  EXPECT_EQ(plain.to_json().find("inference_"), std::string::npos);  // old cards stay as they were
  EXPECT_THROW(ModelCard::from_json(R"({"inference_scales": [1, 9]})", "m.onnx"), terraseg::Error);
  EXPECT_THROW(ModelCard::from_json(R"({"inference_scales": []})", "m.onnx"), terraseg::Error);
}
