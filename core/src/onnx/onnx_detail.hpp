#pragma once
// Internals of ONNX import and export. Protobuf types never leave core/src/onnx.
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "terraseg/core/graph.hpp"
#include "terraseg/core/tensor.hpp"

namespace terraseg::onnx_io {

/// Oldest and newest default-domain opsets the importer understands.
inline constexpr int64_t kMinOpset = 9;
inline constexpr int64_t kMaxOpset = 17;
/// The opset the exporter writes.
inline constexpr int64_t kExportOpset = 13;
/// Metadata key of the model card JSON.
inline constexpr const char* kCardKey = "terraseg.model_card";
/// Largest tensor the importer decodes (elements); bigger ones cannot be ours and would only
/// exhaust memory.
inline constexpr int64_t kMaxElements = int64_t{1} << 31;

/// A constant operand: an initialiser or a folded Constant node. Float data for weights, int64 for
/// shape-like operands (pads, sizes, shape) that the importer turns into attributes.
struct ConstValue {
  Dims dims;
  bool is_int = false;
  std::vector<float> floats;
  std::vector<int64_t> ints;

  size_t count() const { return is_int ? ints.size() : floats.size(); }
};

/// Decodes float, double, float16, int32 and int64 tensors; `where` names the tensor in errors.
/// Throws Error for other dtypes, external data, or data whose size does not match the dims.
ConstValue decode_tensor(const onnx::TensorProto& proto, const std::string& where);
/// Writes `tensor` as little-endian raw data, float32 or (when `fp16`) float16.
void encode_float_tensor(const std::string& name, const Tensor& tensor, bool fp16, onnx::TensorProto& proto);
/// Writes a 1-D int64 tensor.
void encode_int64_tensor(const std::string& name, const std::vector<int64_t>& values, onnx::TensorProto& proto);
/// Writes a 1-D float tensor (or a scalar when `scalar`).
void encode_float_values(const std::string& name, const std::vector<float>& values, bool scalar,
                         onnx::TensorProto& proto);

/// IEEE 754 binary16 conversions; rounding is to nearest even.
float half_to_float(uint16_t bits);
uint16_t float_to_half(float value);

/// Product of `dims`; throws Error naming `where` when an extent is negative or the product
/// exceeds kMaxElements.
int64_t checked_count(const Dims& dims, const std::string& where);

/// State of one import: the file, its opset, the constants seen so far and the rank of each value
/// (-1 when unknown), which Softmax needs to tell whether old-opset flattening changes results.
struct ImportContext {
  std::string source;
  int64_t opset = 0;
  std::map<std::string, ConstValue> constants;
  std::map<std::string, int64_t> ranks;
  std::set<std::string> node_names;
  /// Outputs the IR drops (e.g. Dropout's mask), with why, for the message when something reads one.
  std::map<std::string, std::string> dropped;
};

/// Converts one ONNX node into an IR node; nullopt when it was folded into `ctx.constants`.
/// Throws Error naming the file, node and op for anything unsupported.
std::optional<Node> normalise_node(ImportContext& ctx, const onnx::NodeProto& proto, size_t index);

/// One node being normalised: the node so far and where it came from, for messages.
struct OpContext {
  ImportContext& ctx;
  Node& node;
  const onnx::NodeProto& proto;

  /// Throws Error "<file>: node '<name>' (<op>): <message>".
  [[noreturn]] void fail(const std::string& message) const;
  /// The constant behind input `index`, nullptr when the input is absent or empty. Throws when
  /// the input is present but computed at run time (`what` names it).
  const ConstValue* constant_input(size_t index, const std::string& what) const;
  std::vector<int64_t> int_input(size_t index, const std::string& what) const;
  std::vector<float> float_input(size_t index, const std::string& what) const;
  /// Keeps only the first `count` inputs (the rest became attributes or are ignored).
  void keep_inputs(size_t count) const;
  /// Removes outputs from index `first` on; a later reader of one fails, quoting `why`.
  void drop_outputs(size_t first, const std::string& why) const;
  /// Records `value` as the constant behind output 0; throws when that name is already defined.
  void define_constant(ConstValue value) const;
};

/// Op-specific normalisation: returns false when the node folded into constants (and is dropped).
using OpHook = bool (*)(OpContext& op);

bool fold_constant(OpContext& op);
bool fold_identity(OpContext& op);
bool fold_cast(OpContext& op);
bool fold_reshape(OpContext& op);
bool fold_flatten(OpContext& op);
bool normalise_pad(OpContext& op);
bool normalise_resize(OpContext& op);
bool normalise_upsample(OpContext& op);
bool normalise_max_unpool(OpContext& op);
bool normalise_softmax(OpContext& op);
bool normalise_dropout(OpContext& op);
bool normalise_batch_norm(OpContext& op);
bool normalise_clip(OpContext& op);

}  // namespace terraseg::onnx_io
