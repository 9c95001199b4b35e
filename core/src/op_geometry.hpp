#pragma once
/// Operator geometry shared by the inference engine and the trainer, exactly as ONNX defines it:
/// Resize / Upsample output sizes and source coordinates, ConvTranspose padding.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "terraseg/core/graph.hpp"

namespace terraseg {

struct ResizeGeometry {
  std::string mode;       ///< "nearest" | "linear"
  std::string transform;  ///< coordinate_transformation_mode
  std::string nearest;    ///< nearest_mode
  std::array<float, 2> scale{};
  /// length_resized of ONNX's coordinate formulas: in * scale, unrounded, when scales are given (the
  /// output has floor() of it), the size when sizes are. ONNX's reference implementation and its
  /// resize_downsample_scales_linear_align_corners vector use the unrounded length.
  std::array<float, 2> length{};
  Dims out;
};

/// Reads mode, coordinate transformation, nearest mode and scales/sizes of a Resize or Upsample node
/// for input dims `x` (N, C, H, W); throws Error naming the node for anything else.
ResizeGeometry resize_geometry(const Node& node, const Dims& x);

/// Source coordinate of output index `o` along an axis of `in` samples.
float source_coordinate(int64_t o, int64_t in, float length, float scale, const std::string& transform);

/// ONNX nearest_mode rounding of a source coordinate.
int64_t nearest_index(float x, const std::string& mode);

/// Nearest mode: the source index (clamped) of every output index along spatial axis `axis` (0 = H, 1 = W).
std::vector<int64_t> nearest_table(const ResizeGeometry& g, int64_t in, size_t axis);

/// Per-axis sampling table of linear mode: for every output index the two source indices (clamped,
/// as ONNX clamps the coordinate) and the weight of the second.
struct LinearTable {
  std::vector<int64_t> i0, i1;
  std::vector<float> w1;
};

/// Linear mode along spatial axis `axis` (0 = H, 1 = W) of an input `in` samples long.
LinearTable linear_table(const ResizeGeometry& g, int64_t in, size_t axis);
/// The table of either mode: nearest as a linear table whose second weight is zero.
LinearTable resize_table(const ResizeGeometry& g, int64_t in, size_t axis);
/// Resizes plain N,C,H,W `x` (dims `x_dims`) into `y` through the row and column tables (one plane
/// per OpenMP iteration): the Resize of the inference engine and the trainer's forward pass.
void resize_planes(const float* x, const Dims& x_dims, const LinearTable& rows, const LinearTable& cols, float* y);

/// ConvTranspose pads {begin H, begin W, end H, end W}: from `output_shape` (its last two values) or
/// SAME_UPPER / SAME_LOWER auto_pad by ONNX's total-padding rule, else the explicit `pads` (NOTSET)
/// or zeros (VALID). `extent` is the dilated kernel size; throws Error naming the node when
/// output_shape is larger than the operator can produce.
std::array<int64_t, 4> transposed_conv_pads(const Node& node, const Dims& x, std::array<int64_t, 2> stride,
                                            std::array<int64_t, 2> output_padding, std::array<int64_t, 2> extent);

}  // namespace terraseg
