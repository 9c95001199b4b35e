// Conv and ConvTranspose: format_tag::any so oneDNN picks blocked layouts (or nhwc in channels-last
// plans), weights reordered once per plan, bias / folded BatchNormalization / activations / residual
// sum fused as post-ops. Wide W padding and kernel == stride ConvTranspose are lowered differently
// where oneDNN 2.6 would run slow kernels (see plan_pad_width, plan_conv_transpose_as_conv).
#include <algorithm>
#include <cstring>
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

dnnl::primitive_attr conv_attr(const std::vector<PostOp>& posts, size_t count) {
  dnnl::post_ops ops;
  for (size_t i = 0; i < count; ++i) {
    if (posts[i].kind == PostOp::Kind::sum) {
      ops.append_sum(1.0F);
    } else {
      ops.append_eltwise(1.0F, posts[i].alg, posts[i].alpha, posts[i].beta);
    }
  }
  dnnl::primitive_attr attr = terraseg::engine::PlanBuilder::attr();
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
  /// Columns of zeros added to the source before the primitive (its own W padding is then 0).
  int64_t pad_w_left = 0, pad_w_right = 0;
};

/// Elements per W step of a layout whose rows of W x inner floats are contiguous: 1 (plain NCHW),
/// C (nhwc), 8 or 16 (nChw8c, nChw16c); 0 for any other layout.
int64_t row_inner(const dnnl::memory::desc& md) {
  const auto d = md.dims();
  if (d.size() != 4 || md.data_type() != dt::f32) return 0;
  if (md == dnnl::memory::desc(d, dt::f32, tag::nchw)) return 1;
  if (md == dnnl::memory::desc(d, dt::f32, tag::nhwc)) return d[1];
  if (md == dnnl::memory::desc(d, dt::f32, tag::nChw8c)) return 8;
  if (md == dnnl::memory::desc(d, dt::f32, tag::nChw16c)) return 16;
  return 0;
}

/// Channels per block of a rank-4 f32 nChw8c or nChw16c layout; 0 for any other layout.
int64_t channel_block(const dnnl::memory::desc& md) {
  const auto d = md.dims();
  if (d.size() != 4 || md.data_type() != dt::f32) return 0;
  if (md == dnnl::memory::desc(d, dt::f32, tag::nChw8c)) return 8;
  if (md == dnnl::memory::desc(d, dt::f32, tag::nChw16c)) return 16;
  return 0;
}

/// `src` copied into a value of layout `padded` (same layout family, `left` + `right` more columns),
/// with zero columns on both sides. oneDNN's jit:avx2 convolution accepts at most ur_w = 3 columns
/// of implicit left padding and falls back to gemm (~10x slower here) for ESPNet's dilated 3x3
/// convolutions (padding 4..16); on an explicitly padded source it runs jit with no W padding.
int plan_pad_width(PlanBuilder& builder, const std::string& node, int src, const dnnl::memory::desc& padded,
                   int64_t left, int64_t right) {
  const Dims d = builder.dims(src);
  src = builder.convert(src, same_layout(padded, d));
  const int dst = builder.add_value(padded);
  const int64_t inner = row_inner(padded);
  const int64_t w = d[3];
  const int64_t in_row = w * inner;
  const int64_t out_row = (w + left + right) * inner;
  if (out_row <= 0) throw Error("node '" + node + "': cannot pad a layout with empty rows (" + to_string(d) + ")");
  const auto rows = static_cast<int64_t>(padded.get_size() / sizeof(float)) / out_row;
  builder.add_custom(node,
                     [src, dst, rows, in_row, out_row, left, inner](const std::vector<PlanValue>& values) {
                       const float* in = data_of(values, src);
                       float* out = data_of(values, dst);
                       const int64_t before = left * inner;
#pragma omp parallel for
                       for (int64_t r = 0; r < rows; ++r) {
                         float* o = out + r * out_row;
                         std::fill(o, o + before, 0.0F);
                         std::memcpy(o + before, in + r * in_row, static_cast<size_t>(in_row) * sizeof(float));
                         std::fill(o + before + in_row, o + out_row, 0.0F);
                       }
                     },
                     {src, dst});
  return dst;
}

/// Weights (optionally rounded to bf16), source reorder, residual copy and the primitive; returns
/// the primitive's dst value (post-ops beyond c.fused not yet applied).
template <typename PrimitiveDesc>
int emit_conv_primitive(PlanBuilder& builder, const ConvLowering& c, const PrimitiveDesc& pd) {
  const Node& node = c.pn->node;
  int src = c.src;
  if (c.emulate_bf16) {
    src = plan_round_bf16(builder, node.name + ".bf16", src);
    builder.count_emulated_bf16();
  }
  if (c.pad_w_left > 0 || c.pad_w_right > 0) {
    src = plan_pad_width(builder, node.name + ".pad_w", src, pd.src_desc(), c.pad_w_left, c.pad_w_right);
  } else {
    src = builder.convert(src, pd.src_desc());
  }
  std::vector<float> rounded;
  const float* w = c.weights->data();
  if (c.emulate_bf16) {
    rounded.assign(c.weights->values().begin(), c.weights->values().end());
    for (float& v : rounded) v = round_bf16(v);
    w = rounded.data();
  }
  const int weights = builder.add_constant(pd.weights_desc(), w, c.weights_source);
  const auto channels = static_cast<int64_t>(pd.dst_desc().dims()[1]);
  const std::vector<float> zeros(static_cast<size_t>(channels), 0.0F);
  const int bias = builder.add_constant(pd.bias_desc(), c.bias ? c.bias->data() : zeros.data(), Dims{channels});
  const int dst = builder.add_value(pd.dst_desc());
  for (size_t i = 0; i < c.fused; ++i) {
    if (c.pn->post_ops[i].kind != PostOp::Kind::sum) continue;
    // The sum post-op accumulates into dst, so dst starts as a copy of the residual.
    const int residual = builder.lookup(c.pn->post_ops[i].residual, node);
    const dnnl::reorder::primitive_desc copy(builder.engine(), builder.md(residual), builder.engine(), pd.dst_desc(),
                                             terraseg::engine::PlanBuilder::attr());
    builder.add_primitive(c.pn->post_ops[i].node, copy, {{DNNL_ARG_SRC, residual}, {DNNL_ARG_DST, dst}});
  }
  builder.add_primitive(node.name, pd,
                        {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST, dst}});
  return dst;
}

/// The post-ops that were not fused (as separate primitives) after `result`, then binds the output.
void finish_conv(PlanBuilder& builder, const ConvLowering& c, int result) {
  const Node& node = c.pn->node;
  for (size_t i = c.fused; i < c.pn->post_ops.size(); ++i) {
    const PostOp& post = c.pn->post_ops[i];
    if (post.kind == PostOp::Kind::sum) {
      result = plan_binary(builder, node, dnnl::algorithm::binary_add, result, builder.lookup(post.residual, node));
    } else {
      result = plan_eltwise(builder, post.node, result, post);
    }
  }
  builder.bind(node.outputs.at(0), result);
}

template <typename PrimitiveDesc>
void emit_conv(PlanBuilder& builder, const ConvLowering& c, const PrimitiveDesc& pd) {
  finish_conv(builder, c, emit_conv_primitive(builder, c, pd));
}

/// Builds the primitive descriptor in the requested precision. Where the CPU has no bf16 kernel for
/// this convolution (oneDNN needs AVX-512 for bf16 at all, and even there some layout and shape
/// combinations only have its reference implementation, ~40x slower than f32), it runs f32 kernels
/// on bf16-rounded data instead: the same numerics, counted in PlanStats::emulated_bf16_convolutions.
template <typename PrimitiveDesc, typename MakeDesc>
PrimitiveDesc make_pd(PlanBuilder& builder, ConvLowering& c, const dnnl::primitive_attr& attr, MakeDesc make) {
  if (builder.precision() == Precision::bf16) {
    try {
      PrimitiveDesc pd(make(dt::bf16), attr, builder.engine());
      if (std::string(pd.impl_info_str()).rfind("ref", 0) != 0) return pd;
    } catch (const dnnl::error&) {
    }
    c.emulate_bf16 = true;
  }
  return PrimitiveDesc(make(dt::f32), attr, builder.engine());
}

/// Input geometry of a kernel == stride ConvTranspose lowered to a 1x1 convolution.
struct TileGeometry {
  int64_t batch, rows, cols, kh, kw, oc;
};

/// Depth-to-space between blocked layouts (nChw8c or nChw16c for Block 8 or 16): tile channel
/// t * oc + o (tap t = ty * kw + tx) is block t * oc / Block + o / Block, so each (pixel, tap,
/// channel block) is one run of Block floats. Output rows are written in order, each from kw
/// input rows read in order.
template <int64_t Block>
void blocked_depth_to_space(const float* in, float* out, const TileGeometry& g) {
  const int64_t blocks = g.oc / Block;
  const int64_t plane = g.rows * g.cols * Block;  // one channel block of the tiles
  const int64_t out_cols = g.cols * g.kw;
#pragma omp parallel for collapse(3)
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t ob = 0; ob < blocks; ++ob) {
      for (int64_t y = 0; y < g.rows; ++y) {
        const float* src = in + ((n * g.kh * g.kw * blocks + ob) * g.rows + y) * g.cols * Block;
        for (int64_t ty = 0; ty < g.kh; ++ty) {
          float* row = out + ((n * blocks + ob) * g.rows * g.kh + y * g.kh + ty) * out_cols * Block;
          for (int64_t col = 0; col < g.cols; ++col) {
            for (int64_t tx = 0; tx < g.kw; ++tx) {
              std::memcpy(row + (col * g.kw + tx) * Block, src + (ty * g.kw + tx) * blocks * plane + col * Block,
                          Block * sizeof(float));
            }
          }
        }
      }
    }
  }
}

/// Depth-to-space from nhwc tiles into a plain NCHW output (a graph output handed to the caller).
/// Gathers output rows from the pixels' tap-major channels: one input row (cols x kh*kw*oc floats)
/// stays in L2 while every channel reads it. (Scattering each pixel to oc rows instead was 4x
/// slower: the rows lie a power of two apart.)
void planar_depth_to_space(const float* in, float* out, const TileGeometry& g) {
  const int64_t out_cols = g.cols * g.kw;
#pragma omp parallel for collapse(2)
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t y = 0; y < g.rows; ++y) {
      const float* src = in + (n * g.rows + y) * g.cols * g.kh * g.kw * g.oc;
      for (int64_t o = 0; o < g.oc; ++o) {
        for (int64_t ty = 0; ty < g.kh; ++ty) {
          float* row = out + ((n * g.oc + o) * g.rows * g.kh + y * g.kh + ty) * out_cols;
          for (int64_t col = 0; col < g.cols; ++col) {
            for (int64_t tx = 0; tx < g.kw; ++tx)
              row[col * g.kw + tx] = src[((col * g.kh + ty) * g.kw + tx) * g.oc + o];
          }
        }
      }
    }
  }
}

/// Depth-to-space between nhwc layouts: each (pixel, tap row) is one run of kw * oc floats.
void nhwc_depth_to_space(const float* in, float* out, const TileGeometry& g) {
  const int64_t out_row = g.cols * g.kw * g.oc;  // one output image row
  const auto bytes = static_cast<size_t>(g.kw * g.oc) * sizeof(float);
#pragma omp parallel for
  for (int64_t r = 0; r < g.batch * g.rows; ++r) {
    for (int64_t ty = 0; ty < g.kh; ++ty) {
      float* o = out + (r * g.kh + ty) * out_row;
      for (int64_t col = 0; col < g.cols; ++col) {
        std::memcpy(o + col * g.kw * g.oc, in + ((r * g.cols + col) * g.kh + ty) * g.kw * g.oc, bytes);
      }
    }
  }
}

/// A ConvTranspose whose kernel equals its stride and that has no padding or dilation writes each
/// input pixel's kH x kW output tile from that pixel alone: a 1x1 convolution to kH*kW*C_out
/// channels (tap-major) followed by a depth-to-space copy. oneDNN 2.6 runs these deconvolutions as
/// strided backward-data convolutions, ~10x slower than the 1x1 jit kernel at ESPNet's 20 channels
/// and 2-4x slower at U-Net's 64..512 (512x512 input, 1 thread). In nhwc each output pixel's C_out
/// values are one contiguous copy; in nChw8c / nChw16c each (pixel, tap, channel block) is, which
/// needs C_out to be a multiple of 8 (the caller keeps the deconvolution otherwise).
void plan_conv_transpose_as_conv(PlanBuilder& builder, const PlanNode& pn, ConvLowering& c, const Dims& x,
                                 const Dims& w, const ConvShape& shape) {
  const Node& node = pn.node;
  const int64_t ic = w[0];
  const int64_t oc = w[1];
  const int64_t kh = w[2];
  const int64_t kw = w[3];
  const int64_t taps = kh * kw;
  // Sums need the output geometry: only the leading activations run inside the 1x1 convolution.
  c.fused = 0;
  while (c.fused < pn.post_ops.size() && pn.post_ops[c.fused].kind == PostOp::Kind::eltwise) ++c.fused;
  Tensor weights({taps * oc, ic, 1, 1});
  const float* src_w = c.weights->data();
  for (int64_t i = 0; i < ic; ++i) {
    for (int64_t o = 0; o < oc; ++o) {
      for (int64_t t = 0; t < taps; ++t) weights.data()[(t * oc + o) * ic + i] = src_w[(i * oc + o) * taps + t];
    }
  }
  Tensor bias({taps * oc});
  for (int64_t t = 0; t < taps; ++t) {
    for (int64_t o = 0; o < oc; ++o) bias.data()[t * oc + o] = c.bias ? c.bias->data()[o] : 0.0F;
  }
  ConvLowering conv = c;
  conv.weights = &weights;
  conv.bias = &bias;
  const dnnl::memory::dims wdims{taps * oc, ic, 1, 1};
  conv.weights_source = dnnl::memory::desc(wdims, dt::f32, tag::oihw);
  const Dims mid{x[0], taps * oc, x[2], x[3]};
  conv.dst = mid;
  // A graph output is wanted plain NCHW: then the depth-to-space writes NCHW directly, and the plan
  // hands that buffer to the caller (no nhwc -> nchw reorder of what is ESPNet's largest tensor).
  // A planar 1x1 convolution (gemm) plus row interleaving measured slower: 29 ms against 24 ms.
  const std::vector<std::string>& outputs = builder.graph().outputs;
  const bool planar =
      c.fused == pn.post_ops.size() && std::find(outputs.begin(), outputs.end(), node.outputs.at(0)) != outputs.end();
  const auto attr = conv_attr(pn.post_ops, c.fused);
  auto make_in = [&](tag src_layout, tag mid_layout) {
    return [&, src_layout, mid_layout](dt type) {
      return dnnl::convolution_forward::desc(
          dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
          dnnl::memory::desc(to_dnnl(x), type, src_layout), dnnl::memory::desc(wdims, type, tag::any),
          dnnl::memory::desc({taps * oc}, dt::f32, tag::any), dnnl::memory::desc(to_dnnl(mid), dt::f32, mid_layout),
          dnnl::memory::dims{1, 1}, dnnl::memory::dims{0, 0}, dnnl::memory::dims{0, 0}, dnnl::memory::dims{0, 0});
    };
  };
  // The tiles' layout: nhwc in channels-last plans and for the planar copy, else oneDNN's blocked
  // choice (nChw8c on AVX2, nChw16c on AVX-512), or nChw8c where that choice has no whole blocks.
  int64_t block = 0;
  dnnl::convolution_forward::primitive_desc pd;
  if (builder.channels_last() || planar) {
    pd = make_pd<dnnl::convolution_forward::primitive_desc>(builder, conv, attr,
                                                            make_in(builder.activation_tag(), tag::nhwc));
  } else {
    pd = make_pd<dnnl::convolution_forward::primitive_desc>(builder, conv, attr, make_in(tag::any, tag::any));
    block = channel_block(pd.dst_desc());
    if (block == 0 || oc % block != 0) {
      conv.emulate_bf16 = false;
      pd = make_pd<dnnl::convolution_forward::primitive_desc>(builder, conv, attr, make_in(tag::any, tag::nChw8c));
      block = 8;
    }
  }
  const int tiles = emit_conv_primitive(builder, conv, pd);
  const TileGeometry geometry{x[0], x[2], x[3], kh, kw, oc};
  using Copy = void (*)(const float*, float*, const TileGeometry&);
  Copy copy = nhwc_depth_to_space;
  tag layout = tag::nhwc;
  if (planar) {
    copy = planar_depth_to_space;
    layout = tag::nchw;
  } else if (block > 0) {
    copy = block == 8 ? blocked_depth_to_space<8> : blocked_depth_to_space<16>;
    layout = block == 8 ? tag::nChw8c : tag::nChw16c;
  }
  const int dst = builder.add_value(dnnl::memory::desc(to_dnnl(shape.dst), dt::f32, layout));
  builder.add_custom(node.name + ".depth_to_space",
                     [tiles, dst, geometry, copy](const std::vector<PlanValue>& values) {
                       copy(data_of(values, tiles), data_of(values, dst), geometry);
                     },
                     {tiles, dst});
  finish_conv(builder, c, dst);
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
  if (terraseg::engine::PlanBuilder::has_input(node, 2)) c.bias = &builder.weight(node, 2);
  if (c.bias && c.bias->size() != w[0]) fail(node, "bias has " + std::to_string(c.bias->size()) + " values");
  const ConvShape shape = conv_shape(node, x, w[0], w[2], w[3]);
  c.dst = shape.dst;
  c.fused = fusable_prefix(builder, pn, c.dst);
  const double flops = 2.0 * static_cast<double>(element_count(c.dst)) * static_cast<double>(w[1] * w[2] * w[3]);
  if (group == 1 && w[2] == 3 && w[3] == 3 && shape.strides == dnnl::memory::dims{1, 1} &&
      shape.dilates == dnnl::memory::dims{0, 0}) {
    const WinogradConv winograd{&pn, c.src, c.weights, c.bias, shape.pad_l[0], shape.pad_l[1], c.dst};
    size_t fused = 0;
    const int result = plan_winograd_conv(builder, winograd, fused);
    if (result >= 0) {
      builder.add_flops(flops);  // counted as the direct convolution's, like every other op
      c.fused = fused;
      finish_conv(builder, c, result);
      return;
    }
  }
  const dnnl::memory::dims wdims = group == 1 ? dnnl::memory::dims{w[0], w[1], w[2], w[3]}
                                              : dnnl::memory::dims{group, w[0] / group, w[1], w[2], w[3]};
  c.weights_source = dnnl::memory::desc(wdims, dt::f32, group == 1 ? tag::oihw : tag::goihw);
  const auto attr = conv_attr(pn.post_ops, c.fused);
  const tag act = builder.activation_tag();
  auto make_padded = [&](dt type, int64_t extra_w, const dnnl::memory::dims& pad_l, const dnnl::memory::dims& pad_r) {
    const Dims src{x[0], x[1], x[2], x[3] + extra_w};
    return dnnl::convolution_forward::desc(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
        dnnl::memory::desc(to_dnnl(src), type, act), dnnl::memory::desc(wdims, type, tag::any),
        dnnl::memory::desc({w[0]}, dt::f32, tag::any), dnnl::memory::desc(to_dnnl(c.dst), dt::f32, act), shape.strides,
        shape.dilates, pad_l, pad_r);
  };
  auto make = [&](dt type) { return make_padded(type, 0, shape.pad_l, shape.pad_r); };
  auto pd = make_pd<dnnl::convolution_forward::primitive_desc>(builder, c, attr, make);
  // Wide W padding (dilated 3x3) sends oneDNN to gemm; pad the source explicitly when that gives jit.
  if (std::string(pd.impl_info_str()).find("gemm") != std::string::npos && group == 1 && shape.strides[1] == 1 &&
      (shape.pad_l[1] > 0 || shape.pad_r[1] > 0) && shape.pad_r[1] >= 0) {
    ConvLowering padded = c;
    padded.pad_w_left = shape.pad_l[1];
    padded.pad_w_right = shape.pad_r[1];
    const dnnl::memory::dims pad_l{shape.pad_l[0], 0};
    const dnnl::memory::dims pad_r{shape.pad_r[0], 0};
    auto make_wide = [&](dt type) { return make_padded(type, shape.pad_l[1] + shape.pad_r[1], pad_l, pad_r); };
    try {
      auto wide = make_pd<dnnl::convolution_forward::primitive_desc>(builder, padded, attr, make_wide);
      if (std::string(wide.impl_info_str()).find("gemm") == std::string::npos && row_inner(wide.src_desc()) > 0) {
        c = padded;
        pd = wide;
      }
    } catch (const dnnl::error&) {
      // No primitive for the padded shape: keep the first choice.
    }
  }
  builder.add_flops(flops);
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
  if (terraseg::engine::PlanBuilder::has_input(node, 2)) c.bias = &builder.weight(node, 2);
  if (c.bias && c.bias->size() != out_channels) fail(node, "bias has " + std::to_string(c.bias->size()) + " values");
  const ConvShape shape = deconv_shape(node, x, out_channels, w[2], w[3]);
  c.dst = shape.dst;
  c.fused = fusable_prefix(builder, pn, c.dst);
  const bool tiles = group == 1 && shape.strides[0] == w[2] && shape.strides[1] == w[3] && shape.dilates[0] == 0 &&
                     shape.dilates[1] == 0 && shape.pad_l[0] == 0 && shape.pad_l[1] == 0 && shape.pad_r[0] == 0 &&
                     shape.pad_r[1] == 0;
  builder.add_flops(2.0 * static_cast<double>(element_count(x)) * static_cast<double>(w[1] * w[2] * w[3]));
  if (tiles && (builder.channels_last() || out_channels % 8 == 0)) {
    plan_conv_transpose_as_conv(builder, pn, c, x, w, shape);
    return;
  }
  const dnnl::memory::dims wdims = group == 1 ? dnnl::memory::dims{out_channels, w[0], w[2], w[3]}
                                              : dnnl::memory::dims{group, w[1], w[0] / group, w[2], w[3]};
  c.weights_source = dnnl::memory::desc(wdims, dt::f32, group == 1 ? tag::iohw : tag::giohw);
  const auto attr = conv_attr(pn.post_ops, c.fused);
  auto make = [&](dt type) {
    return dnnl::deconvolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::deconvolution_direct,
                                             dnnl::memory::desc(to_dnnl(x), type, builder.activation_tag()),
                                             dnnl::memory::desc(wdims, type, tag::any),
                                             dnnl::memory::desc({out_channels}, dt::f32, tag::any),
                                             dnnl::memory::desc(to_dnnl(c.dst), dt::f32, builder.activation_tag()),
                                             shape.strides, shape.dilates, shape.pad_l, shape.pad_r);
  };
  const auto pd = make_pd<dnnl::deconvolution_forward::primitive_desc>(builder, c, attr, make);
  emit_conv(builder, c, pd);
}

}  // namespace terraseg::engine
