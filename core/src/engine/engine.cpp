// The public Engine: graph passes at construction, one cached Plan per input shape, execution.
#include "terraseg/core/engine.hpp"

#include <omp.h>

#include <algorithm>

#include "engine/ops.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/threads.hpp"

namespace terraseg {

Precision parse_precision(const std::string& text) {
  if (text == "f32") return Precision::f32;
  if (text == "bf16") return Precision::bf16;
  if (text == "int8") return Precision::int8;
  throw Error("unknown precision '" + text + "': use f32, bf16 or int8");
}

std::string to_string(Precision precision) {
  switch (precision) {
    case Precision::f32: return "f32";
    case Precision::bf16: return "bf16";
    case Precision::int8: return "int8";
  }
  return "f32";
}

void set_thread_count(int threads) { omp_set_num_threads(threads > 0 ? threads : default_thread_count()); }

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
    auto oldest = std::min_element(plans.begin(), plans.end(),
                                   [](const auto& a, const auto& b) { return a.second->last_use < b.second->last_use; });
    plans.erase(oldest);
  }
  if (options.threads > 0) set_thread_count(options.threads);
  engine::PlanBuilder builder(graph, options.precision, cpu, channels_last,
                              options.convolution == EngineOptions::Convolution::automatic);
  builder.bind(graph.input, builder.add_value(dnnl::memory::desc(engine::to_dnnl(dims), dnnl::memory::data_type::f32,
                                                                 dnnl::memory::format_tag::abcd)));
  for (const engine::PlanNode& pn : nodes) {
    try {
      registry.at(pn.node.op).plan(builder, pn);
    } catch (const dnnl::error& e) {
      throw Error("node '" + pn.node.name + "' (" + pn.node.op + "): oneDNN cannot run it at input " +
                  to_string(dims) + " in " + to_string(options.precision) + ": " + e.what());
    }
  }
  auto plan = builder.finalize(op_counts);
  plan->last_use = ++uses;
  return *plans.emplace(dims, std::move(plan)).first->second;
}

Engine::Engine(const Graph& graph, EngineOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->graph = graph;
  impl_->options = options;
  if (options.precision == Precision::int8) {
    throw Error("model '" + graph.name + "': int8 inference is not supported yet (it needs calibration); use f32 or bf16");
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
  engine::Plan& plan = impl_->plan_for(input.dims());
  if (impl_->options.threads > 0) set_thread_count(impl_->options.threads);
  Tensor* const target = &output;
  plan.execute(input, std::span<Tensor* const>(&target, 1));
}

std::vector<Tensor> Engine::run_all(const Tensor& input) {
  engine::Plan& plan = impl_->plan_for(input.dims());
  if (impl_->options.threads > 0) set_thread_count(impl_->options.threads);
  std::vector<Tensor> outputs(plan.output_ids.size());
  std::vector<Tensor*> targets;
  for (Tensor& t : outputs) targets.push_back(&t);
  plan.execute(input, targets);
  return outputs;
}

PlanStats Engine::stats(const Dims& input_dims) { return impl_->plan_for(input_dims).stats; }
const Graph& Engine::graph() const { return impl_->graph; }
const EngineOptions& Engine::options() const { return impl_->options; }

}  // namespace terraseg
