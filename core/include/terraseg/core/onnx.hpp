#pragma once
/// ONNX is terraseg's model format. Import normalises opsets 9-17 into the IR (see graph.hpp);
/// export writes opset 13 with the model card in metadata_props["terraseg.model_card"].
///
/// Import accepts Conv, ConvTranspose, MaxPool (optionally with its Indices output), MaxUnpool,
/// AveragePool, GlobalAveragePool, BatchNormalization, Relu, PRelu, LeakyRelu, Elu, Sigmoid, Tanh,
/// Clip, Add, Sub, Mul, Div, Concat, Pad, Resize, Upsample (becomes Resize), Softmax, ArgMax,
/// Identity and Dropout (both become Identity), and folds Constant, and Reshape / Flatten / Cast /
/// Identity on constants. Constant operands that are really parameters (Pad pads, Resize
/// scales/sizes, MaxUnpool output_shape, Clip min/max) become attributes; float, double and float16
/// initialisers become float32 weights.
#include <string>

#include "terraseg/core/graph.hpp"

namespace terraseg {

/// How `save_onnx` stores weights.
struct OnnxSaveOptions {
  /// Store weights as float16 (half the file size). Each weight is then an fp16 initialiser
  /// followed by a Cast to float, so the file stays valid ONNX for every runtime; `load_onnx`
  /// folds the Cast and gives float32 weights again (rounded to fp16 precision).
  bool fp16_weights = false;
};

/// Throws Error naming the file (and node/op) when the file is unreadable, not ONNX, or uses an
/// unsupported op or attribute.
Graph load_onnx(const std::string& path);
/// Same, from bytes in memory (`source` names them in errors). Never crashes on hostile input.
Graph load_onnx_bytes(const std::string& bytes, const std::string& source);
/// Writes to `path` via a temporary name and rename, so `path` never holds a partial file.
void save_onnx(const Graph& graph, const std::string& path);
void save_onnx(const Graph& graph, const std::string& path, const OnnxSaveOptions& options);

}  // namespace terraseg
