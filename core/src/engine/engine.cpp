// The public Engine: graph passes at construction, one cached Plan per input shape, execution.
#include "terraseg/core/engine.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>

#include "engine/ops.hpp"
#include "engine/tuning.hpp"
#include "terraseg/core/denormals.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/threads.hpp"

namespace terraseg {

Precision parse_precision(const std::string& text) {
  if (text == "auto") return native_bf16() ? Precision::automatic : Precision::f32;
  if (text == "f32") return Precision::f32;
  if (text == "bf16") return Precision::bf16;
  if (text == "int8") return Precision::int8;
  throw Error("unknown precision '" + text +
              "': use f32, bf16, int8 or auto (the faster of f32 and bf16 where the CPU has bf16 natively)");
}

std::string to_string(Precision precision) {
  switch (precision) {
    case Precision::f32:
      return "f32";
    case Precision::bf16:
      return "bf16";
    case Precision::int8:
      return "int8";
    case Precision::automatic:
      return "auto";
  }
  return "f32";
}

bool native_bf16() {
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  const auto bf16 = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_bf16);
  return (isa & bf16) == bf16;  // ISA values are feature bit sets: AMX includes AVX512-BF16
}

std::string cpu_model_name() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    const size_t colon = line.find(':');
    if (line.rfind("model name", 0) == 0 && colon != std::string::npos) {
      const size_t start = line.find_first_not_of(' ', colon + 1);
      return start == std::string::npos ? "unknown CPU" : line.substr(start);
    }
  }
  return "unknown CPU";
}

std::string cpu_isa_name() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::avx2:
      return "avx2";
    case dnnl::cpu_isa::avx2_vnni:
      return "avx2_vnni";
    case dnnl::cpu_isa::avx512_core:
      return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx:
      return "avx512_core_amx";
    case dnnl::cpu_isa::avx:
      return "avx";
    case dnnl::cpu_isa::sse41:
      return "sse41";
    default:
      return "isa-" + std::to_string(static_cast<int>(dnnl::get_effective_cpu_isa()));
  }
}

struct Engine::Impl {
  Graph graph;
  EngineOptions options;
  dnnl::engine cpu{dnnl::engine::kind::cpu, 0};
  engine::OpRegistry registry = engine::make_op_registry();
  std::vector<engine::PlanNode> nodes;
  std::map<std::string, int> op_counts;  ///< of the graph as given, before folding and fusion
  std::map<Dims, std::unique_ptr<engine::Plan>> plans;
  uint64_t uses = 0;
  bool channels_last = false;  ///< options.layout resolved against the graph

  void check_input(const Dims& dims) const;
  engine::Plan& plan_for(const Dims& dims);
  std::unique_ptr<engine::Plan> build_plan(const Dims& dims, const engine::PlanChoice& choice);
  /// The precision of plans chosen by rules: options.precision, with automatic resolved to bf16 on
  /// AMX CPUs and f32 elsewhere.
  Precision rules_precision() const;
  /// options.tuning == measure: the cached or measured fastest plan for `dims`.
  std::unique_ptr<engine::Plan> tuned_plan(const Dims& dims);
};

void Engine::Impl::check_input(const Dims& dims) const {
  bool ok = dims.size() == 4 && (graph.input_dims.empty() || graph.input_dims.size() == 4);
  for (size_t i = 0; ok && i < graph.input_dims.size(); ++i) {
    ok = graph.input_dims[i] < 0 || graph.input_dims[i] == dims[i];
  }
  if (!ok || element_count(dims) == 0) {
    throw Error("model '" + graph.name + "': input " + to_string(dims) + " does not match the declared input " +
                to_string(graph.input_dims) + " (-1 = any); give an NCHW tensor with the model's band count");
  }
}

engine::Plan& Engine::Impl::plan_for(const Dims& dims) {
  auto it = plans.find(dims);
  if (it != plans.end()) {
    it->second->last_use = ++uses;
    return *it->second;
  }
  check_input(dims);
  while (!plans.empty() && static_cast<int>(plans.size()) >= std::max(1, options.max_plans)) {
    auto oldest = std::min_element(plans.begin(), plans.end(), [](const auto& a, const auto& b) {
      return a.second->last_use < b.second->last_use;
    });
    plans.erase(oldest);
  }
  auto plan = options.tuning == EngineOptions::Tuning::measure
                  ? tuned_plan(dims)
                  : build_plan(dims, {channels_last, options.convolution == EngineOptions::Convolution::automatic,
                                      rules_precision()});
  plan->last_use = ++uses;
  return *plans.emplace(dims, std::move(plan)).first->second;
}

Precision Engine::Impl::rules_precision() const {
  if (options.precision != Precision::automatic) return options.precision;
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  const auto amx = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_amx);
  return (isa & amx) == amx ? Precision::bf16 : Precision::f32;
}

std::unique_ptr<engine::Plan> Engine::Impl::build_plan(const Dims& dims, const engine::PlanChoice& choice) {
  engine::PlanBuilder builder(graph, choice.precision, cpu, choice.channels_last, choice.winograd);
  builder.bind(graph.input, builder.add_value(dnnl::memory::desc(engine::to_dnnl(dims), dnnl::memory::data_type::f32,
                                                                 dnnl::memory::format_tag::abcd)));
  for (const engine::PlanNode& pn : nodes) {
    try {
      registry.at(pn.node.op).plan(builder, pn);
    } catch (const dnnl::error& e) {
      throw Error("node '" + pn.node.name + "' (" + pn.node.op + "): oneDNN cannot run it at input " + to_string(dims) +
                  " in " + to_string(choice.precision) + ": " + e.what());
    }
  }
  auto plan = builder.finalize(op_counts);
  // Winograd only applies to blocked f32 plans: name what the plan really is.
  plan->stats.plan_choice =
      engine::PlanChoice{choice.channels_last, plan->stats.winograd_convolutions > 0, choice.precision}.name();
  plan->stats.precision = to_string(choice.precision);
  return plan;
}

std::unique_ptr<engine::Plan> Engine::Impl::tuned_plan(const Dims& dims) {
  using Layout = EngineOptions::Layout;
  const std::filesystem::path cache =
      options.tuning_cache.empty() ? engine::default_choice_cache() : std::filesystem::path(options.tuning_cache);
  const std::string key = engine::choice_key(engine::cpu_signature(), thread_count(), engine::graph_fingerprint(graph),
                                             dims, options.precision);
  std::string warning;
  if (const auto cached = engine::load_choice(cache, key, &warning, options.precision)) {
    auto plan = build_plan(dims, *cached);
    plan->stats.plan_choice_from = "cached";
    return plan;
  }
  if (!warning.empty()) std::clog << "terraseg: warning: " << warning << '\n';
  // Candidates: blocked with and without Winograd (when the CPU and options allow it), channels-last
  // (Winograd only runs in blocked plans). A pinned layout or algorithm narrows them.
  // Precision::automatic: each of them in f32 and in bf16 (Winograd is f32 only).
  std::vector<engine::PlanChoice> candidates;
  const bool winograd = options.convolution == EngineOptions::Convolution::automatic && winograd_available();
  std::vector<Precision> precisions{options.precision};
  if (options.precision == Precision::automatic) {
    precisions = {Precision::f32};
    if (native_bf16()) precisions.push_back(Precision::bf16);
  }
  for (const Precision precision : precisions) {
    if (options.layout != Layout::nhwc) {
      if (winograd && precision == Precision::f32) candidates.push_back({false, true, precision});
      candidates.push_back({false, false, precision});
    }
    if (options.layout != Layout::blocked) candidates.push_back({true, false, precision});
  }
  const Tensor input = [&dims] {
    Tensor t(dims);
    for (int64_t i = 0; i < t.size(); ++i) t.data()[i] = 0.5F * std::sin(0.01F * static_cast<float>(i));
    return t;
  }();
  std::unique_ptr<engine::Plan> best;
  engine::PlanChoice chosen;  // what `best` really is (Winograd only where a convolution took it)
  double best_ms = 0.0;
  std::map<std::string, double> measured;
  for (const engine::PlanChoice& choice : candidates) {
    auto plan = build_plan(dims, choice);
    if (measured.contains(plan->stats.plan_choice)) continue;  // e.g. no convolution Winograd applies to
    Tensor output;
    Tensor* const target = &output;
    plan->execute(input, std::span<Tensor* const>(&target, 1));  // warm-up: first-touch, caches
    double fastest = 0.0;
    for (int run = 0; run < 3; ++run) {
      const auto start = std::chrono::steady_clock::now();
      plan->execute(input, std::span<Tensor* const>(&target, 1));
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      fastest = run == 0 ? ms : std::min(fastest, ms);
    }
    measured[plan->stats.plan_choice] = fastest;
    if (!best || fastest < best_ms) {
      chosen = {choice.channels_last, plan->stats.winograd_convolutions > 0, choice.precision};
      best = std::move(plan);
      best_ms = fastest;
    }
  }
  best->stats.plan_choice_from = "measured";
  best->stats.candidate_ms = measured;
  if (!engine::store_choice(cache, key, chosen, measured, &warning) && !warning.empty()) {
    std::clog << "terraseg: warning: " << warning << '\n';
  }
  return best;
}

Engine::Engine(const Graph& graph, const EngineOptions& options) : impl_(std::make_unique<Impl>()) {
  impl_->graph = graph;
  impl_->options = options;
  if (options.precision == Precision::int8) {
    throw Error("model '" + graph.name +
                "': int8 inference is not supported yet (it needs calibration); use f32 or bf16");
  }
  impl_->graph.validate();
  if (impl_->graph.outputs.empty()) throw Error("model '" + graph.name + "' declares no outputs");
  for (const Node& node : impl_->graph.nodes) ++impl_->op_counts[node.op];
  for (const Node& node : impl_->graph.nodes) {
    auto entry = impl_->registry.find(node.op);
    if (entry == impl_->registry.end()) {
      throw Error("node '" + node.name + "' (" + node.op + "): operator not supported by the terraseg engine; " +
                  "re-export the model with supported ops (Conv, ConvTranspose, pooling, BatchNormalization, " +
                  "activations, Add/Mul, Concat, Pad, Resize, Softmax, ArgMax)");
    }
    if (entry->second.check) entry->second.check(node);
  }
  engine::fold_batch_norms(impl_->graph);
  engine::fold_pads_into_pools(impl_->graph);
  impl_->nodes = engine::fuse_channel_affine(impl_->graph, engine::fuse_post_ops(impl_->graph));
  impl_->channels_last = options.layout == EngineOptions::Layout::nhwc;
  if (options.layout == EngineOptions::Layout::automatic) {
    // Output channels of every convolution with constant weights (ConvTranspose: W is [I, O/g, ...]).
    int convs = 0;
    int unaligned = 0;
    for (const Node& node : impl_->graph.nodes) {
      if ((node.op != "Conv" && node.op != "ConvTranspose") || node.inputs.size() < 2) continue;
      auto w = impl_->graph.weights.find(node.inputs[1]);
      if (w == impl_->graph.weights.end() || w->second.rank() < 2) continue;
      const int64_t channels = node.op == "Conv" ? w->second.dim(0) : w->second.dim(1) * node.attr_int("group", 1);
      ++convs;
      if (channels % 8 != 0) ++unaligned;
    }
    impl_->channels_last = convs > 0 && 2 * unaligned > convs;
  }
}

Engine::~Engine() = default;
Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;

void Engine::run(const Tensor& input, Tensor& output) {
  const DenormalsAsZero flush;  // planning measures candidates too: time them as they will run
  engine::Plan& plan = impl_->plan_for(input.dims());
  Tensor* const target = &output;
  plan.execute(input, std::span<Tensor* const>(&target, 1));
}

std::vector<Tensor> Engine::run_all(const Tensor& input) {
  const DenormalsAsZero flush;
  engine::Plan& plan = impl_->plan_for(input.dims());
  std::vector<Tensor> outputs(plan.output_ids.size());
  std::vector<Tensor*> targets;
  targets.reserve(outputs.size());
  for (Tensor& t : outputs) targets.push_back(&t);
  plan.execute(input, targets);
  return outputs;
}

PlanStats Engine::stats(const Dims& input_dims) {
  const DenormalsAsZero flush;
  return impl_->plan_for(input_dims).stats;
}
const Graph& Engine::graph() const { return impl_->graph; }
const EngineOptions& Engine::options() const { return impl_->options; }

}  // namespace terraseg
