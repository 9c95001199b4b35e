// Constant folding at import: Constant nodes, and Identity / Cast / Reshape / Flatten applied to
// constants (exporters emit these around weights and shape operands). None of them reach the IR.
#include <cmath>

#include "onnx_detail.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg::onnx_io {
namespace {

const ConstValue& constant_data(OpContext& op, const std::string& why) {
  auto found = op.ctx.constants.find(op.node.inputs.at(0));
  if (found == op.ctx.constants.end()) op.fail(why);
  return found->second;
}

std::vector<int64_t> floats_to_ints(OpContext& op, const std::vector<float>& floats) {
  std::vector<int64_t> ints;
  ints.reserve(floats.size());
  for (float v : floats) {
    // 2^62 keeps the conversion defined; shape values are far smaller.
    if (!std::isfinite(v) || std::fabs(v) > 4.6e18F) op.fail("cannot cast " + std::to_string(v) + " to an integer");
    ints.push_back(static_cast<int64_t>(v));
  }
  return ints;
}

}  // namespace

bool fold_constant(OpContext& op) {
  if (op.proto.attribute_size() != 1) op.fail("needs exactly one value attribute");
  const onnx::AttributeProto& attr = op.proto.attribute(0);
  ConstValue value;
  if (attr.name() == "value") {
    value = decode_tensor(attr.t(), op.ctx.source + ": node '" + op.node.name + "' (Constant) attribute 'value'");
  } else if (attr.name() == "value_float") {
    value.floats = {attr.f()};
  } else if (attr.name() == "value_floats") {
    value.floats.assign(attr.floats().begin(), attr.floats().end());
    value.dims = {static_cast<int64_t>(value.floats.size())};
  } else if (attr.name() == "value_int") {
    value.is_int = true;
    value.ints = {attr.i()};
  } else {
    value.is_int = true;
    value.ints.assign(attr.ints().begin(), attr.ints().end());
    value.dims = {static_cast<int64_t>(value.ints.size())};
  }
  op.define_constant(std::move(value));
  return false;
}

bool fold_identity(OpContext& op) {
  auto found = op.ctx.constants.find(op.node.inputs.at(0));
  if (found == op.ctx.constants.end()) return true;
  op.define_constant(found->second);
  return false;
}

bool fold_cast(OpContext& op) {
  const ConstValue& source = constant_data(
      op,
      "Cast of a computed value is not supported; terraseg folds Cast only on constants (as in float16 weight files)");
  const int64_t to = op.node.attr_int("to", 0);
  ConstValue value;
  value.dims = source.dims;
  if (to == onnx::TensorProto::FLOAT || to == onnx::TensorProto::DOUBLE || to == onnx::TensorProto::FLOAT16) {
    if (source.is_int) {
      for (int64_t v : source.ints) value.floats.push_back(static_cast<float>(v));
    } else {
      value.floats = source.floats;
    }
    if (to == onnx::TensorProto::FLOAT16) {
      for (float& v : value.floats) v = half_to_float(float_to_half(v));
    }
  } else if (to == onnx::TensorProto::INT64 || to == onnx::TensorProto::INT32) {
    value.is_int = true;
    value.ints = source.is_int ? source.ints : floats_to_ints(op, source.floats);
  } else {
    op.fail("Cast to dtype " + std::to_string(to) + " is not supported (float or int64 only)");
  }
  op.define_constant(std::move(value));
  return false;
}

bool fold_reshape(OpContext& op) {
  const ConstValue& data =
      constant_data(op, "Reshape of a computed value is not supported; terraseg only folds Reshape of constants");
  const std::vector<int64_t> shape = op.int_input(1, "shape");
  const bool allow_zero = op.node.attr_int("allowzero", 0) != 0;
  const std::string where = op.ctx.source + ": node '" + op.node.name + "' (Reshape)";
  Dims dims;
  int64_t inferred = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    int64_t extent = shape[i];
    if (extent == 0 && !allow_zero) {
      if (i >= data.dims.size()) op.fail("shape entry 0 at axis " + std::to_string(i) + " has no input axis to copy");
      extent = data.dims[i];
    }
    if (extent == -1) {
      if (inferred >= 0) op.fail("shape has more than one -1");
      inferred = static_cast<int64_t>(i);
      extent = 1;
    }
    if (extent < 0) op.fail("shape entry " + std::to_string(extent) + " is invalid");
    dims.push_back(extent);
  }
  const auto count = static_cast<int64_t>(data.count());
  if (inferred >= 0) {
    const int64_t known = checked_count(dims, where);
    if (known == 0 || count % known != 0) op.fail("cannot infer the -1 extent of shape " + to_string(dims));
    dims[static_cast<size_t>(inferred)] = count / known;
  }
  if (checked_count(dims, where) != count) {
    op.fail("shape " + to_string(dims) + " does not hold the " + std::to_string(count) + " values of its input");
  }
  ConstValue value = data;
  value.dims = std::move(dims);
  op.define_constant(std::move(value));
  return false;
}

bool fold_flatten(OpContext& op) {
  const ConstValue& data =
      constant_data(op, "Flatten of a computed value is not supported; terraseg only folds Flatten of constants");
  const auto rank = static_cast<int64_t>(data.dims.size());
  int64_t axis = op.node.attr_int("axis", 1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis > rank) op.fail("axis " + std::to_string(op.node.attr_int("axis", 1)) + " is out of range");
  const std::string where = op.ctx.source + ": node '" + op.node.name + "' (Flatten)";
  const auto split = data.dims.begin() + axis;
  ConstValue value = data;
  value.dims = {checked_count(Dims(data.dims.begin(), split), where),
                checked_count(Dims(split, data.dims.end()), where)};
  op.define_constant(std::move(value));
  return false;
}

}  // namespace terraseg::onnx_io
