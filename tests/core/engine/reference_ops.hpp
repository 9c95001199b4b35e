#pragma once
/// Naive reference implementations of the engine's ops (plain loops over NCHW float tensors, ONNX
/// opset-13 semantics) and a node-by-node reference interpreter for whole graphs. Slow on purpose:
/// they exist to be obviously right. Useful to the engine tests and to the ONNX importer tests.
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "terraseg/core/graph.hpp"
#include "terraseg/core/tensor.hpp"

namespace terraseg::test {

/// Spatial parameters shared by convolution and pooling; pads are {top, left, bottom, right}.
struct Window {
  std::array<int64_t, 2> kernel{1, 1};
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 2> dilation{1, 1};
  std::array<int64_t, 4> pads{0, 0, 0, 0};
};

/// x: NCHW, w: [O, I/group, kH, kW], bias: [O] or nullptr.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, const Window& win, int64_t group = 1);
/// x: NCHW, w: [I, O/group, kH, kW]; ONNX output size with output_padding.
Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor* bias, const Window& win, int64_t group,
                        std::array<int64_t, 2> output_padding);
/// Max pooling; `indices` (if given) receives ONNX flat indices ((n*C + c)*H + h)*W + w, as floats.
Tensor max_pool2d(const Tensor& x, const Window& win, bool ceil_mode, Tensor* indices = nullptr);
/// Average pooling with PyTorch/ONNX divisor rules (ceil-mode overhang never counted).
Tensor average_pool2d(const Tensor& x, const Window& win, bool ceil_mode, bool count_include_pad);
/// ONNX MaxUnpool: out.flat[indices[i]] = x[i] in a zero tensor of dims `out`.
Tensor max_unpool2d(const Tensor& x, const Tensor& indices, const Dims& out);
Tensor global_average_pool(const Tensor& x);
Tensor batch_norm(const Tensor& x, const Tensor& scale, const Tensor& bias, const Tensor& mean, const Tensor& var,
                  float epsilon);
Tensor unary(const Tensor& x, const std::function<float(float)>& fn);
/// slope: 1 value or one per channel.
Tensor prelu(const Tensor& x, const Tensor& slope);
/// Numpy-broadcasting elementwise op (ranks aligned at the right).
Tensor binary(const Tensor& a, const Tensor& b, const std::function<float(float, float)>& fn);
Tensor concat(const std::vector<const Tensor*>& inputs, int64_t axis);
/// mode: "constant" | "reflect" | "edge"; pads {top, left, bottom, right}.
Tensor pad2d(const Tensor& x, std::array<int64_t, 4> pads, const std::string& mode, float value);
/// ONNX Resize on H, W. `scale` is the given scale (or out/in when sizes were given); `length` is
/// length_resized of ONNX's coordinate formulas: in * scale, unrounded, when scales were given (as in
/// ONNX's reference implementation), the size itself when sizes were.
Tensor resize2d(const Tensor& x, int64_t out_h, int64_t out_w, std::array<float, 2> scale, std::array<float, 2> length,
                const std::string& mode, const std::string& transform, const std::string& nearest_mode);
Tensor softmax(const Tensor& x, int64_t axis);
/// ArgMax over channels of NCHW; indices as floats.
Tensor argmax_channels(const Tensor& x, bool keepdims);

/// Runs `graph` on `input` node by node with the functions above; returns every value by name
/// (the input and all node outputs, weights excluded). Throws Error for ops it does not know.
std::map<std::string, Tensor> run_reference(const Graph& graph, const Tensor& input);

/// Largest |a - b| over all elements; +inf when dims differ.
float max_abs_diff(const Tensor& a, const Tensor& b);
/// A tensor of `dims` with uniform values in [lo, hi) from a seeded generator.
Tensor random_tensor(const Dims& dims, uint64_t seed, float lo = -1.0F, float hi = 1.0F);

}  // namespace terraseg::test
