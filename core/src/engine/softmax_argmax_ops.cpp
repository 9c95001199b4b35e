// The class-score ops at a segmentation model's end: Softmax (any layout) and ArgMax over channels
// (plain NCHW).
#include "engine/ops.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg::engine {

using dt = dnnl::memory::data_type;

void plan_softmax(PlanBuilder& builder, const PlanNode& pn) {
  const Node& node = pn.node;
  const int src = builder.lookup(node.inputs.at(0), node);
  const auto rank = static_cast<int64_t>(builder.dims(src).size());
  int64_t axis = node.attr_int("axis", -1);  // opset 13 default
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) fail(node, "axis is out of range");
  const dnnl::softmax_forward::desc desc(dnnl::prop_kind::forward_inference, builder.md(src), static_cast<int>(axis));
  const dnnl::softmax_forward::primitive_desc pd(desc, terraseg::engine::PlanBuilder::attr(), builder.engine());
  const int dst = builder.add_value(pd.dst_desc());
  builder.add_primitive(node.name, pd, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
  builder.bind(node.outputs.at(0), dst);
}

void check_argmax(const Node& node) {
  if (node.attr_int("axis", 0) != 1 && node.attr_int("axis", 0) != -3) {
    fail(node, "only axis=1 (the channel axis of NCHW) is supported");
  }
}

void plan_argmax(PlanBuilder& builder, const PlanNode& pn) {
  const Node& node = pn.node;
  const int src = builder.to_plain(builder.lookup(node.inputs.at(0), node));
  require_rank4(builder, node, src);
  const Dims x = builder.dims(src);
  const bool keep = node.attr_int("keepdims", 1) != 0;
  const bool last = node.attr_int("select_last_index", 0) != 0;
  const Dims out = keep ? Dims{x[0], 1, x[2], x[3]} : Dims{x[0], x[2], x[3]};
  const int dst = builder.add_value(dnnl::memory::desc(to_dnnl(out), dt::f32, plain_tag(out.size())));
  builder.add_custom(node.name,
                     [src, dst, x, last](const std::vector<PlanValue>& values) {
                       const float* in = data_of(values, src);
                       float* result = data_of(values, dst);
                       const int64_t plane = x[2] * x[3];
                       for (int64_t n = 0; n < x[0]; ++n) {
                         const float* base = in + n * x[1] * plane;
#pragma omp parallel for
                         for (int64_t p = 0; p < plane; ++p) {
                           int64_t best = 0;
                           for (int64_t c = 1; c < x[1]; ++c) {
                             const float v = base[c * plane + p];
                             const float b = base[best * plane + p];
                             if (v > b || (last && v == b)) best = c;
                           }
                           result[n * plane + p] = static_cast<float>(best);
                         }
                       }
                     },
                     {src, dst});
  builder.bind(node.outputs[0], dst);
}

}  // namespace terraseg::engine
