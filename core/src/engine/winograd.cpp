// The planning half of the Winograd F(4x4, 3x3) convolution (see winograd.hpp): which convolutions
// take it, the weight transform (once per plan, in double precision), the tile-group size and the
// custom step. The kernels are in winograd_kernels.cpp.
#include "engine/winograd.hpp"

#include <omp.h>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "engine/ops.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg::engine {
namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

/// Below these channel counts the transforms cost more than the multiplies they save.
constexpr int64_t kMinChannels = 16;
/// Bytes of one thread's V + M aimed for: within a core's L2 (1 MiB on the reference EPYC).
constexpr int64_t kGroupBytes = int64_t{768} << 10;
/// At least this many tiles per group, so that each GEMM has rows enough to run at speed and the
/// weights, re-read once per group, are amortised over them.
constexpr int64_t kMinGroupTiles = 64;

/// U[xi][i][o] = (G g_oi G^T)[xi] for OIHW 3x3 weights g, computed in double.
/// G rows: [1/4 0 0] [-1/6 -1/6 -1/6] [-1/6 1/6 -1/6] [1/24 1/12 1/6] [1/24 -1/12 1/6] [0 0 1].
std::vector<float> transform_weights(const Tensor& w) {
  static constexpr std::array<std::array<double, 3>, 6> G{{{1.0 / 4, 0.0, 0.0},
                                                           {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                                           {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                                           {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                                           {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                                           {0.0, 0.0, 1.0}}};
  const int64_t out = w.dim(0);
  const int64_t in = w.dim(1);
  std::vector<float> u(static_cast<size_t>(kWinogradPoints * in * out));
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t i = 0; i < in; ++i) {
      const float* g = w.data() + (o * in + i) * 9;
      std::array<std::array<double, 3>, 6> gg{};  // G g
      for (int r = 0; r < 6; ++r) {
        for (int c = 0; c < 3; ++c) {
          for (int k = 0; k < 3; ++k) gg[r][c] += G[r][k] * g[k * 3 + c];
        }
      }
      for (int r = 0; r < 6; ++r) {
        for (int c = 0; c < 6; ++c) {
          double value = 0.0;
          for (int k = 0; k < 3; ++k) value += gg[r][k] * G[c][k];
          u[static_cast<size_t>(((r * 6 + c) * in + i) * out + o)] = static_cast<float>(value);
        }
      }
    }
  }
  return u;
}

/// How the tiles are shared between threads: groups of tiles near kGroupBytes of V + M per thread;
/// but when the layer's weights outweigh all of its transformed tiles (deep layers, few tiles),
/// re-reading U per group would cost more than the cache saves: then one group, and each thread
/// takes a slice of the output channels (and so only its slice of U).
void share_tiles(WinogradRun& run, int64_t tiles) {
  const int64_t in = run.in_channels;
  const int64_t out = run.out_channels;
  const int64_t per_tile = kWinogradPoints * (in + out) * static_cast<int64_t>(sizeof(float));
  const int64_t weights = kWinogradPoints * in * out * static_cast<int64_t>(sizeof(float));
  if (weights >= tiles * per_tile && run.threads > 1) {
    run.group_tiles = tiles;
    run.slices = std::min(run.threads, out / 8);
    return;
  }
  const int64_t per_thread = (tiles + run.threads - 1) / run.threads;  // keep every thread busy
  run.group_tiles = std::min(std::max(kMinGroupTiles, kGroupBytes / per_tile), per_thread);
  run.group_tiles = std::min(run.group_tiles, tiles);
  run.slices = 1;
}

}  // namespace

#ifdef TERRASEG_WINOGRAD_KERNELS
bool winograd_supported() {
  static const bool supported = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return supported;
}
#else
// Not an x86-64 build: no kernels, and plan_winograd_conv never plans a step that would call them.
bool winograd_supported() { return false; }
int winograd_execute(const WinogradRun& /*run*/) { return -1; }
#endif

int plan_winograd_conv(PlanBuilder& builder, const WinogradConv& conv, size_t& fused) {
  const Node& node = conv.pn->node;
  const Dims x = builder.dims(conv.src);
  const Dims& w = conv.weights->dims();
  const int64_t in = x[1];
  const int64_t out = w[0];
  if (!builder.winograd() || builder.channels_last() || !winograd_supported() || in % 8 != 0 || out % 8 != 0 ||
      in < kMinChannels || out < kMinChannels) {
    return -1;
  }
  const auto blocked = [](const Dims& d) { return dnnl::memory::desc(to_dnnl(d), dt::f32, tag::nChw8c); };
  WinogradRun run;
  run.batch = x[0];
  run.in_channels = in;
  run.out_channels = out;
  run.in_h = x[2];
  run.in_w = x[3];
  run.out_h = conv.dst[2];
  run.out_w = conv.dst[3];
  run.pad_top = conv.pad_top;
  run.pad_left = conv.pad_left;
  run.threads = std::max(1, omp_get_max_threads());
  share_tiles(run, run.batch * winograd_tiles(run.out_h, run.out_w));

  std::vector<int> touched;
  const int src = builder.convert(conv.src, blocked(x));
  const std::vector<float> u = transform_weights(*conv.weights);
  const int weights = builder.add_constant(dnnl::memory::desc({kWinogradPoints * in * out}, dt::f32, tag::a), u.data(),
                                           Dims{kWinogradPoints * in * out});
  const std::vector<float> zeros(static_cast<size_t>(out), 0.0F);
  const int bias = builder.add_constant(dnnl::memory::desc({out}, dt::f32, tag::a),
                                        conv.bias ? conv.bias->data() : zeros.data(), Dims{out});
  // Fuse the leading Relu/LeakyRelu and same-shape residual sums; the rest run as separate steps.
  std::vector<WinogradPostOp> post_ops;
  fused = 0;
  for (const PostOp& post : conv.pn->post_ops) {
    WinogradPostOp op;
    if (post.kind == PostOp::Kind::sum) {
      const int residual = builder.lookup(post.residual, node);
      if (builder.dims(residual) != conv.dst) break;
      op.kind = WinogradPostOp::Kind::sum;
      op.residual = builder.convert(residual, blocked(conv.dst));
      touched.push_back(op.residual);
    } else if (post.alg == dnnl::algorithm::eltwise_relu) {
      op.alpha = post.alpha;
    } else {
      break;
    }
    post_ops.push_back(op);
    ++fused;
  }
  const int dst = builder.add_value(blocked(conv.dst));
  // Each thread's V and M: a value that lives for this step only, so its slot is shared by liveness.
  const int64_t scratch_floats = run.threads * winograd_thread_scratch(run.group_tiles, in, out, run.slices);
  const int scratch = builder.add_value(dnnl::memory::desc({scratch_floats}, dt::f32, tag::a));
  touched.insert(touched.end(), {src, weights, bias, dst, scratch});
  builder.add_custom(
      node.name + ".winograd",
      [run, post_ops, node_name = node.name, src, weights, bias, dst,
       scratch](const std::vector<PlanValue>& values) mutable {
        run.src = data_of(values, src);
        run.weights = data_of(values, weights);
        run.bias = data_of(values, bias);
        run.dst = data_of(values, dst);
        run.scratch = data_of(values, scratch);
        for (WinogradPostOp& op : post_ops) {
          if (op.kind == WinogradPostOp::Kind::sum) op.data = data_of(values, op.residual);
        }
        run.post_ops = post_ops.data();
        run.post_op_count = static_cast<int64_t>(post_ops.size());
        if (const int status = winograd_execute(run); status != 0) {
          throw Error("node '" + node_name + "': Winograd convolution: oneDNN sgemm failed with status " +
                      std::to_string(status));
        }
      },
      touched);
  builder.count_winograd();
  return dst;
}

}  // namespace terraseg::engine

namespace terraseg {
bool winograd_available() { return engine::winograd_supported(); }
}  // namespace terraseg
