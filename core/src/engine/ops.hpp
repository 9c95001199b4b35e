#pragma once
/// Internal to the engine: the op registry, the graph passes run once per Engine, and the per-op
/// lowering functions (one PlanNode -> primitives/steps in a PlanBuilder).
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/plan.hpp"

namespace terraseg::engine {

/// Static (shape-independent) attribute checks; throws Error naming node and op.
using CheckFn = void (*)(const Node& node);
/// Lowers one node at the shapes the builder currently knows.
using PlanFn = void (*)(PlanBuilder& builder, const PlanNode& node);

struct OpEntry {
  CheckFn check = nullptr;
  PlanFn plan = nullptr;
};
using OpRegistry = std::map<std::string, OpEntry>;

/// The one place that lists every supported ONNX op.
OpRegistry make_op_registry();

// Graph passes (bn_fold.cpp).
/// Folds BatchNormalization into the preceding Conv/ConvTranspose when it is the conv's only consumer.
void fold_batch_norms(Graph& graph);
/// Folds a constant-zero spatial Pad into the AveragePool that is its only reader (as the pool's
/// own padding, counted in the average): the pool then reads the unpadded tensor.
void fold_pads_into_pools(Graph& graph);
/// Groups each Conv/ConvTranspose with the activations and residual Add that follow it.
std::vector<PlanNode> fuse_post_ops(const Graph& graph);
/// Replaces each chain [Concat(axis 1)] -> [Add] -> BatchNormalization -> [PRelu] whose intermediate
/// values have no other reader by one kChannelAffineOp node (ESPNet's module tails).
std::vector<PlanNode> fuse_channel_affine(const Graph& graph, std::vector<PlanNode> nodes);

// Shared helpers (op_registry.cpp).
[[noreturn]] void fail(const Node& node, const std::string& what);
/// A 2-element spatial attribute (H, W); `fallback` when absent.
std::array<int64_t, 2> spatial_attr(const Node& node, const std::string& key, std::array<int64_t, 2> fallback);
/// ONNX `pads` for 2-D ops as {top, left, bottom, right}; zeros when absent.
std::array<int64_t, 4> pads_attr(const Node& node);
/// Begin/end padding that auto_pad SAME_UPPER/SAME_LOWER gives one spatial axis.
std::array<int64_t, 2> same_pads(int64_t in, int64_t effective_kernel, int64_t stride, bool upper);
/// Throws unless value `id` is a rank-4 (NCHW) tensor.
void require_rank4(const PlanBuilder& builder, const Node& node, int id);
/// Maps an activation node to a oneDNN eltwise algorithm; false when `node` is not one.
bool activation_of(const Node& node, PostOp& post);
/// Emits an eltwise primitive on `src`; returns the result value.
int plan_eltwise(PlanBuilder& builder, const std::string& node, int src, const PostOp& post);
/// Emits a (broadcasting) binary primitive; returns the result value.
int plan_binary(PlanBuilder& builder, const Node& node, dnnl::algorithm alg, int a, int b);
/// bf16 round-to-nearest-even, kept in a float (for bf16 emulation where the CPU lacks bf16).
float round_bf16(float value);
/// A copy of `src` with every element rounded to bf16 precision.
int plan_round_bf16(PlanBuilder& builder, const std::string& node, int src);
inline float* data_of(const std::vector<PlanValue>& values, int id) {
  return static_cast<float*>(values[static_cast<size_t>(id)].mem.get_data_handle());
}

/// A dense 3x3 stride-1 convolution offered to the Winograd path (winograd.cpp).
struct WinogradConv {
  const PlanNode* pn = nullptr;
  int src = -1;
  const Tensor* weights = nullptr;  ///< OIHW, 3x3
  const Tensor* bias = nullptr;     ///< may be null
  int64_t pad_top = 0, pad_left = 0;
  Dims dst;
};
/// Plans `conv` as Winograd F(4x4, 3x3) on nChw8c when the plan allows it (f32, blocked layout,
/// EngineOptions::convolution automatic), the CPU has AVX2+FMA and both channel counts are
/// multiples of 8 and at least 16. Returns the output value with `fused` leading post-ops applied,
/// or -1 (nothing planned) when the convolution does not qualify.
int plan_winograd_conv(PlanBuilder& builder, const WinogradConv& conv, size_t& fused);

// Op lowering, by file.
// conv_ops.cpp
void check_conv(const Node& node);
void plan_conv(PlanBuilder& builder, const PlanNode& pn);
void plan_conv_transpose(PlanBuilder& builder, const PlanNode& pn);
// pool_ops.cpp
void check_pool(const Node& node);
void plan_max_pool(PlanBuilder& builder, const PlanNode& pn);
void plan_average_pool(PlanBuilder& builder, const PlanNode& pn);
void plan_global_average_pool(PlanBuilder& builder, const PlanNode& pn);
void plan_max_unpool(PlanBuilder& builder, const PlanNode& pn);
// elementwise_ops.cpp
void plan_activation(PlanBuilder& builder, const PlanNode& pn);
void plan_prelu(PlanBuilder& builder, const PlanNode& pn);
void plan_binary_node(PlanBuilder& builder, const PlanNode& pn);
void check_identity(const Node& node);
void plan_identity(PlanBuilder& builder, const PlanNode& pn);
// norm_ops.cpp
void plan_batch_norm(PlanBuilder& builder, const PlanNode& pn);
void plan_channel_affine(PlanBuilder& builder, const PlanNode& pn);
// concat_ops.cpp
void plan_concat(PlanBuilder& builder, const PlanNode& pn);
// softmax_argmax_ops.cpp
void plan_softmax(PlanBuilder& builder, const PlanNode& pn);
void check_argmax(const Node& node);
void plan_argmax(PlanBuilder& builder, const PlanNode& pn);
// resize_pad.cpp
void check_pad(const Node& node);
void plan_pad(PlanBuilder& builder, const PlanNode& pn);
void check_resize(const Node& node);
void plan_resize(PlanBuilder& builder, const PlanNode& pn);

}  // namespace terraseg::engine
