#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "models.hpp"
#include "terraseg/core/bench.hpp"
#include "terraseg/core/engine.hpp"

namespace terraseg::cli {
namespace {

/// `terraseg bench`: times Engine::run alone (warm-up and planning excluded, median of N) and, in the
/// same run, the oneDNN f32 matmul ceiling of this machine, so the result reads as a fraction of peak.
class BenchCommand final : public Command {
 public:
  void declare(CLI::App& sub, CommonOptions& common) override {
    common_ = &common;
    sub.add_option("--model", model_path_, "ONNX model file")->required();
    sub.add_option("--height", height_, "Input height")->required()->check(CLI::PositiveNumber);
    sub.add_option("--width", width_, "Input width")->required()->check(CLI::PositiveNumber);
    sub.add_option("--runs", runs_, "Timed runs (median reported)")->check(CLI::Range(1, 1000));
    sub.add_option("--warmup", warmup_, "Untimed runs first")->check(CLI::Range(1, 100));
    sub.add_option("--precision", precision_, "f32, bf16 or int8")->check(CLI::IsMember({"f32", "bf16", "int8"}));
    sub.add_flag("--no-ceiling", skip_ceiling_, "Skip the matmul-ceiling measurement");
    sub.add_flag("--json", json_, "Print JSON");
  }

  int run() override {
    LoadedModel model = load_model_file(model_path_);
    set_thread_count(common_->threads);
    Engine engine(model.graph, EngineOptions{common_->threads, parse_precision(precision_)});
    const Dims& declared = model.graph.input_dims;
    const int64_t channels = declared.size() == 4 && declared[1] > 0 ? declared[1] : 3;
    const BenchResult result = bench_engine(engine, {1, channels, height_, width_}, runs_, warmup_);
    const double ceiling = skip_ceiling_ ? 0.0 : matmul_ceiling_gflops();
    report(result, ceiling);
    return 0;
  }

 private:
  void report(const BenchResult& result, double ceiling) const {
    const double fraction = ceiling > 0.0 ? result.gflops_per_s / ceiling : 0.0;
    if (json_) {
      nlohmann::json doc{{"model", model_path_},        {"height", height_},
                         {"width", width_},             {"threads", common_->threads},
                         {"precision", precision_},     {"runs", result.iterations},
                         {"median_ms", result.median_ms}, {"min_ms", result.min_ms},
                         {"gflop", result.flops / 1e9}, {"gflop_per_s", result.gflops_per_s},
                         {"matmul_ceiling_gflop_per_s", ceiling}, {"fraction_of_ceiling", fraction}};
      std::cout << doc.dump(2) << '\n';
      return;
    }
    std::cout << std::fixed << std::setprecision(2) << model_path_ << " " << height_ << "x" << width_ << " "
              << precision_ << ": " << result.median_ms << " ms/image (median of " << result.iterations << ", best "
              << result.min_ms << "), " << result.flops / 1e9 << " GFLOP, " << result.gflops_per_s << " GFLOP/s";
    if (ceiling > 0.0) std::cout << " = " << fraction * 100.0 << " % of the f32 matmul ceiling (" << ceiling << " GFLOP/s)";
    std::cout << '\n';
  }

  CommonOptions* common_ = nullptr;
  std::string model_path_;
  int64_t height_ = 0;
  int64_t width_ = 0;
  int runs_ = 10;
  int warmup_ = 2;
  std::string precision_ = "f32";
  bool skip_ceiling_ = false;
  bool json_ = false;
};

}  // namespace

std::unique_ptr<Command> make_bench_command() { return std::make_unique<BenchCommand>(); }

}  // namespace terraseg::cli
