#include <filesystem>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "command.hpp"
#include "models.hpp"
#include "predict_step.hpp"
#include "terraseg/core/bench.hpp"
#include "terraseg/core/engine.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg::cli {
namespace {

/// `terraseg bench`: times Engine::run alone (warm-up and planning excluded, median of N) and, in the
/// same run, the oneDNN f32 matmul ceiling of this machine, so the result reads as a fraction of peak.
/// With --raster: also the whole tiled prediction of that raster (reading, normalising, blending,
/// writing), compared with the engine alone on the same number of tiles.
class BenchCommand final : public Command {
 public:
  void declare(CLI::App& sub, CommonOptions& common) override {
    common_ = &common;
    sub.add_option("--model", model_path_, "ONNX model file")->required();
    auto* height = sub.add_option("--height", height_, "Input height")->check(CLI::PositiveNumber);
    auto* width = sub.add_option("--width", width_, "Input width")->check(CLI::PositiveNumber);
    auto* raster = sub.add_option("--raster", raster_,
                                  "Also predict this raster end to end (tiles of --tile, at its own pixel size) "
                                  "and compare with the engine alone");
    height->excludes(raster);
    width->excludes(raster);
    sub.add_option("--tile", tile_, "Tile size with --raster")->check(CLI::Range(32, 8192));
    sub.add_option("--overlap", overlap_, "Tile overlap with --raster")->check(CLI::Range(0, 4096));
    sub.add_option("--runs", runs_, "Timed runs (median reported)")->check(CLI::Range(1, 1000));
    sub.add_option("--warmup", warmup_, "Untimed runs first")->check(CLI::Range(1, 100));
    sub.add_option("--precision", precision_, "f32, bf16 or int8")->check(CLI::IsMember({"f32", "bf16", "int8"}));
    sub.add_option("--convolution", convolution_,
                   "auto: Winograd F(4x4,3x3) where it applies (default); direct: oneDNN's direct kernels only")
        ->check(CLI::IsMember({"auto", "direct"}));
    sub.add_flag("--no-ceiling", skip_ceiling_, "Skip the matmul-ceiling measurement");
    sub.add_flag("--json", json_, "Print JSON");
  }

  int run() override {
    LoadedModel model = load_model_file(model_path_);
    set_thread_count(common_->threads);
    EngineOptions options{common_->threads, parse_precision(precision_)};
    if (convolution_ == "direct") options.convolution = EngineOptions::Convolution::direct;
    Engine engine(model.graph, options);
    const Dims& declared = model.graph.input_dims;
    const int64_t channels = declared.size() == 4 && declared[1] > 0 ? declared[1] : 3;
    if (raster_.empty() && (height_ == 0 || width_ == 0)) {
      throw Error("bench: give --height and --width, or --raster");
    }
    if (!raster_.empty()) height_ = width_ = tile_;
    const BenchResult result = bench_engine(engine, {1, channels, height_, width_}, runs_, warmup_);
    winograd_ = engine.stats({1, channels, height_, width_}).winograd_convolutions;
    const double ceiling = skip_ceiling_ ? 0.0 : matmul_ceiling_gflops();
    report(result, ceiling);
    if (!raster_.empty()) bench_raster(engine, model, result);
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
                         {"matmul_ceiling_gflop_per_s", ceiling}, {"fraction_of_ceiling", fraction},
                         {"convolution", convolution_}, {"winograd_convolutions", winograd_}};
      std::cout << doc.dump(2) << '\n';
      return;
    }
    std::cout << std::fixed << std::setprecision(2) << model_path_ << " " << height_ << "x" << width_ << " "
              << precision_ << ": " << result.median_ms << " ms/image (median of " << result.iterations << ", best "
              << result.min_ms << "), " << result.flops / 1e9 << " GFLOP, " << result.gflops_per_s << " GFLOP/s";
    if (ceiling > 0.0) std::cout << " = " << fraction * 100.0 << " % of the f32 matmul ceiling (" << ceiling << " GFLOP/s)";
    // Winograd does fewer multiplies than the direct count above: GFLOP/s is then direct-equivalent.
    if (winograd_ > 0) std::cout << "; " << winograd_ << " convolutions on Winograd F(4x4,3x3) (direct-equivalent GFLOP/s)";
    std::cout << '\n';
  }

  /// Predicts raster_ end to end into a scratch directory (removed afterwards) and prints how its
  /// throughput compares with the engine alone on as many tiles.
  void bench_raster(Engine& engine, const LoadedModel& model, const BenchResult& per_tile) const {
    const auto scratch = std::filesystem::temp_directory_path() / ("terraseg-bench-" + std::to_string(getpid()));
    std::filesystem::create_directories(scratch);
    PredictRequest request;
    request.input = raster_;
    request.mask_path = (scratch / "classes.tif").string();
    request.tile = tile_;
    request.overlap = overlap_;
    request.resample = false;
    PredictReport prediction;
    try {
      prediction = predict_file(engine, model.graph.card, request, {});
    } catch (...) {
      std::filesystem::remove_all(scratch);
      throw;
    }
    std::filesystem::remove_all(scratch);
    const double engine_s = per_tile.median_ms * static_cast<double>(prediction.tiles_inferred) / 1000.0;
    const double ratio = prediction.seconds > 0.0 ? engine_s / prediction.seconds : 0.0;
    if (json_) {
      std::cout << nlohmann::json{{"raster", raster_}, {"width", prediction.width}, {"height", prediction.height},
                                  {"tile", tile_}, {"overlap", overlap_}, {"tiles", prediction.tiles_inferred},
                                  {"end_to_end_s", prediction.seconds}, {"engine_alone_s", engine_s},
                                  {"throughput_fraction_of_engine", ratio}}.dump(2)
                << '\n';
      return;
    }
    std::cout << std::fixed << std::setprecision(2) << raster_ << " (" << prediction.width << "x" << prediction.height
              << "): " << prediction.tiles_inferred << " tiles of " << tile_ << " (overlap " << overlap_
              << "), end to end " << prediction.seconds << " s; engine alone " << prediction.tiles_inferred << " x "
              << per_tile.median_ms << " ms = " << engine_s << " s; end-to-end throughput = " << ratio * 100.0
              << " % of the engine alone\n";
  }

  CommonOptions* common_ = nullptr;
  std::string raster_;
  int tile_ = 512;
  int overlap_ = 64;
  std::string model_path_;
  int64_t height_ = 0;
  int64_t width_ = 0;
  int runs_ = 10;
  int warmup_ = 2;
  std::string precision_ = "f32";
  std::string convolution_ = "auto";
  int winograd_ = 0;  ///< convolutions the plan runs as Winograd
  bool skip_ceiling_ = false;
  bool json_ = false;
};

}  // namespace

std::unique_ptr<Command> make_bench_command() { return std::make_unique<BenchCommand>(); }

}  // namespace terraseg::cli
