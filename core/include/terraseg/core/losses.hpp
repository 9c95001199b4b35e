#pragma once
/// Segmentation losses on NCHW logits with per-pixel class-id labels. Each returns the loss value and
/// writes d(loss)/d(logits) into `grad` (resized to the logits' dims; overwritten, not accumulated).
#include <cstdint>
#include <string>
#include <vector>

#include "terraseg/core/tensor.hpp"

namespace terraseg {

/// Label id that is excluded from losses and metrics.
inline constexpr uint8_t kIgnoreLabel = 255;

/// Per-pixel class ids of a batch, N x H x W, row-major.
struct Labels {
  int64_t n = 0, h = 0, w = 0;
  std::vector<uint8_t> ids;
  int64_t pixels() const { return n * h * w; }
};

/// Softmax cross-entropy, averaged like PyTorch's CrossEntropyLoss(weight, ignore_index=255): the sum of
/// w[y] * -log p[y] over labelled pixels divided by the sum of w[y]. Empty weights = all 1.
/// Throws Error for a label >= channels that is not kIgnoreLabel.
double softmax_cross_entropy(const Tensor& logits, const Labels& labels, const std::vector<float>& class_weights,
                             Tensor& grad);

/// Binary cross-entropy with logits on a 1-channel map (labels 0/1), mean over labelled pixels.
double binary_cross_entropy(const Tensor& logits, const Labels& labels, Tensor& grad);

/// Soft Dice loss 1 - (2 sum(p t) + 1) / (sum p + sum t + 1) over labelled pixels of the whole batch,
/// where p is sigmoid(logit) for 1 channel or softmax channel 1 for 2 channels, t = (label == 1).
double dice_loss(const Tensor& logits, const Labels& labels, Tensor& grad);

enum class LossKind { cross_entropy, bce, dice, cross_entropy_dice, bce_dice };
/// "ce" | "bce" | "dice" | "ce+dice" | "bce+dice"; throws Error otherwise.
LossKind parse_loss_kind(const std::string& text);

struct LossSpec {
  LossKind kind = LossKind::cross_entropy;
  std::vector<float> class_weights;  ///< cross-entropy only; empty = unweighted
  float dice_weight = 1.0F;          ///< factor of the Dice term in the combined losses
};

/// The configured loss (sum of its terms); `grad` receives the summed gradient, `scratch` is reused.
double compute_loss(const LossSpec& spec, const Tensor& logits, const Labels& labels, Tensor& grad, Tensor& scratch);

/// Median-frequency balancing (Eigen & Fergus, as in SegNet): freq[c] = pixels of c / pixels of the
/// images containing c; weight[c] = median(freq) / freq[c]; absent classes get weight 0.
std::vector<float> median_frequency_weights(const std::vector<int64_t>& class_pixels,
                                            const std::vector<int64_t>& pixels_of_images_with_class);

}  // namespace terraseg
