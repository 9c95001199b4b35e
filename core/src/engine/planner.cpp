// PlanBuilder and Plan: value bookkeeping, layout conversions, liveness-based buffer sharing and
// execution. Op-specific lowering lives in the *_ops.cpp files.
#include <oneapi/dnnl/dnnl_debug.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <new>
#include <utility>

#include "engine/plan.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg::engine {
namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

constexpr int kScratchpadId = -2;
constexpr size_t kAlign = 64;

size_t round_up(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }
bool aligned(const void* p) { return reinterpret_cast<uintptr_t>(p) % kAlign == 0; }
size_t bytes_of(const Tensor& t) { return static_cast<size_t>(t.size()) * sizeof(float); }

/// The first and last step that reads or writes each of `count` values (-1 where none does).
void lifetimes(const std::vector<Step>& steps, size_t count, std::vector<int>& first, std::vector<int>& last) {
  first.assign(count, -1);
  last.assign(count, -1);
  for (size_t s = 0; s < steps.size(); ++s) {
    auto touch = [&](int id) {
      if (id < 0) return;
      const auto v = static_cast<size_t>(id);
      if (first[v] < 0) first[v] = static_cast<int>(s);
      last[v] = static_cast<int>(s);
    };
    for (int id : steps[s].touched) touch(id);
    for (const auto& arg : steps[s].arg_ids) touch(arg.second);
  }
}

/// Widens [first, last] of `into` to cover [first, last] of `from`.
void widen(std::vector<int>& first, std::vector<int>& last, size_t into, size_t from) {
  if (first[from] < 0) return;
  first[into] = first[into] < 0 ? first[from] : std::min(first[into], first[from]);
  last[into] = std::max(last[into], last[from]);
}

}  // namespace

void AlignedBuffer::Free::operator()(void* p) const { ::operator delete (p, std::align_val_t{kAlign}); }

AlignedBuffer::AlignedBuffer(size_t bytes)
    : data_(::operator new (round_up(std::max<size_t>(bytes, 1)), std::align_val_t{kAlign}, std::nothrow)) {
  if (!data_) throw Error("engine: out of memory allocating " + std::to_string(bytes) + " bytes");
}

tag plain_tag(size_t rank) {
  switch (rank) {
    case 1:
      return tag::a;
    case 2:
      return tag::ab;
    case 3:
      return tag::abc;
    case 4:
      return tag::abcd;
    case 5:
      return tag::abcde;
    default:
      throw Error("engine: tensors of rank " + std::to_string(rank) + " are not supported (1..5)");
  }
}

dnnl::memory::dims to_dnnl(const Dims& dims) { return dnnl::memory::dims(dims.begin(), dims.end()); }
Dims from_dnnl(const dnnl::memory::dims& dims) { return Dims(dims.begin(), dims.end()); }

dnnl::memory::desc same_layout(const dnnl::memory::desc& like, const Dims& dims, dt type) {
  const auto like_dims = like.dims();
  std::vector<tag> candidates{plain_tag(like_dims.size())};
  if (like_dims.size() == 4 && dims.size() == 4)
    candidates.insert(candidates.end(), {tag::nhwc, tag::nChw8c, tag::nChw16c});
  for (tag t : candidates) {
    if (dnnl::memory::desc(like_dims, like.data_type(), t) == like) return {to_dnnl(dims), type, t};
  }
  return {to_dnnl(dims), type, plain_tag(dims.size())};
}

PlanBuilder::PlanBuilder(const Graph& graph, Precision precision, dnnl::engine engine, bool channels_last,
                         bool winograd)
    : graph_(graph),
      precision_(precision),
      engine_(std::move(engine)),
      channels_last_(channels_last),
      winograd_(winograd) {}

int PlanBuilder::lookup(const std::string& name, const Node& node) const {
  auto it = names_.find(name);
  if (it != names_.end()) return it->second;
  if (graph_.is_weight(name)) {
    throw Error("node '" + node.name + "' (" + node.op + "): input '" + name +
                "' is a constant weight where this engine expects a computed tensor; fold it in the exporter");
  }
  throw Error("node '" + node.name + "' (" + node.op + "): input '" + name + "' is not produced by any earlier node");
}

void PlanBuilder::bind(const std::string& name, int id) { names_[name] = id; }

bool PlanBuilder::has_input(const Node& node, size_t index) {
  return node.inputs.size() > index && !node.inputs[index].empty();
}

const Tensor& PlanBuilder::weight(const Node& node, size_t index) const {
  if (!has_input(node, index)) {
    throw Error("node '" + node.name + "' (" + node.op + "): input #" + std::to_string(index) + " is missing");
  }
  auto it = graph_.weights.find(node.inputs[index]);
  if (it == graph_.weights.end()) {
    throw Error("node '" + node.name + "' (" + node.op + "): input '" + node.inputs[index] +
                "' must be a constant weight (computed weights are not supported)");
  }
  return it->second;
}

int PlanBuilder::add_value(const dnnl::memory::desc& md) {
  values_.push_back(PlanValue{md, PlanValue::Home::slot, {}});
  return static_cast<int>(values_.size()) - 1;
}

int PlanBuilder::add_constant(const dnnl::memory::desc& md, const float* values, const Dims& dims) {
  return add_constant(md, values, dnnl::memory::desc(to_dnnl(dims), dt::f32, plain_tag(dims.size())));
}

int PlanBuilder::add_constant(const dnnl::memory::desc& md, const float* values, const dnnl::memory::desc& plain) {
  dnnl::memory target(md, engine_);
  // oneDNN only reads the source of a reorder; the handle type is not const-qualified.
  dnnl::memory source(plain, engine_, const_cast<float*>(values));
  dnnl::stream stream(engine_);
  dnnl::reorder(source, target).execute(stream, source, target);
  stream.wait();
  values_.push_back(PlanValue{md, PlanValue::Home::constant, target});
  return static_cast<int>(values_.size()) - 1;
}

Dims PlanBuilder::dims(int id) const { return from_dnnl(md(id).dims()); }

int PlanBuilder::convert(int id, const dnnl::memory::desc& wanted) {
  if (md(id) == wanted) return id;
  for (const auto& [source, converted] : conversions_) {
    if (source == id && md(converted) == wanted) return converted;
  }
  const int out = add_value(wanted);
  dnnl::reorder::primitive_desc pd(engine_, md(id), engine_, wanted, attr());
  add_primitive("reorder", pd, {{DNNL_ARG_SRC, id}, {DNNL_ARG_DST, out}});
  conversions_.emplace_back(id, out);
  return out;
}

int PlanBuilder::to_plain(int id) {
  const Dims d = dims(id);
  return convert(id, dnnl::memory::desc(to_dnnl(d), dt::f32, plain_tag(d.size())));
}

dnnl::primitive_attr PlanBuilder::attr() {
  dnnl::primitive_attr result;
  result.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return result;
}

void PlanBuilder::add_primitive(const std::string& node, const dnnl::primitive_desc_base& pd,
                                std::vector<std::pair<int, int>> arg_ids) {
  const dnnl::memory::desc scratch = pd.scratchpad_desc();
  if (scratch.get_size() > 0) {
    scratchpad_bytes_ = std::max(scratchpad_bytes_, scratch.get_size());
    arg_ids.emplace_back(DNNL_ARG_SCRATCHPAD, kScratchpadId);
  }
  if (std::string(pd.impl_info_str()).rfind("ref", 0) == 0) {
    ++reference_kernels_[dnnl_prim_kind2str(static_cast<dnnl_primitive_kind_t>(pd.get_kind()))];
  }
  Step step;
  step.node = node;
  step.scratchpad_md = scratch;
  step.prim = dnnl::primitive(pd.get());
  step.arg_ids = std::move(arg_ids);
  steps_.push_back(std::move(step));
}

void PlanBuilder::offer_in_place(int whole, std::vector<int> parts, std::vector<size_t> offsets,
                                 std::shared_ptr<std::vector<uint8_t>> elided) {
  if (steps_.empty() || parts.size() != offsets.size() || !elided || elided->size() != parts.size()) {
    throw Error("engine: malformed in-place offer");
  }
  in_place_offers_.push_back(
      InPlaceOffer{steps_.size() - 1, whole, std::move(parts), std::move(offsets), std::move(elided)});
}

void PlanBuilder::add_custom(const std::string& node, CustomFn fn, std::vector<int> touched) {
  Step step;
  step.node = node;
  step.custom = std::move(fn);
  step.touched = std::move(touched);
  steps_.push_back(std::move(step));
}

std::unique_ptr<Plan> PlanBuilder::finalize(std::map<std::string, int> op_counts) {
  auto plan = std::make_unique<Plan>();
  plan->input_id = lookup(graph_.input, Node{"input", "Input", {}, {}, {}});
  values_[static_cast<size_t>(plan->input_id)].home = PlanValue::Home::input;
  for (size_t i = 0; i < graph_.outputs.size(); ++i) {
    const int id = lookup(graph_.outputs[i], Node{"output", "Output", {}, {}, {}});
    const Dims d = dims(id);
    const dnnl::memory::desc plain(to_dnnl(d), dt::f32, plain_tag(d.size()));
    if (i == 0 && md(id) == plain && values_[static_cast<size_t>(id)].home == PlanValue::Home::slot) {
      // Already plain: the producing step writes straight into the caller's tensor (every call
      // binds output 0), saving a copy of what is often the largest tensor of the plan.
      values_[static_cast<size_t>(id)].home = PlanValue::Home::output;
      plan->output_ids.push_back(id);
      plan->output_dims.push_back(d);
      continue;
    }
    const int out = add_value(plain);
    values_.back().home = PlanValue::Home::output;
    dnnl::reorder::primitive_desc pd(engine_, md(id), engine_, md(out), attr());
    add_primitive("output " + graph_.outputs[i], pd, {{DNNL_ARG_SRC, id}, {DNNL_ARG_DST, out}});
    steps_.back().output_index = static_cast<int>(i);
    plan->output_ids.push_back(out);
    plan->output_dims.push_back(d);
  }
  place_in_place();
  plan->values = std::move(values_);
  plan->steps = std::move(steps_);
  plan->stats.op_counts = std::move(op_counts);
  assign_slots(*plan);
  bind_step_args(*plan);
  plan->stream = dnnl::stream(engine_);
  plan->stats.flops = flops_;
  plan->stats.winograd_convolutions = winograd_convolutions_;
  plan->stats.emulated_bf16_convolutions = emulated_bf16_convolutions_;
  plan->stats.reference_kernels = reference_kernels_;
  plan->stats.in_place_bytes = in_place_bytes_;
  plan->stats.concat_channel_block = concat_block_;
  plan->profile = std::getenv("TERRASEG_ENGINE_PROFILE") != nullptr;
  return plan;
}

void PlanBuilder::place_in_place() {
  if (in_place_offers_.empty()) return;
  const size_t n = values_.size();
  std::vector<int> first;
  std::vector<int> last;
  lifetimes(steps_, n, first, last);
  auto is_root_slot = [&](size_t v) { return values_[v].home == PlanValue::Home::slot && values_[v].view_of < 0; };
  // Offers come in step order, so a concatenation that is itself a part of a later one has its own
  // parts placed first; first/last of a buffer's root then cover everything placed inside it.
  for (const InPlaceOffer& offer : in_place_offers_) {
    const auto whole = static_cast<size_t>(offer.whole);
    if (!is_root_slot(whole)) continue;
    for (size_t i = 0; i < offer.parts.size(); ++i) {
      const int part = offer.parts[i];
      const auto p = static_cast<size_t>(part);
      if (part == offer.whole || std::count(offer.parts.begin(), offer.parts.end(), part) != 1) continue;
      if (!is_root_slot(p) || first[p] < 0) continue;
      if (offer.offsets[i] + values_[p].md.get_size() > values_[whole].md.get_size()) continue;
      // Placing the part makes the whole buffer live from the part's first write. Only where no
      // other buffer starts in between (a value produced right before its concatenation, not an
      // encoder skip connection held across the network) is that free of memory cost.
      bool quiet = true;
      for (size_t v = 0; v < n && quiet; ++v) {
        if (v == whole || !is_root_slot(v)) continue;
        if (std::find(offer.parts.begin(), offer.parts.end(), static_cast<int>(v)) != offer.parts.end()) continue;
        quiet = first[v] <= first[p] || first[v] >= static_cast<int>(offer.step);
      }
      if (!quiet) continue;
      values_[p].view_of = offer.whole;
      values_[p].view_offset = offer.offsets[i];
      (*offer.elided)[i] = 1;
      in_place_bytes_ += static_cast<int64_t>(values_[p].md.get_size());
      widen(first, last, whole, p);
    }
  }
}

void PlanBuilder::assign_slots(Plan& plan) const {
  const size_t n = plan.values.size();
  std::vector<int> first;
  std::vector<int> last;
  lifetimes(plan.steps, n, first, last);
  // A value placed inside another lives in its root's buffer: that buffer must outlive every use.
  auto root_of = [&](size_t v) {
    while (plan.values[v].view_of >= 0) v = static_cast<size_t>(plan.values[v].view_of);
    return v;
  };
  for (size_t v = 0; v < n; ++v) {
    if (plan.values[v].view_of >= 0) widen(first, last, root_of(v), v);
  }
  std::vector<size_t> slot_size;
  std::vector<int> slot_of(n, -1);
  std::vector<int> free_slots;
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    for (size_t v = 0; v < n; ++v) {
      if (first[v] != static_cast<int>(s) || plan.values[v].home != PlanValue::Home::slot) continue;
      if (plan.values[v].view_of >= 0) continue;
      const size_t need = round_up(plan.values[v].md.get_size());
      // Best fit: the smallest free slot that is large enough, else grow the largest free one.
      auto best = free_slots.end();
      for (auto it = free_slots.begin(); it != free_slots.end(); ++it) {
        const size_t size = slot_size[static_cast<size_t>(*it)];
        if (best == free_slots.end()) {
          best = it;
          continue;
        }
        const size_t best_size = slot_size[static_cast<size_t>(*best)];
        const bool fits = size >= need;
        const bool best_fits = best_size >= need;
        if ((fits && (!best_fits || size < best_size)) || (!fits && !best_fits && size > best_size)) best = it;
      }
      if (best == free_slots.end()) {
        slot_size.push_back(need);
        slot_of[v] = static_cast<int>(slot_size.size()) - 1;
      } else {
        slot_of[v] = *best;
        slot_size[static_cast<size_t>(*best)] = std::max(slot_size[static_cast<size_t>(*best)], need);
        free_slots.erase(best);
      }
    }
    for (size_t v = 0; v < n; ++v) {
      if (last[v] == static_cast<int>(s) && slot_of[v] >= 0) free_slots.push_back(slot_of[v]);
    }
  }
  for (size_t size : slot_size) {
    plan.slots.emplace_back(size);
    plan.stats.buffer_bytes += static_cast<int64_t>(size);
  }
  plan.stats.buffer_bytes += static_cast<int64_t>(scratchpad_bytes_);
  slot_size.push_back(scratchpad_bytes_);
  plan.slots.emplace_back(scratchpad_bytes_);
  for (size_t v = 0; v < n; ++v) {
    PlanValue& value = plan.values[v];
    if (value.home == PlanValue::Home::constant) {
      plan.stats.weight_bytes += static_cast<int64_t>(value.md.get_size());
      continue;
    }
    size_t offset = 0;
    size_t root = v;
    while (plan.values[root].view_of >= 0) {
      offset += plan.values[root].view_offset;
      root = static_cast<size_t>(plan.values[root].view_of);
    }
    void* handle = DNNL_MEMORY_NONE;
    if (slot_of[root] >= 0) handle = static_cast<char*>(plan.slots[static_cast<size_t>(slot_of[root])].data()) + offset;
    value.mem = dnnl::memory(value.md, engine_, handle);
  }
}

void PlanBuilder::bind_step_args(Plan& plan) const {
  void* scratchpad = plan.slots.back().data();
  for (Step& step : plan.steps) {
    for (const auto& [arg, id] : step.arg_ids) {
      if (id == kScratchpadId) {
        step.args[arg] = dnnl::memory(step.scratchpad_md, engine_, scratchpad);
      } else {
        step.args[arg] = plan.values[static_cast<size_t>(id)].mem;
      }
    }
    for (const auto& [arg, mem] : step.args) step.c_args.push_back(dnnl_exec_arg_t{arg, mem.get()});
  }
}

void Plan::execute(const Tensor& input, std::span<Tensor* const> outputs) {
  // oneDNN never writes a source; its handle type is simply not const-qualified.
  values[static_cast<size_t>(input_id)].mem.set_data_handle(const_cast<float*>(input.data()));
  const size_t bound = std::min(outputs.size(), output_ids.size());
  if (output_staging.size() < bound) output_staging.resize(bound);
  for (size_t i = 0; i < bound; ++i) {
    if (outputs[i]->dims() != output_dims[i]) outputs[i]->resize(output_dims[i]);
    void* handle = outputs[i]->data();
    if (!aligned(handle)) {
      if (!output_staging[i]) output_staging[i] = std::make_unique<AlignedBuffer>(bytes_of(*outputs[i]));
      handle = output_staging[i]->data();
    }
    values[static_cast<size_t>(output_ids[i])].mem.set_data_handle(handle);
  }
  for (const Step& step : steps) {
    if (step.output_index >= static_cast<int>(outputs.size())) continue;
    const auto start = profile ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    if (step.custom) {
      step.custom(values);
    } else {
      const dnnl_status_t status = dnnl_primitive_execute(step.prim.get(), stream.get(),
                                                          static_cast<int>(step.c_args.size()), step.c_args.data());
      if (status != dnnl_success) {
        throw Error("engine: node '" + step.node + "': oneDNN execution failed with status " + std::to_string(status));
      }
    }
    if (profile) {
      stream.wait();
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      const char* kind = "custom";
      if (!step.custom) {
        dnnl_primitive_desc_query(step.prim.get_primitive_desc(), dnnl_query_impl_info_str, 0,
                                  static_cast<void*>(&kind));
      }
      std::cerr << "terraseg_profile," << step.node << ',' << kind << ',' << std::fixed << std::setprecision(3) << ms
                << '\n';
    }
  }
  stream.wait();
  for (size_t i = 0; i < bound; ++i) {
    if (!aligned(outputs[i]->data())) std::memcpy(outputs[i]->data(), output_staging[i]->data(), bytes_of(*outputs[i]));
  }
}

}  // namespace terraseg::engine
