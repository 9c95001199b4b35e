// Pad (constant, reflect, edge: forward gathers through per-axis index maps, backward scatters back),
// Resize (nearest and linear in the ONNX coordinate modes, through per-axis index tables) and
// the pass-through Identity/Dropout.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <string>

#include "op_geometry.hpp"
#include "terraseg/core/error.hpp"
#include "train_op.hpp"

namespace terraseg::train {
namespace {

class PadOp final : public TrainOp {
 public:
  explicit PadOp(const Node& node)
      : node_(node), mode_(node.attr_string("mode", "constant")), value_(node.attr_float("value", 0.0F)) {
    if (mode_ != "constant" && mode_ != "reflect" && mode_ != "edge")
      throw Error(where(node) + "mode " + mode_ + " is not supported");
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
        if (mode_ == "constant")
          s = -1;
        else if (mode_ == "edge")
          s = std::clamp<int64_t>(s, 0, in - 1);
        else
          s = reflect(s, in);
      }
      map[static_cast<size_t>(o)] = s;
    }
    return map;
  }

  static int64_t reflect(int64_t s, int64_t n) {
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

/// Resize, nearest and linear, in the ONNX coordinate modes: forward gathers through per-axis tables
/// (op_geometry's, the inference engine's), backward scatters each output's gradient back onto the
/// inputs it was read from with the same weights. (oneDNN 2.6's linear resampling crashed in training
/// on some shapes, e.g. 4x96x20x26 to 40x52, and covers only half-pixel at scale = out / in.)
class ResizeOp final : public TrainOp {
 public:
  explicit ResizeOp(const Node& node) : node_(node) {}

  std::vector<Dims> plan(const PlanInput& input) override {
    x_ = input.in_dims.at(0);
    const ResizeGeometry g = resize_geometry(node_, x_);
    y_ = g.out;
    if (y_[0] != x_[0] || y_[1] != x_[1]) throw Error(where(node_) + "only spatial resizing is supported");
    if (g.mode != "nearest" && g.mode != "linear") {
      throw Error(where(node_) + "mode " + g.mode + " is not supported (nearest, linear)");
    }
    static const std::set<std::string> transforms{"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"};
    if (!transforms.contains(g.transform)) {
      throw Error(where(node_) + "coordinate_transformation_mode " + g.transform +
                  " is not supported (half_pixel, pytorch_half_pixel, align_corners, asymmetric)");
    }
    rows_ = resize_table(g, x_[2], 0);
    cols_ = resize_table(g, x_[3], 1);
    return {y_};
  }

  void forward(OpIO& io) override { resize_planes(io.in[0]->data(), x_, rows_, cols_, io.out[0]->data()); }

  /// The adjoint of forward: each output's gradient goes back to its (up to four) sources, weighted.
  void backward(OpIO& io) override {
    if (io.in_grad[0] == nullptr) return;
    const float* dy = io.out_grad[0]->data();
    float* dx = io.in_grad[0]->data();
    const int64_t planes = x_[0] * x_[1], in_plane = x_[2] * x_[3], out_plane = y_[2] * y_[3];
#pragma omp parallel for
    for (int64_t p = 0; p < planes; ++p) {
      float* grad = dx + p * in_plane;
      std::fill(grad, grad + in_plane, 0.0F);
      const float* src = dy + p * out_plane;
      for (size_t oh = 0; oh < rows_.i0.size(); ++oh) {
        float* r0 = grad + rows_.i0[oh] * x_[3];
        float* r1 = grad + rows_.i1[oh] * x_[3];
        const float wr = rows_.w1[oh];
        for (size_t ow = 0; ow < cols_.i0.size(); ++ow) {
          const int64_t c0 = cols_.i0[ow], c1 = cols_.i1[ow];
          const float wc = cols_.w1[ow];
          const float g = *src++;
          const float top = g * (1.0F - wr), bottom = g * wr;
          r0[c0] += top * (1.0F - wc);
          r0[c1] += top * wc;
          r1[c0] += bottom * (1.0F - wc);
          r1[c1] += bottom * wc;
        }
      }
    }
  }

 private:
  const Node& node_;
  Dims x_, y_;
  LinearTable rows_, cols_;
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
