#pragma once
/// Timing helpers for `terraseg bench`: engine latency and the oneDNN f32 matmul ceiling to compare
/// it with. Both use the process's thread count (threads.hpp).
#include <cstdint>

#include "terraseg/core/engine.hpp"

namespace terraseg {

struct BenchResult {
  double median_ms = 0.0;     ///< median wall time of one Engine::run, milliseconds
  double min_ms = 0.0;        ///< fastest run, milliseconds
  double flops = 0.0;         ///< FLOPs of one run (2 x multiply-adds of conv/deconv layers)
  double gflops_per_s = 0.0;  ///< flops / median time, in GFLOP/s
  int iterations = 0;
};

/// How closely one engine's first output follows another's on the same input.
struct OutputAgreement {
  double max_abs_diff = 0.0;
  double mean_abs_diff = 0.0;
  double max_abs_reference = 0.0;  ///< largest |reference score|, to read the differences against
  double class_agreement = 0.0;    ///< share of pixels whose arg-max over channels is the same
};

/// Compares two NCHW score tensors; throws when their dims differ or are not rank 4.
OutputAgreement compare_outputs(const Tensor& candidate, const Tensor& reference);

/// The fixed pseudo-random input of the benchmarks: uniform in [-1, 1], seed 7.
Tensor bench_input(const Dims& dims);

/// Runs `candidate` and `reference` on bench_input(input_dims) and compares graph output 0.
OutputAgreement compare_engines(Engine& candidate, Engine& reference, const Dims& input_dims);

/// Times `engine.run` on a fixed pseudo-random input of `input_dims`. The first `warmup` runs
/// (which include planning) are not timed; the median of `iterations` timed runs is reported.
BenchResult bench_engine(Engine& engine, const Dims& input_dims, int iterations = 10, int warmup = 2);

/// GFLOP/s of a single-precision oneDNN matmul (m x k) * (k x n), median of `iterations` runs after
/// one warm-up: the practical compute ceiling of this machine for the "fraction of peak" figure.
double matmul_ceiling_gflops(int64_t m = 2048, int64_t n = 2048, int64_t k = 2048, int iterations = 5);

}  // namespace terraseg
