#include "terraseg/core/metrics.hpp"

#include <cmath>
#include <limits>

#include "terraseg/core/error.hpp"

namespace terraseg {
namespace {

constexpr double kUndefined = std::numeric_limits<double>::quiet_NaN();

double ratio(int64_t num, int64_t den) {
  return den == 0 ? kUndefined : static_cast<double>(num) / static_cast<double>(den);
}

double mean_defined(const std::vector<double>& values) {
  double sum = 0.0;
  int count = 0;
  for (double v : values) {
    if (std::isnan(v)) continue;
    sum += v;
    ++count;
  }
  return count == 0 ? kUndefined : sum / count;
}

}  // namespace

ConfusionMatrix::ConfusionMatrix(int classes) : classes_(classes), counts_(static_cast<size_t>(classes * classes), 0) {
  if (classes <= 0 || classes > 255)
    throw Error("confusion matrix needs 1..255 classes, got " + std::to_string(classes));
}

void ConfusionMatrix::add(const uint8_t* predicted, const uint8_t* truth, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    if (truth[i] >= classes_) continue;
    if (predicted[i] >= classes_) throw Error("prediction " + std::to_string(predicted[i]) + " is not a class id");
    ++counts_[static_cast<size_t>(truth[i]) * static_cast<size_t>(classes_) + predicted[i]];
  }
}

void ConfusionMatrix::merge(const ConfusionMatrix& other) {
  if (other.classes_ != classes_) throw Error("cannot merge confusion matrices of different class counts");
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
}

int64_t ConfusionMatrix::total() const {
  int64_t sum = 0;
  for (int64_t v : counts_) sum += v;
  return sum;
}

int64_t ConfusionMatrix::truth_total(int c) const {
  int64_t sum = 0;
  for (int p = 0; p < classes_; ++p) sum += at(c, p);
  return sum;
}

int64_t ConfusionMatrix::predicted_total(int c) const {
  int64_t sum = 0;
  for (int t = 0; t < classes_; ++t) sum += at(t, c);
  return sum;
}

double ConfusionMatrix::iou(int c) const { return ratio(at(c, c), truth_total(c) + predicted_total(c) - at(c, c)); }
double ConfusionMatrix::precision(int c) const { return ratio(at(c, c), predicted_total(c)); }
double ConfusionMatrix::recall(int c) const { return ratio(at(c, c), truth_total(c)); }

double ConfusionMatrix::f1(int c) const {
  const int64_t den = truth_total(c) + predicted_total(c);
  return ratio(2 * at(c, c), den);
}

double ConfusionMatrix::mean_iou() const {
  std::vector<double> values;
  values.reserve(classes_);
  for (int c = 0; c < classes_; ++c) values.push_back(iou(c));
  return mean_defined(values);
}

double ConfusionMatrix::global_accuracy() const {
  int64_t correct = 0;
  for (int c = 0; c < classes_; ++c) correct += at(c, c);
  return ratio(correct, total());
}

double ConfusionMatrix::class_average_accuracy() const {
  std::vector<double> values;
  values.reserve(classes_);
  for (int c = 0; c < classes_; ++c) values.push_back(recall(c));
  return mean_defined(values);
}

ThresholdSweep::ThresholdSweep(std::vector<double> thresholds) : thresholds_(std::move(thresholds)) {
  if (thresholds_.empty()) {
    for (int i = 1; i < 20; ++i) thresholds_.push_back(0.05 * i);
  }
  tp_.assign(thresholds_.size(), 0);
  fp_.assign(thresholds_.size(), 0);
  fn_.assign(thresholds_.size(), 0);
}

void ThresholdSweep::add(const float* probability, const uint8_t* truth, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    if (truth[i] > 1) continue;
    for (size_t k = 0; k < thresholds_.size(); ++k) {
      const bool positive = probability[i] >= thresholds_[k];
      if (positive && truth[i] == 1)
        ++tp_[k];
      else if (positive)
        ++fp_[k];
      else if (truth[i] == 1)
        ++fn_[k];
    }
  }
}

std::vector<BinaryScore> ThresholdSweep::scores() const {
  std::vector<BinaryScore> result;
  for (size_t k = 0; k < thresholds_.size(); ++k) {
    BinaryScore s;
    s.threshold = thresholds_[k];
    s.precision = tp_[k] + fp_[k] == 0 ? 0.0 : static_cast<double>(tp_[k]) / static_cast<double>(tp_[k] + fp_[k]);
    s.recall = tp_[k] + fn_[k] == 0 ? 0.0 : static_cast<double>(tp_[k]) / static_cast<double>(tp_[k] + fn_[k]);
    s.f1 = s.precision + s.recall == 0.0 ? 0.0 : 2.0 * s.precision * s.recall / (s.precision + s.recall);
    const int64_t uni = tp_[k] + fp_[k] + fn_[k];
    s.iou = uni == 0 ? 0.0 : static_cast<double>(tp_[k]) / static_cast<double>(uni);
    result.push_back(s);
  }
  return result;
}

BinaryScore ThresholdSweep::best() const {
  BinaryScore best;
  best.f1 = -1.0;
  for (const BinaryScore& s : scores()) {
    if (s.f1 > best.f1) best = s;
  }
  return best;
}

}  // namespace terraseg
