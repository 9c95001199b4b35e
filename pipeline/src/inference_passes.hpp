#pragma once
/// Multi-scale and mirrored inference: a window's scores averaged over several passes of the model
/// (the model card's inference_scales and inference_flip, or the command line's --scales / --flip).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "terraseg/core/model_card.hpp"
#include "terraseg/core/tensor.hpp"

namespace terraseg {

struct InferencePasses {
  std::vector<double> scales{1.0};  ///< factors on the window's size
  bool flip = false;                ///< also run each scale on the left-right mirror image
  int count() const { return static_cast<int>(scales.size()) * (flip ? 2 : 1); }
  /// "1" or "1, 1.5 + flip": for run summaries and reports.
  std::string describe() const;
};

/// The passes `card` asks for, replaced by the request's where it gives them. Throws Error naming
/// `scales_source` when a scale is outside 0.25..4, or when a model that only runs at one input size
/// (`fixed_size`) is asked for another scale.
InferencePasses resolve_passes(const ModelCard& card, const std::vector<double>* scales, const bool* flip,
                               bool fixed_size, const std::string& scales_source);

/// "1,1.5" -> {1, 1.5}; throws Error naming `source` unless it is numbers in 0.25..4 separated by commas.
std::vector<double> parse_scales(const std::string& text, const std::string& source);

/// "on" -> true, "off" -> false; throws Error naming `source` otherwise.
bool parse_on_off(const std::string& text, const std::string& source);

/// A side of `side` pixels at `scale`, rounded to a multiple of `multiple` (at least one multiple).
int64_t scaled_side(int64_t side, double scale, int multiple);

using ModelFn = std::function<void(const Tensor& input, Tensor& scores)>;

/// Runs `model` on `input` (1 x C x H x W) once per pass: resized to scaled_side(H), scaled_side(W)
/// (bilinear, pixel centres aligned) and, for flipped passes, mirrored left-right. Each pass's scores
/// are brought back to H x W (and mirrored back); `scores` is their mean, 1 x K x H x W. One pass at
/// scale 1 is `model(input, scores)` itself.
void run_passes(const ModelFn& model, const InferencePasses& passes, int multiple, const Tensor& input, Tensor& scores);

}  // namespace terraseg
