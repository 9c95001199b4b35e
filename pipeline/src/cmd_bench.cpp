#include <unistd.h>

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "models.hpp"
#include "predict_step.hpp"
#include "terraseg/core/bench.hpp"
#include "terraseg/core/engine.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/threads.hpp"

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
    sub.add_option("--tile", tile_, "Window with --raster: N or HxW (default: the model card's, else 512)");
    sub.add_option("--overlap", overlap_, "Window overlap with --raster (default: the model card's, else 64)")
        ->check(CLI::Range(0, 4096));
    sub.add_option("--runs", runs_, "Timed runs (median reported)")->check(CLI::Range(1, 1000));
    sub.add_option("--warmup", warmup_, "Untimed runs first")->check(CLI::Range(1, 100));
    sub.add_option(
           "--precision", precision_,
           "f32, bf16, int8, or auto: where the CPU has bf16 natively (AVX512-BF16, AMX), f32 or bf16, whichever is "
           "faster (measured per model and input size with --tuning measure; bf16 on AMX only with rules); else f32")
        ->check(CLI::IsMember({"f32", "bf16", "int8", "auto"}));
    sub.add_option("--convolution", convolution_,
                   "auto: Winograd F(4x4,3x3) where it applies (default); direct: oneDNN's direct kernels only")
        ->check(CLI::IsMember({"auto", "direct"}));
    sub.add_flag("--no-ceiling", skip_ceiling_, "Skip the matmul-ceiling measurement");
    sub.add_flag("--json", json_, "Print JSON");
  }

  int run() override {
    LoadedModel model = load_model_file(model_path_);
    threads_ = geo::set_thread_count(common_->threads);
    EngineOptions options = engine_options(parse_precision(precision_));
    if (convolution_ == "direct") options.convolution = EngineOptions::Convolution::direct;
    Engine engine(model.graph, options);
    const Dims& declared = model.graph.input_dims;
    const int64_t channels = declared.size() == 4 && declared[1] > 0 ? declared[1] : 3;
    if (raster_.empty() && (height_ == 0 || width_ == 0)) {
      throw Error("bench: give --height and --width, or --raster");
    }
    PredictReport prediction;
    if (!raster_.empty()) {
      // Predict first: the engine alone is then timed on the window the prediction gave the model.
      prediction = predict_raster_once(engine, model);
      height_ = prediction.window[0];
      width_ = prediction.window[1];
    }
    const Dims dims{1, channels, height_, width_};
    const BenchResult result = bench_engine(engine, dims, runs_, warmup_);
    const PlanStats stats = engine.stats(dims);
    winograd_ = stats.winograd_convolutions;
    plan_ = stats;
    const double ceiling = skip_ceiling_ ? 0.0 : matmul_ceiling_gflops();
    report(result, ceiling);
    if (options.precision != Precision::f32) {
      // Reduced precision is only worth its error if it is faster: time f32 in the same run and
      // compare the scores on the same input.
      EngineOptions f32_options = options;
      f32_options.precision = Precision::f32;
      Engine reference(model.graph, f32_options);
      const BenchResult f32 = bench_engine(reference, dims, runs_, warmup_);
      report_vs_f32(result, f32, compare_engines(engine, reference, dims), stats.emulated_bf16_convolutions);
    }
    if (!raster_.empty()) report_raster(prediction, result);
    if (json_) std::cout << doc_.dump(2) << '\n';
    return 0;
  }

 private:
  void report(const BenchResult& result, double ceiling) {
    const double fraction = ceiling > 0.0 ? result.gflops_per_s / ceiling : 0.0;
    if (json_) {
      doc_.update({{"model", model_path_},
                   {"height", height_},
                   {"width", width_},
                   {"threads", threads_},
                   {"precision", precision_},
                   {"runs", result.iterations},
                   {"median_ms", result.median_ms},
                   {"min_ms", result.min_ms},
                   {"gflop", result.flops / 1e9},
                   {"gflop_per_s", result.gflops_per_s},
                   {"matmul_ceiling_gflop_per_s", ceiling},
                   {"fraction_of_ceiling", fraction},
                   {"convolution", convolution_},
                   {"winograd_convolutions", winograd_},
                   {"plan",
                    {{"choice", plan_.plan_choice},
                     {"from", plan_.plan_choice_from},
                     {"precision", plan_.precision},
                     {"candidate_ms", plan_.candidate_ms}}}});
      return;
    }
    std::cout << std::fixed << std::setprecision(2) << model_path_ << " " << height_ << "x" << width_ << " "
              << precision_ << ": " << result.median_ms << " ms/image (median of " << result.iterations << ", best "
              << result.min_ms << "), " << result.flops / 1e9 << " GFLOP, " << result.gflops_per_s << " GFLOP/s";
    if (ceiling > 0.0)
      std::cout << " = " << fraction * 100.0 << " % of the f32 matmul ceiling (" << ceiling << " GFLOP/s)";
    // Winograd does fewer multiplies than the direct count above: GFLOP/s is then direct-equivalent.
    if (winograd_ > 0)
      std::cout << "; " << winograd_ << " convolutions on Winograd F(4x4,3x3) (direct-equivalent GFLOP/s)";
    std::cout << "\nplan: " << plan_.plan_choice << " (" << plan_.plan_choice_from << ", computes in "
              << plan_.precision << ")";
    for (const auto& [candidate, ms] : plan_.candidate_ms) std::cout << "; " << candidate << " " << ms << " ms";
    std::cout << '\n';
  }

  void report_vs_f32(const BenchResult& reduced, const BenchResult& f32, const OutputAgreement& agreement,
                     int emulated) {
    const double speedup = reduced.median_ms > 0.0 ? f32.median_ms / reduced.median_ms : 0.0;
    const double relative =
        agreement.max_abs_reference > 0.0 ? agreement.max_abs_diff / agreement.max_abs_reference : 0.0;
    if (json_) {
      doc_["vs_f32"] = {{"f32_median_ms", f32.median_ms},
                        {"f32_min_ms", f32.min_ms},
                        {"speedup", speedup},
                        {"max_abs_diff", agreement.max_abs_diff},
                        {"mean_abs_diff", agreement.mean_abs_diff},
                        {"max_abs_f32_score", agreement.max_abs_reference},
                        {"class_agreement", agreement.class_agreement},
                        {"emulated_bf16_convolutions", emulated}};
      return;
    }
    std::cout << std::setprecision(2) << "f32, same input and run: " << f32.median_ms << " ms/image (" << precision_
              << " is " << speedup << "x f32); scores against f32: max abs diff " << std::scientific
              << agreement.max_abs_diff << " (" << relative << " of the largest |score|), mean "
              << agreement.mean_abs_diff << std::fixed << ", class agreement " << agreement.class_agreement * 100.0
              << " %\n";
    if (emulated > 0) {
      std::cout << emulated << " convolutions have no native bf16 kernel on this CPU (oneDNN needs AVX-512 for "
                << "bf16): they run f32 kernels on bf16-rounded data, so there is no speed-up\n";
    }
  }

  /// Predicts raster_ end to end (tiling as predict resolves it, at the raster's own pixel size) into
  /// a scratch directory, removed afterwards.
  PredictReport predict_raster_once(Engine& engine, const LoadedModel& model) {
    const auto scratch = std::filesystem::temp_directory_path() / ("terraseg-bench-" + std::to_string(getpid()));
    std::filesystem::create_directories(scratch);
    PredictRequest request;
    request.input = raster_;
    request.mask_path = (scratch / "classes.tif").string();
    if (!tile_.empty()) request.tile = parse_tile_size(tile_, "--tile");
    if (overlap_ >= 0) request.overlap = overlap_;
    request.resample = false;
    try {
      PredictReport prediction = predict_file(engine, model.graph.card, request, {});
      std::filesystem::remove_all(scratch);
      return prediction;
    } catch (...) {
      std::filesystem::remove_all(scratch);
      throw;
    }
  }

  /// How the end-to-end prediction's throughput compares with the engine alone on as many windows.
  void report_raster(const PredictReport& prediction, const BenchResult& per_tile) {
    const double engine_s = per_tile.median_ms * static_cast<double>(prediction.tiles_inferred) / 1000.0;
    const double ratio = prediction.seconds > 0.0 ? engine_s / prediction.seconds : 0.0;
    const std::string window = std::to_string(prediction.window[0]) + "x" + std::to_string(prediction.window[1]);
    if (json_) {
      doc_["raster"] = {{"path", raster_},
                        {"width", prediction.width},
                        {"height", prediction.height},
                        {"window", window},
                        {"overlap", prediction.overlap},
                        {"tiles", prediction.tiles_inferred},
                        {"end_to_end_s", prediction.seconds},
                        {"engine_alone_s", engine_s},
                        {"throughput_fraction_of_engine", ratio}};
      return;
    }
    std::cout << std::fixed << std::setprecision(2) << raster_ << " (" << prediction.width << "x" << prediction.height
              << "): " << prediction.tiles_inferred << " windows of " << window << " (overlap " << prediction.overlap
              << "), end to end " << prediction.seconds << " s; engine alone " << prediction.tiles_inferred << " x "
              << per_tile.median_ms << " ms = " << engine_s << " s; end-to-end throughput = " << ratio * 100.0
              << " % of the engine alone\n";
  }

  CommonOptions* common_ = nullptr;
  std::string raster_;
  std::string tile_;
  int overlap_ = -1;
  std::string model_path_;
  int64_t height_ = 0;
  int64_t width_ = 0;
  int runs_ = 10;
  int warmup_ = 2;
  std::string precision_ = "f32";
  std::string convolution_ = "auto";
  int threads_ = 0;                                ///< the thread count that ran (--threads resolved)
  int winograd_ = 0;                               ///< convolutions the plan runs as Winograd
  PlanStats plan_;                                 ///< the timed plan: its layout/algorithm choice and how it was made
  nlohmann::json doc_ = nlohmann::json::object();  ///< --json: everything measured, printed once at the end
  bool skip_ceiling_ = false;
  bool json_ = false;
};

}  // namespace

std::unique_ptr<Command> make_bench_command() { return std::make_unique<BenchCommand>(); }

}  // namespace terraseg::cli
