// Layer micro-benchmark (not a test): one 3x3 convolution (+ReLU) at U-Net level shapes, direct
// oneDNN against the Winograd path, interleaved in one process. See docs/benchmarks.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "engine_test_util.hpp"

using namespace terraseg;
using namespace terraseg::test;

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 5;
  struct Shape { int64_t c_in, c_out, size; };
  const std::vector<Shape> shapes{{64, 64, 512}, {128, 64, 512}, {128, 128, 256}, {256, 256, 128}, {512, 512, 64}, {1024, 1024, 32}, {32, 32, 512}, {16, 16, 512}};
  std::printf("| C_in | C_out | HxW | GFLOP | direct ms | winograd ms | speed-up | max abs diff |\n|---|---|---|---|---|---|---|---|\n");
  for (const Shape& s : shapes) {
    const Graph g = make_graph({make_node("Conv", {"x", "W", "B"}, {{"pads", ints({1, 1, 1, 1})}}, {"c"}),
                                make_node("Relu", {"c"})},
                               {{"W", random_tensor({s.c_out, s.c_in, 3, 3}, 1)}, {"B", random_tensor({s.c_out}, 2)}});
    const Tensor x = random_tensor({1, s.c_in, s.size, s.size}, 3);
    EngineOptions direct_options{threads, Precision::f32};
    direct_options.layout = EngineOptions::Layout::blocked;
    direct_options.convolution = EngineOptions::Convolution::direct;
    EngineOptions winograd_options = direct_options;
    winograd_options.convolution = EngineOptions::Convolution::automatic;
    Engine direct(g, direct_options);
    Engine winograd(g, winograd_options);
    Tensor a, b;
    direct.run(x, a);
    winograd.run(x, b);
    std::vector<double> td, tw;
    for (int r = 0; r < reps; ++r) {
      for (int k = 0; k < 2; ++k) {
        const bool first = (r + k) % 2 == 0;
        Engine& e = first ? direct : winograd;
        Tensor& out = first ? a : b;
        const auto t0 = std::chrono::steady_clock::now();
        e.run(x, out);
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        (first ? td : tw).push_back(ms);
      }
    }
    std::sort(td.begin(), td.end());
    std::sort(tw.begin(), tw.end());
    const double md = td[td.size() / 2], mw = tw[tw.size() / 2];
    const double gflop = 2.0 * s.c_in * s.c_out * 9 * s.size * s.size * 1e-9;
    std::printf("| %lld | %lld | %lld² | %.2f | %.1f | %.1f | %.2fx | %.2e |\n", static_cast<long long>(s.c_in),
                static_cast<long long>(s.c_out), static_cast<long long>(s.size), gflop, md, mw, md / mw,
                static_cast<double>(max_abs_diff(a, b)));
    std::fflush(stdout);
  }
}
