#include "inference_passes.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "terraseg/core/error.hpp"

namespace terraseg {
namespace {

/// Plane `index` of an N=1 tensor as a cv::Mat header over its data (read from, never written, when
/// the tensor is const: cv::Mat has no read-only header).
cv::Mat plane(const Tensor& t, int64_t index) {
  return cv::Mat(static_cast<int>(t.dim(2)), static_cast<int>(t.dim(3)), CV_32F,
                 const_cast<float*>(t.data() + index * t.dim(2) * t.dim(3)));
}

/// `from` resized (bilinear, half-pixel centres) and mirrored as asked, plane by plane, into `to`.
void transform(const Tensor& from, Tensor& to, int64_t height, int64_t width, bool mirror) {
  to.resize({from.dim(0), from.dim(1), height, width});
  const bool same_size = from.dim(2) == height && from.dim(3) == width;
  for (int64_t c = 0; c < from.dim(1); ++c) {
    const cv::Mat source = plane(from, c);
    cv::Mat target = plane(to, c);
    if (same_size && !mirror) {
      source.copyTo(target);
    } else if (same_size) {
      cv::flip(source, target, 1);
    } else if (!mirror) {
      cv::resize(source, target, target.size(), 0.0, 0.0, cv::INTER_LINEAR);
    } else {
      cv::Mat resized;
      cv::resize(source, resized, target.size(), 0.0, 0.0, cv::INTER_LINEAR);
      cv::flip(resized, target, 1);
    }
  }
}

}  // namespace

std::string InferencePasses::describe() const {
  std::ostringstream out;
  for (size_t i = 0; i < scales.size(); ++i) out << (i ? ", " : "") << scales[i];
  if (flip) out << " + flip";
  return out.str();
}

InferencePasses resolve_passes(const ModelCard& card, const std::vector<double>* scales, const bool* flip,
                               bool fixed_size, const std::string& scales_source) {
  InferencePasses passes;
  if (!card.inference_scales.empty()) passes.scales = card.inference_scales;
  passes.flip = card.inference_flip;
  if (scales) {
    try {
      check_inference_scales(*scales);
    } catch (const Error& e) {
      throw Error(scales_source + ": " + e.what());
    }
    passes.scales = *scales;
  }
  if (flip) passes.flip = *flip;
  if (fixed_size && std::any_of(passes.scales.begin(), passes.scales.end(), [](double s) { return s != 1.0; })) {
    throw Error((scales ? scales_source : std::string("the model card's inference_scales")) +
                ": this model runs at one input size only, so it cannot run at other scales; give 1");
  }
  return passes;
}

std::vector<double> parse_scales(const std::string& text, const std::string& source) {
  std::vector<double> scales;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, ',')) {
    part.erase(std::remove(part.begin(), part.end(), ' '), part.end());
    char* end = nullptr;
    const double value = std::strtod(part.c_str(), &end);
    if (part.empty() || *end != '\0') {
      throw Error(source + " '" + text + "': give scales separated by commas, e.g. 1,1.5 (1 alone: one pass)");
    }
    scales.push_back(value);
  }
  try {
    check_inference_scales(scales);
  } catch (const Error& e) {
    throw Error(source + " '" + text + "': " + e.what());
  }
  return scales;
}

bool parse_on_off(const std::string& text, const std::string& source) {
  if (text == "on") return true;
  if (text == "off") return false;
  throw Error(source + " '" + text + "': give on or off");
}

int64_t scaled_side(int64_t side, double scale, int multiple) {
  const int64_t m = std::max(multiple, 1);
  const auto units = static_cast<int64_t>(std::llround(static_cast<double>(side) * scale / static_cast<double>(m)));
  return std::max<int64_t>(units, 1) * m;
}

void run_passes(const ModelFn& model, const InferencePasses& passes, int multiple, const Tensor& input,
                Tensor& scores) {
  const int64_t height = input.dim(2), width = input.dim(3);
  if (passes.count() == 1 && passes.scales.front() == 1.0) {
    model(input, scores);
    return;
  }
  Tensor view, view_scores, back;
  bool first = true;
  for (double scale : passes.scales) {
    const int64_t h = scale == 1.0 ? height : scaled_side(height, scale, multiple);
    const int64_t w = scale == 1.0 ? width : scaled_side(width, scale, multiple);
    for (int mirror = 0; mirror <= (passes.flip ? 1 : 0); ++mirror) {
      transform(input, view, h, w, mirror != 0);
      model(view, view_scores);
      if (view_scores.rank() != 4 || view_scores.dim(0) != 1 || view_scores.dim(2) != h || view_scores.dim(3) != w) {
        throw Error("the model returned " + to_string(view_scores.dims()) + " scores for a " + std::to_string(h) + "x" +
                    std::to_string(w) + " pass; multi-scale inference needs a model that keeps its input size");
      }
      transform(view_scores, first ? scores : back, height, width, mirror != 0);
      if (!first) {
        float* sum = scores.data();
        const float* add = back.data();
        const int64_t n = element_count(scores.dims());
        for (int64_t i = 0; i < n; ++i) sum[i] += add[i];
      }
      first = false;
    }
  }
  const float inverse = 1.0F / static_cast<float>(passes.count());
  float* sum = scores.data();
  const int64_t n = element_count(scores.dims());
  for (int64_t i = 0; i < n; ++i) sum[i] *= inverse;
}

}  // namespace terraseg
