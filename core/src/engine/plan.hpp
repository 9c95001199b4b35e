#pragma once
/// Internal to the engine: a Plan is the graph lowered onto oneDNN primitives (and a few plain-loop
/// steps) for one input shape; a PlanBuilder assembles it. Values are numbered; every value has a
/// oneDNN memory descriptor (its layout may be blocked) and, after finalize(), a memory object whose
/// buffer is a slot shared with other values whose lifetimes do not overlap.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "terraseg/core/engine.hpp"
#include "terraseg/core/graph.hpp"

namespace terraseg::engine {

/// One post-op fused into a convolution: an eltwise activation or a residual sum.
struct PostOp {
  enum class Kind { eltwise, sum };
  Kind kind = Kind::eltwise;
  dnnl::algorithm alg = dnnl::algorithm::eltwise_relu;
  float alpha = 0.0F;
  float beta = 0.0F;
  std::string residual;  ///< Kind::sum: the value added to the convolution output
  std::string node;      ///< name of the graph node that was fused (for messages)
};

/// A graph node after the shape-independent passes: outputs may be rewritten to the last fused
/// node's outputs, and post_ops lists what was fused into it.
struct PlanNode {
  Node node;
  std::vector<PostOp> post_ops;
  /// For a fused chain (op kChannelAffineOp): the graph nodes it replaces, in order.
  std::vector<Node> parts;
};

/// Op name of a fused [Concat] -> [Add] -> BatchNormalization -> [PRelu] chain (not an ONNX op).
inline constexpr const char* kChannelAffineOp = "terraseg.ChannelAffine";

struct PlanValue {
  enum class Home { slot, input, output, constant };
  dnnl::memory::desc md;
  Home home = Home::slot;
  dnnl::memory mem;  ///< bound in finalize(); constants own their buffer from creation
  /// >= 0: a slot value that finalize() placed inside this value's buffer, at view_offset bytes
  /// (a part of a concatenation written in place); it then has no slot of its own.
  int view_of = -1;
  size_t view_offset = 0;
};

/// A plain-loop step reads and writes values through their memory objects.
using CustomFn = std::function<void(const std::vector<PlanValue>&)>;

struct Step {
  std::string node;                            ///< graph node this step belongs to (diagnostics)
  dnnl::primitive prim;                        ///< empty for custom steps
  std::vector<std::pair<int, int>> arg_ids;    ///< DNNL_ARG_* -> value id
  std::unordered_map<int, dnnl::memory> args;  ///< resolved from arg_ids in finalize(); keeps them alive
  /// The same arguments for the C API: the C++ execute() builds this vector on every call.
  std::vector<dnnl_exec_arg_t> c_args;
  dnnl::memory::desc scratchpad_md;  ///< non-empty when the primitive needs scratchpad
  CustomFn custom;
  std::vector<int> touched;  ///< value ids a custom step reads or writes
  int output_index = -1;     ///< >= 0: copies graph output #i to the caller
};

/// 64-byte aligned heap block, freed on destruction.
class AlignedBuffer {
 public:
  explicit AlignedBuffer(size_t bytes);
  void* data() const { return data_.get(); }

 private:
  struct Free {
    void operator()(void* p) const;
  };
  std::unique_ptr<void, Free> data_;
};

/// An executable plan for one input shape. Built once, executed many times without allocating.
class Plan {
 public:
  std::vector<PlanValue> values;
  std::vector<Step> steps;
  std::vector<AlignedBuffer> slots;  ///< intermediate storage, shared by liveness
  int input_id = -1;
  std::vector<int> output_ids;  ///< external plain-layout memories, one per graph output
  std::vector<Dims> output_dims;
  /// Per output: a 64-byte aligned stand-in for a caller's tensor that is not so aligned (oneDNN's
  /// kernels may write with aligned non-temporal stores, e.g. its linear resampling: a plain output
  /// is written straight into the caller's tensor). Allocated on the first such call, then reused.
  std::vector<std::unique_ptr<AlignedBuffer>> output_staging;
  PlanStats stats;
  dnnl::stream stream;
  uint64_t last_use = 0;  ///< Engine's run counter at the last use (for LRU eviction)
  /// TERRASEG_ENGINE_PROFILE set: execute() prints every step's wall time to stderr
  /// ("terraseg_profile,<node>,<primitive kind or custom>,<ms>"), custom steps included.
  bool profile = false;

  /// Runs the plan on `input` (plain NCHW) and writes the first outputs.size() graph outputs,
  /// resizing a tensor only when its dims differ. Allocates nothing in steady state.
  void execute(const Tensor& input, std::span<Tensor* const> outputs);
};

/// Where the pooling primitive that produced an Indices value lives, for MaxUnpool.
struct PoolRecord {
  dnnl::pooling_v2_forward::primitive_desc pd;
  dnnl::memory::dims strides, kernel, dilation, pad_l, pad_r;
  int workspace = -1;  ///< the primitive's workspace value (what MaxUnpool reads)
};

class PlanBuilder {
 public:
  PlanBuilder(const Graph& graph, Precision precision, dnnl::engine engine, bool channels_last = false,
              bool winograd = false);

  const Graph& graph() const { return graph_; }
  Precision precision() const { return precision_; }
  const dnnl::engine& engine() const { return engine_; }
  /// True when convolutions read and write nhwc activations instead of oneDNN's blocked choice.
  bool channels_last() const { return channels_last_; }
  /// True when eligible 3x3 convolutions may run as Winograd F(4x4, 3x3) (f32 plans only).
  bool winograd() const { return winograd_ && precision_ == Precision::f32; }
  /// The format tag convolutions ask for their activations: nhwc or any.
  dnnl::memory::format_tag activation_tag() const {
    return channels_last_ ? dnnl::memory::format_tag::nhwc : dnnl::memory::format_tag::any;
  }

  /// Id of graph value `name`; throws Error naming `node` when it is not known (or is a weight).
  int lookup(const std::string& name, const Node& node) const;
  /// Makes graph value `name` refer to value `id` (outputs of ops, aliases of Identity).
  void bind(const std::string& name, int id);
  /// The float32 weight read by input `index` of `node`; throws when that input is not a weight.
  const Tensor& weight(const Node& node, size_t index) const;
  static bool has_input(const Node& node, size_t index);

  /// A fresh intermediate value with layout `md`.
  int add_value(const dnnl::memory::desc& md);
  /// A constant value with layout `md`, filled now from plain row-major `values` of dims `dims`.
  int add_constant(const dnnl::memory::desc& md, const float* values, const Dims& dims);
  /// A constant value with layout `md`, filled now from float32 `values` laid out as `source`.
  int add_constant(const dnnl::memory::desc& md, const float* values, const dnnl::memory::desc& plain);
  const dnnl::memory::desc& md(int id) const { return values_.at(static_cast<size_t>(id)).md; }
  Dims dims(int id) const;

  /// `id` in layout `wanted`: itself when equal, else a reordered copy (cached per value+layout).
  int convert(int id, const dnnl::memory::desc& wanted);
  /// `id` as a plain row-major float32 value.
  int to_plain(int id);

  /// Attributes with a user-managed scratchpad (all primitives share one scratchpad buffer).
  static dnnl::primitive_attr attr();
  void add_primitive(const std::string& node, const dnnl::primitive_desc_base& pd,
                     std::vector<std::pair<int, int>> arg_ids);
  void add_custom(const std::string& node, CustomFn fn, std::vector<int> touched);
  void add_flops(double flops) { flops_ += flops; }
  void count_winograd() { ++winograd_convolutions_; }
  void count_emulated_bf16() { ++emulated_bf16_convolutions_; }
  /// A Concat was planned as copies in a layout of `block` channels per block (1: plain).
  void note_concat_block(int block) { concat_block_ = std::max(concat_block_, block); }
  /// Declares that the step just added copies each of `parts` into `whole` at `offsets` (bytes), and
  /// that a part could instead live there: finalize() places a part inside `whole`'s buffer when it
  /// is a slot value whose bytes would be exactly that range, and when nothing else is allocated
  /// between the part's first write and this step (so the earlier start of `whole` costs no memory
  /// peak). It then sets (*elided)[i], and the copy step must skip part i. Offer only parts whose
  /// layout makes them one contiguous range of `whole` (batch 1, whole channel blocks).
  void offer_in_place(int whole, std::vector<int> parts, std::vector<size_t> offsets,
                      std::shared_ptr<std::vector<uint8_t>> elided);

  std::map<int, PoolRecord>& pool_records() { return pool_records_; }

  /// Adds the output copies, assigns slots by liveness, allocates and binds every memory.
  std::unique_ptr<Plan> finalize(std::map<std::string, int> op_counts);

 private:
  struct InPlaceOffer {
    size_t step = 0;  ///< the copy step
    int whole = -1;
    std::vector<int> parts;
    std::vector<size_t> offsets;
    std::shared_ptr<std::vector<uint8_t>> elided;
  };

  void place_in_place();
  void assign_slots(Plan& plan) const;
  void bind_step_args(Plan& plan) const;

  const Graph& graph_;
  Precision precision_;
  dnnl::engine engine_;
  bool channels_last_ = false;
  bool winograd_ = false;
  std::vector<PlanValue> values_;
  std::vector<Step> steps_;
  std::map<std::string, int> names_;
  std::vector<std::pair<int, int>> conversions_;  ///< (source id, converted id)
  std::map<int, PoolRecord> pool_records_;
  std::vector<InPlaceOffer> in_place_offers_;
  int64_t in_place_bytes_ = 0;
  size_t scratchpad_bytes_ = 0;
  double flops_ = 0.0;
  int winograd_convolutions_ = 0;
  int emulated_bf16_convolutions_ = 0;
  std::map<std::string, int> reference_kernels_;  ///< primitive kind -> steps on oneDNN's ref:* kernels
  int concat_block_ = 0;
};

/// Plain row-major format tag for a rank (a, ab, abc, abcd, abcde).
dnnl::memory::format_tag plain_tag(size_t rank);
dnnl::memory::dims to_dnnl(const Dims& dims);
Dims from_dnnl(const dnnl::memory::dims& dims);
/// A descriptor of dims `dims` in the same layout family as `like` (plain / nhwc / nChw8c / nChw16c),
/// falling back to plain when `like` has no simple tag.
dnnl::memory::desc same_layout(const dnnl::memory::desc& like, const Dims& dims,
                               dnnl::memory::data_type type = dnnl::memory::data_type::f32);

}  // namespace terraseg::engine
