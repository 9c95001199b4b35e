// The domain check (terraseg/core/domain.hpp): what one input's statistics are, how a profile of
// training images is made, and how far an input lies from it.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "terraseg/core/domain.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/model_card.hpp"

namespace terraseg {
namespace {

/// 1 x 1 x h x w input with value `v` everywhere, and 1 x 2 x h x w logits (0, `logit1`).
Tensor constant(int64_t h, int64_t w, float v) { return Tensor({1, 1, h, w}, v); }
Tensor two_logits(int64_t h, int64_t w, float logit1) {
  Tensor scores({1, 2, h, w}, 0.0F);
  for (int64_t i = 0; i < h * w; ++i) scores.data()[h * w + i] = logit1;
  return scores;
}

TEST(DomainMeter, MeasuresBandsEdgesAndConfidenceOverValidPixelsOnly) {
  // A 2 x 4 window: left half 0, right half 2 (one vertical edge), logits (0, ln 3): P = 0.75.
  Tensor input({1, 1, 2, 4}, std::vector<float>{0, 0, 2, 2, 0, 0, 2, 2});
  DomainMeter meter;
  meter.add(input, two_logits(2, 4, std::log(3.0F)));
  const std::vector<float> d = meter.descriptor();
  ASSERT_EQ(d.size(), 4U);  // mean, spread, edge strength, confidence
  EXPECT_NEAR(d[0], 1.0, 1e-6);
  EXPECT_NEAR(d[1], 1.0, 1e-6);
  EXPECT_NEAR(d[2], 2.0 * 2.0 / 10.0, 1e-6);  // 10 neighbour pairs, 2 across the edge, each |2 - 0|
  EXPECT_NEAR(d[3], 0.75, 1e-6);
  EXPECT_EQ(meter.pixels(), 8);

  // Only the left half valid: the right half (and the edge) are not seen.
  const std::vector<uint8_t> valid{1, 1, 0, 0, 1, 1, 0, 0};
  DomainMeter left;
  left.add(input, two_logits(2, 4, std::log(3.0F)), valid.data());
  const std::vector<float> l = left.descriptor();
  EXPECT_NEAR(l[0], 0.0, 1e-6);
  EXPECT_NEAR(l[2], 0.0, 1e-6);
  EXPECT_EQ(left.pixels(), 4);
  EXPECT_TRUE(DomainMeter().descriptor().empty());
}

TEST(DomainMeter, TakesTheThresholdShiftOutAndReadsProbabilitiesAsTheyAre) {
  // predict adds logit(t) to class 0 before the blend; the meter is told and takes it back out.
  Tensor shifted = two_logits(2, 2, std::log(3.0F));
  for (int i = 0; i < 4; ++i) shifted.data()[i] += 1.5F;
  DomainMeter meter(1.5F);
  meter.add(constant(2, 2, 0.0F), shifted);
  EXPECT_NEAR(meter.descriptor()[3], 0.75, 1e-6);

  // Scores that are probabilities already (softmax in the graph) are not softmaxed again.
  Tensor probabilities({1, 2, 2, 2}, std::vector<float>{0.9F, 0.9F, 0.2F, 0.2F, 0.1F, 0.1F, 0.8F, 0.8F});
  DomainMeter probs;
  probs.add(constant(2, 2, 0.0F), probabilities);
  EXPECT_NEAR(probs.descriptor()[3], 0.85, 1e-6);
}

TEST(DomainMeter, BinaryModelsShareOfLeaningPixelsPastTheirThreshold) {
  // 100 pixels: P(positive) 0.97 on 10, 0.7 on 30 (leaning, not past 0.95), 0.2 on 60.
  Tensor scores({1, 2, 10, 10}, 0.0F);
  const auto logit = [](double p) { return static_cast<float>(std::log(p / (1.0 - p))); };
  for (int i = 0; i < 100; ++i) scores.data()[100 + i] = logit(i < 10 ? 0.97 : i < 40 ? 0.7 : 0.2);
  const float shift = logit(0.95);  // what predict adds to class 0; the meter takes it out
  for (int i = 0; i < 100; ++i) scores.data()[i] += shift;
  DomainMeter meter(shift, 0.95);
  meter.add(constant(10, 10, 0.0F), scores);
  const std::vector<float> d = meter.descriptor();
  ASSERT_EQ(d.size(), 5U);
  EXPECT_NEAR(d[4], (10.0 + 1.0) / (40.0 + 1.0), 1e-6);  // pseudo-count: 1 % of 100 pixels
  EXPECT_EQ(domain_feature_names({"grey"}, true).back(), kThresholdShareFeature);

  // A threshold below 0.5: of the pixels past it, the share past 0.5. Probabilities are read as they are.
  Tensor probabilities({1, 2, 1, 4}, std::vector<float>{0.8F, 0.6F, 0.4F, 0.1F, 0.2F, 0.4F, 0.6F, 0.9F});
  DomainMeter low(0.0F, 0.3);
  low.add(constant(1, 4, 0.0F), probabilities);
  EXPECT_NEAR(low.descriptor()[4], (2.0 + 0.04) / (3.0 + 0.04), 1e-6);

  // Without a threshold the feature is not measured; with one, only binary scores are taken.
  EXPECT_EQ(DomainMeter().descriptor().size(), 0U);
  DomainMeter plain;
  plain.add(constant(10, 10, 0.0F), scores);
  EXPECT_EQ(plain.descriptor().size(), 4U);
  DomainMeter three(0.0F, 0.9);
  EXPECT_THROW(three.add(constant(1, 1, 0.0F), Tensor({1, 3, 1, 1}, 0.0F)), Error);
}

TEST(DomainShiftSummary, SeveralInputsAreJudgedByTheirMedian) {
  const DomainShiftSummary region = summarise_domain_shifts({2.4, 0.7, 3.8, 2.1, 1.9});
  EXPECT_EQ(region.inputs, 5U);
  EXPECT_EQ(region.above, 3U);
  EXPECT_DOUBLE_EQ(region.median, 2.1);
  EXPECT_DOUBLE_EQ(region.max, 3.8);
  EXPECT_TRUE(region.warn());
  EXPECT_EQ(region.describe(), "domain_shift over 5 inputs: median 2.1, max 3.8, 3 above 2");
  // A few tiles far off in a region like the training imagery: no verdict against it.
  const DomainShiftSummary mostly_like = summarise_domain_shifts({0.5, 3.1, 0.9, 2.6});
  EXPECT_EQ(mostly_like.above, 2U);
  EXPECT_DOUBLE_EQ(mostly_like.median, 2.6);  // the upper median of four
  const DomainShiftSummary quiet = summarise_domain_shifts({0.5, 3.1, 0.9, 0.8, 1.2});
  EXPECT_FALSE(quiet.warn());
  EXPECT_THROW(summarise_domain_shifts({}), Error);
}

TEST(DomainProfile, ShiftIsDistanceToTheNearestTrainingImageOverTheirSpread) {
  const std::vector<std::string> features = domain_feature_names({"grey"});
  ASSERT_EQ(features, (std::vector<std::string>{"mean grey", "spread grey", "edge strength", "model confidence"}));
  // Two clusters of training images (two sources): an input in either is in the domain, one between
  // them or far off is not.
  std::vector<std::vector<float>> images;
  for (int i = 0; i < 10; ++i) {
    const float jitter = 0.01F * static_cast<float>(i);
    images.push_back({-1.0F + jitter, 1.0F, 0.2F, 0.9F});
    images.push_back({1.0F + jitter, 1.0F, 0.2F, 0.9F});
  }
  const DomainProfile profile = make_domain_profile(images, features, "20 test images");
  EXPECT_EQ(profile.images, 20);
  EXPECT_EQ(profile.reference.size(), 20U);
  EXPECT_GT(profile.spread, 0.0);
  EXPECT_LE(domain_shift(profile, images[3]).shift, 1e-6);
  EXPECT_LT(domain_shift(profile, {1.045F, 1.0F, 0.2F, 0.9F}).shift, 1.0);
  const DomainShift between = domain_shift(profile, {0.0F, 1.0F, 0.2F, 0.9F});
  EXPECT_GT(between.shift, kDomainShiftWarning);
  EXPECT_TRUE(between.warn());
  EXPECT_EQ(between.feature, "mean grey");
  // Two decimals, so that engine plans differing in the scores' last bits report the same figure.
  EXPECT_DOUBLE_EQ(between.shift, std::round(between.shift * 100.0) / 100.0);
  EXPECT_GT(between.shift, 3.0);  // not rounded away
  const DomainShift unsure = domain_shift(profile, {1.0F, 1.0F, 0.2F, 0.6F});
  EXPECT_GT(unsure.shift, kDomainShiftWarning);
  EXPECT_EQ(unsure.feature, "model confidence");
  EXPECT_NE(unsure.describe().find("model confidence 0.6 here, 0.9 in the nearest training image"), std::string::npos);

  EXPECT_THROW(make_domain_profile({images[0]}, features, "one"), Error);
  EXPECT_THROW(domain_shift(profile, {0.0F, 1.0F}), Error);
}

TEST(DomainProfile, TravelsInTheModelCardAndIsCheckedWhenRead) {
  ModelCard card;
  card.name = "roads";
  card.bands = {"grey"};
  card.training_domain =
      make_domain_profile({{0.0F, 1.0F, 0.1F, 0.9F}, {0.5F, 1.0F, 0.2F, 0.8F}, {1.0F, 1.2F, 0.1F, 0.95F}},
                          domain_feature_names(card.bands), "3 images");
  card.training_domain->validation_max = 1.25;
  const ModelCard back = ModelCard::from_json(card.to_json(), "m.onnx");
  ASSERT_TRUE(back.training_domain.has_value());
  EXPECT_EQ(back.training_domain->features, card.training_domain->features);
  EXPECT_EQ(back.training_domain->reference, card.training_domain->reference);
  EXPECT_DOUBLE_EQ(back.training_domain->spread, card.training_domain->spread);
  EXPECT_EQ(back.training_domain->source, "3 images");
  EXPECT_DOUBLE_EQ(*back.training_domain->validation_max, 1.25);
  EXPECT_FALSE(ModelCard::from_json(R"({"name": "old"})", "old.onnx").training_domain.has_value());

  for (const char* bad : {R"({"features": ["a", "b"], "scale": [1], "reference": [[0, 0]], "spread": 1})",
                          R"({"features": ["a"], "scale": [0], "reference": [[0]], "spread": 1})",
                          R"({"features": ["a"], "scale": [1], "reference": [[0, 1]], "spread": 1})",
                          R"({"features": ["a"], "scale": [1], "reference": [[0]], "spread": -1})"}) {
    try {
      ModelCard::from_json(std::string(R"({"name": "x", "training_domain": )") + bad + "}", "x.onnx");
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("x.onnx: model card: key 'training_domain"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace terraseg
