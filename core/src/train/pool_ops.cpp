// MaxPool (oneDNN with workspace; ONNX Indices computed alongside when consumed), AveragePool and
// MaxUnpool (a scatter forward, a gather by the same indices backward).
#include <algorithm>
#include <limits>

#include "terraseg/core/error.hpp"
#include "train_op.hpp"

namespace terraseg::train {
namespace {

using dnnl::algorithm;
using dnnl::prop_kind;
using mdims = dnnl::memory::dims;

struct PoolGeometry {
  mdims kernel, strides, dilates, pad_l, pad_r;
};

/// ONNX pooling attributes to oneDNN terms; ceil_mode becomes extra right padding.
Dims pool_geometry(const Node& node, const Dims& x, PoolGeometry& geo) {
  if (x.size() != 4) throw Error(where(node) + "only 2-D pooling (NCHW) is supported");
  const auto kernel = node.attr_ints("kernel_shape");
  if (kernel.size() != 2) throw Error(where(node) + "kernel_shape must have 2 values");
  const auto strides = spatial_attr(node, "strides", 2, 1);
  const auto dilations = spatial_attr(node, "dilations", 2, 1);
  const auto pads = spatial_attr(node, "pads", 4, 0);
  const bool ceil_mode = node.attr_int("ceil_mode", 0) != 0;
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "VALID")
    throw Error(where(node) + "auto_pad " + auto_pad + " is not supported");
  Dims y{x[0], x[1], 0, 0};
  geo = PoolGeometry{mdims(2), mdims(2), mdims(2), mdims(2), mdims(2)};
  for (size_t i = 0; i < 2; ++i) {
    const int64_t extent = (kernel[i] - 1) * dilations[i] + 1;
    const int64_t span = x[i + 2] + pads[i] + pads[i + 2] - extent;
    int64_t out = (ceil_mode ? (span + strides[i] - 1) / strides[i] : span / strides[i]) + 1;
    // As in PyTorch: the last window must start inside the input or the left padding.
    if (ceil_mode && (out - 1) * strides[i] >= x[i + 2] + pads[i]) --out;
    if (out <= 0) throw Error(where(node) + "input " + to_string(x) + " is smaller than the pooling window");
    y[i + 2] = out;
    geo.kernel[i] = kernel[i];
    geo.strides[i] = strides[i];
    geo.dilates[i] = dilations[i] - 1;
    geo.pad_l[i] = pads[i];
    geo.pad_r[i] = (out - 1) * strides[i] + extent - x[i + 2] - pads[i];
  }
  return y;
}

class PoolOp final : public TrainOp {
 public:
  PoolOp(const Node& node, algorithm algo) : node_(node), algo_(algo) {}

  std::vector<Dims> plan(const PlanInput& input) override {
    x_dims_ = input.in_dims.at(0);
    y_dims_ = pool_geometry(node_, x_dims_, geo_);
    const auto src = input.in_md.at(0);  // plain or blocked: the output keeps it
    const auto dst = blocked_md(y_dims_, is_blocked(src));
    layout_ = dst;
    const auto& g = geo_;
    const auto prop = input.training ? prop_kind::forward_training : prop_kind::forward_inference;
    const dnnl::pooling_v2_forward::desc fwd_desc(prop, algo_, src, dst, g.strides, g.kernel, g.dilates, g.pad_l,
                                                  g.pad_r);
    const dnnl::pooling_v2_forward::primitive_desc fwd_pd(fwd_desc, cpu_engine());
    forward_ = Exec{dnnl::pooling_v2_forward(fwd_pd), {}};
    forward_.slot(DNNL_ARG_SRC, src);
    forward_.slot(DNNL_ARG_DST, dst);
    const bool workspace = algo_ == algorithm::pooling_max && input.training;
    if (workspace) forward_.owned(DNNL_ARG_WORKSPACE, fwd_pd.workspace_desc());
    std::vector<Dims> outputs{y_dims_};
    if (node_.outputs.size() > 1) outputs.push_back(y_dims_);
    if (!input.training) return outputs;
    const dnnl::pooling_v2_backward::desc bwd_desc(algo_, src, dst, g.strides, g.kernel, g.dilates, g.pad_l, g.pad_r);
    const dnnl::pooling_v2_backward::primitive_desc bwd_pd(bwd_desc, cpu_engine(), fwd_pd);
    backward_ = Exec{dnnl::pooling_v2_backward(bwd_pd), {}};
    backward_.slot(DNNL_ARG_DIFF_DST, dst);
    backward_.slot(DNNL_ARG_DIFF_SRC, src);
    if (workspace) backward_.args[DNNL_ARG_WORKSPACE] = forward_.args.at(DNNL_ARG_WORKSPACE);
    return outputs;
  }

  std::vector<dnnl::memory::desc> out_layouts() const override { return {layout_}; }

  void forward(OpIO& io) override {
    forward_.bind(DNNL_ARG_SRC, io.in[0]->data());
    forward_.bind(DNNL_ARG_DST, io.out[0]->data());
    forward_.run();
    if (io.out_index.size() > 1 && io.out_index[1] != nullptr) {
      compute_indices(*io.in[0], *io.out_index[1]);
      // The float view of the indices is only for shape bookkeeping; MaxUnpool reads the integers.
      std::fill(io.out[1]->values().begin(), io.out[1]->values().end(), 0.0F);
    }
  }

  void backward(OpIO& io) override {
    if (io.in_grad[0] == nullptr) return;
    backward_.bind(DNNL_ARG_DIFF_DST, io.out_grad[0]->data());
    backward_.bind(DNNL_ARG_DIFF_SRC, io.in_grad[0]->data());
    backward_.run();
  }

 private:
  /// ONNX Indices: flat positions in the whole NCHW input, first maximum of each window.
  void compute_indices(const Tensor& x, std::vector<int64_t>& indices) const {
    const int64_t planes = x_dims_[0] * x_dims_[1];
    const int64_t h = x_dims_[2], w = x_dims_[3], oh = y_dims_[2], ow = y_dims_[3];
    indices.resize(static_cast<size_t>(planes * oh * ow));
#pragma omp parallel for
    for (int64_t plane = 0; plane < planes; ++plane) {
      const float* src = x.data() + plane * h * w;
      for (int64_t oy = 0; oy < oh; ++oy) {
        for (int64_t ox = 0; ox < ow; ++ox) {
          float best = -std::numeric_limits<float>::infinity();
          int64_t best_at = 0;
          for (int64_t ky = 0; ky < geo_.kernel[0]; ++ky) {
            const int64_t iy = oy * geo_.strides[0] - geo_.pad_l[0] + ky * (geo_.dilates[0] + 1);
            if (iy < 0 || iy >= h) continue;
            for (int64_t kx = 0; kx < geo_.kernel[1]; ++kx) {
              const int64_t ix = ox * geo_.strides[1] - geo_.pad_l[1] + kx * (geo_.dilates[1] + 1);
              if (ix < 0 || ix >= w || !(src[iy * w + ix] > best)) continue;
              best = src[iy * w + ix];
              best_at = iy * w + ix;
            }
          }
          indices[static_cast<size_t>((plane * oh + oy) * ow + ox)] = plane * h * w + best_at;
        }
      }
    }
  }

  const Node& node_;
  algorithm algo_;
  PoolGeometry geo_;
  Dims x_dims_, y_dims_;
  Exec forward_, backward_;
  dnnl::memory::desc layout_;
};

class MaxUnpoolOp final : public TrainOp {
 public:
  explicit MaxUnpoolOp(const Node& node) : node_(node) {}

  bool differentiable(size_t index) const override { return index == 0; }

  std::vector<Dims> plan(const PlanInput& input) override {
    const Dims& x = input.in_dims.at(0);
    if (x.size() != 4 || input.in_dims.at(1) != x) throw Error(where(node_) + "expects NCHW X and matching indices");
    if (node_.has("output_shape")) return {node_.attr_ints("output_shape")};
    // The usual SegNet pairing: unpool to the shape the matching MaxPool saw.
    const Node* pool = input.producer_of(node_.inputs[1]);
    if (pool != nullptr && pool->op == "MaxPool") return {*input.dims_of(pool->inputs[0])};
    const auto kernel = node_.attr_ints("kernel_shape");
    const auto strides = spatial_attr(node_, "strides", 2, 1);
    const auto pads = spatial_attr(node_, "pads", 4, 0);
    if (kernel.size() != 2) throw Error(where(node_) + "kernel_shape must have 2 values");
    return {{x[0], x[1], (x[2] - 1) * strides[0] + kernel[0] - pads[0] - pads[2],
             (x[3] - 1) * strides[1] + kernel[1] - pads[1] - pads[3]}};
  }

  void forward(OpIO& io) override {
    const std::vector<int64_t>& indices = checked_indices(io);
    Tensor& y = *io.out[0];
    std::fill(y.values().begin(), y.values().end(), 0.0F);
    const float* x = io.in[0]->data();
    for (size_t i = 0; i < indices.size(); ++i) y.data()[indices[i]] = x[i];
  }

  void backward(OpIO& io) override {
    if (io.in_grad[0] == nullptr) return;
    const std::vector<int64_t>& indices = checked_indices(io);
    const float* dy = io.out_grad[0]->data();
    float* dx = io.in_grad[0]->data();
#pragma omp parallel for
    for (int64_t i = 0; i < static_cast<int64_t>(indices.size()); ++i) dx[i] = dy[indices[static_cast<size_t>(i)]];
  }

 private:
  const std::vector<int64_t>& checked_indices(const OpIO& io) const {
    const std::vector<int64_t>* indices = io.in_index.at(1);
    if (indices == nullptr || static_cast<int64_t>(indices->size()) != io.in[0]->size()) {
      throw Error(where(node_) + "indices must come from a MaxPool Indices output of the same shape");
    }
    for (int64_t index : *indices) {
      if (index < 0 || index >= io.out[0]->size()) throw Error(where(node_) + "index out of range of the output");
    }
    return *indices;
  }

  const Node& node_;
};

}  // namespace

std::unique_ptr<TrainOp> make_max_pool(const Node& node) {
  if (node.attr_int("storage_order", 0) != 0) throw Error(where(node) + "storage_order 1 is not supported");
  return std::make_unique<PoolOp>(node, algorithm::pooling_max);
}
std::unique_ptr<TrainOp> make_average_pool(const Node& node) {
  const bool include = node.attr_int("count_include_pad", 0) != 0;
  return std::make_unique<PoolOp>(
      node, include ? algorithm::pooling_avg_include_padding : algorithm::pooling_avg_exclude_padding);
}
std::unique_ptr<TrainOp> make_max_unpool(const Node& node) { return std::make_unique<MaxUnpoolOp>(node); }

}  // namespace terraseg::train
