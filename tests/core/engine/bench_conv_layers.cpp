// Layer benchmark (not a test): one 3x3 convolution + ReLU at U-Net level shapes, oneDNN's direct
// kernels against terraseg's Winograd F(4x4, 3x3), interleaved in one process (the order flips every
// round, so load changes hit both sides alike). See docs/benchmarks.md, "Winograd F(4x4, 3x3)".
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <exception>
#include <iostream>
#include <vector>

#include "bench_util.hpp"
#include "engine_test_util.hpp"
#include "terraseg/core/bench.hpp"
#include "terraseg/core/threads.hpp"

namespace terraseg::test {
namespace {

int run(int argc, char** argv) {
  int threads = 2;
  int reps = 5;
  CLI::App app{"Direct against Winograd 3x3 convolutions at U-Net layer shapes"};
  app.add_option("--threads", threads, "Engine threads")->check(CLI::Range(1, 256));
  app.add_option("--reps", reps, "Timed runs per side and shape (median reported)")->check(CLI::Range(1, 1000));
  CLI11_PARSE(app, argc, argv);
  set_thread_count(threads);
  if (!winograd_available()) {
    std::cerr << "this build or CPU has no Winograd kernels (x86-64 with AVX2+FMA needed)\n";
    return 1;
  }
  std::printf(
      "Machine: %s, %d thread(s); %d timed runs per side after 1 warm-up; load average (1/5/15 min) at start %s\n\n",
      bench::cpu_model().c_str(), threads, reps, bench::load_average().c_str());
  struct Shape {
    int64_t c_in, c_out, size;
  };
  const std::vector<Shape> shapes{{64, 64, 512},  {128, 64, 512},   {128, 128, 256}, {256, 256, 128},
                                  {512, 512, 64}, {1024, 1024, 32}, {32, 32, 512},   {16, 16, 512}};
  std::printf(
      "| C_in | C_out | HxW | GFLOP | direct ms | Winograd ms | speed-up | max abs diff |\n"
      "|---|---|---|---|---|---|---|---|\n");
  for (const Shape& s : shapes) {
    const Graph g = make_graph(
        {make_node("Conv", {"x", "W", "B"}, {{"pads", ints({1, 1, 1, 1})}}, {"c"}), make_node("Relu", {"c"})},
        {{"W", random_tensor({s.c_out, s.c_in, 3, 3}, 1)}, {"B", random_tensor({s.c_out}, 2)}});
    const Tensor x = random_tensor({1, s.c_in, s.size, s.size}, 3);
    EngineOptions direct_options{Precision::f32};
    direct_options.layout = EngineOptions::Layout::blocked;
    direct_options.convolution = EngineOptions::Convolution::direct;
    EngineOptions winograd_options = direct_options;
    winograd_options.convolution = EngineOptions::Convolution::automatic;
    Engine direct(g, direct_options);
    Engine winograd(g, winograd_options);
    Tensor a;
    Tensor b;
    direct.run(x, a);  // warm-up: planning
    winograd.run(x, b);
    std::vector<double> direct_ms;
    std::vector<double> winograd_ms;
    for (int r = 0; r < reps; ++r) {
      for (int k = 0; k < 2; ++k) {
        const bool first = (r + k) % 2 == 0;
        const auto start = std::chrono::steady_clock::now();
        (first ? direct : winograd).run(x, first ? a : b);
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        (first ? direct_ms : winograd_ms).push_back(ms);
      }
    }
    const double md = bench::median(direct_ms);
    const double mw = bench::median(winograd_ms);
    const double gflop = 2.0 * static_cast<double>(s.c_in * s.c_out * 9 * s.size * s.size) * 1e-9;
    std::printf("| %lld | %lld | %lld² | %.2f | %.1f | %.1f | %.2fx | %.2e |\n", static_cast<long long>(s.c_in),
                static_cast<long long>(s.c_out), static_cast<long long>(s.size), gflop, md, mw, md / mw,
                compare_outputs(b, a).max_abs_diff);
    if (std::fflush(stdout) != 0) return 1;
  }
  std::printf("\nLoad average at end %s.\n", bench::load_average().c_str());
  return 0;
}

}  // namespace
}  // namespace terraseg::test

int main(int argc, char** argv) try { return terraseg::test::run(argc, argv); } catch (const std::exception& e) {
  std::cerr << "terraseg_conv_layer_bench: " << e.what() << '\n';
  return 1;
}
