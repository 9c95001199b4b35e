// Engine latency and the oneDNN matmul ceiling (see bench.hpp).
#include "terraseg/core/bench.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <span>
#include <unordered_map>
#include <vector>

#include "terraseg/core/error.hpp"

namespace terraseg {
namespace {

using Clock = std::chrono::steady_clock;

double elapsed_ms(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : 0.5 * (values[mid - 1] + values[mid]);
}

}  // namespace

Tensor bench_input(const Dims& dims) {
  Tensor input(dims);
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<float> dist(-1.0F, 1.0F);
  for (float& v : input.values()) v = dist(rng);
  return input;
}

OutputAgreement compare_outputs(const Tensor& candidate, const Tensor& reference) {
  if (candidate.dims() != reference.dims() || reference.rank() != 4) {
    throw Error("compare: scores " + to_string(candidate.dims()) + " and " + to_string(reference.dims()) +
                " differ in shape or are not NCHW");
  }
  const std::span<const float> x = candidate.values();
  const std::span<const float> y = reference.values();
  OutputAgreement result;
  double sum = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double diff = std::abs(static_cast<double>(x[i]) - y[i]);
    result.max_abs_diff = std::max(result.max_abs_diff, diff);
    result.max_abs_reference = std::max(result.max_abs_reference, std::abs(static_cast<double>(y[i])));
    sum += diff;
  }
  result.mean_abs_diff = x.empty() ? 0.0 : sum / static_cast<double>(x.size());
  const int64_t channels = reference.dim(1);
  const int64_t plane = reference.dim(2) * reference.dim(3);
  int64_t same = 0;
  for (int64_t n = 0; n < reference.dim(0); ++n) {
    const float* a = candidate.data() + n * channels * plane;
    const float* b = reference.data() + n * channels * plane;
    for (int64_t p = 0; p < plane; ++p) {
      int64_t best_a = 0;
      int64_t best_b = 0;
      for (int64_t c = 1; c < channels; ++c) {
        if (a[c * plane + p] > a[best_a * plane + p]) best_a = c;
        if (b[c * plane + p] > b[best_b * plane + p]) best_b = c;
      }
      same += best_a == best_b ? 1 : 0;
    }
  }
  result.class_agreement =
      static_cast<double>(same) / static_cast<double>(std::max<int64_t>(1, reference.dim(0) * plane));
  return result;
}

OutputAgreement compare_engines(Engine& candidate, Engine& reference, const Dims& input_dims) {
  const Tensor input = bench_input(input_dims);
  Tensor a;
  Tensor b;
  candidate.run(input, a);
  reference.run(input, b);
  return compare_outputs(a, b);
}

BenchResult bench_engine(Engine& engine, const Dims& input_dims, int iterations, int warmup) {
  if (iterations < 1) throw Error("bench: iterations must be at least 1");
  const Tensor input = bench_input(input_dims);
  Tensor output;
  for (int i = 0; i < warmup; ++i) engine.run(input, output);
  std::vector<double> times;
  for (int i = 0; i < iterations; ++i) {
    const auto start = Clock::now();
    engine.run(input, output);
    times.push_back(elapsed_ms(start));
  }
  BenchResult result;
  result.iterations = iterations;
  result.median_ms = median(times);
  result.min_ms = *std::min_element(times.begin(), times.end());
  result.flops = engine.stats(input_dims).flops;
  result.gflops_per_s = result.flops / (result.median_ms * 1e6);
  return result;
}

double matmul_ceiling_gflops(int64_t m, int64_t n, int64_t k, int iterations) {
  if (iterations < 1 || m < 1 || n < 1 || k < 1) throw Error("bench: matmul sizes and iterations must be positive");
  using tag = dnnl::memory::format_tag;
  using dt = dnnl::memory::data_type;
  const dnnl::engine cpu(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(cpu);
  const dnnl::memory::desc a_md({m, k}, dt::f32, tag::ab);
  const dnnl::memory::desc b_md({k, n}, dt::f32, tag::ab);
  const dnnl::memory::desc c_md({m, n}, dt::f32, tag::ab);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), cpu);
  dnnl::memory a(a_md, cpu);
  dnnl::memory b(b_md, cpu);
  dnnl::memory c(c_md, cpu);
  std::fill_n(static_cast<float*>(a.get_data_handle()), m * k, 0.5F);
  std::fill_n(static_cast<float*>(b.get_data_handle()), k * n, 0.25F);
  const dnnl::matmul matmul(pd);
  const std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}};
  matmul.execute(stream, args);
  stream.wait();
  std::vector<double> times;
  for (int i = 0; i < iterations; ++i) {
    const auto start = Clock::now();
    matmul.execute(stream, args);
    stream.wait();
    times.push_back(elapsed_ms(start));
  }
  return 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) / (median(times) * 1e6);
}

}  // namespace terraseg
