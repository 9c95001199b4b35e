// Conv and ConvTranspose: oneDNN (de)convolution forward, backward_data and backward_weights (with bias)
// in the layouts oneDNN prefers, staged from/to the executor's activation layouts (plain NCHW, or
// nChw8c between ops that handle it) and ONNX weight layouts (OIHW, and IOHW for ConvTranspose).
#include "op_geometry.hpp"
#include "terraseg/core/error.hpp"
#include "train_op.hpp"

namespace terraseg::train {
namespace {

using dnnl::algorithm;
using dnnl::prop_kind;
using tag = dnnl::memory::format_tag;
using mdims = dnnl::memory::dims;

struct ConvGeometry {
  int64_t group = 1;
  mdims strides, dilates, pad_l, pad_r;  // oneDNN convention: dilation 0 = dense
};

class ConvOp final : public TrainOp {
 public:
  ConvOp(const Node& node, bool transposed) : node_(node), transposed_(transposed) {}

  std::vector<Dims> plan(const PlanInput& input) override {
    const Dims& x = input.in_dims.at(0);
    const Dims& w = input.in_dims.at(1);
    if (x.size() != 4 || w.size() != 4) throw Error(where(node_) + "only 2-D convolutions (NCHW) are supported");
    has_bias_ = input.in_dims.size() > 2 && !input.in_dims[2].empty();
    const Dims y = geometry(x, w);
    const auto src = input.in_md.at(0);
    const auto dst = blocked_md(y, input.may_block.at(0));
    out_layout_ = dst;
    const auto wmd = weights_md(w);
    const auto bmd = has_bias_ ? plain_md({y[1]}) : dnnl::memory::desc();
    if (transposed_) {
      build<dnnl::deconvolution_forward, dnnl::deconvolution_backward_data, dnnl::deconvolution_backward_weights>(
          algorithm::deconvolution_direct, src, wmd, bmd, dst, input.training);
    } else {
      build<dnnl::convolution_forward, dnnl::convolution_backward_data, dnnl::convolution_backward_weights>(
          algorithm::convolution_direct, src, wmd, bmd, dst, input.training);
    }
    return {y};
  }

  std::vector<dnnl::memory::desc> out_layouts() const override { return {out_layout_}; }

  void forward(OpIO& io) override {
    Forward& fwd = io.training ? fwd_train_ : fwd_infer_;
    fwd.exec.bind(DNNL_ARG_SRC, fwd.src.in(io.in[0]->data()));
    fwd.exec.bind(DNNL_ARG_WEIGHTS, fwd.weights.in(io.in[1]->data()));
    if (has_bias_) fwd.exec.bind(DNNL_ARG_BIAS, io.in[2]->data());
    fwd.exec.bind(DNNL_ARG_DST, fwd.dst.target(io.out[0]->data()));
    fwd.exec.run();
    fwd.dst.out(io.out[0]->data());
  }

  void backward(OpIO& io) override {
    const float* diff_dst = io.out_grad[0]->data();
    const float* staged_diff_dst = nullptr;  // diff_dst in the backward-data layout, once reordered
    if (io.in_grad[0] != nullptr) {
      staged_diff_dst = data_diff_dst_.in(diff_dst);
      bwd_data_.bind(DNNL_ARG_DIFF_DST, staged_diff_dst);
      bwd_data_.bind(DNNL_ARG_WEIGHTS, data_weights_.in(io.in[1]->data()));
      bwd_data_.bind(DNNL_ARG_DIFF_SRC, data_diff_src_.target(io.in_grad[0]->data()));
      bwd_data_.run();
      data_diff_src_.out(io.in_grad[0]->data());
    }
    const bool want_bias = has_bias_ && io.in_grad[2] != nullptr;
    if (io.in_grad[1] == nullptr && !want_bias) return;
    bwd_weights_.bind(DNNL_ARG_SRC, weights_src_.in(io.in[0]->data()));
    bwd_weights_.bind(DNNL_ARG_DIFF_DST,
                      staged_diff_dst != nullptr && same_diff_dst_ ? staged_diff_dst : weights_diff_dst_.in(diff_dst));
    // A frozen weight or bias still needs somewhere to go: the primitive computes both.
    float* diff_w = io.in_grad[1] != nullptr ? io.in_grad[1]->data() : spare_w_.data();
    bwd_weights_.bind(DNNL_ARG_DIFF_WEIGHTS, weights_diff_w_.target(diff_w));
    if (has_bias_) bwd_weights_.bind(DNNL_ARG_DIFF_BIAS, want_bias ? io.in_grad[2]->data() : spare_b_.data());
    bwd_weights_.run();
    if (io.in_grad[1] != nullptr) weights_diff_w_.out(diff_w);
  }

 private:
  Dims geometry(const Dims& x, const Dims& w) {
    geo_.group = node_.attr_int("group", 1);
    const std::string auto_pad = node_.attr_string("auto_pad", "NOTSET");
    if (!transposed_ && auto_pad != "NOTSET" && auto_pad != "VALID") {
      throw Error(where(node_) + "auto_pad " + auto_pad + " is not supported by the trainer; use explicit pads");
    }
    const auto strides = spatial_attr(node_, "strides", 2, 1);
    const auto dilations = spatial_attr(node_, "dilations", 2, 1);
    const auto out_pad = spatial_attr(node_, "output_padding", 2, 0);
    std::vector<int64_t> pads(4, 0);
    if (transposed_) {  // output_shape and SAME_* padding, by the same rule as the inference engine
      const auto p = transposed_conv_pads(node_, x, {strides[0], strides[1]}, {out_pad[0], out_pad[1]},
                                          {(w[2] - 1) * dilations[0] + 1, (w[3] - 1) * dilations[1] + 1});
      pads.assign(p.begin(), p.end());
    } else if (auto_pad != "VALID") {
      pads = spatial_attr(node_, "pads", 4, 0);
    }
    const int64_t in_channels = transposed_ ? w[0] : w[1] * geo_.group;
    if (x[1] != in_channels || w[0] % geo_.group != 0) {
      throw Error(where(node_) + "input " + to_string(x) + " does not match weights " + to_string(w) + " with group " +
                  std::to_string(geo_.group));
    }
    Dims y{x[0], transposed_ ? w[1] * geo_.group : w[0], 0, 0};
    geo_.strides = geo_.dilates = geo_.pad_l = geo_.pad_r = mdims(2);
    for (size_t i = 0; i < 2; ++i) {
      const int64_t extent = (w[i + 2] - 1) * dilations[i] + 1;
      geo_.strides[i] = strides[i];
      geo_.dilates[i] = dilations[i] - 1;
      geo_.pad_l[i] = pads[i];
      geo_.pad_r[i] = pads[i + 2] - (transposed_ ? out_pad[i] : 0);
      y[i + 2] = transposed_ ? strides[i] * (x[i + 2] - 1) + out_pad[i] + extent - pads[i] - pads[i + 2]
                             : (x[i + 2] + pads[i] + pads[i + 2] - extent) / strides[i] + 1;
      if (y[i + 2] <= 0) throw Error(where(node_) + "input " + to_string(x) + " is too small for the kernel");
    }
    spare_w_.resize(w);
    spare_b_.resize({y[1]});
    return y;
  }

  dnnl::memory::desc weights_md(const Dims& w) const {
    if (geo_.group == 1)
      return tagged_md(transposed_ ? Dims{w[1], w[0], w[2], w[3]} : w, transposed_ ? tag::iohw : tag::oihw);
    const int64_t g = geo_.group;
    if (transposed_) return tagged_md({g, w[1], w[0] / g, w[2], w[3]}, tag::giohw);
    return tagged_md({g, w[0] / g, w[1], w[2], w[3]}, tag::goihw);
  }

  /// A forward primitive with its activations and weights staged into the layouts it chose.
  struct Forward {
    Exec exec;
    Staged src, weights, dst;
  };

  // Source, weights and destination are planned with format_tag::any, so oneDNN picks its blocked
  // jit kernels (nChw8c activations, OIhw8i8o-style weights on AVX2); the executor's buffers stay plain
  // NCHW/OIHW and are reordered at the op's boundary. The forward source in the kernel's layout is kept
  // for backward-weights, and a reordered diff_dst is shared by backward-data and backward-weights.
  template <typename Fwd, typename BwdData, typename BwdWeights>
  void build(algorithm algo, const dnnl::memory::desc& src, const dnnl::memory::desc& wmd,
             const dnnl::memory::desc& bmd, const dnnl::memory::desc& dst, bool training) {
    const auto& g = geo_;
    const auto any_src = any_md(src), any_w = any_md(wmd), any_dst = any_md(dst);
    const typename Fwd::desc infer_desc(prop_kind::forward_inference, algo, any_src, any_w, bmd, any_dst, g.strides,
                                        g.dilates, g.pad_l, g.pad_r);
    make_forward<Fwd>(typename Fwd::primitive_desc(infer_desc, cpu_engine()), src, wmd, dst, fwd_infer_);
    if (!training) return;
    const typename Fwd::desc train_desc(prop_kind::forward_training, algo, any_src, any_w, bmd, any_dst, g.strides,
                                        g.dilates, g.pad_l, g.pad_r);
    const typename Fwd::primitive_desc fwd_pd(train_desc, cpu_engine());
    make_forward<Fwd>(fwd_pd, src, wmd, dst, fwd_train_);

    const typename BwdData::desc data_desc(algo, any_src, any_w, any_dst, g.strides, g.dilates, g.pad_l, g.pad_r);
    const typename BwdData::primitive_desc data_pd(data_desc, cpu_engine(), fwd_pd);
    bwd_data_ = Exec{BwdData(data_pd), {}};
    bwd_data_.slot(DNNL_ARG_DIFF_DST, data_pd.diff_dst_desc());
    bwd_data_.slot(DNNL_ARG_WEIGHTS, data_pd.weights_desc());
    bwd_data_.slot(DNNL_ARG_DIFF_SRC, data_pd.diff_src_desc());
    data_diff_dst_.plan(dst, data_pd.diff_dst_desc(), true);
    stage_or_share(data_weights_, wmd, data_pd.weights_desc(), fwd_train_.weights);
    data_diff_src_.plan(src, data_pd.diff_src_desc(), false);

    const typename BwdWeights::desc weights_desc(algo, any_src, any_w, bmd, any_dst, g.strides, g.dilates, g.pad_l,
                                                 g.pad_r);
    const typename BwdWeights::primitive_desc weights_pd(weights_desc, cpu_engine(), fwd_pd);
    bwd_weights_ = Exec{BwdWeights(weights_pd), {}};
    bwd_weights_.slot(DNNL_ARG_SRC, weights_pd.src_desc());
    bwd_weights_.slot(DNNL_ARG_DIFF_DST, weights_pd.diff_dst_desc());
    bwd_weights_.slot(DNNL_ARG_DIFF_WEIGHTS, weights_pd.diff_weights_desc());
    if (has_bias_) bwd_weights_.slot(DNNL_ARG_DIFF_BIAS, bmd);
    stage_or_share(weights_src_, src, weights_pd.src_desc(), fwd_train_.src);
    weights_diff_dst_.plan(dst, weights_pd.diff_dst_desc(), true);
    same_diff_dst_ = weights_pd.diff_dst_desc() == data_pd.diff_dst_desc();
    weights_diff_w_.plan(wmd, weights_pd.diff_weights_desc(), false);
  }

  /// Backward reads what the training forward already staged (source, weights) when layouts agree.
  static void stage_or_share(Staged& stage, const dnnl::memory::desc& plain, const dnnl::memory::desc& inner,
                             const Staged& forward) {
    if (!forward.direct() && forward.inner_md() == inner) {
      stage.share(forward);
    } else {
      stage.plan(plain, inner, true);
    }
  }

  static dnnl::memory::desc any_md(const dnnl::memory::desc& md) {
    return dnnl::memory::desc(md.dims(), dnnl::memory::data_type::f32, tag::any);
  }

  template <typename Fwd>
  void make_forward(const typename Fwd::primitive_desc& pd, const dnnl::memory::desc& src,
                    const dnnl::memory::desc& wmd, const dnnl::memory::desc& dst, Forward& out) const {
    out.exec = Exec{Fwd(pd), {}};
    out.exec.slot(DNNL_ARG_SRC, pd.src_desc());
    out.exec.slot(DNNL_ARG_WEIGHTS, pd.weights_desc());
    if (has_bias_) out.exec.slot(DNNL_ARG_BIAS, pd.bias_desc());
    out.exec.slot(DNNL_ARG_DST, pd.dst_desc());
    out.src.plan(src, pd.src_desc(), true);
    out.weights.plan(wmd, pd.weights_desc(), true);
    out.dst.plan(dst, pd.dst_desc(), false);
  }

  const Node& node_;
  bool transposed_;
  bool has_bias_ = false;
  ConvGeometry geo_;
  Forward fwd_infer_, fwd_train_;
  Exec bwd_data_, bwd_weights_;
  Staged data_diff_dst_, data_weights_, data_diff_src_;
  Staged weights_src_, weights_diff_dst_, weights_diff_w_;
  bool same_diff_dst_ = false;
  dnnl::memory::desc out_layout_;
  Tensor spare_w_, spare_b_;
};

}  // namespace

std::unique_ptr<TrainOp> make_conv(const Node& node) { return std::make_unique<ConvOp>(node, false); }
std::unique_ptr<TrainOp> make_conv_transpose(const Node& node) { return std::make_unique<ConvOp>(node, true); }

}  // namespace terraseg::train
