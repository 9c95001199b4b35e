// Activations: Relu, LeakyRelu, Sigmoid (oneDNN eltwise) and PRelu (oneDNN prelu, per-channel slopes), on
// plain or blocked inputs (the output keeps the input's layout).
#include "terraseg/core/error.hpp"
#include "train_op.hpp"

namespace terraseg::train {
namespace {

using dnnl::algorithm;
using dnnl::prop_kind;

class EltwiseOp final : public TrainOp {
 public:
  EltwiseOp(algorithm algo, float alpha) : algo_(algo), alpha_(alpha) {}

  std::vector<Dims> plan(const PlanInput& input) override {
    const Dims& x = input.in_dims.at(0);
    const auto md = input.in_md.at(0);  // plain or blocked: the output keeps it
    layout_ = md;
    const dnnl::eltwise_forward::desc fwd_desc(prop_kind::forward_training, algo_, md, alpha_, 0.0F);
    const dnnl::eltwise_forward::primitive_desc fwd_pd(fwd_desc, cpu_engine());
    forward_ = Exec{dnnl::eltwise_forward(fwd_pd), {}};
    forward_.slot(DNNL_ARG_SRC, md);
    forward_.slot(DNNL_ARG_DST, md);
    if (input.training) {
      const dnnl::eltwise_backward::desc bwd_desc(algo_, md, md, alpha_, 0.0F);
      const dnnl::eltwise_backward::primitive_desc bwd_pd(bwd_desc, cpu_engine(), fwd_pd);
      backward_ = Exec{dnnl::eltwise_backward(bwd_pd), {}};
      for (int id : {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC}) backward_.slot(id, md);
    }
    return {x};
  }

  std::vector<dnnl::memory::desc> out_layouts() const override { return {layout_}; }

  void forward(OpIO& io) override {
    forward_.bind(DNNL_ARG_SRC, io.in[0]->data());
    forward_.bind(DNNL_ARG_DST, io.out[0]->data());
    forward_.run();
  }

  void backward(OpIO& io) override {
    if (io.in_grad[0] == nullptr) return;
    backward_.bind(DNNL_ARG_SRC, io.in[0]->data());
    backward_.bind(DNNL_ARG_DIFF_DST, io.out_grad[0]->data());
    backward_.bind(DNNL_ARG_DIFF_SRC, io.in_grad[0]->data());
    backward_.run();
  }

 private:
  algorithm algo_;
  float alpha_;
  Exec forward_, backward_;
  dnnl::memory::desc layout_;
};

/// ONNX PRelu broadcasts the slope numpy-style (unidirectionally) onto X: align dims to the right.
Dims broadcast_slope(const Node& node, const Dims& x, const Dims& slope) {
  if (slope.size() > x.size()) throw Error(where(node) + "slope " + to_string(slope) + " has a higher rank than X");
  Dims aligned(x.size() - slope.size(), 1);
  aligned.insert(aligned.end(), slope.begin(), slope.end());
  for (size_t i = 0; i < x.size(); ++i) {
    if (aligned[i] != 1 && aligned[i] != x[i]) {
      throw Error(where(node) + "slope " + to_string(slope) + " does not broadcast to " + to_string(x));
    }
  }
  return aligned;
}

/// On a blocked input the slope is given to oneDNN in the source's layout too (nChw8c for a
/// per-channel {1,C,1,1} slope), which keeps forward and backward on jit kernels; the slope and its
/// gradient stay plain in the executor and are staged through (tiny) reorders.
class PReluOp final : public TrainOp {
 public:
  explicit PReluOp(const Node& node) : node_(node) {}

  std::vector<Dims> plan(const PlanInput& input) override {
    const Dims& x = input.in_dims.at(0);
    const auto data = input.in_md.at(0);  // plain or blocked: the output keeps it
    layout_ = data;
    const Dims aligned = broadcast_slope(node_, x, input.in_dims.at(1));
    const auto slope_plain = plain_md(aligned);
    const auto slope = !is_blocked(data) ? slope_plain : aligned == x ? data : blocked_md(aligned);
    const dnnl::prelu_forward::desc fwd_desc(prop_kind::forward_training, data, slope);
    const dnnl::prelu_forward::primitive_desc fwd_pd(fwd_desc, cpu_engine());
    forward_ = Exec{dnnl::prelu_forward(fwd_pd), {}};
    for (int id : {DNNL_ARG_SRC, DNNL_ARG_DST}) forward_.slot(id, data);
    forward_.slot(DNNL_ARG_WEIGHTS, slope);
    slope_.plan(slope_plain, slope, true);
    if (input.training) {
      const dnnl::prelu_backward::desc bwd_desc(data, slope, data, slope);
      const dnnl::prelu_backward::primitive_desc bwd_pd(bwd_desc, cpu_engine(), fwd_pd);
      backward_ = Exec{dnnl::prelu_backward(bwd_pd), {}};
      for (int id : {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC}) backward_.slot(id, data);
      backward_.slot(DNNL_ARG_WEIGHTS, slope);
      backward_.slot(DNNL_ARG_DIFF_WEIGHTS, slope);
      bwd_slope_.plan(slope_plain, slope, true);
      diff_slope_.plan(slope_plain, slope, false);
      spare_src_.resize(x);
      spare_slope_.resize(input.in_dims[1]);
    }
    return {x};
  }

  std::vector<dnnl::memory::desc> out_layouts() const override { return {layout_}; }

  void forward(OpIO& io) override {
    forward_.bind(DNNL_ARG_SRC, io.in[0]->data());
    forward_.bind(DNNL_ARG_WEIGHTS, slope_.in(io.in[1]->data()));
    forward_.bind(DNNL_ARG_DST, io.out[0]->data());
    forward_.run();
  }

  void backward(OpIO& io) override {
    backward_.bind(DNNL_ARG_SRC, io.in[0]->data());
    backward_.bind(DNNL_ARG_WEIGHTS, bwd_slope_.in(io.in[1]->data()));
    backward_.bind(DNNL_ARG_DIFF_DST, io.out_grad[0]->data());
    backward_.bind(DNNL_ARG_DIFF_SRC, io.in_grad[0] != nullptr ? io.in_grad[0]->data() : spare_src_.data());
    float* diff_slope = io.in_grad[1] != nullptr ? io.in_grad[1]->data() : spare_slope_.data();
    backward_.bind(DNNL_ARG_DIFF_WEIGHTS, diff_slope_.target(diff_slope));
    backward_.run();
    diff_slope_.out(diff_slope);
  }

 private:
  const Node& node_;
  Exec forward_, backward_;
  Staged slope_, bwd_slope_, diff_slope_;
  Tensor spare_src_, spare_slope_;
  dnnl::memory::desc layout_;
};

}  // namespace

std::unique_ptr<TrainOp> make_relu(const Node&) { return std::make_unique<EltwiseOp>(algorithm::eltwise_relu, 0.0F); }
std::unique_ptr<TrainOp> make_leaky_relu(const Node& node) {
  return std::make_unique<EltwiseOp>(algorithm::eltwise_relu, node.attr_float("alpha", 0.01F));
}
std::unique_ptr<TrainOp> make_sigmoid(const Node&) {
  return std::make_unique<EltwiseOp>(algorithm::eltwise_logistic, 0.0F);
}
std::unique_ptr<TrainOp> make_prelu(const Node& node) { return std::make_unique<PReluOp>(node); }

}  // namespace terraseg::train
