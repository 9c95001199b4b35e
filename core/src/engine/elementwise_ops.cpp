// Activations, PRelu, broadcasting binary ops and the pass-through ops (Identity, Dropout): one
// output element from the matching input elements, on whatever layout the input has.
#include <algorithm>

#include "engine/ops.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg::engine {
namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

/// A binary operand: a computed value, or a weight made constant at `rank` (leading 1s added).
int operand(PlanBuilder& builder, const Node& node, size_t index, size_t rank) {
  const std::string& name = node.inputs.at(index);
  if (!builder.graph().is_weight(name)) return builder.lookup(name, node);
  const Tensor& w = builder.weight(node, index);
  if (w.rank() > rank) fail(node, "constant '" + name + "' has more dimensions than the other operand");
  Dims dims(rank - w.rank(), 1);
  dims.insert(dims.end(), w.dims().begin(), w.dims().end());
  const dnnl::memory::desc md(to_dnnl(dims), dt::f32, plain_tag(rank));
  return builder.add_constant(md, w.data(), dims);
}

dnnl::algorithm binary_alg(const Node& node) {
  if (node.op == "Add") return dnnl::algorithm::binary_add;
  if (node.op == "Sub") return dnnl::algorithm::binary_sub;
  if (node.op == "Mul") return dnnl::algorithm::binary_mul;
  if (node.op == "Div") return dnnl::algorithm::binary_div;
  fail(node, "is not a binary op");
}

}  // namespace

int plan_binary(PlanBuilder& builder, const Node& node, dnnl::algorithm alg, int a, int b) {
  Dims da = builder.dims(a);
  Dims db = builder.dims(b);
  if (da.size() != db.size()) fail(node, "operands " + to_string(da) + " and " + to_string(db) + " differ in rank");
  Dims out(da.size());
  for (size_t i = 0; i < da.size(); ++i) {
    if (da[i] != db[i] && da[i] != 1 && db[i] != 1) {
      fail(node, "operands " + to_string(da) + " and " + to_string(db) + " do not broadcast");
    }
    out[i] = std::max(da[i], db[i]);
  }
  const bool commutes = alg == dnnl::algorithm::binary_add || alg == dnnl::algorithm::binary_mul;
  if (da != out && db == out && commutes) {
    std::swap(a, b);
    std::swap(da, db);
  }
  // oneDNN broadcasts only the second source.
  if (da != out) fail(node, "only the second operand may be broadcast for " + node.op);
  b = db == out ? builder.convert(b, builder.md(a)) : builder.to_plain(b);
  const dnnl::binary::desc desc(alg, builder.md(a), builder.md(b), same_layout(builder.md(a), out));
  const dnnl::binary::primitive_desc pd(desc, terraseg::engine::PlanBuilder::attr(), builder.engine());
  const int dst = builder.add_value(pd.dst_desc());
  builder.add_primitive(node.name, pd, {{DNNL_ARG_SRC_0, a}, {DNNL_ARG_SRC_1, b}, {DNNL_ARG_DST, dst}});
  return dst;
}

void plan_binary_node(PlanBuilder& builder, const PlanNode& pn) {
  const Node& node = pn.node;
  if (node.inputs.size() != 2) fail(node, "needs exactly two inputs");
  const bool w0 = builder.graph().is_weight(node.inputs[0]);
  const bool w1 = builder.graph().is_weight(node.inputs[1]);
  if (w0 && w1) fail(node, "both operands are constants; fold them in the exporter");
  const size_t rank = builder.dims(builder.lookup(node.inputs[w0 ? 1 : 0], node)).size();
  const int a = operand(builder, node, 0, rank);
  const int b = operand(builder, node, 1, rank);
  builder.bind(node.outputs.at(0), plan_binary(builder, node, binary_alg(node), a, b));
}

void plan_activation(PlanBuilder& builder, const PlanNode& pn) {
  PostOp post;
  if (!activation_of(pn.node, post)) fail(pn.node, "min/max must be constant attributes");
  const int src = builder.lookup(pn.node.inputs.at(0), pn.node);
  builder.bind(pn.node.outputs.at(0), plan_eltwise(builder, pn.node.name, src, post));
}

void plan_prelu(PlanBuilder& builder, const PlanNode& pn) {
  const Node& node = pn.node;
  const int src = builder.lookup(node.inputs.at(0), node);
  require_rank4(builder, node, src);
  const Tensor& slope = builder.weight(node, 1);
  const int64_t channels = builder.dims(src)[1];
  if (slope.size() != 1 && slope.size() != channels) {
    fail(node, "slope " + to_string(slope.dims()) + " must have 1 or " + std::to_string(channels) + " values");
  }
  const Dims slope_dims{1, slope.size(), 1, 1};
  // Slope layout `any`: oneDNN 2.6 runs its jit PReLU only with the slope in the source's layout
  // and falls back to its reference kernel (~10x slower; 3/4 of ESPNet's time) for plain slopes.
  const dnnl::memory::desc any_layout(to_dnnl(slope_dims), dt::f32, tag::any);
  const dnnl::prelu_forward::desc desc(dnnl::prop_kind::forward_inference, builder.md(src), any_layout);
  const dnnl::prelu_forward::primitive_desc pd(desc, terraseg::engine::PlanBuilder::attr(), builder.engine());
  const int weights = builder.add_constant(pd.weights_desc(), slope.data(), slope_dims);
  const int dst = builder.add_value(pd.dst_desc());
  builder.add_primitive(node.name, pd, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}});
  builder.bind(node.outputs.at(0), dst);
}

void check_identity(const Node& node) {
  if (node.op == "Dropout" && node.outputs.size() > 1 && !node.outputs[1].empty()) {
    fail(node, "the mask output of Dropout is not available at inference");
  }
}

void plan_identity(PlanBuilder& builder, const PlanNode& pn) {
  builder.bind(pn.node.outputs.at(0), builder.lookup(pn.node.inputs.at(0), pn.node));
}

}  // namespace terraseg::engine
