// Conv and ConvTranspose: format_tag::any so oneDNN picks blocked layouts, weights reordered once
// per plan, bias / folded BatchNormalization / activations / residual sum fused as post-ops.
#include <stdexcept>

#include "engine/ops.hpp"
#include "op_geometry.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg::engine {
namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

/// Spatial parameters of one convolution in oneDNN terms (dilation 0 = dense).
struct ConvShape {
  dnnl::memory::dims strides, dilates, pad_l, pad_r;
  Dims dst;
};

ConvShape conv_shape(const Node& node, const Dims& x, int64_t out_channels, int64_t kh, int64_t kw) {
  const auto stride = spatial_attr(node, "strides", {1, 1});
  const auto dilation = spatial_attr(node, "dilations", {1, 1});
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  const std::array<int64_t, 2> ek{(kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1};
  std::array<int64_t, 4> pads = pads_attr(node);
  if (auto_pad == "VALID") pads = {0, 0, 0, 0};
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    const bool upper = auto_pad == "SAME_UPPER";
    const auto ph = same_pads(x[2], ek[0], stride[0], upper);
    const auto pw = same_pads(x[3], ek[1], stride[1], upper);
    pads = {ph[0], pw[0], ph[1], pw[1]};
  }
  ConvShape shape;
  shape.strides = {stride[0], stride[1]};
  shape.dilates = {dilation[0] - 1, dilation[1] - 1};
  shape.pad_l = {pads[0], pads[1]};
  shape.pad_r = {pads[2], pads[3]};
  const int64_t oh = (x[2] + pads[0] + pads[2] - ek[0]) / stride[0] + 1;
  const int64_t ow = (x[3] + pads[1] + pads[3] - ek[1]) / stride[1] + 1;
  if (x[2] + pads[0] + pads[2] < ek[0] || x[3] + pads[1] + pads[3] < ek[1]) {
    fail(node, "input " + to_string(x) + " is smaller than the kernel");
  }
  shape.dst = {x[0], out_channels, oh, ow};
  return shape;
}

/// ConvTranspose geometry, including output_padding and output_shape (ONNX opset 11+ rules).
ConvShape deconv_shape(const Node& node, const Dims& x, int64_t out_channels, int64_t kh, int64_t kw) {
  const auto stride = spatial_attr(node, "strides", {1, 1});
  const auto dilation = spatial_attr(node, "dilations", {1, 1});
  const auto out_pad = spatial_attr(node, "output_padding", {0, 0});
  const std::array<int64_t, 2> ek{(kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1};
  const std::array<int64_t, 4> pads = transposed_conv_pads(node, x, stride, out_pad, ek);
  ConvShape shape;
  shape.strides = {stride[0], stride[1]};
  shape.dilates = {dilation[0] - 1, dilation[1] - 1};
  shape.pad_l = {pads[0], pads[1]};
  // oneDNN has no output_padding: extra rows at the end are a smaller (possibly negative) right pad.
  shape.pad_r = {pads[2] - out_pad[0], pads[3] - out_pad[1]};
  const int64_t oh = stride[0] * (x[2] - 1) + out_pad[0] + ek[0] - pads[0] - pads[2];
  const int64_t ow = stride[1] * (x[3] - 1) + out_pad[1] + ek[1] - pads[1] - pads[3];
  if (oh <= 0 || ow <= 0) fail(node, "output would be empty for input " + to_string(x));
  shape.dst = {x[0], out_channels, oh, ow};
  return shape;
}

/// Post-ops up to (not including) the first one that cannot be fused at these shapes.
size_t fusable_prefix(const PlanBuilder& builder, const PlanNode& pn, const Dims& dst) {
  for (size_t i = 0; i < pn.post_ops.size(); ++i) {
    const PostOp& post = pn.post_ops[i];
    if (post.kind == PostOp::Kind::sum && builder.dims(builder.lookup(post.residual, pn.node)) != dst) return i;
  }
  return pn.post_ops.size();
}

dnnl::primitive_attr conv_attr(const PlanBuilder& builder, const std::vector<PostOp>& posts, size_t count) {
  dnnl::post_ops ops;
  for (size_t i = 0; i < count; ++i) {
    if (posts[i].kind == PostOp::Kind::sum) {
      ops.append_sum(1.0F);
    } else {
      ops.append_eltwise(1.0F, posts[i].alg, posts[i].alpha, posts[i].beta);
    }
  }
  dnnl::primitive_attr attr = builder.attr();
  attr.set_post_ops(ops);
  return attr;
}

/// Everything the two convolution kinds share once their descriptors exist.
struct ConvLowering {
  const PlanNode* pn = nullptr;
  int src = -1;
  const Tensor* weights = nullptr;
  dnnl::memory::desc weights_source;  ///< plain layout of the ONNX weight tensor
  const Tensor* bias = nullptr;
  Dims dst;
  size_t fused = 0;  ///< post-ops applied inside the primitive
  bool emulate_bf16 = false;
};

/// Weights (optionally rounded to bf16), source reorder, residual copy, primitive, unfused tail.
template <typename PrimitiveDesc>
void emit_conv(PlanBuilder& builder, const ConvLowering& c, const PrimitiveDesc& pd) {
  const Node& node = c.pn->node;
  int src = c.src;
  if (c.emulate_bf16) src = plan_round_bf16(builder, node.name + ".bf16", src);
  src = builder.convert(src, pd.src_desc());
  std::vector<float> rounded;
  const float* w = c.weights->data();
  if (c.emulate_bf16) {
    rounded.assign(c.weights->values().begin(), c.weights->values().end());
    for (float& v : rounded) v = round_bf16(v);
    w = rounded.data();
  }
  const int weights = builder.add_constant(pd.weights_desc(), w, c.weights_source);
  const int64_t channels = c.dst[1];
  const std::vector<float> zeros(static_cast<size_t>(channels), 0.0F);
  const int bias = builder.add_constant(pd.bias_desc(), c.bias ? c.bias->data() : zeros.data(), Dims{channels});
  const int dst = builder.add_value(pd.dst_desc());
  for (size_t i = 0; i < c.fused; ++i) {
    if (c.pn->post_ops[i].kind != PostOp::Kind::sum) continue;
    // The sum post-op accumulates into dst, so dst starts as a copy of the residual.
    const int residual = builder.lookup(c.pn->post_ops[i].residual, node);
    const dnnl::reorder::primitive_desc copy(builder.engine(), builder.md(residual), builder.engine(), pd.dst_desc(),
                                             builder.attr());
    builder.add_primitive(c.pn->post_ops[i].node, copy, {{DNNL_ARG_SRC, residual}, {DNNL_ARG_DST, dst}});
  }
  builder.add_primitive(node.name, pd,
                        {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST, dst}});
  int result = dst;
  for (size_t i = c.fused; i < c.pn->post_ops.size(); ++i) {
    const PostOp& post = c.pn->post_ops[i];
    if (post.kind == PostOp::Kind::sum) {
      result = plan_binary(builder, node, dnnl::algorithm::binary_add, result,
                           builder.lookup(post.residual, node));
    } else {
      result = plan_eltwise(builder, post.node, result, post);
    }
  }
  builder.bind(node.outputs.at(0), result);
}

/// Builds the primitive descriptor in the requested precision; when the CPU has no bf16 kernels
/// (oneDNN needs AVX-512 for bf16), falls back to f32 kernels on bf16-rounded data.
template <typename PrimitiveDesc, typename MakeDesc>
PrimitiveDesc make_pd(PlanBuilder& builder, ConvLowering& c, const dnnl::primitive_attr& attr, MakeDesc make) {
  if (builder.precision() == Precision::bf16) {
    try {
      return PrimitiveDesc(make(dt::bf16), attr, builder.engine());
    } catch (const dnnl::error&) {
      c.emulate_bf16 = true;
    }
  }
  return PrimitiveDesc(make(dt::f32), attr, builder.engine());
}

}  // namespace

void check_conv(const Node& node) {
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "VALID" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER") {
    fail(node, "auto_pad '" + auto_pad + "' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER");
  }
  spatial_attr(node, "strides", {1, 1});
  spatial_attr(node, "dilations", {1, 1});
  pads_attr(node);
  if (node.inputs.size() < 2) fail(node, "needs inputs X and W");
}

void plan_conv(PlanBuilder& builder, const PlanNode& pn) {
  const Node& node = pn.node;
  ConvLowering c;
  c.pn = &pn;
  c.src = builder.lookup(node.inputs[0], node);
  require_rank4(builder, node, c.src);
  const Dims x = builder.dims(c.src);
  c.weights = &builder.weight(node, 1);
  const Dims& w = c.weights->dims();
  const int64_t group = node.attr_int("group", 1);
  if (w.size() != 4) fail(node, "weights must be OIHW (rank 4), got " + to_string(w));
  if (group < 1 || w[0] % group != 0 || x[1] != w[1] * group) {
    fail(node, "input channels " + std::to_string(x[1]) + " do not match weights " + to_string(w) + " with group " +
                   std::to_string(group));
  }
  const auto kernel = spatial_attr(node, "kernel_shape", {w[2], w[3]});
  if (kernel[0] != w[2] || kernel[1] != w[3]) fail(node, "kernel_shape differs from the weights " + to_string(w));
  if (builder.has_input(node, 2)) c.bias = &builder.weight(node, 2);
  if (c.bias && c.bias->size() != w[0]) fail(node, "bias has " + std::to_string(c.bias->size()) + " values");
  const ConvShape shape = conv_shape(node, x, w[0], w[2], w[3]);
  c.dst = shape.dst;
  c.fused = fusable_prefix(builder, pn, c.dst);
  const dnnl::memory::dims wdims = group == 1 ? dnnl::memory::dims{w[0], w[1], w[2], w[3]}
                                              : dnnl::memory::dims{group, w[0] / group, w[1], w[2], w[3]};
  c.weights_source = dnnl::memory::desc(wdims, dt::f32, group == 1 ? tag::oihw : tag::goihw);
  const auto attr = conv_attr(builder, pn.post_ops, c.fused);
  auto make = [&](dt type) {
    return dnnl::convolution_forward::desc(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
        dnnl::memory::desc(to_dnnl(x), type, tag::any), dnnl::memory::desc(wdims, type, tag::any),
        dnnl::memory::desc({w[0]}, dt::f32, tag::any), dnnl::memory::desc(to_dnnl(c.dst), dt::f32, tag::any),
        shape.strides, shape.dilates, shape.pad_l, shape.pad_r);
  };
  const auto pd = make_pd<dnnl::convolution_forward::primitive_desc>(builder, c, attr, make);
  builder.add_flops(2.0 * static_cast<double>(element_count(c.dst)) * static_cast<double>(w[1] * w[2] * w[3]));
  emit_conv(builder, c, pd);
}

void plan_conv_transpose(PlanBuilder& builder, const PlanNode& pn) {
  const Node& node = pn.node;
  ConvLowering c;
  c.pn = &pn;
  c.src = builder.lookup(node.inputs[0], node);
  require_rank4(builder, node, c.src);
  const Dims x = builder.dims(c.src);
  c.weights = &builder.weight(node, 1);
  const Dims& w = c.weights->dims();  // ONNX: [C_in, C_out / group, kH, kW]
  const int64_t group = node.attr_int("group", 1);
  if (w.size() != 4) fail(node, "weights must be rank 4, got " + to_string(w));
  if (group < 1 || x[1] != w[0] || w[0] % group != 0) {
    fail(node, "input channels " + std::to_string(x[1]) + " do not match weights " + to_string(w));
  }
  const int64_t out_channels = w[1] * group;
  if (builder.has_input(node, 2)) c.bias = &builder.weight(node, 2);
  if (c.bias && c.bias->size() != out_channels) fail(node, "bias has " + std::to_string(c.bias->size()) + " values");
  const ConvShape shape = deconv_shape(node, x, out_channels, w[2], w[3]);
  c.dst = shape.dst;
  c.fused = fusable_prefix(builder, pn, c.dst);
  const dnnl::memory::dims wdims = group == 1 ? dnnl::memory::dims{out_channels, w[0], w[2], w[3]}
                                              : dnnl::memory::dims{group, w[1], w[0] / group, w[2], w[3]};
  c.weights_source = dnnl::memory::desc(wdims, dt::f32, group == 1 ? tag::iohw : tag::giohw);
  const auto attr = conv_attr(builder, pn.post_ops, c.fused);
  auto make = [&](dt type) {
    return dnnl::deconvolution_forward::desc(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::deconvolution_direct,
        dnnl::memory::desc(to_dnnl(x), type, tag::any), dnnl::memory::desc(wdims, type, tag::any),
        dnnl::memory::desc({out_channels}, dt::f32, tag::any), dnnl::memory::desc(to_dnnl(c.dst), dt::f32, tag::any),
        shape.strides, shape.dilates, shape.pad_l, shape.pad_r);
  };
  const auto pd = make_pd<dnnl::deconvolution_forward::primitive_desc>(builder, c, attr, make);
  builder.add_flops(2.0 * static_cast<double>(element_count(x)) * static_cast<double>(w[1] * w[2] * w[3]));
  emit_conv(builder, c, pd);
}

}  // namespace terraseg::engine
