// TensorProto decoding and encoding, and float16 conversion.
#include <bit>
#include <cmath>
#include <cstring>

#include "onnx_detail.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg::onnx_io {
namespace {

// ONNX raw_data is little-endian; memcpy below relies on the host matching.
static_assert(std::endian::native == std::endian::little, "ONNX raw_data decoding assumes a little-endian host");

template <typename Raw>
std::vector<Raw> raw_values(const onnx::TensorProto& proto, int64_t count, const std::string& where) {
  const std::string& raw = proto.raw_data();
  if (raw.size() != static_cast<size_t>(count) * sizeof(Raw)) {
    // Braces: in a template, clang-tidy 14 takes Error(...) for a C-style cast.
    throw Error{where + ": raw data holds " + std::to_string(raw.size()) + " bytes, but its dims need " +
                std::to_string(count) + " values of " + std::to_string(sizeof(Raw)) + " bytes"};
  }
  std::vector<Raw> values(static_cast<size_t>(count));
  if (count != 0) std::memcpy(values.data(), raw.data(), raw.size());
  return values;
}

template <typename Field>
void check_field_size(const Field& field, int64_t count, const std::string& where) {
  if (field.size() != count) {
    throw Error(where + ": holds " + std::to_string(field.size()) + " values, but its dims need " +
                std::to_string(count));
  }
}

std::vector<float> decode_floats(const onnx::TensorProto& proto, int64_t count, const std::string& where) {
  std::vector<float> values;
  switch (proto.data_type()) {
    case onnx::TensorProto::FLOAT:
      if (proto.has_raw_data()) return raw_values<float>(proto, count, where);
      check_field_size(proto.float_data(), count, where);
      return {proto.float_data().begin(), proto.float_data().end()};
    case onnx::TensorProto::DOUBLE: {
      std::vector<double> wide;
      if (proto.has_raw_data()) {
        wide = raw_values<double>(proto, count, where);
      } else {
        check_field_size(proto.double_data(), count, where);
        wide.assign(proto.double_data().begin(), proto.double_data().end());
      }
      for (double v : wide) values.push_back(static_cast<float>(v));
      return values;
    }
    default: {  // FLOAT16: raw pairs of bytes, or one value per int32_data entry
      std::vector<uint16_t> halves;
      if (proto.has_raw_data()) {
        halves = raw_values<uint16_t>(proto, count, where);
      } else {
        check_field_size(proto.int32_data(), count, where);
        for (int32_t bits : proto.int32_data()) halves.push_back(static_cast<uint16_t>(bits));
      }
      for (uint16_t h : halves) values.push_back(half_to_float(h));
      return values;
    }
  }
}

std::vector<int64_t> decode_ints(const onnx::TensorProto& proto, int64_t count, const std::string& where) {
  if (proto.data_type() == onnx::TensorProto::INT64) {
    if (proto.has_raw_data()) return raw_values<int64_t>(proto, count, where);
    check_field_size(proto.int64_data(), count, where);
    return {proto.int64_data().begin(), proto.int64_data().end()};
  }
  if (proto.data_type() == onnx::TensorProto::BOOL && proto.has_raw_data()) {
    const std::vector<uint8_t> flags = raw_values<uint8_t>(proto, count, where);
    return {flags.begin(), flags.end()};
  }
  if (proto.has_raw_data()) {
    const std::vector<int32_t> narrow = raw_values<int32_t>(proto, count, where);
    return {narrow.begin(), narrow.end()};
  }
  check_field_size(proto.int32_data(), count, where);
  return {proto.int32_data().begin(), proto.int32_data().end()};
}

std::string dtype_name(int32_t data_type) {
  if (onnx::TensorProto::DataType_IsValid(data_type)) {
    return onnx::TensorProto::DataType_Name(static_cast<onnx::TensorProto::DataType>(data_type));
  }
  return "unknown dtype " + std::to_string(data_type);
}

}  // namespace

int64_t checked_count(const Dims& dims, const std::string& where) {
  int64_t count = 1;
  for (int64_t d : dims) {
    if (d < 0) throw Error(where + ": dimension " + std::to_string(d) + " is negative");
    if (d != 0 && count > kMaxElements / d) {
      throw Error(where + ": dims " + to_string(dims) + " exceed the largest tensor terraseg reads");
    }
    count *= d;
  }
  return count;
}

ConstValue decode_tensor(const onnx::TensorProto& proto, const std::string& where) {
  if (proto.data_location() == onnx::TensorProto::EXTERNAL || proto.external_data_size() != 0) {
    throw Error(where +
                ": tensor data is stored outside the model file; save the model with its weights "
                "inside (onnx.save(model, path, save_as_external_data=False))");
  }
  if (proto.has_segment()) throw Error(where + ": segmented tensors are not supported");
  ConstValue value;
  value.dims.assign(proto.dims().begin(), proto.dims().end());
  const int64_t count = checked_count(value.dims, where);
  switch (proto.data_type()) {
    case onnx::TensorProto::FLOAT:
    case onnx::TensorProto::DOUBLE:
    case onnx::TensorProto::FLOAT16:
      value.floats = decode_floats(proto, count, where);
      return value;
    case onnx::TensorProto::INT64:
    case onnx::TensorProto::INT32:
    case onnx::TensorProto::BOOL:
      value.is_int = true;
      value.ints = decode_ints(proto, count, where);
      return value;
    default:
      throw Error(where + ": dtype " + dtype_name(proto.data_type()) +
                  " is not supported (weights must be float, double or float16; shapes int32 or int64; flags bool)");
  }
}

void encode_float_tensor(const std::string& name, const Tensor& tensor, bool fp16, onnx::TensorProto& proto) {
  proto.set_name(name);
  for (int64_t d : tensor.dims()) proto.add_dims(d);
  const std::span<const float> values = tensor.values();
  if (fp16) {
    proto.set_data_type(onnx::TensorProto::FLOAT16);
    std::vector<uint16_t> halves;
    halves.reserve(values.size());
    for (float v : values) halves.push_back(float_to_half(v));
    proto.set_raw_data(halves.data(), halves.size() * sizeof(uint16_t));
  } else {
    proto.set_data_type(onnx::TensorProto::FLOAT);
    proto.set_raw_data(values.data(), values.size() * sizeof(float));
  }
}

void encode_int64_tensor(const std::string& name, const std::vector<int64_t>& values, onnx::TensorProto& proto) {
  proto.set_name(name);
  proto.set_data_type(onnx::TensorProto::INT64);
  proto.add_dims(static_cast<int64_t>(values.size()));
  proto.set_raw_data(values.data(), values.size() * sizeof(int64_t));
}

void encode_float_values(const std::string& name, const std::vector<float>& values, bool scalar,
                         onnx::TensorProto& proto) {
  proto.set_name(name);
  proto.set_data_type(onnx::TensorProto::FLOAT);
  if (!scalar) proto.add_dims(static_cast<int64_t>(values.size()));
  proto.set_raw_data(values.data(), values.size() * sizeof(float));
}

float half_to_float(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000U) << 16U;
  const uint32_t exponent = (bits >> 10U) & 0x1FU;
  const uint32_t mantissa = bits & 0x3FFU;
  if (exponent == 0x1F) return std::bit_cast<float>(sign | 0x7F800000U | (mantissa << 13U));
  if (exponent != 0) return std::bit_cast<float>(sign | ((exponent + 112U) << 23U) | (mantissa << 13U));
  // Zero or subnormal: mantissa x 2^-24, exact in float.
  const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
  return sign != 0 ? -magnitude : magnitude;
}

uint16_t float_to_half(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  const auto sign = static_cast<uint16_t>((bits >> 16U) & 0x8000U);
  const uint32_t magnitude = bits & 0x7FFFFFFFU;
  if (magnitude > 0x7F800000U) return static_cast<uint16_t>(sign | 0x7E00U);  // NaN stays NaN
  // 65520 and above round to infinity (65504 is the largest half).
  if (magnitude >= 0x477FF000U) return static_cast<uint16_t>(sign | 0x7C00U);
  if (magnitude < 0x38800000U) {
    // Below the smallest normal half (2^-14): a subnormal in units of 2^-24, rounded to nearest even.
    const float units = std::bit_cast<float>(magnitude) * 16777216.0F;
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(std::nearbyint(units)));
  }
  uint32_t half = (magnitude >> 13U) - (112U << 10U);
  const uint32_t dropped = magnitude & 0x1FFFU;
  if (dropped > 0x1000U || (dropped == 0x1000U && (half & 1U) != 0)) ++half;
  return static_cast<uint16_t>(sign | half);
}

}  // namespace terraseg::onnx_io
