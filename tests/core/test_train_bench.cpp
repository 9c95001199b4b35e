// Training-step benchmark (disabled by default; docs/benchmarks.md "training step"):
//   terraseg_core_tests --gtest_also_run_disabled_tests --gtest_filter='TrainBench.*'
// (TERRASEG_BENCH_THREADS=1 by default)
// The PyTorch side is tests/reference/bench_train_torch.py with the same U-Net and batch.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>

#include "terraseg/core/builders.hpp"
#include "terraseg/core/trainer.hpp"
#include "train_test_util.hpp"

namespace terraseg {
namespace {

TEST(TrainBench, DISABLED_UNetStep) {
  const char* env = std::getenv("TERRASEG_BENCH_THREADS");
  const int threads = env != nullptr ? std::atoi(env) : 1;
  set_train_threads(threads);
  UNetSpec spec;
  spec.classes = 2;
  spec.depth = 4;
  spec.base_width = 16;
  TrainGraph graph(build_unet(spec));
  TrainerConfig config;
  config.lr = 0.01;
  config.schedule.kind = ScheduleKind::constant;
  Trainer trainer(graph, config);
  const Tensor images = test::random_tensor({4, 3, 192, 192}, 1);
  Labels labels{4, 192, 192, std::vector<uint8_t>(4 * 192 * 192)};
  for (size_t i = 0; i < labels.ids.size(); ++i) labels.ids[i] = static_cast<uint8_t>((i / 7) % 2);
  for (int i = 0; i < 3; ++i) trainer.step(images, labels);
  std::vector<double> ms;
  for (int i = 0; i < 10; ++i) {
    const auto start = std::chrono::steady_clock::now();
    trainer.step(images, labels);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  std::cout << "terraseg train step (U-Net d4 w16, 4x3x192x192, SGD, " << threads << " thread(s)): median "
            << ms[ms.size() / 2] << " ms, min " << ms.front() << " ms\n";
}

}  // namespace
}  // namespace terraseg
