#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "command.hpp"
#include "models.hpp"
#include "terraseg/core/engine.hpp"

namespace terraseg::cli {
namespace {

/// `terraseg bench`: times Engine::run alone on random input (warm-up excluded), median of N.
class BenchCommand final : public Command {
 public:
  void declare(CLI::App& sub, CommonOptions& common) override {
    common_ = &common;
    sub.add_option("--model", model_path_, "ONNX model file")->required();
    sub.add_option("--height", height_, "Input height")->required()->check(CLI::PositiveNumber);
    sub.add_option("--width", width_, "Input width")->required()->check(CLI::PositiveNumber);
    sub.add_option("--runs", runs_, "Timed runs (median reported)")->check(CLI::Range(1, 1000));
    sub.add_option("--warmup", warmup_, "Untimed runs first")->check(CLI::Range(0, 100));
    sub.add_option("--precision", precision_, "f32, bf16 or int8")->check(CLI::IsMember({"f32", "bf16", "int8"}));
    sub.add_flag("--json", json_, "Print JSON");
  }

  int run() override {
    LoadedModel model = load_model_file(model_path_);
    Engine engine(model.graph, EngineOptions{common_->threads, parse_precision(precision_)});
    const int64_t channels = model.graph.input_dims.size() == 4 && model.graph.input_dims[1] > 0 ? model.graph.input_dims[1] : 3;
    Tensor input({1, channels, height_, width_});
    std::mt19937 rng(42);
    std::uniform_real_distribution<float> uniform(-1.0F, 1.0F);
    for (float& value : input.values()) value = uniform(rng);

    Tensor output;
    for (int i = 0; i < warmup_; ++i) engine.run(input, output);
    std::vector<double> times_ms;
    for (int i = 0; i < runs_; ++i) {
      const auto start = std::chrono::steady_clock::now();
      engine.run(input, output);
      times_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(times_ms.begin(), times_ms.end());
    const double median_ms = times_ms[times_ms.size() / 2];
    const double gflops = engine.stats(input.dims()).flops / 1e9;
    report(median_ms, times_ms.front(), gflops);
    return 0;
  }

 private:
  void report(double median_ms, double best_ms, double gflops) const {
    const double rate = gflops / (median_ms / 1000.0);
    if (json_) {
      nlohmann::json doc{{"model", model_path_}, {"height", height_}, {"width", width_},
                         {"threads", common_->threads}, {"precision", precision_}, {"runs", runs_},
                         {"median_ms", median_ms}, {"best_ms", best_ms}, {"gflop", gflops}, {"gflop_per_s", rate}};
      std::cout << doc.dump(2) << '\n';
      return;
    }
    std::cout << std::fixed << std::setprecision(2) << model_path_ << " 1x?x" << height_ << "x" << width_ << " "
              << precision_ << ": " << median_ms << " ms/image (median of " << runs_ << ", best " << best_ms
              << "), " << gflops << " GFLOP, " << rate << " GFLOP/s\n";
  }

  CommonOptions* common_ = nullptr;
  std::string model_path_;
  int64_t height_ = 0;
  int64_t width_ = 0;
  int runs_ = 10;
  int warmup_ = 2;
  std::string precision_ = "f32";
  bool json_ = false;
};

}  // namespace

std::unique_ptr<Command> make_bench_command() { return std::make_unique<BenchCommand>(); }

}  // namespace terraseg::cli
