// Pad (constant, reflect, edge: forward gathers through per-axis index maps, backward scatters back),
// Resize (half-pixel linear on oneDNN resampling; nearest in every ONNX mode through index tables) and
// the pass-through Identity/Dropout.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "op_geometry.hpp"
#include "terraseg/core/error.hpp"
#include "train_op.hpp"

namespace terraseg::train {
namespace {

using dnnl::algorithm;
using dnnl::prop_kind;

class PadOp final : public TrainOp {
 public:
  explicit PadOp(const Node& node)
      : node_(node), mode_(node.attr_string("mode", "constant")), value_(node.attr_float("value", 0.0F)) {
    if (mode_ != "constant" && mode_ != "reflect" && mode_ != "edge") throw Error(where(node) + "mode " + mode_ + " is not supported");
  }

  std::vector<Dims> plan(const PlanInput& input) override {
    x_ = input.in_dims.at(0);
    if (x_.size() != 4) throw Error(where(node_) + "only NCHW inputs are supported");
    const auto pads = node_.attr_ints("pads");
    if (pads.size() != 8) throw Error(where(node_) + "pads must have 8 values (begins then ends)");
    y_ = x_;
    for (size_t axis = 0; axis < 4; ++axis) {
      y_[axis] = x_[axis] + pads[axis] + pads[axis + 4];
      if (y_[axis] <= 0) throw Error(where(node_) + "pads remove the whole of axis " + std::to_string(axis));
      maps_[axis] = axis_map(x_[axis], y_[axis], pads[axis]);
    }
    return {y_};
  }

  void forward(OpIO& io) override {
    const float* x = io.in[0]->data();
    float* y = io.out[0]->data();
    visit([&](int64_t out, int64_t in) { y[out] = in < 0 ? value_ : x[in]; });
  }

  void backward(OpIO& io) override {
    if (io.in_grad[0] == nullptr) return;
    float* dx = io.in_grad[0]->data();
    const float* dy = io.out_grad[0]->data();
    std::fill(dx, dx + io.in_grad[0]->size(), 0.0F);
    visit([&](int64_t out, int64_t in) {
      if (in >= 0) dx[in] += dy[out];
    });
  }

 private:
  /// For each output coordinate along one axis: the source coordinate, or -1 for constant fill.
  std::vector<int64_t> axis_map(int64_t in, int64_t out, int64_t begin) const {
    std::vector<int64_t> map(static_cast<size_t>(out));
    for (int64_t o = 0; o < out; ++o) {
      int64_t s = o - begin;
      if (s < 0 || s >= in) {
        if (mode_ == "constant") s = -1;
        else if (mode_ == "edge") s = std::clamp<int64_t>(s, 0, in - 1);
        else s = reflect(s, in);
      }
      map[static_cast<size_t>(o)] = s;
    }
    return map;
  }

  int64_t reflect(int64_t s, int64_t n) const {
    if (n == 1) return 0;
    const int64_t period = 2 * (n - 1);
    s = ((s % period) + period) % period;
    return s < n ? s : period - s;
  }

  template <typename Fn>
  void visit(Fn fn) const {
    int64_t out = 0;
    for (int64_t n : maps_[0]) {
      for (int64_t c : maps_[1]) {
        for (int64_t h : maps_[2]) {
          for (int64_t w : maps_[3]) {
            const bool fill = n < 0 || c < 0 || h < 0 || w < 0;
            fn(out++, fill ? -1 : ((n * x_[1] + c) * x_[2] + h) * x_[3] + w);
          }
        }
      }
    }
  }

  const Node& node_;
  std::string mode_;
  float value_;
  Dims x_, y_;
  std::vector<int64_t> maps_[4];
};

/// Linear (ONNX half_pixel with scale = out / in, which is oneDNN's resampling) runs on oneDNN; nearest,
/// in every ONNX coordinate and rounding mode, gathers through per-axis source-index tables (the same
/// as the inference engine's) and scatters the gradient back through them.
class ResizeOp final : public TrainOp {
 public:
  explicit ResizeOp(const Node& node) : node_(node) {}

  std::vector<Dims> plan(const PlanInput& input) override {
    x_ = input.in_dims.at(0);
    const ResizeGeometry g = resize_geometry(node_, x_);
    y_ = g.out;
    if (y_[0] != x_[0] || y_[1] != x_[1]) throw Error(where(node_) + "only spatial resizing is supported");
    nearest_ = g.mode == "nearest";
    if (nearest_) {
      rows_ = nearest_table(g, x_[2], 0);
      cols_ = nearest_table(g, x_[3], 1);
      return {y_};
    }
    if (g.mode != "linear") throw Error(where(node_) + "mode " + g.mode + " is not supported (nearest, linear)");
    if (g.transform != "half_pixel" && g.transform != "pytorch_half_pixel") {
      throw Error(where(node_) + "linear mode needs half_pixel coordinates (align_corners=False), not " + g.transform);
    }
    for (size_t a = 0; a < 2; ++a) {
      if (g.scale[a] != static_cast<float>(y_[2 + a]) / static_cast<float>(x_[2 + a]) || y_[2 + a] == 1) {
        throw Error(where(node_) + "linear resizing of " + to_string(x_) + " to " + to_string(y_) +
                    " by a scale other than output / input is not supported by the trainer; give 'sizes'");
      }
    }
    const auto src = plain_md(x_);
    const auto dst = plain_md(y_);
    const dnnl::resampling_forward::desc fwd_desc(prop_kind::forward_training, algorithm::resampling_linear, src, dst);
    const dnnl::resampling_forward::primitive_desc fwd_pd(fwd_desc, cpu_engine());
    forward_ = Exec{dnnl::resampling_forward(fwd_pd), {}};
    forward_.slot(DNNL_ARG_SRC, src);
    forward_.slot(DNNL_ARG_DST, dst);
    if (input.training) {
      const dnnl::resampling_backward::desc bwd_desc(algorithm::resampling_linear, src, dst);
      const dnnl::resampling_backward::primitive_desc bwd_pd(bwd_desc, cpu_engine(), fwd_pd);
      backward_ = Exec{dnnl::resampling_backward(bwd_pd), {}};
      backward_.slot(DNNL_ARG_DIFF_DST, dst);
      backward_.slot(DNNL_ARG_DIFF_SRC, src);
    }
    return {y_};
  }

  void forward(OpIO& io) override {
    if (nearest_) {
      gather(io.in[0]->data(), io.out[0]->data());
      return;
    }
    forward_.bind(DNNL_ARG_SRC, io.in[0]->data());
    forward_.bind(DNNL_ARG_DST, io.out[0]->data());
    forward_.run();
  }

  void backward(OpIO& io) override {
    if (io.in_grad[0] == nullptr) return;
    if (nearest_) {
      scatter(io.out_grad[0]->data(), io.in_grad[0]->data());
      return;
    }
    backward_.bind(DNNL_ARG_DIFF_DST, io.out_grad[0]->data());
    backward_.bind(DNNL_ARG_DIFF_SRC, io.in_grad[0]->data());
    backward_.run();
  }

 private:
  void gather(const float* x, float* y) const {
    const int64_t planes = x_[0] * x_[1], in_plane = x_[2] * x_[3], out_plane = y_[2] * y_[3];
#pragma omp parallel for
    for (int64_t p = 0; p < planes; ++p) {
      const float* src = x + p * in_plane;
      float* dst = y + p * out_plane;
      for (size_t oh = 0; oh < rows_.size(); ++oh) {
        const float* row = src + rows_[oh] * x_[3];
        for (size_t ow = 0; ow < cols_.size(); ++ow) *dst++ = row[cols_[ow]];
      }
    }
  }

  /// The adjoint of gather: every output's gradient is added to the input it was read from.
  void scatter(const float* dy, float* dx) const {
    const int64_t planes = x_[0] * x_[1], in_plane = x_[2] * x_[3], out_plane = y_[2] * y_[3];
#pragma omp parallel for
    for (int64_t p = 0; p < planes; ++p) {
      float* grad = dx + p * in_plane;
      std::fill(grad, grad + in_plane, 0.0F);
      const float* src = dy + p * out_plane;
      for (size_t oh = 0; oh < rows_.size(); ++oh) {
        float* row = grad + rows_[oh] * x_[3];
        for (size_t ow = 0; ow < cols_.size(); ++ow) row[cols_[ow]] += *src++;
      }
    }
  }

  const Node& node_;
  Dims x_, y_;
  bool nearest_ = false;
  std::vector<int64_t> rows_, cols_;
  Exec forward_, backward_;
};

class IdentityOp final : public TrainOp {
 public:
  std::vector<Dims> plan(const PlanInput& input) override { return {input.in_dims.at(0)}; }
  void forward(OpIO& io) override {
    std::memcpy(io.out[0]->data(), io.in[0]->data(), static_cast<size_t>(io.in[0]->size()) * sizeof(float));
  }
  void backward(OpIO& io) override {
    if (io.in_grad[0] == nullptr) return;
    std::memcpy(io.in_grad[0]->data(), io.out_grad[0]->data(), static_cast<size_t>(io.in[0]->size()) * sizeof(float));
  }
};

}  // namespace

std::unique_ptr<TrainOp> make_pad(const Node& node) { return std::make_unique<PadOp>(node); }
std::unique_ptr<TrainOp> make_resize(const Node& node) { return std::make_unique<ResizeOp>(node); }
std::unique_ptr<TrainOp> make_identity(const Node&) { return std::make_unique<IdentityOp>(); }

}  // namespace terraseg::train
