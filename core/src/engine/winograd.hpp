#pragma once
/// Internal to the engine: Winograd F(4x4, 3x3) convolution for dense 3x3 stride-1 convolutions on
/// nChw8c activations (the U-Net and SegNet bulk). oneDNN 2.6 has Winograd only for AVX-512; on AVX2
/// its direct kernels run at the f32 matmul ceiling, so fewer multiplies is the only way further.
///
/// Each 4x4 output tile comes from a 6x6 input tile: V = B^T d B (per input channel), then for each of
/// the 36 positions xi one GEMM M[xi] = V[xi] (tiles x C_in) * U[xi] (C_in x C_out) with
/// U = G g G^T (weights, transformed at plan time), then Y = A^T M A (per output channel) plus bias
/// and the fused post-ops. 36 multiplies per 16 outputs instead of 144: 4x fewer, paid for in
/// transform passes and 4x larger weights. Tiles are processed in groups sized so that the group's
/// V and M stay in cache; each thread works on its own groups (or, when the tiles are few and the
/// weights large, on its own slice of the output channels), so there is no barrier inside.
#include <cstdint>

namespace terraseg::engine {

constexpr int64_t kWinogradTile = 4;     ///< output tile edge
constexpr int64_t kWinogradInput = 6;    ///< input tile edge: tile + kernel - 1
constexpr int64_t kWinogradPoints = 36;  ///< transform positions per tile: kWinogradInput^2

/// Output tiles of an out_h x out_w image (edge tiles partial).
inline int64_t winograd_tiles(int64_t out_h, int64_t out_w) {
  return ((out_h + kWinogradTile - 1) / kWinogradTile) * ((out_w + kWinogradTile - 1) / kWinogradTile);
}

/// One fused post-op of a Winograd convolution, applied in order after the bias.
struct WinogradPostOp {
  enum class Kind { relu, sum };
  Kind kind = Kind::relu;
  float alpha = 0.0F;           ///< relu: slope for negative values (LeakyRelu), 0 for Relu
  int residual = -1;            ///< sum: plan value id of the addend (nChw8c, dst's dims)
  const float* data = nullptr;  ///< sum: bound at execution
};

/// Geometry and buffers of one execution (all activations nChw8c, channels multiples of 8).
struct WinogradRun {
  int64_t batch = 0, in_channels = 0, out_channels = 0;
  int64_t in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  int64_t pad_top = 0, pad_left = 0;
  int64_t group_tiles = 0;  ///< tiles one thread transforms and multiplies at once
  int64_t slices = 1;       ///< output channels split this many ways (layers with few tiles)
  int64_t threads = 1;      ///< OpenMP threads; the scratch holds one part per thread
  const float* src = nullptr;
  const float* weights = nullptr;  ///< U: 36 x C_in x C_out
  const float* bias = nullptr;     ///< C_out values
  float* dst = nullptr;
  float* scratch = nullptr;                  ///< threads x winograd_thread_scratch(...)
  const WinogradPostOp* post_ops = nullptr;  ///< applied in order after the bias
  int64_t post_op_count = 0;
};

/// Floats between the 36 matrices of a group's V (width = C_in) or M (width = C_out): rows x width
/// rounded up to an odd number of 64-byte lines. A power-of-two stride would put the 36 vectors one
/// tile reads or writes into the same cache set (measured ~2x slower transforms at 64 channels).
inline int64_t winograd_matrix_stride(int64_t rows, int64_t width) {
  int64_t lines = (rows * width + 15) / 16;
  if (lines % 2 == 0) ++lines;
  return lines * 16;
}
/// Scratch floats of one thread: a group's V (all input channels) and M (one output-channel slice).
inline int64_t winograd_thread_scratch(int64_t group_tiles, int64_t in_channels, int64_t out_channels, int64_t slices) {
  const int64_t widest = (out_channels / 8 + slices - 1) / slices * 8;
  return kWinogradPoints *
         (winograd_matrix_stride(group_tiles, in_channels) + winograd_matrix_stride(group_tiles, widest));
}

/// True when this CPU has the AVX2 and FMA instructions the kernels are compiled for.
bool winograd_supported();
/// Runs the convolution (OpenMP threads; GEMMs through oneDNN's sgemm). Returns 0, or the failing
/// sgemm's dnnl_status_t. (The kernel file is compiled for AVX2 and keeps to plain C++ and intrinsics:
/// library templates instantiated there could be picked by the linker for code meant to run anywhere.)
int winograd_execute(const WinogradRun& run);

}  // namespace terraseg::engine
