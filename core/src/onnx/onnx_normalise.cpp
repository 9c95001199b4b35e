// The import op table: which ONNX ops and attributes terraseg accepts, generic checks of inputs,
// outputs and window attributes, and dispatch to the op-specific hooks in onnx_operands.cpp.
#include <algorithm>
#include <limits>
#include <string_view>

#include "onnx_detail.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg::onnx_io {
namespace {

using AttrType = onnx::AttributeProto::AttributeType;
constexpr AttrType kInt = onnx::AttributeProto::INT;
constexpr AttrType kFloat = onnx::AttributeProto::FLOAT;
constexpr AttrType kString = onnx::AttributeProto::STRING;
constexpr AttrType kInts = onnx::AttributeProto::INTS;
constexpr AttrType kFloats = onnx::AttributeProto::FLOATS;
constexpr AttrType kTensor = onnx::AttributeProto::TENSOR;
constexpr int kAnyCount = std::numeric_limits<int>::max();
/// Window extents beyond this cannot come from a real model and would overflow size arithmetic.
constexpr int64_t kMaxWindow = int64_t{1} << 16;

struct AttrRule {
  std::string_view name;
  AttrType type;
};

struct OpSpec {
  std::string_view op;
  int min_inputs;
  int max_inputs;
  int max_outputs;
  std::vector<AttrRule> attrs;
  OpHook hook;
  bool window;  ///< kernel_shape / strides / dilations / pads / group are checked
};

const std::vector<AttrRule> kConvAttrs = {{"auto_pad", kString},   {"dilations", kInts}, {"group", kInt},
                                          {"kernel_shape", kInts}, {"pads", kInts},      {"strides", kInts}};

bool normalise_max_pool(OpContext& op) {
  if (op.node.attr_int("storage_order", 0) != 0) op.fail("storage_order=1 (column-major indices) is not supported");
  op.node.attrs.erase("storage_order");
  return true;
}

/// Every op the importer accepts, registered in one place.
const std::vector<OpSpec>& op_table() {
  static const std::vector<OpSpec> table = [] {
    std::vector<AttrRule> conv_transpose = kConvAttrs;
    conv_transpose.push_back({"output_padding", kInts});
    conv_transpose.push_back({"output_shape", kInts});
    return std::vector<OpSpec>{
        {"Conv", 2, 3, 1, kConvAttrs, nullptr, true},
        {"ConvTranspose", 2, 3, 1, conv_transpose, nullptr, true},
        {"MaxPool",
         1,
         1,
         2,
         {{"auto_pad", kString},
          {"ceil_mode", kInt},
          {"dilations", kInts},
          {"kernel_shape", kInts},
          {"pads", kInts},
          {"storage_order", kInt},
          {"strides", kInts}},
         normalise_max_pool,
         true},
        {"MaxUnpool",
         2,
         3,
         1,
         {{"kernel_shape", kInts}, {"pads", kInts}, {"strides", kInts}},
         normalise_max_unpool,
         true},
        {"AveragePool",
         1,
         1,
         1,
         {{"auto_pad", kString},
          {"ceil_mode", kInt},
          {"count_include_pad", kInt},
          {"kernel_shape", kInts},
          {"pads", kInts},
          {"strides", kInts}},
         nullptr,
         true},
        {"GlobalAveragePool", 1, 1, 1, {}, nullptr, false},
        {"BatchNormalization",
         5,
         5,
         5,
         {{"epsilon", kFloat}, {"momentum", kFloat}, {"training_mode", kInt}},
         normalise_batch_norm,
         false},
        {"Relu", 1, 1, 1, {}, nullptr, false},
        {"Sigmoid", 1, 1, 1, {}, nullptr, false},
        {"Tanh", 1, 1, 1, {}, nullptr, false},
        {"LeakyRelu", 1, 1, 1, {{"alpha", kFloat}}, nullptr, false},
        {"Elu", 1, 1, 1, {{"alpha", kFloat}}, nullptr, false},
        {"Clip", 1, 3, 1, {{"min", kFloat}, {"max", kFloat}}, normalise_clip, false},
        {"PRelu", 2, 2, 1, {}, nullptr, false},
        {"Add", 2, 2, 1, {}, nullptr, false},
        {"Sub", 2, 2, 1, {}, nullptr, false},
        {"Mul", 2, 2, 1, {}, nullptr, false},
        {"Div", 2, 2, 1, {}, nullptr, false},
        {"Concat", 1, kAnyCount, 1, {{"axis", kInt}}, nullptr, false},
        {"Pad", 1, 3, 1, {{"mode", kString}, {"pads", kInts}, {"value", kFloat}}, normalise_pad, false},
        {"Resize",
         1,
         4,
         1,
         {{"coordinate_transformation_mode", kString},
          {"cubic_coeff_a", kFloat},
          {"exclude_outside", kInt},
          {"extrapolation_value", kFloat},
          {"mode", kString},
          {"nearest_mode", kString}},
         normalise_resize,
         false},
        {"Upsample", 2, 2, 1, {{"mode", kString}}, normalise_upsample, false},
        {"Softmax", 1, 1, 1, {{"axis", kInt}}, normalise_softmax, false},
        {"ArgMax", 1, 1, 1, {{"axis", kInt}, {"keepdims", kInt}, {"select_last_index", kInt}}, nullptr, false},
        {"Identity", 1, 1, 1, {}, fold_identity, false},
        {"Dropout", 1, 3, 2, {{"ratio", kFloat}, {"seed", kInt}}, normalise_dropout, false},
        {"Reshape", 2, 2, 1, {{"allowzero", kInt}}, fold_reshape, false},
        {"Flatten", 1, 1, 1, {{"axis", kInt}}, fold_flatten, false},
        {"Cast", 1, 1, 1, {{"to", kInt}}, fold_cast, false},
        {"Constant",
         0,
         0,
         1,
         {{"value", kTensor},
          {"value_float", kFloat},
          {"value_floats", kFloats},
          {"value_int", kInt},
          {"value_ints", kInts}},
         fold_constant,
         false},
    };
  }();
  return table;
}

std::string attr_type_name(AttrType type) {
  return onnx::AttributeProto::AttributeType_IsValid(type) ? onnx::AttributeProto::AttributeType_Name(type)
                                                           : "type " + std::to_string(static_cast<int>(type));
}

/// Decodes the attributes the spec allows into node.attrs; tensor attributes stay in the proto.
void decode_attributes(OpContext& op, const OpSpec& spec) {
  for (const onnx::AttributeProto& attr : op.proto.attribute()) {
    auto rule =
        std::find_if(spec.attrs.begin(), spec.attrs.end(), [&](const AttrRule& r) { return r.name == attr.name(); });
    if (rule == spec.attrs.end()) op.fail("attribute '" + attr.name() + "' is not supported");
    if (attr.type() != rule->type) {
      op.fail("attribute '" + attr.name() + "' is " + attr_type_name(attr.type()) + ", expected " +
              attr_type_name(rule->type));
    }
    if (op.node.has(attr.name())) op.fail("attribute '" + attr.name() + "' appears twice");
    AttrValue value;
    switch (rule->type) {
      case onnx::AttributeProto::INT:
        value = int64_t{attr.i()};
        break;
      case onnx::AttributeProto::FLOAT:
        value = attr.f();
        break;
      case onnx::AttributeProto::STRING:
        value = attr.s();
        break;
      case onnx::AttributeProto::INTS:
        value = std::vector<int64_t>(attr.ints().begin(), attr.ints().end());
        break;
      case onnx::AttributeProto::FLOATS:
        value = std::vector<float>(attr.floats().begin(), attr.floats().end());
        break;
      default:
        continue;  // TENSOR: read by the Constant hook straight from the proto
    }
    op.node.attrs.emplace(attr.name(), std::move(value));
  }
}

void check_range(OpContext& op, const std::string& key, int64_t low) {
  for (int64_t v : op.node.attr_ints(key)) {
    if (v < low || v > kMaxWindow) op.fail("attribute '" + key + "' value " + std::to_string(v) + " is out of range");
  }
}

/// Sanity of window attributes, so that no later size arithmetic can overflow or divide by zero.
void check_window(OpContext& op) {
  check_range(op, "kernel_shape", 1);
  check_range(op, "strides", 1);
  check_range(op, "dilations", 1);
  check_range(op, "pads", 0);
  check_range(op, "output_padding", 0);
  check_range(op, "output_shape", 0);
  if (op.node.attr_ints("pads").size() % 2 != 0) op.fail("attribute 'pads' needs a begin and an end per axis");
  const int64_t group = op.node.attr_int("group", 1);
  if (group < 1 || group > kMaxWindow) op.fail("attribute 'group' value " + std::to_string(group) + " is out of range");
  if (op.node.op != "Conv" && op.node.op != "ConvTranspose" && !op.node.has("kernel_shape")) {
    op.fail("attribute 'kernel_shape' is required");
  }
  if (op.node.attr_string("auto_pad", "NOTSET") == "NOTSET") op.node.attrs.erase("auto_pad");
}

const OpSpec& find_spec(const ImportContext& ctx, const onnx::NodeProto& proto, const std::string& name) {
  if (!proto.domain().empty() && proto.domain() != "ai.onnx") {
    throw Error(ctx.source + ": node '" + name + "' (" + proto.op_type() + "): operator domain '" + proto.domain() +
                "' is not supported (only the default ONNX domain)");
  }
  for (const OpSpec& spec : op_table()) {
    if (spec.op == proto.op_type()) return spec;
  }
  throw Error(ctx.source + ": node '" + name + "' (" + proto.op_type() +
              "): op is not supported by terraseg; supported: Conv, ConvTranspose, MaxPool, MaxUnpool, "
              "AveragePool, GlobalAveragePool, BatchNormalization, Relu, PRelu, LeakyRelu, Sigmoid, Add, Mul, "
              "Concat, Pad, Resize, Upsample, Softmax, ArgMax, Identity, Dropout, and Reshape/Flatten/Cast of "
              "constants");
}

std::string unique_node_name(ImportContext& ctx, const onnx::NodeProto& proto, size_t index) {
  const std::string suffix = std::to_string(index);
  std::string name = proto.name();
  if (name.empty()) name.append(proto.op_type()).append("_").append(suffix);
  while (ctx.node_names.contains(name)) name.append("_").append(suffix);
  ctx.node_names.insert(name);
  return name;
}

void check_counts(OpContext& op, const OpSpec& spec) {
  const auto inputs = static_cast<int64_t>(op.node.inputs.size());
  if (inputs < spec.min_inputs || inputs > spec.max_inputs) {
    op.fail("has " + std::to_string(inputs) + " inputs, expected " + std::to_string(spec.min_inputs) +
            (spec.max_inputs == spec.min_inputs
                 ? ""
                 : " to " + (spec.max_inputs == kAnyCount ? std::string("any") : std::to_string(spec.max_inputs))));
  }
  while (!op.node.outputs.empty() && op.node.outputs.back().empty()) op.node.outputs.pop_back();
  const auto outputs = static_cast<int64_t>(op.node.outputs.size());
  if (outputs > spec.max_outputs)
    op.fail("has " + std::to_string(outputs) + " outputs, expected at most " + std::to_string(spec.max_outputs));
  if (outputs == 0 || op.node.outputs[0].empty()) op.fail("its first output has no name");
}

/// After the hook: what stays an input must be a float constant (a weight) or a computed value.
void check_inputs(OpContext& op) {
  for (const std::string& in : op.node.inputs) {
    if (in.empty()) continue;
    auto dropped = op.ctx.dropped.find(in);
    if (dropped != op.ctx.dropped.end()) op.fail("reads '" + in + "', " + dropped->second);
    auto constant = op.ctx.constants.find(in);
    if (constant != op.ctx.constants.end() && constant->second.is_int) {
      op.fail("input '" + in + "' is an integer constant; only float weights are supported here");
    }
  }
}

int64_t value_rank(const ImportContext& ctx, const std::string& value) {
  auto constant = ctx.constants.find(value);
  if (constant != ctx.constants.end()) return static_cast<int64_t>(constant->second.dims.size());
  auto rank = ctx.ranks.find(value);
  return rank == ctx.ranks.end() ? -1 : rank->second;
}

/// Every supported op keeps the rank of its widest input, except ArgMax without keepdims.
void record_outputs(OpContext& op) {
  int64_t rank = 0;
  for (const std::string& in : op.node.inputs) {
    if (in.empty()) continue;
    const int64_t r = value_rank(op.ctx, in);
    rank = (r < 0 || rank < 0) ? -1 : std::max(rank, r);
  }
  if (op.node.op == "ArgMax" && op.node.attr_int("keepdims", 1) == 0 && rank > 0) --rank;
  for (const std::string& out : op.node.outputs) {
    if (out.empty()) continue;
    if (op.ctx.ranks.contains(out) || op.ctx.constants.contains(out)) op.fail("output '" + out + "' is defined twice");
    op.ctx.ranks[out] = rank;
  }
}

}  // namespace

std::optional<Node> normalise_node(ImportContext& ctx, const onnx::NodeProto& proto, size_t index) {
  Node node;
  node.name = unique_node_name(ctx, proto, index);
  const OpSpec& spec = find_spec(ctx, proto, node.name);
  node.op = proto.op_type();
  node.inputs.assign(proto.input().begin(), proto.input().end());
  node.outputs.assign(proto.output().begin(), proto.output().end());
  OpContext op{ctx, node, proto};
  check_counts(op, spec);
  decode_attributes(op, spec);
  if (spec.window) check_window(op);
  if (spec.hook != nullptr && !spec.hook(op)) return std::nullopt;
  check_inputs(op);
  record_outputs(op);
  return node;
}

void OpContext::fail(const std::string& message) const {
  throw Error(ctx.source + ": node '" + node.name + "' (" + node.op + "): " + message);
}

const ConstValue* OpContext::constant_input(size_t index, const std::string& what) const {
  if (index >= node.inputs.size() || node.inputs[index].empty()) return nullptr;
  auto found = ctx.constants.find(node.inputs[index]);
  if (found == ctx.constants.end()) {
    fail("input '" + what + "' ('" + node.inputs[index] +
         "') is computed at run time; terraseg needs it as a constant. Re-export with fixed values "
         "(e.g. torch.onnx.export(..., do_constant_folding=True) and constant scale factors)");
  }
  return &found->second;
}

std::vector<int64_t> OpContext::int_input(size_t index, const std::string& what) const {
  const ConstValue* value = constant_input(index, what);
  if (value == nullptr) return {};
  if (!value->is_int) fail("input '" + what + "' must be an int64 tensor");
  return value->ints;
}

std::vector<float> OpContext::float_input(size_t index, const std::string& what) const {
  const ConstValue* value = constant_input(index, what);
  if (value == nullptr) return {};
  if (value->is_int) fail("input '" + what + "' must be a float tensor");
  return value->floats;
}

void OpContext::keep_inputs(size_t count) const {
  if (node.inputs.size() > count) node.inputs.resize(count);
}

void OpContext::drop_outputs(size_t first, const std::string& why) const {
  for (size_t i = first; i < node.outputs.size(); ++i) {
    if (!node.outputs[i].empty()) ctx.dropped[node.outputs[i]] = why + " (dropped by node '" + node.name + "')";
  }
  if (node.outputs.size() > first) node.outputs.resize(first);
}

void OpContext::define_constant(ConstValue value) const {
  const std::string& out = node.outputs.at(0);
  if (ctx.ranks.contains(out) || ctx.constants.contains(out)) fail("output '" + out + "' is defined twice");
  ctx.constants[out] = std::move(value);
}

}  // namespace terraseg::onnx_io
