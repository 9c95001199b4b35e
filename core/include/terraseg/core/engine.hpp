#pragma once
/// Inference engine: plans a Graph onto oneDNN primitives once per input shape, then only executes.
/// oneDNN types never appear in this header.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "terraseg/core/graph.hpp"
#include "terraseg/core/tensor.hpp"

namespace terraseg {

/// automatic: each plan runs in f32 or bf16, whichever is faster on this CPU for that model and
/// input shape. Only where bf16 is native (AVX512-BF16 or AMX; parse_precision gives f32 elsewhere).
/// With Tuning::measure both precisions are candidates and timed like the layouts; with
/// Tuning::rules bf16 is taken on AMX only, since with AVX512-BF16 alone it measured 0.3-1.25x f32
/// (docs/benchmarks.md). PlanStats::precision says what a plan computes in.
enum class Precision { f32, bf16, int8, automatic };
/// "f32" | "bf16" | "int8", or "auto": Precision::automatic where the CPU computes bf16 natively
/// (AVX512-BF16 or AMX), f32 elsewhere. Throws Error otherwise.
Precision parse_precision(const std::string& text);
std::string to_string(Precision precision);  ///< "f32", "bf16", "int8", "auto"

/// Engines run on the process's thread count (threads.hpp: set once, at the CLI edge).
struct EngineOptions {
  Precision precision = Precision::f32;
  /// Plans kept at once (least recently used is dropped); each holds its own activation buffers,
  /// so callers with ragged edge tiles should pad them to the full tile size instead.
  int max_plans = 4;
  /// Activation layout asked of convolutions. automatic: channels-last (nhwc) when most
  /// convolutions have output channel counts that are not multiples of 8 (ESPNet's 12, 25, 20...:
  /// blocked layouts pad those to 16, 32, 24 and concatenating them at unaligned channel offsets
  /// falls to oneDNN's reference kernel), else oneDNN's own (blocked) choice.
  enum class Layout { automatic, blocked, nhwc };
  Layout layout = Layout::automatic;
  /// Convolution algorithm. automatic: dense 3x3 stride-1 convolutions with 16+ input and output
  /// channels (multiples of 8) run as Winograd F(4x4, 3x3) in blocked f32 plans on AVX2 CPUs (4x
  /// fewer multiplies, 4x larger weights, outputs within ~1e-5 relative of direct); everything
  /// else, and all of direct, runs oneDNN's direct kernels.
  enum class Convolution { automatic, direct };
  Convolution convolution = Convolution::automatic;
  /// How the layout and the convolution algorithm are chosen for each new input shape. rules: as
  /// above, deterministic (the default, and what tests use). measure: the candidates this CPU allows
  /// (blocked with and without Winograd, channels-last) are each planned and timed at that shape, the
  /// fastest kept; choices are cached per CPU model and ISA, thread_count(), model and shape in
  /// `tuning_cache` (empty: $TERRASEG_CACHE_DIR, else $XDG_CACHE_HOME/terraseg, else
  /// ~/.cache/terraseg, file plan-choices.json; safe to delete). `layout` and `convolution` other than
  /// automatic pin their part of the choice.
  enum class Tuning { rules, measure };
  Tuning tuning = Tuning::rules;
  std::string tuning_cache{};
};

/// Per-op-type statistics of a planned graph (for `terraseg info` / `bench`).
struct PlanStats {
  std::map<std::string, int> op_counts;
  double flops = 0.0;             ///< multiply-adds x 2 for one forward pass at the planned shape
  int64_t buffer_bytes = 0;       ///< intermediate buffers + scratchpad held by the plan (after reuse)
  int64_t weight_bytes = 0;       ///< weights as reordered for the plan's kernels
  int winograd_convolutions = 0;  ///< convolutions planned as Winograd F(4x4, 3x3)
  /// bf16 plans: convolutions with no native bf16 kernel on this CPU (oneDNN 2.6 needs AVX-512),
  /// run as f32 kernels on bf16-rounded data (same numerics, no speed-up).
  int emulated_bf16_convolutions = 0;
  /// Steps oneDNN runs on its reference (ref:*) implementations, by primitive kind ("convolution",
  /// "pooling", ...): the slow path, ~10-50x its jit kernels. Empty in every plan terraseg makes of
  /// its own models on AVX2 and AVX-512 CPUs (tests/core/engine/test_tuning.cpp).
  std::map<std::string, int> reference_kernels{};
  /// The plan's layout and convolution algorithm ("blocked+winograd", "nhwc+direct", ...; "+bf16"
  /// appended for bf16 plans), and how it
  /// was chosen: "rules", "measured" (candidate_ms then holds each candidate's time) or "cached".
  std::string plan_choice{};
  std::string plan_choice_from = "rules";
  /// What the plan computes in: "f32" or "bf16" (Precision::automatic picks one per plan).
  std::string precision = "f32";
  std::map<std::string, double> candidate_ms{};
  int64_t in_place_bytes = 0;  ///< Concat inputs written straight into the Concat output (copies saved per run)
  /// Channels per block of the layout Concats were copied in: 8 or 16 (oneDNN's choice for the CPU:
  /// nChw8c on AVX2, nChw16c on AVX-512), 1 for plain layouts, 0 when no Concat ran as copies.
  int concat_channel_block = 0;
};

class Engine {
 public:
  /// Takes a copy of the graph; folds BatchNormalization into convolutions and validates ops.
  /// Throws Error naming node and op for anything unsupported.
  explicit Engine(const Graph& graph, const EngineOptions& options = {});
  ~Engine();
  Engine(Engine&&) noexcept;
  Engine& operator=(Engine&&) noexcept;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// Runs one NCHW float input; writes graph output 0 (NCHW scores) into `output`, reusing its
  /// storage. The first call for a new input shape plans; later calls only execute. Not
  /// thread-safe: a plan owns its buffers, so use one Engine per thread.
  void run(const Tensor& input, Tensor& output);
  /// Convenience: returns every graph output.
  std::vector<Tensor> run_all(const Tensor& input);

  /// Statistics for the plan of `input_dims` (plans it if needed).
  PlanStats stats(const Dims& input_dims);
  /// The graph as planned: BatchNormalization nodes that followed a convolution are folded away.
  const Graph& graph() const;
  const EngineOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// True when oneDNN runs bf16 natively on this CPU (AVX512-BF16 or AMX, within ONEDNN_MAX_CPU_ISA).
bool native_bf16();

/// The CPU's "model name" from /proc/cpuinfo ("unknown CPU" where there is none).
std::string cpu_model_name();

/// The instruction set oneDNN uses here, e.g. "avx2", "avx512_core_bf16", "avx512_core_amx".
std::string cpu_isa_name();

/// True when this build and CPU can run Winograd convolutions (x86-64 with AVX2 and FMA); elsewhere
/// EngineOptions::convolution automatic plans every convolution on oneDNN's direct kernels.
bool winograd_available();

}  // namespace terraseg
