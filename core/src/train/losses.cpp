#include "terraseg/core/losses.hpp"

#include <algorithm>
#include <cmath>

#include "terraseg/core/error.hpp"

namespace terraseg {
namespace {

void check_shapes(const Tensor& logits, const Labels& labels, const char* loss) {
  if (logits.rank() != 4 || logits.dim(0) != labels.n || logits.dim(2) != labels.h || logits.dim(3) != labels.w ||
      static_cast<int64_t>(labels.ids.size()) != labels.pixels()) {
    throw Error(std::string(loss) + ": logits " + to_string(logits.dims()) + " do not match labels " +
                std::to_string(labels.n) + "x" + std::to_string(labels.h) + "x" + std::to_string(labels.w));
  }
}

float sigmoid(float x) { return 1.0F / (1.0F + std::exp(-x)); }

}  // namespace

double softmax_cross_entropy(const Tensor& logits, const Labels& labels, const std::vector<float>& class_weights,
                             Tensor& grad) {
  check_shapes(logits, labels, "cross-entropy");
  const int64_t channels = logits.dim(1), plane = labels.h * labels.w;
  if (!class_weights.empty() && static_cast<int64_t>(class_weights.size()) != channels) {
    throw Error("cross-entropy: " + std::to_string(class_weights.size()) + " class weights for " +
                std::to_string(channels) + " classes");
  }
  grad.resize(logits.dims());
  double loss = 0.0, weight_sum = 0.0;
  std::vector<double> probs(static_cast<size_t>(channels));
  for (int64_t n = 0; n < labels.n; ++n) {
    for (int64_t p = 0; p < plane; ++p) {
      const float* x = logits.data() + n * channels * plane + p;
      float* g = grad.data() + n * channels * plane + p;
      const uint8_t y = labels.ids[static_cast<size_t>(n * plane + p)];
      if (y == kIgnoreLabel) {
        for (int64_t c = 0; c < channels; ++c) g[c * plane] = 0.0F;
        continue;
      }
      if (y >= channels)
        throw Error("cross-entropy: label " + std::to_string(y) + " >= " + std::to_string(channels) + " classes");
      double top = x[0];
      for (int64_t c = 1; c < channels; ++c) top = std::max(top, static_cast<double>(x[c * plane]));
      double sum = 0.0;
      for (int64_t c = 0; c < channels; ++c) sum += (probs[static_cast<size_t>(c)] = std::exp(x[c * plane] - top));
      const double w = class_weights.empty() ? 1.0 : class_weights[y];
      loss += w * (std::log(sum) - (x[y * plane] - top));
      weight_sum += w;
      for (int64_t c = 0; c < channels; ++c) {
        g[c * plane] = static_cast<float>(w * (probs[static_cast<size_t>(c)] / sum - (c == y ? 1.0 : 0.0)));
      }
    }
  }
  if (weight_sum <= 0.0) {
    std::fill(grad.values().begin(), grad.values().end(), 0.0F);
    return 0.0;
  }
  const auto scale = static_cast<float>(1.0 / weight_sum);
  for (float& v : grad.values()) v *= scale;
  return loss / weight_sum;
}

double binary_cross_entropy(const Tensor& logits, const Labels& labels, Tensor& grad) {
  check_shapes(logits, labels, "binary cross-entropy");
  if (logits.dim(1) != 1) throw Error("binary cross-entropy needs a 1-channel output, got " + to_string(logits.dims()));
  grad.resize(logits.dims());
  double loss = 0.0;
  int64_t count = 0;
  for (size_t i = 0; i < labels.ids.size(); ++i) {
    const uint8_t y = labels.ids[i];
    if (y == kIgnoreLabel) {
      grad.data()[i] = 0.0F;
      continue;
    }
    const double x = logits.data()[i];
    // log(1 + e^-|x|) + max(x, 0) - x*y: stable for large |x|.
    loss += std::log1p(std::exp(-std::abs(x))) + std::max(x, 0.0) - x * (y == 1 ? 1.0 : 0.0);
    grad.data()[i] = sigmoid(static_cast<float>(x)) - (y == 1 ? 1.0F : 0.0F);
    ++count;
  }
  if (count == 0) return 0.0;
  for (float& v : grad.values()) v /= static_cast<float>(count);
  return loss / static_cast<double>(count);
}

double dice_loss(const Tensor& logits, const Labels& labels, Tensor& grad) {
  check_shapes(logits, labels, "Dice");
  const int64_t channels = logits.dim(1), plane = labels.h * labels.w;
  if (channels != 1 && channels != 2)
    throw Error("Dice loss needs 1 or 2 output channels, got " + std::to_string(channels));
  grad.resize(logits.dims());
  std::fill(grad.values().begin(), grad.values().end(), 0.0F);
  std::vector<float> prob(labels.ids.size());
  double intersection = 0.0, prob_sum = 0.0, truth_sum = 0.0;
  for (int64_t n = 0; n < labels.n; ++n) {
    for (int64_t p = 0; p < plane; ++p) {
      const size_t i = static_cast<size_t>(n * plane + p);
      const float* x = logits.data() + n * channels * plane + p;
      prob[i] = channels == 1 ? sigmoid(x[0]) : sigmoid(x[plane] - x[0]);
      if (labels.ids[i] == kIgnoreLabel) continue;
      const double t = labels.ids[i] == 1 ? 1.0 : 0.0;
      intersection += prob[i] * t;
      prob_sum += prob[i];
      truth_sum += t;
    }
  }
  const double num = 2.0 * intersection + 1.0, den = prob_sum + truth_sum + 1.0;
  for (int64_t n = 0; n < labels.n; ++n) {
    for (int64_t p = 0; p < plane; ++p) {
      const size_t i = static_cast<size_t>(n * plane + p);
      if (labels.ids[i] == kIgnoreLabel) continue;
      const double t = labels.ids[i] == 1 ? 1.0 : 0.0;
      const double d_prob = -(2.0 * t * den - num) / (den * den);
      const double d_logit = d_prob * prob[i] * (1.0 - prob[i]);  // p = sigmoid(z) in both cases
      float* g = grad.data() + n * channels * plane + p;
      if (channels == 1) {
        g[0] = static_cast<float>(d_logit);
      } else {
        g[plane] = static_cast<float>(d_logit);
        g[0] = static_cast<float>(-d_logit);
      }
    }
  }
  return 1.0 - num / den;
}

LossKind parse_loss_kind(const std::string& text) {
  if (text == "ce") return LossKind::cross_entropy;
  if (text == "bce") return LossKind::bce;
  if (text == "dice") return LossKind::dice;
  if (text == "ce+dice") return LossKind::cross_entropy_dice;
  if (text == "bce+dice") return LossKind::bce_dice;
  throw Error("unknown loss '" + text + "' (expected ce, bce, dice, ce+dice or bce+dice)");
}

double compute_loss(const LossSpec& spec, const Tensor& logits, const Labels& labels, Tensor& grad, Tensor& scratch) {
  double loss = 0.0;
  switch (spec.kind) {
    case LossKind::cross_entropy:
      return softmax_cross_entropy(logits, labels, spec.class_weights, grad);
    case LossKind::bce:
      return binary_cross_entropy(logits, labels, grad);
    case LossKind::dice:
      return dice_loss(logits, labels, grad);
    case LossKind::cross_entropy_dice:
      loss = softmax_cross_entropy(logits, labels, spec.class_weights, grad);
      break;
    case LossKind::bce_dice:
      loss = binary_cross_entropy(logits, labels, grad);
      break;
  }
  loss += spec.dice_weight * dice_loss(logits, labels, scratch);
  for (int64_t i = 0; i < grad.size(); ++i) grad.data()[i] += spec.dice_weight * scratch.data()[i];
  return loss;
}

std::vector<float> median_frequency_weights(const std::vector<int64_t>& class_pixels,
                                            const std::vector<int64_t>& pixels_of_images_with_class) {
  std::vector<double> freq;
  std::vector<float> weights(class_pixels.size(), 0.0F);
  for (size_t c = 0; c < class_pixels.size(); ++c) {
    if (class_pixels[c] > 0 && pixels_of_images_with_class.at(c) > 0) {
      freq.push_back(static_cast<double>(class_pixels[c]) / static_cast<double>(pixels_of_images_with_class[c]));
    }
  }
  if (freq.empty()) return weights;
  std::vector<double> sorted = freq;
  std::sort(sorted.begin(), sorted.end());
  const size_t mid = sorted.size() / 2;
  const double median = sorted.size() % 2 == 1 ? sorted[mid] : 0.5 * (sorted[mid - 1] + sorted[mid]);
  for (size_t c = 0; c < class_pixels.size(); ++c) {
    if (class_pixels[c] > 0 && pixels_of_images_with_class[c] > 0) {
      weights[c] = static_cast<float>(median * static_cast<double>(pixels_of_images_with_class[c]) /
                                      static_cast<double>(class_pixels[c]));
    }
  }
  return weights;
}

}  // namespace terraseg
