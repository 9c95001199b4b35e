// BatchNormalization: batch statistics in training (running mean/var updated with ONNX momentum, the
// variance unbiased as PyTorch does), running statistics in inference; oneDNN backward for data,
// scale and shift.
#include <cstring>

#include "terraseg/core/error.hpp"
#include "train_op.hpp"

namespace terraseg::train {
namespace {

using dnnl::normalization_flags;
using dnnl::prop_kind;

class BatchNormOp final : public TrainOp {
 public:
  explicit BatchNormOp(const Node& node)
      : node_(node), epsilon_(node.attr_float("epsilon", 1e-5F)), momentum_(node.attr_float("momentum", 0.9F)) {}

  bool differentiable(size_t index) const override { return index < 3; }

  std::vector<Dims> plan(const PlanInput& input) override {
    const Dims& x = input.in_dims.at(0);
    if (input.in_dims.size() < 5 || x.size() < 2) throw Error(where(node_) + "expects X, scale, B, mean, var");
    for (size_t i = 1; i < 5; ++i) {
      if (element_count(input.in_dims[i]) != x[1]) {
        throw Error(where(node_) + "parameter " + std::to_string(i) + " does not have " + std::to_string(x[1]) +
                    " values");
      }
    }
    const auto data = input.in_md.at(0);  // plain or blocked: the output keeps it
    layout_ = data;
    const auto channel = plain_md({x[1]});
    const auto flags = normalization_flags::use_scale | normalization_flags::use_shift;
    infer_ = make_forward(prop_kind::forward_inference, data, flags | normalization_flags::use_global_stats);
    count_ = element_count(x) / x[1];
    if (!input.training) return {x};
    const dnnl::batch_normalization_forward::desc train_desc(prop_kind::forward_training, data, epsilon_, flags);
    const dnnl::batch_normalization_forward::primitive_desc fwd_pd(train_desc, cpu_engine());
    train_ = make_forward(prop_kind::forward_training, data, flags);
    const dnnl::batch_normalization_backward::desc bwd_desc(prop_kind::backward, data, data, epsilon_, flags);
    const dnnl::batch_normalization_backward::primitive_desc bwd_pd(bwd_desc, cpu_engine(), fwd_pd);
    backward_ = Exec{dnnl::batch_normalization_backward(bwd_pd), {}};
    for (int id : {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_DIFF_SRC}) {
      backward_.slot(id, id == DNNL_ARG_SCALE || id == DNNL_ARG_SHIFT ? channel : data);
    }
    // The batch statistics of the forward pass feed the backward pass: share the same memories.
    backward_.args[DNNL_ARG_MEAN] = train_.args.at(DNNL_ARG_MEAN);
    backward_.args[DNNL_ARG_VARIANCE] = train_.args.at(DNNL_ARG_VARIANCE);
    backward_.owned(DNNL_ARG_DIFF_SCALE, channel);
    backward_.owned(DNNL_ARG_DIFF_SHIFT, channel);
    return {x};
  }

  std::vector<dnnl::memory::desc> out_layouts() const override { return {layout_}; }

  void forward(OpIO& io) override {
    Exec& exec = io.training ? train_ : infer_;
    exec.bind(DNNL_ARG_SRC, io.in[0]->data());
    exec.bind(DNNL_ARG_SCALE, io.in[1]->data());
    exec.bind(DNNL_ARG_SHIFT, io.in[2]->data());
    exec.bind(DNNL_ARG_DST, io.out[0]->data());
    if (!io.training) {
      exec.bind(DNNL_ARG_MEAN, io.in[3]->data());
      exec.bind(DNNL_ARG_VARIANCE, io.in[4]->data());
    }
    exec.run();
    if (io.training) update_running(*io.in[3], *io.in[4]);
  }

  void backward(OpIO& io) override {
    backward_.bind(DNNL_ARG_SRC, io.in[0]->data());
    backward_.bind(DNNL_ARG_DIFF_DST, io.out_grad[0]->data());
    backward_.bind(DNNL_ARG_SCALE, io.in[1]->data());
    backward_.bind(DNNL_ARG_SHIFT, io.in[2]->data());
    backward_.bind(DNNL_ARG_DIFF_SRC, io.in_grad[0] != nullptr ? io.in_grad[0]->data() : spare_.data());
    backward_.run();
    copy_channel(DNNL_ARG_DIFF_SCALE, io.in_grad[1]);
    copy_channel(DNNL_ARG_DIFF_SHIFT, io.in_grad[2]);
  }

 private:
  Exec make_forward(prop_kind prop, const dnnl::memory::desc& data, normalization_flags flags) {
    const dnnl::batch_normalization_forward::desc desc(prop, data, epsilon_, flags);
    const dnnl::batch_normalization_forward::primitive_desc pd(desc, cpu_engine());
    const auto channel = plain_md({data.dims()[1]});
    Exec exec{dnnl::batch_normalization_forward(pd), {}};
    exec.slot(DNNL_ARG_SRC, data);
    exec.slot(DNNL_ARG_DST, data);
    exec.slot(DNNL_ARG_SCALE, channel);
    exec.slot(DNNL_ARG_SHIFT, channel);
    if (prop == prop_kind::forward_training) {
      exec.owned(DNNL_ARG_MEAN, channel);
      exec.owned(DNNL_ARG_VARIANCE, channel);
      const auto data_dims = data.dims();
      spare_.resize(Dims(data_dims.begin(), data_dims.end()));
    } else {
      exec.slot(DNNL_ARG_MEAN, channel);
      exec.slot(DNNL_ARG_VARIANCE, channel);
    }
    return exec;
  }

  void update_running(Tensor& mean, Tensor& var) const {
    const auto* batch_mean = static_cast<const float*>(train_.args.at(DNNL_ARG_MEAN).get_data_handle());
    const auto* batch_var = static_cast<const float*>(train_.args.at(DNNL_ARG_VARIANCE).get_data_handle());
    const double unbias = count_ > 1 ? static_cast<double>(count_) / static_cast<double>(count_ - 1) : 1.0;
    const float keep = momentum_;
    for (int64_t c = 0; c < mean.size(); ++c) {
      mean.data()[c] = keep * mean.data()[c] + (1.0F - keep) * batch_mean[c];
      var.data()[c] = keep * var.data()[c] + (1.0F - keep) * static_cast<float>(batch_var[c] * unbias);
    }
  }

  void copy_channel(int id, Tensor* dst) const {
    if (dst == nullptr) return;
    const auto* src = static_cast<const float*>(backward_.args.at(id).get_data_handle());
    std::memcpy(dst->data(), src, static_cast<size_t>(dst->size()) * sizeof(float));
  }

  const Node& node_;
  float epsilon_;
  float momentum_;
  int64_t count_ = 0;
  Exec infer_, train_, backward_;
  Tensor spare_;
  dnnl::memory::desc layout_;
};

}  // namespace

std::unique_ptr<TrainOp> make_batch_norm(const Node& node) { return std::make_unique<BatchNormOp>(node); }

}  // namespace terraseg::train
