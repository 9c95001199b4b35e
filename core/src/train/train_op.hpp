#pragma once
// Internal interface of the training executor's ops. Each op plans oneDNN primitives for one set of
// input shapes, runs forward (training or inference mode) and backward into caller-owned buffers.
#include <dnnl.hpp>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "terraseg/core/graph.hpp"
#include "terraseg/core/tensor.hpp"

namespace terraseg::train {

/// Buffers one op execution reads and writes. Pointers are owned by the executor.
struct OpIO {
  std::vector<Tensor*> in;  ///< nullptr for an omitted optional input
  std::vector<Tensor*> out;
  std::vector<Tensor*> in_grad;                 ///< nullptr where no gradient is wanted; ops overwrite
  std::vector<const Tensor*> out_grad;          ///< always present in backward (zeros when unused)
  std::vector<std::vector<int64_t>*> in_index;  ///< integer side channel (MaxPool indices)
  std::vector<std::vector<int64_t>*> out_index;
  bool training = true;
};

/// What an op sees while planning: its node, input dims and, for look-ups, any value's dims.
///
/// Activation layouts: a value is stored either plain (row-major NCHW) or, between ops that can work on
/// it, blocked nChw8c (`blocked_md`; only for rank 4 with channels a multiple of 8, so the element count
/// and Tensor size are unchanged). A value's gradient has the value's layout. `in_md` gives each input's
/// layout; ops that do not override `out_layouts` read and write plain buffers only, and the executor
/// never hands them a blocked one (see TrainGraph's layout pass). Graph inputs, outputs and weights are
/// always plain.
struct PlanInput {
  const Node& node;
  std::vector<Dims> in_dims;  ///< empty Dims for an omitted optional input
  bool training = true;
  std::function<const Dims*(const std::string&)> dims_of;
  std::function<const Node*(const std::string&)> producer_of;
  std::vector<dnnl::memory::desc> in_md;  ///< per input: its layout (plain when not blocked)
  std::vector<bool> may_block;            ///< per output: whether consumers accept a blocked layout
};

class TrainOp {
 public:
  TrainOp() = default;
  virtual ~TrainOp() = default;
  /// Held by pointer to the base: copying or moving one would slice it.
  TrainOp(const TrainOp&) = delete;
  TrainOp& operator=(const TrainOp&) = delete;
  TrainOp(TrainOp&&) = delete;
  TrainOp& operator=(TrainOp&&) = delete;
  /// Builds primitives for these shapes; returns the output dims.
  virtual std::vector<Dims> plan(const PlanInput& input) = 0;
  virtual void forward(OpIO& io) = 0;
  virtual void backward(OpIO& io) = 0;
  /// Whether input `index` can receive a gradient (false for state such as BN running stats).
  virtual bool differentiable(size_t index) const {
    (void)index;
    return true;
  }
  /// After `plan`: the layout of each output; empty means all plain.
  virtual std::vector<dnnl::memory::desc> out_layouts() const { return {}; }
};

/// Ops that accept blocked inputs (any mix of plain and blocked) and report their output layouts.
bool handles_layouts(const Node& node);
/// Ops whose output layout is their input 0's layout (BN, eltwise, pooling): a blocked input makes a
/// blocked output, so the output's consumers must accept one too.
bool keeps_layout(const Node& node);

using OpFactory = std::function<std::unique_ptr<TrainOp>(const Node&)>;

/// The one list of ops the trainer supports (op_registry.cpp).
const std::unordered_map<std::string, OpFactory>& op_registry();

std::unique_ptr<TrainOp> make_conv(const Node& node);
std::unique_ptr<TrainOp> make_conv_transpose(const Node& node);
std::unique_ptr<TrainOp> make_batch_norm(const Node& node);
std::unique_ptr<TrainOp> make_max_pool(const Node& node);
std::unique_ptr<TrainOp> make_average_pool(const Node& node);
std::unique_ptr<TrainOp> make_max_unpool(const Node& node);
std::unique_ptr<TrainOp> make_relu(const Node& node);
std::unique_ptr<TrainOp> make_leaky_relu(const Node& node);
std::unique_ptr<TrainOp> make_sigmoid(const Node& node);
std::unique_ptr<TrainOp> make_prelu(const Node& node);
std::unique_ptr<TrainOp> make_add(const Node& node);
std::unique_ptr<TrainOp> make_concat(const Node& node);
std::unique_ptr<TrainOp> make_pad(const Node& node);
std::unique_ptr<TrainOp> make_resize(const Node& node);
std::unique_ptr<TrainOp> make_identity(const Node& node);

// ---- oneDNN helpers shared by the op files (dnnl_util.cpp) ----

dnnl::engine& cpu_engine();
dnnl::stream& cpu_stream();
/// Plain row-major descriptor (nchw for rank 4).
dnnl::memory::desc plain_md(const Dims& dims);
/// nChw8c for rank 4 with channels a multiple of 8 when `wanted`; plain otherwise (a zero desc, meaning
/// plain, for ranks oneDNN cannot describe).
dnnl::memory::desc blocked_md(const Dims& dims, bool wanted = true);
/// Whether `md` is not the plain layout of its dims.
bool is_blocked(const dnnl::memory::desc& md);
dnnl::memory::desc tagged_md(const Dims& dims, dnnl::memory::format_tag tag);
/// A memory object without a buffer; `bind` attaches one right before execution.
dnnl::memory unbound(const dnnl::memory::desc& md);

/// A planned primitive with its argument memories, built once per shape. Buffers owned elsewhere are
/// attached with `bind` right before `run`, so executing allocates nothing.
struct Exec {
  dnnl::primitive prim;
  std::unordered_map<int, dnnl::memory> args;

  /// Adds an argument without a buffer (bound per run).
  void slot(int id, const dnnl::memory::desc& md) { args[id] = unbound(md); }
  /// Adds an argument owning its buffer (workspace, batch statistics).
  dnnl::memory& owned(int id, const dnnl::memory::desc& md);
  void bind(int id, const float* data);
  void run() const;
  explicit operator bool() const { return static_cast<bool>(prim); }
};

/// A tensor in the layout a primitive prefers (`format_tag::any`, e.g. blocked nChw8c) next to the
/// executor's buffer in its own ("outer") layout. When both layouts agree it is a pass-through and the
/// primitive uses the executor's buffer; otherwise it owns the staged copy and a reorder, planned once.
/// (Below, "plain" is the executor's buffer, whatever its layout.)
class Staged {
 public:
  /// `to_inner`: the outer buffer is read into the staged layout (an input); else written back (an output).
  /// A zero desc on either side means a pass-through.
  void plan(const dnnl::memory::desc& outer, const dnnl::memory::desc& inner, bool to_inner);
  /// Shares another stage's staged buffer (same layout), e.g. a forward source reused by backward-weights.
  void share(const Staged& other);
  bool direct() const { return !inner_; }
  /// For an input: reorders `plain` in (unless direct) and returns what the primitive should read.
  const float* in(const float* plain);
  /// For an output: where the primitive should write; call `out` afterwards.
  float* target(float* plain);
  /// For an output: reorders the staged result back to `plain` (unless direct).
  void out(float* plain);
  const dnnl::memory::desc& inner_md() const { return inner_md_; }

 private:
  dnnl::memory::desc inner_md_;
  dnnl::memory inner_;
  Exec reorder_;
};

/// "node 'x' (Conv): " prefix for messages.
std::string where(const Node& node);
/// Spatial attribute with `count` entries, defaulting to `fallback`.
std::vector<int64_t> spatial_attr(const Node& node, const std::string& key, size_t count, int64_t fallback);

}  // namespace terraseg::train
