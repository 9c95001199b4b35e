#pragma once
/// Segmentation metrics (pure math, shared by training validation and `terraseg eval`): a confusion
/// matrix with per-class IoU, mIoU, global and class-average accuracy, precision/recall/F1; and a
/// threshold sweep for binary models.
#include <cstdint>
#include <string>
#include <vector>

namespace terraseg {

class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int classes);

  /// Counts pixel pairs; truth ids equal to 255 or >= classes are ignored. Predictions >= classes throw.
  void add(const uint8_t* predicted, const uint8_t* truth, int64_t count);
  void merge(const ConfusionMatrix& other);

  int classes() const { return classes_; }
  /// counts[truth * classes + predicted]
  const std::vector<int64_t>& counts() const { return counts_; }
  int64_t total() const;

  /// Per class; NaN where the class never occurs in truth or prediction (IoU) / truth (recall).
  double iou(int c) const;
  double precision(int c) const;
  double recall(int c) const;
  double f1(int c) const;
  /// Means over the classes where the metric is defined.
  double mean_iou() const;
  double global_accuracy() const;
  double class_average_accuracy() const;

 private:
  int64_t at(int truth, int predicted) const {
    return counts_[static_cast<size_t>(truth) * static_cast<size_t>(classes_) + static_cast<size_t>(predicted)];
  }
  int64_t truth_total(int c) const;
  int64_t predicted_total(int c) const;

  int classes_;
  std::vector<int64_t> counts_;
};

struct BinaryScore {
  double threshold = 0.5;
  double precision = 0.0, recall = 0.0, f1 = 0.0, iou = 0.0;
};

/// Binary precision/recall/F1 at fixed thresholds of a positive-class probability.
class ThresholdSweep {
 public:
  /// Thresholds 0.05, 0.10, ..., 0.95 unless given.
  explicit ThresholdSweep(std::vector<double> thresholds = {});
  /// probability in [0,1] per pixel; truth 1 = positive, 0 = negative, 255 ignored.
  void add(const float* probability, const uint8_t* truth, int64_t count);
  std::vector<BinaryScore> scores() const;
  /// Highest F1 (first on ties).
  BinaryScore best() const;

 private:
  std::vector<double> thresholds_;
  std::vector<int64_t> tp_, fp_, fn_;
};

}  // namespace terraseg
