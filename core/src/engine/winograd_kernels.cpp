// The execution half of the Winograd F(4x4, 3x3) convolution (see winograd.hpp). This file alone is
// compiled with -mavx2 -mfma; the planner calls into it only when winograd_supported() says the CPU
// has both. One __m256 holds the 8 channels of an nChw8c block, so every transform is plain vector
// arithmetic over whole blocks.
#include <immintrin.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <cstddef>

#include "engine/winograd.hpp"

namespace terraseg::engine {
namespace {

inline int64_t min_of(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t max_of(int64_t a, int64_t b) { return a > b ? a : b; }

constexpr int64_t kTile = kWinogradTile;
constexpr int64_t kInput = kWinogradInput;
constexpr int64_t kPoints = kWinogradPoints;

/// r = B^T d along one axis of a 6x6 tile (d and r strided by `ds` and `rs` vectors).
/// B^T rows: [4 0 -5 0 1 0] [0 -4 -4 1 1 0] [0 4 -4 -1 1 0] [0 -2 -1 2 1 0] [0 2 -1 -2 1 0] [0 4 0 -5 0 1].
inline void input_1d(const __m256* d, std::ptrdiff_t ds, __m256* r, std::ptrdiff_t rs) {
  const __m256 two = _mm256_set1_ps(2.0F);
  const __m256 four = _mm256_set1_ps(4.0F);
  const __m256 five = _mm256_set1_ps(5.0F);
  const __m256 d0 = d[0], d1 = d[ds], d2 = d[2 * ds], d3 = d[3 * ds], d4 = d[4 * ds], d5 = d[5 * ds];
  r[0] = _mm256_fmadd_ps(four, d0, _mm256_fnmadd_ps(five, d2, d4));
  r[rs] = _mm256_fnmadd_ps(four, _mm256_add_ps(d1, d2), _mm256_add_ps(d3, d4));
  r[2 * rs] = _mm256_fmadd_ps(four, _mm256_sub_ps(d1, d2), _mm256_sub_ps(d4, d3));
  r[3 * rs] = _mm256_fmadd_ps(two, _mm256_sub_ps(d3, d1), _mm256_sub_ps(d4, d2));
  r[4 * rs] = _mm256_fmadd_ps(two, _mm256_sub_ps(d1, d3), _mm256_sub_ps(d4, d2));
  r[5 * rs] = _mm256_fmadd_ps(four, d1, _mm256_fnmadd_ps(five, d3, d5));
}

/// y = A^T m along one axis (m strided by `ms`, y by `ys`).
/// A^T rows: [1 1 1 1 1 0] [0 1 -1 2 -2 0] [0 1 1 4 4 0] [0 1 -1 8 -8 1].
inline void output_1d(const __m256* m, std::ptrdiff_t ms, __m256* y, std::ptrdiff_t ys) {
  const __m256 two = _mm256_set1_ps(2.0F);
  const __m256 four = _mm256_set1_ps(4.0F);
  const __m256 eight = _mm256_set1_ps(8.0F);
  const __m256 s12 = _mm256_add_ps(m[ms], m[2 * ms]);
  const __m256 d12 = _mm256_sub_ps(m[ms], m[2 * ms]);
  const __m256 s34 = _mm256_add_ps(m[3 * ms], m[4 * ms]);
  const __m256 d34 = _mm256_sub_ps(m[3 * ms], m[4 * ms]);
  y[0] = _mm256_add_ps(_mm256_add_ps(m[0], s12), s34);
  y[ys] = _mm256_fmadd_ps(two, d34, d12);
  y[2 * ys] = _mm256_fmadd_ps(four, s34, s12);
  y[3 * ys] = _mm256_add_ps(_mm256_fmadd_ps(eight, d34, d12), m[5 * ms]);
}

struct Geometry {
  int64_t in_blocks, out_blocks, tiles_h, tiles_w, tiles;
};

/// Transforms input tile `tile` (flat over batch x tiles_h x tiles_w) for channel block `cb` into
/// v[xi * v_xi], xi = 0..35.
inline void input_tile(const WinogradRun& r, const Geometry& g, int64_t tile, int64_t cb, float* v, int64_t v_xi) {
  const int64_t n = tile / (g.tiles_h * g.tiles_w);
  const int64_t rest = tile % (g.tiles_h * g.tiles_w);
  const int64_t y0 = (rest / g.tiles_w) * kTile - r.pad_top;
  const int64_t x0 = (rest % g.tiles_w) * kTile - r.pad_left;
  const float* plane = r.src + ((n * g.in_blocks + cb) * r.in_h) * r.in_w * 8;
  __m256 d[kPoints];
  if (y0 >= 0 && x0 >= 0 && y0 + kInput <= r.in_h && x0 + kInput <= r.in_w) {
    for (int64_t i = 0; i < kInput; ++i) {
      const float* row = plane + ((y0 + i) * r.in_w + x0) * 8;
      for (int64_t j = 0; j < kInput; ++j) d[i * kInput + j] = _mm256_loadu_ps(row + j * 8);
    }
  } else {
    for (int64_t i = 0; i < kInput; ++i) {
      const int64_t y = y0 + i;
      for (int64_t j = 0; j < kInput; ++j) {
        const int64_t x = x0 + j;
        d[i * kInput + j] = (y >= 0 && y < r.in_h && x >= 0 && x < r.in_w)
                                ? _mm256_loadu_ps(plane + (y * r.in_w + x) * 8)
                                : _mm256_setzero_ps();
      }
    }
  }
  __m256 t[kPoints];
  for (int j = 0; j < kInput; ++j) input_1d(d + j, kInput, t + j, kInput);  // columns: B^T d
  __m256 out[kPoints];
  for (int i = 0; i < kInput; ++i) input_1d(t + i * kInput, 1, out + i * kInput, 1);  // rows: (B^T d) B
  for (int xi = 0; xi < kPoints; ++xi) _mm256_storeu_ps(v + xi * v_xi, out[xi]);
}

/// Inverse-transforms tile `tile` of output block `ob` from m[xi * m_xi], adds bias and the
/// post-ops, and stores the pixels that fall inside the output.
inline void output_tile(const WinogradRun& r, const Geometry& g, int64_t tile, int64_t ob, const float* m,
                        int64_t m_xi) {
  const int64_t n = tile / (g.tiles_h * g.tiles_w);
  const int64_t rest = tile % (g.tiles_h * g.tiles_w);
  const int64_t y0 = (rest / g.tiles_w) * kTile;
  const int64_t x0 = (rest % g.tiles_w) * kTile;
  __m256 in[kPoints];
  for (int xi = 0; xi < kPoints; ++xi) in[xi] = _mm256_loadu_ps(m + xi * m_xi);
  __m256 s[kTile * kInput];
  for (int k = 0; k < kInput; ++k) output_1d(in + k, kInput, s + k, kInput);  // columns: A^T m
  __m256 y[kTile * kTile];
  for (int i = 0; i < kTile; ++i) output_1d(s + i * kInput, 1, y + i * kTile, 1);  // rows: (A^T m) A
  const __m256 bias = _mm256_loadu_ps(r.bias + ob * 8);
  const __m256 zero = _mm256_setzero_ps();
  const int64_t plane = ((n * g.out_blocks + ob) * r.out_h) * r.out_w * 8;
  const int64_t rows = min_of(kTile, r.out_h - y0);
  const int64_t cols = min_of(kTile, r.out_w - x0);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      const int64_t at = plane + ((y0 + i) * r.out_w + x0 + j) * 8;
      __m256 value = _mm256_add_ps(y[i * kTile + j], bias);
      for (int64_t k = 0; k < r.post_op_count; ++k) {
        const WinogradPostOp& post = r.post_ops[k];
        if (post.kind == WinogradPostOp::Kind::sum) {
          value = _mm256_add_ps(value, _mm256_loadu_ps(post.data + at));
        } else if (post.alpha == 0.0F) {
          value = _mm256_max_ps(value, zero);
        } else {
          value = _mm256_fmadd_ps(_mm256_set1_ps(post.alpha), _mm256_min_ps(value, zero), _mm256_max_ps(value, zero));
        }
      }
      _mm256_storeu_ps(r.dst + at, value);
    }
  }
}

}  // namespace

int winograd_execute(const WinogradRun& run) {
  Geometry g{};
  g.in_blocks = run.in_channels / 8;
  g.out_blocks = run.out_channels / 8;
  g.tiles_h = (run.out_h + kTile - 1) / kTile;
  g.tiles_w = (run.out_w + kTile - 1) / kTile;
  g.tiles = run.batch * g.tiles_h * g.tiles_w;
  const int64_t group = max_of(1, min_of(run.group_tiles, g.tiles));
  const int64_t groups = (g.tiles + group - 1) / group;
  const int64_t slices = max_of(1, min_of(run.slices, g.out_blocks));
  const int64_t items = groups * slices;
  const int64_t per_thread = winograd_thread_scratch(group, run.in_channels, run.out_channels, slices);
  int failed = 0;
  // Work items are (tile group, output-channel slice) pairs, dealt round-robin: no barrier inside,
  // each thread transforms a group into its own V once and runs its GEMMs single-threaded.
#pragma omp parallel num_threads(static_cast <int>(max_of(1, run.threads)))
  {
    const int64_t thread = omp_get_thread_num();
    const int64_t threads = omp_get_num_threads();
    float* v = run.scratch + thread * per_thread;
    float* m = v + kPoints * winograd_matrix_stride(group, run.in_channels);
    int64_t transformed = -1;
    for (int64_t item = thread; item < items; item += threads) {
      const int64_t index = item / slices;
      const int64_t slice = item % slices;
      const int64_t first = index * group;
      const int64_t count = min_of(group, g.tiles - first);
      const int64_t v_xi = winograd_matrix_stride(count, run.in_channels);
      if (index != transformed) {
        // Channel-block-major: consecutive tiles read neighbouring pixels of one plane.
        for (int64_t cb = 0; cb < g.in_blocks; ++cb) {
          for (int64_t t = 0; t < count; ++t) input_tile(run, g, first + t, cb, v + t * run.in_channels + cb * 8, v_xi);
        }
        transformed = index;
      }
      const int64_t ob0 = g.out_blocks * slice / slices;
      const int64_t ob1 = g.out_blocks * (slice + 1) / slices;
      const int64_t width = (ob1 - ob0) * 8;
      const int64_t m_xi = winograd_matrix_stride(count, width);
      for (int64_t xi = 0; xi < kPoints; ++xi) {
        // Called inside a parallel region, oneDNN's sgemm runs on the calling thread.
        const dnnl_status_t status =
            dnnl_sgemm('N', 'N', count, width, run.in_channels, 1.0F, v + xi * v_xi, run.in_channels,
                       run.weights + xi * run.in_channels * run.out_channels + ob0 * 8, run.out_channels, 0.0F,
                       m + xi * m_xi, width);
        if (status != dnnl_success) {
#pragma omp atomic write
          failed = static_cast<int>(status);
        }
      }
      for (int64_t ob = ob0; ob < ob1; ++ob) {
        for (int64_t t = 0; t < count; ++t) output_tile(run, g, first + t, ob, m + t * width + (ob - ob0) * 8, m_xi);
      }
    }
  }
  return failed;
}

}  // namespace terraseg::engine
