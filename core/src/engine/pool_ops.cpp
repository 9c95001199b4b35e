// MaxPool (with optional Indices as a oneDNN workspace), AveragePool, GlobalAveragePool, and
// MaxUnpool as oneDNN max-pooling backward: given the forward workspace, backward scatters each
// value to the position of its window's maximum and zero-fills the rest, which is MaxUnpool.
// The workspace holds window-relative offsets in the primitive's own (possibly blocked) layout, so
// when anything but MaxUnpool reads Indices (a graph output, say) a plain loop computes ONNX's flat
// indices for it.
#include <algorithm>
#include <limits>

#include "engine/ops.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg::engine {
namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

struct PoolShape {
  dnnl::memory::dims strides, kernel, dilation, pad_l, pad_r;
  std::array<int64_t, 4> onnx_pads{};
  Dims dst;
  bool ceil_overrun = false;  ///< ceil_mode added windows that reach past the explicit padding
};

std::array<int64_t, 2> kernel_attr(const Node& node) {
  if (!node.has("kernel_shape")) fail(node, "attribute 'kernel_shape' is required");
  return spatial_attr(node, "kernel_shape", {1, 1});
}

PoolShape pool_shape(const Node& node, const Dims& x) {
  const auto kernel = kernel_attr(node);
  const auto stride = spatial_attr(node, "strides", {1, 1});
  const auto dilation = spatial_attr(node, "dilations", {1, 1});
  const bool ceil_mode = node.attr_int("ceil_mode", 0) != 0;
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  const std::array<int64_t, 2> ek{(kernel[0] - 1) * dilation[0] + 1, (kernel[1] - 1) * dilation[1] + 1};
  std::array<int64_t, 4> pads = auto_pad == "VALID" ? std::array<int64_t, 4>{0, 0, 0, 0} : pads_attr(node);
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    const auto ph = same_pads(x[2], ek[0], stride[0], auto_pad == "SAME_UPPER");
    const auto pw = same_pads(x[3], ek[1], stride[1], auto_pad == "SAME_UPPER");
    pads = {ph[0], pw[0], ph[1], pw[1]};
  }
  PoolShape shape;
  shape.onnx_pads = pads;
  shape.dst = {x[0], x[1], 0, 0};
  for (size_t a = 0; a < 2; ++a) {
    const int64_t span = x[2 + a] + pads[a] + pads[a + 2] - ek[a];
    if (span < 0) fail(node, "input " + to_string(x) + " is smaller than the pooling window");
    int64_t out = (ceil_mode ? (span + stride[a] - 1) / stride[a] : span / stride[a]) + 1;
    // As PyTorch and the ONNX reference: the last window must start inside the input or left pad.
    if (ceil_mode && (out - 1) * stride[a] >= x[2 + a] + pads[a]) --out;
    shape.dst[2 + a] = out;
    const int64_t right = std::max(pads[a + 2], (out - 1) * stride[a] + ek[a] - x[2 + a] - pads[a]);
    shape.ceil_overrun = shape.ceil_overrun || right > pads[a + 2];
    shape.pad_r.push_back(right);
  }
  shape.strides = {stride[0], stride[1]};
  shape.kernel = {kernel[0], kernel[1]};
  shape.dilation = {dilation[0] - 1, dilation[1] - 1};
  shape.pad_l = {pads[0], pads[1]};
  return shape;
}

/// True when `indices` is read other than as MaxUnpool's indices input: as a graph output or by
/// any other op, which then need ONNX's flat values rather than oneDNN's workspace.
bool indices_read_as_values(const Graph& graph, const std::string& indices) {
  if (std::find(graph.outputs.begin(), graph.outputs.end(), indices) != graph.outputs.end()) return true;
  for (const Node& node : graph.nodes) {
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (node.inputs[i] == indices && (node.op != "MaxUnpool" || i != 1)) return true;
    }
  }
  return false;
}

/// Window geometry of a max pooling, for computing ONNX's Indices with a plain loop.
struct WindowScan {
  Dims x;
  std::array<int64_t, 2> stride, kernel, dilation, pad;

  /// Offset within its plane (h * W + w) of the first maximum in the window of output (oh, ow),
  /// padding excluded: the one ONNX's reference and PyTorch report.
  int64_t first_max(const float* plane, int64_t oh, int64_t ow) const {
    int64_t best = 0;
    float best_value = -std::numeric_limits<float>::infinity();
    bool found = false;
    for (int64_t ky = 0; ky < kernel[0]; ++ky) {
      const int64_t iy = oh * stride[0] - pad[0] + ky * dilation[0];
      if (iy < 0 || iy >= x[2]) continue;
      for (int64_t kx = 0; kx < kernel[1]; ++kx) {
        const int64_t ix = ow * stride[1] - pad[1] + kx * dilation[1];
        if (ix < 0 || ix >= x[3]) continue;
        const float value = plane[iy * x[3] + ix];
        if (!found || value > best_value) {
          best = iy * x[3] + ix;
          best_value = value;
          found = true;
        }
      }
    }
    return best;
  }
};

/// ONNX MaxPool Indices as floats: flat NCHW offsets ((n*C + c)*H + h)*W + w into the input.
int plan_flat_indices(PlanBuilder& builder, const Node& node, int src, const PoolShape& shape) {
  src = builder.to_plain(src);
  const Dims x = builder.dims(src);
  if (element_count(x) > (int64_t{1} << 24)) {
    fail(node, "Indices of an input of " + to_string(x) + " would exceed 2^24, past which float values cannot " +
                   "hold every index exactly; use a smaller tile or read the indices only through MaxUnpool");
  }
  const Dims out = shape.dst;
  const int dst = builder.add_value(dnnl::memory::desc(to_dnnl(out), dt::f32, tag::abcd));
  const WindowScan scan{x,
                        {shape.strides[0], shape.strides[1]},
                        {shape.kernel[0], shape.kernel[1]},
                        {shape.dilation[0] + 1, shape.dilation[1] + 1},
                        {shape.pad_l[0], shape.pad_l[1]}};
  builder.add_custom(node.name,
                     [src, dst, out, scan](const std::vector<PlanValue>& values) {
                       const float* in = data_of(values, src);
                       float* result = data_of(values, dst);
                       const int64_t in_plane = scan.x[2] * scan.x[3];
#pragma omp parallel for
                       for (int64_t plane = 0; plane < out[0] * out[1]; ++plane) {
                         float* op = result + plane * out[2] * out[3];
                         for (int64_t oh = 0; oh < out[2]; ++oh) {
                           for (int64_t ow = 0; ow < out[3]; ++ow) {
                             const int64_t offset = scan.first_max(in + plane * in_plane, oh, ow);
                             op[oh * out[3] + ow] = static_cast<float>(plane * in_plane + offset);
                           }
                         }
                       }
                     },
                     {src, dst});
  return dst;
}

void plan_pool(PlanBuilder& builder, const PlanNode& pn, dnnl::algorithm alg) {
  const Node& node = pn.node;
  int src = builder.lookup(node.inputs.at(0), node);
  require_rank4(builder, node, src);
  if (alg != dnnl::algorithm::pooling_max && builder.channels_last()) {
    // Average pooling of a plain source (ESPNet's input image) runs oneDNN's simple_nchw kernel,
    // ~15x slower than jit on nhwc; the nhwc copy of the image is shared with the first conv.
    src = builder.convert(src, dnnl::memory::desc(to_dnnl(builder.dims(src)), dt::f32, tag::nhwc));
  }
  const PoolShape shape = pool_shape(node, builder.dims(src));
  const bool indices = node.outputs.size() > 1 && !node.outputs[1].empty();
  if (alg == dnnl::algorithm::pooling_avg_include_padding && shape.ceil_overrun) {
    fail(node, "count_include_pad=1 with ceil_mode windows past the padding is not supported; pad explicitly");
  }
  const auto prop = indices ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
  const dnnl::pooling_v2_forward::desc desc(prop, alg, builder.md(src), same_layout(builder.md(src), shape.dst),
                                            shape.strides, shape.kernel, shape.dilation, shape.pad_l, shape.pad_r);
  const dnnl::pooling_v2_forward::primitive_desc pd(desc, terraseg::engine::PlanBuilder::attr(), builder.engine());
  const int dst = builder.add_value(pd.dst_desc());
  std::vector<std::pair<int, int>> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}};
  if (indices) {
    const int workspace = builder.add_value(pd.workspace_desc());
    args.emplace_back(DNNL_ARG_WORKSPACE, workspace);
    const int bound = indices_read_as_values(builder.graph(), node.outputs[1])
                          ? plan_flat_indices(builder, node, src, shape)
                          : workspace;
    builder.bind(node.outputs[1], bound);
    builder.pool_records()[bound] =
        PoolRecord{pd, shape.strides, shape.kernel, shape.dilation, shape.pad_l, shape.pad_r, workspace};
  }
  builder.add_primitive(node.name, pd, std::move(args));
  builder.bind(node.outputs.at(0), dst);
}

}  // namespace

void check_pool(const Node& node) {
  kernel_attr(node);
  spatial_attr(node, "strides", {1, 1});
  spatial_attr(node, "dilations", {1, 1});
  pads_attr(node);
  if (node.attr_int("storage_order", 0) != 0) fail(node, "storage_order=1 (column-major indices) is not supported");
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "VALID" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER") {
    fail(node, "auto_pad '" + auto_pad + "' is not supported");
  }
}

void plan_max_pool(PlanBuilder& builder, const PlanNode& pn) { plan_pool(builder, pn, dnnl::algorithm::pooling_max); }

void plan_average_pool(PlanBuilder& builder, const PlanNode& pn) {
  const bool include = pn.node.attr_int("count_include_pad", 0) != 0;
  plan_pool(builder, pn,
            include ? dnnl::algorithm::pooling_avg_include_padding : dnnl::algorithm::pooling_avg_exclude_padding);
}

void plan_global_average_pool(PlanBuilder& builder, const PlanNode& pn) {
  const Node& node = pn.node;
  const int src = builder.lookup(node.inputs.at(0), node);
  require_rank4(builder, node, src);
  const Dims x = builder.dims(src);
  const Dims out{x[0], x[1], 1, 1};
  const dnnl::pooling_v2_forward::desc desc(
      dnnl::prop_kind::forward_inference, dnnl::algorithm::pooling_avg_exclude_padding, builder.md(src),
      same_layout(builder.md(src), out), {1, 1}, {x[2], x[3]}, {0, 0}, {0, 0}, {0, 0});
  const dnnl::pooling_v2_forward::primitive_desc pd(desc, terraseg::engine::PlanBuilder::attr(), builder.engine());
  const int dst = builder.add_value(pd.dst_desc());
  builder.add_primitive(node.name, pd, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
  builder.bind(node.outputs.at(0), dst);
}

void plan_max_unpool(PlanBuilder& builder, const PlanNode& pn) {
  const Node& node = pn.node;
  const int src = builder.lookup(node.inputs.at(0), node);
  auto record = builder.pool_records().find(builder.lookup(node.inputs.at(1), node));
  if (record == builder.pool_records().end()) {
    fail(node, "Indices '" + node.inputs[1] + "' must be the second output of a MaxPool in this graph");
  }
  const PoolRecord& pool = record->second;
  const auto kernel = kernel_attr(node);
  const auto stride = spatial_attr(node, "strides", {1, 1});
  const auto pads = pads_attr(node);
  if (kernel[0] != pool.kernel[0] || kernel[1] != pool.kernel[1] || stride[0] != pool.strides[0] ||
      stride[1] != pool.strides[1] || pads[0] != pool.pad_l[0] || pads[1] != pool.pad_l[1]) {
    fail(node, "kernel_shape/strides/pads differ from the MaxPool that produced the indices");
  }
  if (kernel[0] != stride[0] || kernel[1] != stride[1]) {
    fail(node, "only non-overlapping windows (kernel_shape == strides) are supported");
  }
  const Dims pooled_src = from_dnnl(pool.pd.src_desc().dims());
  const Dims x = builder.dims(src);
  if (x != from_dnnl(pool.pd.dst_desc().dims())) {
    fail(node,
         "input " + to_string(x) + " differs from the pooled shape " + to_string(from_dnnl(pool.pd.dst_desc().dims())));
  }
  // ONNX default output extent; an explicit output_shape (attribute, or a dynamic input that
  // exporters compute as Shape(pooled input)) is taken as the pooled input's extent.
  Dims out{x[0], x[1], (x[2] - 1) * stride[0] + kernel[0] - pads[0] - pads[2],
           (x[3] - 1) * stride[1] + kernel[1] - pads[1] - pads[3]};
  if (node.has("output_shape")) out = node.attr_ints("output_shape");
  if (terraseg::engine::PlanBuilder::has_input(node, 2) && !builder.graph().is_weight(node.inputs[2])) out = pooled_src;
  if (out != pooled_src) {
    fail(node, "output " + to_string(out) + " differs from the MaxPool input " + to_string(pooled_src) +
                   "; use input sizes divisible by the pooling stride or pass output_shape");
  }
  const dnnl::pooling_v2_backward::desc desc(dnnl::algorithm::pooling_max, pool.pd.src_desc(), pool.pd.dst_desc(),
                                             pool.strides, pool.kernel, pool.dilation, pool.pad_l, pool.pad_r);
  const dnnl::pooling_v2_backward::primitive_desc pd(desc, terraseg::engine::PlanBuilder::attr(), builder.engine(),
                                                     pool.pd);
  const int diff_dst = builder.convert(src, pd.diff_dst_desc());
  const int dst = builder.add_value(pd.diff_src_desc());
  builder.add_primitive(
      node.name, pd, {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WORKSPACE, pool.workspace}, {DNNL_ARG_DIFF_SRC, dst}});
  builder.bind(node.outputs.at(0), dst);
}

}  // namespace terraseg::engine
