// The training executor: value bookkeeping, per-shape plans, forward, and backward with gradient
// accumulation for values read by several nodes (in a fixed order, so results are deterministic).
#include "terraseg/core/train_graph.hpp"

#include <omp.h>

#include <algorithm>
#include <map>
#include <unordered_map>

#include "terraseg/core/denormals.hpp"
#include "terraseg/core/error.hpp"
#include "train_op.hpp"

namespace terraseg {
namespace {

struct Value {
  std::string name;
  Tensor own;  // activations live here; weights live in Graph::weights
  Tensor* data = nullptr;
  Tensor grad;
  std::vector<int64_t> index;  // integer side channel (MaxPool indices)
  bool is_weight = false;
  bool needs_grad = false;
  bool grad_written = false;
};

struct Step {
  const Node* node = nullptr;
  std::vector<int> in, out;     // value ids, -1 for an omitted input
  std::vector<Tensor> scratch;  // per input: where a second gradient contribution lands before adding
  train::OpIO io;
};

struct Plan {
  std::vector<std::unique_ptr<train::TrainOp>> ops;
  std::vector<Dims> dims;                  // per value id
  std::vector<dnnl::memory::desc> layout;  // per value id: blocked layout, or a zero desc for plain
};

void add_into(Tensor& dst, const Tensor& src) {
  float* d = dst.data();
  const float* s = src.data();
  const int64_t n = dst.size();
#pragma omp parallel for
  for (int64_t i = 0; i < n; ++i) d[i] += s[i];
}

}  // namespace

struct TrainGraph::Impl {
  Graph graph;
  std::vector<Value> values;
  std::unordered_map<std::string, int> ids;
  std::vector<Step> steps;
  std::vector<bool> may_block;  // per value id: every consumer accepts a blocked layout (layout pass)
  std::vector<int> last_use;    // per value id: the last step reading it (or writing it, if none reads it);
                                // -1 for weights, the graph input and outputs: never released
  std::vector<std::string> parameters;
  std::map<std::string, bool> trainable;
  std::map<std::pair<Dims, bool>, Plan> plans;
  Plan* current = nullptr;
  bool current_training = false;
  bool input_grad = false;
  bool grads_dirty = true;

  int id_of(const std::string& name) {
    auto it = ids.find(name);
    if (it != ids.end()) return it->second;
    Value value;
    value.name = name;
    auto weight = graph.weights.find(name);
    value.is_weight = weight != graph.weights.end();
    values.push_back(std::move(value));
    ids[name] = static_cast<int>(values.size() - 1);
    return static_cast<int>(values.size() - 1);
  }

  void build_steps() {
    graph.validate();
    const auto& registry = train::op_registry();
    id_of(graph.input);
    for (const Node& node : graph.nodes) {
      if (!registry.contains(node.op)) {
        throw Error(train::where(node) +
                    "op is not supported by the trainer (supported: Conv, ConvTranspose, "
                    "BatchNormalization, MaxPool, AveragePool, MaxUnpool, Relu, LeakyRelu, Sigmoid, PRelu, Add, "
                    "Concat, Pad, Resize, Identity, Dropout)");
      }
      Step step;
      step.node = &node;
      for (const std::string& name : node.inputs) step.in.push_back(name.empty() ? -1 : id_of(name));
      for (const std::string& name : node.outputs) step.out.push_back(id_of(name));
      step.scratch.resize(step.in.size());
      step.io.in.resize(step.in.size());
      step.io.in_grad.resize(step.in.size());
      step.io.in_index.resize(step.in.size());
      step.io.out.resize(step.out.size());
      step.io.out_grad.resize(step.out.size());
      step.io.out_index.resize(step.out.size());
      steps.push_back(std::move(step));
    }
    for (Value& value : values) {
      value.data = value.is_weight ? &graph.weights.at(value.name) : &value.own;
    }
    find_parameters();
    find_blockable();
    find_last_use();
  }

  /// Inference-mode forwards release each activation after its last reader, so that a large
  /// validation image needs the live set of activations, not all of them (training keeps every one
  /// for backward).
  void find_last_use() {
    last_use.assign(values.size(), -1);
    for (size_t s = 0; s < steps.size(); ++s) {
      for (int id : steps[s].out) last_use[static_cast<size_t>(id)] = static_cast<int>(s);
      for (int id : steps[s].in) {
        if (id >= 0) last_use[static_cast<size_t>(id)] = static_cast<int>(s);
      }
    }
    last_use[static_cast<size_t>(ids.at(graph.input))] = -1;
    for (const std::string& name : graph.outputs) last_use[static_cast<size_t>(ids.at(name))] = -1;
    for (size_t v = 0; v < values.size(); ++v) {
      if (values[v].is_weight) last_use[v] = -1;
    }
  }

  void release_after(size_t s) {
    auto release = [&](int id) {
      if (id < 0 || last_use[static_cast<size_t>(id)] != static_cast<int>(s)) return;
      Value& value = values[static_cast<size_t>(id)];
      value.own = Tensor();
      std::vector<int64_t>().swap(value.index);
    };
    for (int id : steps[s].in) release(id);
    for (int id : steps[s].out) release(id);
  }

  /// Which activations may be stored blocked (nChw8c): those produced by an op that handles layouts and
  /// read only by such ops, never graph outputs. An op that keeps its input's layout passes a blocked
  /// input on, so its input may be blocked only if its output may. Shapes decide the rest at planning.
  void find_blockable() {
    std::vector<const Node*> producer(values.size(), nullptr);
    std::vector<bool> all_consumers_ok(values.size(), true);
    for (const Step& step : steps) {
      for (int id : step.out) producer[static_cast<size_t>(id)] = step.node;
      for (int id : step.in) {
        if (id >= 0 && !train::handles_layouts(*step.node)) all_consumers_ok[static_cast<size_t>(id)] = false;
      }
    }
    may_block.assign(values.size(), false);
    for (size_t v = 0; v < values.size(); ++v) {
      may_block[v] =
          producer[v] != nullptr && train::handles_layouts(*producer[v]) && all_consumers_ok[v] && !values[v].is_weight;
    }
    for (const std::string& name : graph.outputs) may_block[static_cast<size_t>(ids.at(name))] = false;
    may_block[static_cast<size_t>(ids.at(graph.input))] = false;
    for (bool changed = true; changed;) {
      changed = false;
      for (const Step& step : steps) {
        if (!train::keeps_layout(*step.node) || step.in.empty() || step.in[0] < 0) continue;
        const auto x = static_cast<size_t>(step.in[0]);
        for (int y : step.out) {
          if (may_block[x] && !may_block[static_cast<size_t>(y)]) {
            may_block[x] = false;
            changed = true;
          }
        }
      }
    }
  }

  void find_parameters() {
    const auto& registry = train::op_registry();
    for (const Step& step : steps) {
      const auto probe = registry.at(step.node->op)(*step.node);
      for (size_t i = 0; i < step.in.size(); ++i) {
        if (step.in[i] < 0 || !values[static_cast<size_t>(step.in[i])].is_weight || !probe->differentiable(i)) continue;
        const std::string& name = values[static_cast<size_t>(step.in[i])].name;
        if (!trainable.contains(name)) parameters.push_back(name);
        trainable[name] = true;
      }
    }
  }

  void mark_needs_grad() {
    for (Value& value : values)
      value.needs_grad = value.is_weight && trainable.contains(value.name) && trainable[value.name];
    values[static_cast<size_t>(ids.at(graph.input))].needs_grad = input_grad;
    for (const Step& step : steps) {
      bool any = false;
      for (int id : step.in) any = any || (id >= 0 && values[static_cast<size_t>(id)].needs_grad);
      for (int id : step.out) values[static_cast<size_t>(id)].needs_grad = any;
    }
    grads_dirty = false;
  }

  Plan& plan_for(const Dims& input_dims, bool training) {
    auto key = std::make_pair(input_dims, training);
    auto it = plans.find(key);
    if (it != plans.end()) return it->second;
    if (!training) {
      // One inference plan at a time: a plan owns buffers sized for its shape, and validation sets
      // have as many shapes as images (ESPNetv2 validating on 13 Dubai tiles up to 2062x1817 passed
      // 24 GB while every shape's plan and every activation were kept; 10 GB with neither). Training
      // plans (one or two crop shapes) stay. `current` is reassigned by forward, our only caller.
      std::erase_if(plans, [](const auto& entry) { return !entry.first.second; });
    }
    Plan plan;
    plan.dims.resize(values.size());
    plan.layout.resize(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      if (values[i].is_weight) plan.dims[i] = values[i].data->dims();
    }
    plan.dims[static_cast<size_t>(ids.at(graph.input))] = input_dims;
    const auto& registry = train::op_registry();
    for (const Step& step : steps) plan.ops.push_back(plan_step(step, plan, registry, training));
    return plans.emplace(key, std::move(plan)).first->second;
  }

  std::unique_ptr<train::TrainOp> plan_step(const Step& step, Plan& plan,
                                            const std::unordered_map<std::string, train::OpFactory>& registry,
                                            bool training) {
    auto op = registry.at(step.node->op)(*step.node);
    train::PlanInput input{*step.node,
                           {},
                           training,
                           [&](const std::string& name) -> const Dims* {
                             auto found = ids.find(name);
                             return found == ids.end() ? nullptr : &plan.dims[static_cast<size_t>(found->second)];
                           },
                           [&](const std::string& name) { return graph.producer(name); },
                           {},
                           {}};
    for (int id : step.in) {
      input.in_dims.push_back(id < 0 ? Dims{} : plan.dims[static_cast<size_t>(id)]);
      const Dims& dims = input.in_dims.back();
      const dnnl::memory::desc& layout = id < 0 ? dnnl::memory::desc() : plan.layout[static_cast<size_t>(id)];
      if (!layout.is_zero() && !train::handles_layouts(*step.node)) {
        throw Error(train::where(*step.node) + "internal: a blocked input reached an op that needs plain NCHW");
      }
      input.in_md.push_back(!layout.is_zero()                 ? layout
                            : dims.empty() || dims.size() > 5 ? dnnl::memory::desc()
                                                              : train::plain_md(dims));
    }
    for (int id : step.out) input.may_block.push_back(may_block[static_cast<size_t>(id)]);
    std::vector<Dims> out_dims;
    try {
      out_dims = op->plan(input);
    } catch (const dnnl::error& e) {
      throw Error(train::where(*step.node) + "oneDNN could not plan it for input " + to_string(input.in_dims[0]) +
                  ": " + e.what());
    }
    const std::vector<dnnl::memory::desc> layouts = op->out_layouts();
    for (size_t k = 0; k < step.out.size() && k < out_dims.size(); ++k) {
      const auto id = static_cast<size_t>(step.out[k]);
      plan.dims[id] = out_dims[k];
      if (k < layouts.size() && train::is_blocked(layouts[k])) {
        if (!may_block[id]) throw Error(train::where(*step.node) + "internal: blocked output where plain is needed");
        plan.layout[id] = layouts[k];
      }
    }
    return op;
  }

  void run_forward(bool training) {
    for (size_t s = 0; s < steps.size(); ++s) {
      Step& step = steps[s];
      for (size_t k = 0; k < step.out.size(); ++k) {
        Value& value = values[static_cast<size_t>(step.out[k])];
        value.data->resize(current->dims[static_cast<size_t>(step.out[k])]);
        step.io.out[k] = value.data;
        step.io.out_index[k] = &value.index;
      }
      for (size_t k = 0; k < step.in.size(); ++k) {
        Value* value = step.in[k] < 0 ? nullptr : &values[static_cast<size_t>(step.in[k])];
        step.io.in[k] = value == nullptr ? nullptr : value->data;
        step.io.in_index[k] = value == nullptr ? nullptr : &value->index;
      }
      step.io.training = training;
      current->ops[s]->forward(step.io);
      if (!training) release_after(s);
    }
  }

  void run_backward_step(size_t s) {
    Step& step = steps[s];
    bool any = false;
    for (size_t k = 0; k < step.in.size(); ++k) {
      Value* value = step.in[k] < 0 ? nullptr : &values[static_cast<size_t>(step.in[k])];
      step.io.in_grad[k] = nullptr;
      if (value == nullptr || !value->needs_grad || !current->ops[s]->differentiable(k)) continue;
      Tensor& target = value->grad_written ? step.scratch[k] : value->grad;
      target.resize(value->data->dims());
      step.io.in_grad[k] = &target;
      any = true;
    }
    if (!any) return;
    for (size_t k = 0; k < step.out.size(); ++k) {
      Value& value = values[static_cast<size_t>(step.out[k])];
      if (!value.grad_written) {
        value.grad.resize(value.data->dims());
        std::fill(value.grad.values().begin(), value.grad.values().end(), 0.0F);
        value.grad_written = true;
      }
      step.io.out_grad[k] = &value.grad;
    }
    current->ops[s]->backward(step.io);
    for (size_t k = 0; k < step.in.size(); ++k) {
      if (step.io.in_grad[k] == nullptr) continue;
      Value& value = values[static_cast<size_t>(step.in[k])];
      if (value.grad_written) add_into(value.grad, step.scratch[k]);
      value.grad_written = true;
    }
  }
};

TrainGraph::TrainGraph(Graph graph) : impl_(std::make_unique<Impl>()) {
  impl_->graph = std::move(graph);
  impl_->build_steps();
}

TrainGraph::~TrainGraph() = default;
TrainGraph::TrainGraph(TrainGraph&&) noexcept = default;
TrainGraph& TrainGraph::operator=(TrainGraph&&) noexcept = default;

const Tensor& TrainGraph::forward(const Tensor& input, bool training) {
  const DenormalsAsZero flush;
  Impl& im = *impl_;
  if (input.rank() != 4) throw Error("trainer input must be NCHW, got " + to_string(input.dims()));
  im.current = &im.plan_for(input.dims(), training);
  im.current_training = training;
  Value& in = im.values[static_cast<size_t>(im.ids.at(im.graph.input))];
  *in.data = input;
  im.run_forward(training);
  return *im.values[static_cast<size_t>(im.ids.at(im.graph.outputs.at(0)))].data;
}

void TrainGraph::backward(const Tensor& output_grad) {
  const DenormalsAsZero flush;
  Impl& im = *impl_;
  if (im.current == nullptr || !im.current_training) throw Error("backward needs a training-mode forward first");
  if (im.grads_dirty) im.mark_needs_grad();
  for (Value& value : im.values) value.grad_written = false;
  Value& out = im.values[static_cast<size_t>(im.ids.at(im.graph.outputs.at(0)))];
  if (output_grad.dims() != out.data->dims()) {
    throw Error("output gradient " + to_string(output_grad.dims()) + " does not match output " +
                to_string(out.data->dims()));
  }
  out.grad = output_grad;
  out.grad_written = true;
  for (size_t s = im.steps.size(); s-- > 0;) im.run_backward_step(s);
  for (const std::string& name : im.parameters) {
    Value& value = im.values[static_cast<size_t>(im.ids.at(name))];
    if (value.grad_written || !im.trainable[name]) continue;
    value.grad.resize(value.data->dims());
    std::fill(value.grad.values().begin(), value.grad.values().end(), 0.0F);
  }
}

const std::vector<std::string>& TrainGraph::parameters() const { return impl_->parameters; }
bool TrainGraph::is_parameter(const std::string& name) const { return impl_->trainable.contains(name); }

void TrainGraph::set_trainable(const std::string& name, bool trainable) {
  if (!is_parameter(name)) throw Error("'" + name + "' is not a trainable parameter of the graph");
  impl_->trainable[name] = trainable;
  impl_->grads_dirty = true;
}

bool TrainGraph::trainable(const std::string& name) const {
  auto it = impl_->trainable.find(name);
  return it != impl_->trainable.end() && it->second;
}

Tensor& TrainGraph::weight(const std::string& name) {
  auto it = impl_->graph.weights.find(name);
  if (it == impl_->graph.weights.end()) throw Error("graph has no weight '" + name + "'");
  return it->second;
}

const Tensor& TrainGraph::grad(const std::string& name) const {
  auto it = impl_->ids.find(name);
  if (it == impl_->ids.end()) throw Error("graph has no value '" + name + "'");
  return impl_->values[static_cast<size_t>(it->second)].grad;
}

Tensor& TrainGraph::grad(const std::string& name) {
  return const_cast<Tensor&>(static_cast<const TrainGraph&>(*this).grad(name));
}

void TrainGraph::set_input_grad(bool enabled) {
  impl_->input_grad = enabled;
  impl_->grads_dirty = true;
}

const Tensor& TrainGraph::input_grad() const { return grad(impl_->graph.input); }
const Graph& TrainGraph::graph() const { return impl_->graph; }
Graph& TrainGraph::graph() { return impl_->graph; }

}  // namespace terraseg
