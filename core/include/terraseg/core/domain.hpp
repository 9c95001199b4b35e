#pragma once
/// Is an input like the imagery a model was trained on? A few statistics of each input as the model
/// sees it (per band: mean and spread of the normalised values; edge strength; the model's own
/// confidence; for a binary model, how much of what it finds clears its threshold) are compared with the same
/// statistics of its training images, stored in its card (ModelCard::training_domain). The figure, `domain_shift`, is
/// the distance from the input to the nearest training image, in units of how far training images typically lie from
/// their own nearest neighbour (the 90th percentile): about 1 or less for imagery like the training set's, growing as
/// the input departs from it. A nearest-neighbour distance rather than one mean and spread, because
/// models are trained on several sources at once (grey SpaceNet beside colour Google imagery): an
/// input between two sources is not like either. No GDAL, no OpenCV: the pipeline feeds windows.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "terraseg/core/model_card.hpp"
#include "terraseg/core/tensor.hpp"

namespace terraseg {

/// domain_shift above this: the input is further from every training image than training images are
/// from each other, by this factor; predict, run and eval warn and advise `terraseg adapt`. Chosen on
/// the leave-one-source-out road models (docs/models.md, "Knowing when it is out of its depth").
constexpr double kDomainShiftWarning = 2.0;

/// The feature of binary models with a threshold: of the pixels the model leans to the positive class
/// on (P above the lower of 0.5 and the threshold), the share past the higher. A model meeting imagery
/// unlike its training set often still finds its class there, but less surely: its probabilities fall
/// between 0.5 and a threshold chosen where it was sure (docs/models.md). A pseudo-count of 1 % of the
/// image's pixels on both sides keeps an image with almost no positive pixels from reading as unsure.
inline constexpr const char* kThresholdShareFeature = "share past threshold";

/// Accumulates the statistics of one input over the windows the model sees.
class DomainMeter {
 public:
  /// `class0_shift`: what the caller added to the class-0 scores before `add` sees them (a binary
  /// model's threshold, threshold_logit_shift), taken back out so that the confidence is the model's own.
  /// `threshold`: a binary model's threshold (its card's); the descriptor then ends with
  /// kThresholdShareFeature, and `add` takes only 1- or 2-class scores.
  explicit DomainMeter(float class0_shift = 0.0F, std::optional<double> threshold = std::nullopt)
      : class0_shift_(class0_shift), threshold_(threshold) {}

  /// One window: `input` 1 x C x H x W normalised as the model takes it, `scores` 1 x K x H x W (logits,
  /// or probabilities when they already are: non-negative and summing to 1), `valid` H x W flags (1 =
  /// a real pixel; null: all valid). Pixels outside `valid` are left out.
  void add(const Tensor& input, const Tensor& scores, const uint8_t* valid = nullptr);

  int64_t pixels() const { return pixels_; }
  /// The statistics in domain_feature_names() order; empty when no valid pixel was seen.
  std::vector<float> descriptor() const;

 private:
  float class0_shift_ = 0.0F;
  int64_t pixels_ = 0;
  std::vector<double> sum_, sum_squares_;
  double edge_sum_ = 0.0;
  int64_t edge_pairs_ = 0;
  double confidence_sum_ = 0.0;
  std::optional<double> threshold_;
  int64_t leaning_ = 0, past_ = 0;  // pixels above the lower of 0.5 and the threshold; above the higher
};

/// "mean <band>", "spread <band>" for each band, then "edge strength", "model confidence" and, for a
/// binary model with a threshold, kThresholdShareFeature.
std::vector<std::string> domain_feature_names(const std::vector<std::string>& bands, bool threshold_share = false);

/// A profile from the descriptors of a model's training images (at least 2; more than 256 are thinned
/// to every k-th). `source` says what the images were.
DomainProfile make_domain_profile(const std::vector<std::vector<float>>& descriptors,
                                  const std::vector<std::string>& features, const std::string& source);

struct DomainShift {
  double shift = 0.0;            ///< distance to the nearest training image / the profile's spread
  std::string feature;           ///< the statistic furthest from that image ("mean red", "model confidence", ...)
  double feature_value = 0.0;    ///< its value here ...
  double reference_value = 0.0;  ///< ... and at that image
  bool warn() const { return shift > kDomainShiftWarning; }
  /// e.g. "domain_shift 3.4 (above 2; most different: mean red 1.21 here, 0.12 in the nearest training
  /// image)"
  std::string describe() const;
};

/// Throws Error when the descriptor does not have the profile's features.
DomainShift domain_shift(const DomainProfile& profile, const std::vector<float>& descriptor);

/// Several inputs' domain_shift taken together, e.g. a region's tiles. Per image the figure is noisy
/// (the tiles most like a training source stay quiet while the rest of the region does not), so over
/// several inputs the median is the signal: above kDomainShiftWarning the inputs as a whole are unlike
/// the model's training imagery (docs/models.md, "Your own region").
struct DomainShiftSummary {
  size_t inputs = 0;
  size_t above = 0;     ///< inputs above kDomainShiftWarning
  double median = 0.0;  ///< the upper median
  double max = 0.0;
  bool warn() const { return median > kDomainShiftWarning; }
  /// e.g. "domain_shift over 16 inputs: median 2.44, max 3.81, 11 above 2"
  std::string describe() const;
};

/// Throws Error when `shifts` is empty.
DomainShiftSummary summarise_domain_shifts(std::vector<double> shifts);

}  // namespace terraseg
