// The op registry (every op the engine plans, in one explicit list) and the helpers the op lowering
// files share.
#include <cmath>
#include <cstring>
#include <limits>

#include "engine/ops.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg::engine {

OpRegistry make_op_registry() {
  return {
      {"Conv", {check_conv, plan_conv}},
      {"ConvTranspose", {check_conv, plan_conv_transpose}},
      {"MaxPool", {check_pool, plan_max_pool}},
      {"AveragePool", {check_pool, plan_average_pool}},
      {"GlobalAveragePool", {nullptr, plan_global_average_pool}},
      {"MaxUnpool", {check_pool, plan_max_unpool}},
      {"BatchNormalization", {nullptr, plan_batch_norm}},
      {"Relu", {nullptr, plan_activation}},
      {"LeakyRelu", {nullptr, plan_activation}},
      {"Sigmoid", {nullptr, plan_activation}},
      {"Tanh", {nullptr, plan_activation}},
      {"Clip", {nullptr, plan_activation}},
      {"Elu", {nullptr, plan_activation}},
      {"PRelu", {nullptr, plan_prelu}},
      {"Add", {nullptr, plan_binary_node}},
      {"Sub", {nullptr, plan_binary_node}},
      {"Mul", {nullptr, plan_binary_node}},
      {"Div", {nullptr, plan_binary_node}},
      {"Concat", {nullptr, plan_concat}},
      {"Softmax", {nullptr, plan_softmax}},
      {"ArgMax", {check_argmax, plan_argmax}},
      {"Identity", {check_identity, plan_identity}},
      {"Dropout", {check_identity, plan_identity}},
      {"Pad", {check_pad, plan_pad}},
      {"Resize", {check_resize, plan_resize}},
      {"Upsample", {check_resize, plan_resize}},
      {kChannelAffineOp, {nullptr, plan_channel_affine}},
  };
}

void fail(const Node& node, const std::string& what) { fail_node(node, what); }

std::array<int64_t, 2> spatial_attr(const Node& node, const std::string& key, std::array<int64_t, 2> fallback) {
  if (!node.has(key)) return fallback;
  const std::vector<int64_t> values = node.attr_ints(key);
  if (values.size() != 2) {
    fail(node, "attribute '" + key + "' has " + std::to_string(values.size()) +
                   " values; only 2-D (H, W) operators are supported");
  }
  return {values[0], values[1]};
}

std::array<int64_t, 4> pads_attr(const Node& node) {
  if (!node.has("pads")) return {0, 0, 0, 0};
  const std::vector<int64_t> p = node.attr_ints("pads");
  if (p.size() != 4) fail(node, "attribute 'pads' needs 4 values for a 2-D operator, got " + std::to_string(p.size()));
  for (int64_t v : p) {
    if (v < 0) fail(node, "negative 'pads' are not supported");
  }
  return {p[0], p[1], p[2], p[3]};
}

std::array<int64_t, 2> same_pads(int64_t in, int64_t effective_kernel, int64_t stride, bool upper) {
  const int64_t out = (in + stride - 1) / stride;
  const int64_t total = std::max<int64_t>(0, (out - 1) * stride + effective_kernel - in);
  const int64_t small = total / 2;
  return upper ? std::array<int64_t, 2>{small, total - small} : std::array<int64_t, 2>{total - small, small};
}

void require_rank4(const PlanBuilder& builder, const Node& node, int id) {
  const Dims d = builder.dims(id);
  if (d.size() != 4) fail(node, "expects an NCHW (rank-4) input, got " + to_string(d));
}

bool activation_of(const Node& node, PostOp& post) {
  post = PostOp{};
  post.node = node.name;
  if (node.op == "Relu") {
    post.alg = dnnl::algorithm::eltwise_relu;
  } else if (node.op == "LeakyRelu") {
    post.alg = dnnl::algorithm::eltwise_relu;
    post.alpha = node.attr_float("alpha", 0.01F);
  } else if (node.op == "Sigmoid") {
    post.alg = dnnl::algorithm::eltwise_logistic;
  } else if (node.op == "Tanh") {
    post.alg = dnnl::algorithm::eltwise_tanh;
  } else if (node.op == "Elu") {
    post.alg = dnnl::algorithm::eltwise_elu;
    post.alpha = node.attr_float("alpha", 1.0F);
  } else if (node.op == "Clip") {
    // Opset 11+ passes min/max as inputs; the importer turns constant ones into attributes.
    if (node.inputs.size() > 1) return false;
    post.alg = dnnl::algorithm::eltwise_clip;
    post.alpha = node.attr_float("min", std::numeric_limits<float>::lowest());
    post.beta = node.attr_float("max", std::numeric_limits<float>::max());
  } else {
    return false;
  }
  return true;
}

int plan_eltwise(PlanBuilder& builder, const std::string& node, int src, const PostOp& post) {
  const dnnl::eltwise_forward::desc desc(dnnl::prop_kind::forward_inference, post.alg, builder.md(src), post.alpha,
                                         post.beta);
  const dnnl::eltwise_forward::primitive_desc pd(desc, terraseg::engine::PlanBuilder::attr(), builder.engine());
  const int dst = builder.add_value(pd.dst_desc());
  builder.add_primitive(node, pd, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
  return dst;
}

float round_bf16(float value) {
  if (std::isnan(value)) return value;
  uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  bits += 0x7FFFU + ((bits >> 16) & 1U);
  bits &= 0xFFFF0000U;
  float rounded = 0.0F;
  std::memcpy(&rounded, &bits, sizeof rounded);
  return rounded;
}

int plan_round_bf16(PlanBuilder& builder, const std::string& node, int src) {
  const int dst = builder.add_value(builder.md(src));
  // Elementwise over the whole buffer, so any (blocked) layout works; padding stays zero.
  const size_t count = builder.md(src).get_size() / sizeof(float);
  builder.add_custom(node,
                     [src, dst, count](const std::vector<PlanValue>& values) {
                       const float* in = data_of(values, src);
                       float* out = data_of(values, dst);
#pragma omp parallel for
                       for (size_t i = 0; i < count; ++i) out[i] = round_bf16(in[i]);
                     },
                     {src, dst});
  return dst;
}

}  // namespace terraseg::engine
