// Pad (constant / reflect / edge) and Resize / Upsample (nearest, linear). Bilinear half_pixel with
// an exact integer-consistent scale runs as oneDNN resampling on the input's layout; every other
// mode is a plain loop over NCHW driven by per-axis tables computed at plan time.
#include <algorithm>
#include <cmath>

#include "engine/ops.hpp"
#include "op_geometry.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg::engine {
namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

/// Source index per output index along one axis; -1 means "use the constant value".
std::vector<int64_t> pad_table(int64_t in, int64_t before, int64_t out, const std::string& mode) {
  std::vector<int64_t> table(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    int64_t i = o - before;
    if (i < 0 || i >= in) {
      if (mode == "constant") {
        i = -1;
      } else if (mode == "edge") {
        i = std::clamp<int64_t>(i, 0, in - 1);
      } else {
        i = i < 0 ? -i : 2 * (in - 1) - i;
      }
    }
    table[static_cast<size_t>(o)] = i;
  }
  return table;
}

std::vector<int64_t> pads_of(const Node& node) {
  if (node.has("pads")) return node.attr_ints("pads");
  fail(node, "attribute 'pads' is required (constant pads input folded by the importer)");
}

/// oneDNN's linear resampling samples at (o + 0.5) * in / out - 0.5, clamped: ONNX half_pixel
/// exactly when the scale equals out / in.
bool onednn_resampling_matches(const ResizeGeometry& p, const Dims& x) {
  if (p.mode != "linear") return false;
  const bool half =
      p.transform == "half_pixel" || (p.transform == "pytorch_half_pixel" && p.out[2] > 1 && p.out[3] > 1);
  if (!half) return false;
  for (size_t a = 0; a < 2; ++a) {
    if (p.scale[a] != static_cast<float>(p.out[2 + a]) / static_cast<float>(x[2 + a])) return false;
  }
  return true;
}

void plan_resize_loop(PlanBuilder& builder, const Node& node, int src, const ResizeGeometry& p) {
  src = builder.to_plain(src);
  const Dims x = builder.dims(src);
  const Dims out = p.out;
  const int dst = builder.add_value(dnnl::memory::desc(to_dnnl(out), dt::f32, tag::abcd));
  LinearTable rows = resize_table(p, x[2], 0);
  LinearTable cols = resize_table(p, x[3], 1);
  builder.add_custom(
      node.name,
      [src, dst, x, rows = std::move(rows), cols = std::move(cols)](const std::vector<PlanValue>& values) {
        resize_planes(data_of(values, src), x, rows, cols, data_of(values, dst));
      },
      {src, dst});
  builder.bind(node.outputs.at(0), dst);
}

}  // namespace

void check_pad(const Node& node) {
  const std::string mode = node.attr_string("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge") fail(node, "mode '" + mode + "' is not supported");
}

void plan_pad(PlanBuilder& builder, const PlanNode& pn) {
  const Node& node = pn.node;
  const int src = builder.to_plain(builder.lookup(node.inputs.at(0), node));
  require_rank4(builder, node, src);
  const Dims x = builder.dims(src);
  const std::vector<int64_t> pads = pads_of(node);
  if (pads.size() != 8 || pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0) {
    fail(node, "'pads' must have 8 values with zero N and C padding");
  }
  const std::string mode = node.attr_string("mode", "constant");
  for (size_t a = 2; a < 4; ++a) {
    if (pads[a] < 0 || pads[a + 4] < 0) fail(node, "negative pads (cropping) are not supported");
    if (mode == "reflect" && (pads[a] >= x[a] || pads[a + 4] >= x[a]))
      fail(node, "reflect pads must be smaller than the input");
  }
  const Dims out{x[0], x[1], x[2] + pads[2] + pads[6], x[3] + pads[3] + pads[7]};
  const int dst = builder.add_value(dnnl::memory::desc(to_dnnl(out), dt::f32, tag::abcd));
  const float fill = node.attr_float("constant_value", 0.0F);
  builder.add_custom(node.name,
                     [src, dst, x, out, fill, rows = pad_table(x[2], pads[2], out[2], mode),
                      cols = pad_table(x[3], pads[3], out[3], mode)](const std::vector<PlanValue>& values) {
                       const float* in = data_of(values, src);
                       float* result = data_of(values, dst);
#pragma omp parallel for
                       for (int64_t plane = 0; plane < x[0] * x[1]; ++plane) {
                         const float* ip = in + plane * x[2] * x[3];
                         float* op = result + plane * out[2] * out[3];
                         for (int64_t oh = 0; oh < out[2]; ++oh) {
                           const int64_t ih = rows[static_cast<size_t>(oh)];
                           for (int64_t ow = 0; ow < out[3]; ++ow) {
                             const int64_t iw = cols[static_cast<size_t>(ow)];
                             op[oh * out[3] + ow] = ih < 0 || iw < 0 ? fill : ip[ih * x[3] + iw];
                           }
                         }
                       }
                     },
                     {src, dst});
  builder.bind(node.outputs.at(0), dst);
}

void check_resize(const Node& node) {
  std::string mode = node.attr_string("mode", "nearest");
  if (mode != "nearest" && mode != "linear" && mode != "bilinear")
    fail(node, "mode '" + mode + "' is not supported (nearest, linear)");
  const std::string transform = node.attr_string("coordinate_transformation_mode", "half_pixel");
  if (transform != "half_pixel" && transform != "align_corners" && transform != "asymmetric" &&
      transform != "pytorch_half_pixel") {
    fail(node, "coordinate_transformation_mode '" + transform + "' is not supported");
  }
  const std::string nearest = node.attr_string("nearest_mode", "round_prefer_floor");
  if (nearest != "round_prefer_floor" && nearest != "round_prefer_ceil" && nearest != "floor" && nearest != "ceil") {
    fail(node, "nearest_mode '" + nearest + "' is not supported");
  }
  if (node.attr_int("antialias", 0) != 0) fail(node, "antialias=1 is not supported");
  if (node.has("axes")) fail(node, "the 'axes' attribute is not supported; give scales/sizes for all 4 axes");
}

void plan_resize(PlanBuilder& builder, const PlanNode& pn) {
  const Node& node = pn.node;
  const int src = builder.lookup(node.inputs.at(0), node);
  require_rank4(builder, node, src);
  const Dims x = builder.dims(src);
  const ResizeGeometry p = resize_geometry(node, x);
  if (!onednn_resampling_matches(p, x)) {
    plan_resize_loop(builder, node, src, p);
    return;
  }
  const dnnl::resampling_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::resampling_linear,
                                            builder.md(src), same_layout(builder.md(src), p.out));
  const dnnl::resampling_forward::primitive_desc pd(desc, terraseg::engine::PlanBuilder::attr(), builder.engine());
  const int dst = builder.add_value(pd.dst_desc());
  builder.add_primitive(node.name, pd, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
  builder.bind(node.outputs.at(0), dst);
}

}  // namespace terraseg::engine
