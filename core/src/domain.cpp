#include "terraseg/core/domain.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "terraseg/core/error.hpp"

namespace terraseg {
namespace {

/// Scores are probabilities already (a model with softmax inside) when every sampled pixel's are
/// within 0..1 and sum to 1.
bool are_probabilities(const float* scores, int64_t classes, int64_t plane) {
  if (classes < 2) {
    for (int64_t i = 0; i < plane; i += 97) {
      if (!(scores[i] >= 0.0F && scores[i] <= 1.0F)) return false;
    }
    return true;
  }
  for (int64_t i = 0; i < plane; i += 97) {
    double sum = 0.0;
    for (int64_t k = 0; k < classes; ++k) {
      const float p = scores[k * plane + i];
      if (!(p >= 0.0F && p <= 1.0F)) return false;
      sum += p;
    }
    if (std::abs(sum - 1.0) > 1e-3) return false;
  }
  return true;
}

/// Scaled root-mean-square distance between two descriptors.
double distance(const std::vector<float>& a, const std::vector<float>& b, const std::vector<float>& scale) {
  double sum = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double z = (static_cast<double>(a[i]) - b[i]) / scale[i];
    sum += z * z;
  }
  return std::sqrt(sum / static_cast<double>(a.size()));
}

std::string number(double value) {
  std::ostringstream out;
  out.precision(3);
  out << value;
  return out.str();
}

}  // namespace

void DomainMeter::add(const Tensor& input, const Tensor& scores, const uint8_t* valid) {
  if (input.rank() != 4 || scores.rank() != 4 || input.dim(2) != scores.dim(2) || input.dim(3) != scores.dim(3)) {
    throw Error("DomainMeter: input " + to_string(input.dims()) + " and scores " + to_string(scores.dims()) +
                " must be 1 x C x H x W of one size");
  }
  const int64_t bands = input.dim(1), classes = scores.dim(1), height = input.dim(2), width = input.dim(3);
  const int64_t plane = height * width;
  if (sum_.empty()) {
    sum_.assign(static_cast<size_t>(bands), 0.0);
    sum_squares_.assign(static_cast<size_t>(bands), 0.0);
  } else if (static_cast<int64_t>(sum_.size()) != bands) {
    throw Error("DomainMeter: windows with " + std::to_string(sum_.size()) + " and " + std::to_string(bands) +
                " bands");
  }
  const auto is_valid = [valid](int64_t i) { return valid == nullptr || valid[i] != 0; };
  const float* x = input.data();
  for (int64_t c = 0; c < bands; ++c) {
    const float* band = x + c * plane;
    double sum = 0.0, squares = 0.0;
    for (int64_t i = 0; i < plane; ++i) {
      if (!is_valid(i)) continue;
      sum += band[i];
      squares += static_cast<double>(band[i]) * band[i];
    }
    sum_[static_cast<size_t>(c)] += sum;
    sum_squares_[static_cast<size_t>(c)] += squares;
  }
  // Edge strength: mean absolute difference to the right and lower neighbours, over the bands.
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t xx = 0; xx < width; ++xx) {
      const int64_t i = y * width + xx;
      if (!is_valid(i)) continue;
      for (const int64_t j : {xx + 1 < width ? i + 1 : int64_t{-1}, y + 1 < height ? i + width : int64_t{-1}}) {
        if (j < 0 || !is_valid(j)) continue;
        double difference = 0.0;
        for (int64_t c = 0; c < bands; ++c) difference += std::abs(x[c * plane + i] - x[c * plane + j]);
        edge_sum_ += difference / static_cast<double>(bands);
        ++edge_pairs_;
      }
    }
  }
  // The model's confidence: its largest class probability, averaged. (Each class's mean and spread of
  // scores were tried as further features and made the shift less telling: they follow the scene's
  // content, which varies as much within a source as between sources; docs/models.md.)
  const float* s = scores.data();
  const bool probabilities = are_probabilities(s, classes, plane);
  if (threshold_ && classes > 2) {
    throw Error("DomainMeter: a threshold applies to binary models; these scores have " + std::to_string(classes) +
                " classes");
  }
  // kThresholdShareFeature: the model's own P(positive) (the caller's threshold shift taken out) against
  // the lower and the higher of 0.5 and the threshold.
  const double lower = threshold_ ? std::min(0.5, *threshold_) : 0.0;
  const double higher = threshold_ ? std::max(0.5, *threshold_) : 0.0;
  const auto count_positive = [&](double positive) {
    leaning_ += positive > lower ? 1 : 0;
    past_ += positive > higher ? 1 : 0;
  };
  int64_t counted = 0;
  for (int64_t i = 0; i < plane; ++i) {
    if (!is_valid(i)) continue;
    ++counted;
    if (classes == 1) {
      const double p = probabilities ? s[i] : 1.0 / (1.0 + std::exp(-static_cast<double>(s[i])));
      confidence_sum_ += std::max(p, 1.0 - p);
      if (threshold_) count_positive(p);
      continue;
    }
    if (probabilities) {
      float best = 0.0F;
      for (int64_t k = 0; k < classes; ++k) best = std::max(best, s[k * plane + i]);
      confidence_sum_ += best;
      if (threshold_) count_positive(s[plane + i]);
      continue;
    }
    double top = -std::numeric_limits<double>::infinity();
    for (int64_t k = 0; k < classes; ++k)
      top = std::max(top, static_cast<double>(s[k * plane + i]) - (k == 0 ? class0_shift_ : 0.0F));
    double denominator = 0.0;
    double last = 0.0;  // the last class's term: class 1's for a binary model
    for (int64_t k = 0; k < classes; ++k) {
      last = std::exp(static_cast<double>(s[k * plane + i]) - (k == 0 ? class0_shift_ : 0.0F) - top);
      denominator += last;
    }
    confidence_sum_ += 1.0 / denominator;
    if (threshold_) count_positive(last / denominator);
  }
  pixels_ += counted;
}

std::vector<float> DomainMeter::descriptor() const {
  if (pixels_ == 0) return {};
  const auto n = static_cast<double>(pixels_);
  std::vector<float> d;
  for (size_t c = 0; c < sum_.size(); ++c) {
    const double mean = sum_[c] / n;
    d.push_back(static_cast<float>(mean));
    d.push_back(static_cast<float>(std::sqrt(std::max(0.0, sum_squares_[c] / n - mean * mean))));
  }
  d.push_back(static_cast<float>(edge_pairs_ > 0 ? edge_sum_ / static_cast<double>(edge_pairs_) : 0.0));
  d.push_back(static_cast<float>(confidence_sum_ / n));
  if (threshold_) {
    const double prior = 0.01 * n;  // kThresholdShareFeature's pseudo-count
    d.push_back(static_cast<float>((static_cast<double>(past_) + prior) / (static_cast<double>(leaning_) + prior)));
  }
  return d;
}

std::vector<std::string> domain_feature_names(const std::vector<std::string>& bands, bool threshold_share) {
  std::vector<std::string> names;
  for (const std::string& band : bands) {
    names.push_back("mean " + band);
    names.push_back("spread " + band);
  }
  names.emplace_back("edge strength");
  names.emplace_back("model confidence");
  if (threshold_share) names.emplace_back(kThresholdShareFeature);
  return names;
}

DomainProfile make_domain_profile(const std::vector<std::vector<float>>& descriptors,
                                  const std::vector<std::string>& features, const std::string& source) {
  if (descriptors.size() < 2)
    throw Error("a domain profile needs at least 2 training images, got " + std::to_string(descriptors.size()));
  for (const std::vector<float>& d : descriptors) {
    if (d.size() != features.size()) {
      throw Error("a domain descriptor has " + std::to_string(d.size()) + " values for " +
                  std::to_string(features.size()) + " features");
    }
  }
  DomainProfile profile;
  profile.features = features;
  profile.source = source;
  profile.images = static_cast<int>(descriptors.size());
  const size_t step = (descriptors.size() + 255) / 256;
  for (size_t i = 0; i < descriptors.size(); i += step) profile.reference.push_back(descriptors[i]);
  // Each feature's spread over the images, floored so that a feature every training image shares
  // (say, one grey source's equal bands) does not turn a small difference into a large shift.
  const auto n = static_cast<double>(descriptors.size());
  for (size_t f = 0; f < features.size(); ++f) {
    double sum = 0.0, squares = 0.0;
    for (const std::vector<float>& d : descriptors) {
      sum += d[f];
      squares += static_cast<double>(d[f]) * d[f];
    }
    const double mean = sum / n;
    profile.scale.push_back(static_cast<float>(std::max(0.02, std::sqrt(std::max(0.0, squares / n - mean * mean)))));
  }
  std::vector<double> nearest;
  for (size_t i = 0; i < profile.reference.size(); ++i) {
    double best = std::numeric_limits<double>::infinity();
    for (size_t j = 0; j < profile.reference.size(); ++j) {
      if (i != j) best = std::min(best, distance(profile.reference[i], profile.reference[j], profile.scale));
    }
    nearest.push_back(best);
  }
  std::sort(nearest.begin(), nearest.end());
  const size_t p90 =
      std::min(nearest.size() - 1, static_cast<size_t>(std::ceil(0.9 * static_cast<double>(nearest.size()))) - 1);
  profile.spread = std::max(nearest[p90], 0.05);
  return profile;
}

DomainShift domain_shift(const DomainProfile& profile, const std::vector<float>& descriptor) {
  if (descriptor.size() != profile.features.size() || profile.reference.empty()) {
    throw Error("the input's domain statistics have " + std::to_string(descriptor.size()) +
                " values, the model card's training_domain " + std::to_string(profile.features.size()) +
                " features: the model's bands differ from its card's");
  }
  size_t best = 0;
  double best_distance = std::numeric_limits<double>::infinity();
  for (size_t j = 0; j < profile.reference.size(); ++j) {
    const double d = distance(descriptor, profile.reference[j], profile.scale);
    if (d < best_distance) {
      best_distance = d;
      best = j;
    }
  }
  DomainShift shift;
  // To two decimals: the engine's plan is chosen by timing (blocked or channels-last, Winograd or not), and
  // plans differ in the scores' last bits, so the figure's sixth digit would differ between runs of the
  // same input on a busy and an idle machine. Outputs that must be byte-identical carry it.
  shift.shift = std::round(best_distance / profile.spread * 100.0) / 100.0;
  double largest = -1.0;
  for (size_t f = 0; f < descriptor.size(); ++f) {
    const double z = std::abs(static_cast<double>(descriptor[f]) - profile.reference[best][f]) / profile.scale[f];
    if (z > largest) {
      largest = z;
      shift.feature = profile.features[f];
      shift.feature_value = descriptor[f];
      shift.reference_value = profile.reference[best][f];
    }
  }
  return shift;
}

DomainShiftSummary summarise_domain_shifts(std::vector<double> shifts) {
  if (shifts.empty()) throw Error("summarise_domain_shifts: no domain_shift to summarise");
  std::ranges::sort(shifts);
  DomainShiftSummary summary;
  summary.inputs = shifts.size();
  summary.above = static_cast<size_t>(std::ranges::count_if(shifts, [](double v) { return v > kDomainShiftWarning; }));
  summary.median = shifts[shifts.size() / 2];
  summary.max = shifts.back();
  return summary;
}

std::string DomainShiftSummary::describe() const {
  return "domain_shift over " + std::to_string(inputs) + " inputs: median " + number(median) + ", max " + number(max) +
         ", " + std::to_string(above) + " above " + number(kDomainShiftWarning);
}

std::string DomainShift::describe() const {
  return "domain_shift " + number(shift) + (warn() ? " (above " : " (not above ") + number(kDomainShiftWarning) +
         "; most different: " + feature + " " + number(feature_value) + " here, " + number(reference_value) +
         " in the nearest training image)";
}

}  // namespace terraseg
