#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "command.hpp"
#include "inference_passes.hpp"
#include "interrupt.hpp"
#include "models.hpp"
#include "output_plan.hpp"
#include "predict_step.hpp"
#include "progress.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/predict.hpp"
#include "terraseg/geo/qgis_style.hpp"
#include "terraseg/geo/threads.hpp"
#include "terraseg/geo/writer.hpp"

namespace terraseg::cli {
namespace {

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  std::string current;
  for (char c : text) {
    if (c == ',') {
      parts.push_back(current);
      current.clear();
    } else if (c != ' ') {
      current += c;
    }
  }
  if (!current.empty()) parts.push_back(current);
  return parts;
}

/// `terraseg predict --model M.onnx INPUT... (-o OUT | --output-dir DIR) [--logits PATH|DIR]`.
class PredictCommand final : public Command {
 public:
  void declare(CLI::App& sub, CommonOptions& common) override {
    common_ = &common;
    sub.add_option("--model", model_path_, "ONNX model file")->required();
    sub.add_option("inputs", inputs_, "Rasters or photos: anything GDAL opens")->required();
    auto* output = sub.add_option("-o,--output", output_, "Class-id GeoTIFF (one input)");
    auto* output_dir = sub.add_option("--output-dir", output_dir_, "Directory for <input stem>.tif");
    output->excludes(output_dir);
    sub.add_option("--logits", logits_,
                   "Float32 per-class scores: a file (one input) or a directory (existing, or ending in '/'): <input "
                   "stem>-scores.tif inside");
    sub.add_option("--vectors", vectors_,
                   "GeoPackage polygons of the classes: a file (one input) or a directory (existing, or ending in "
                   "'/'): <input stem>.gpkg inside");
    sub.add_option("--tile", tile_,
                   "Window for rasters that do not fit in one: N or HxW pixels (default: the model card's, else 512); "
                   "an image that fits runs whole");
    sub.add_option("--overlap", overlap_, "Pixels shared by neighbouring windows (default: the model card's, else 64)")
        ->check(CLI::Range(0, 4096));
    sub.add_option("--pixel-size", pixel_size_m_,
                   "Ground pixel size in metres of inputs without a georeference: they are resampled to the model "
                   "card's pixel_size_m")
        ->check(CLI::PositiveNumber);
    sub.add_option("--bands", bands_, "Input bands in network order, e.g. 3,2,1 or red,green,blue");
    sub.add_option("--scale", scale_, "Normalisation x = (raw * scale - mean) / std: the scale (replaces the card's)")
        ->check(CLI::PositiveNumber);
    sub.add_option("--mean", mean_, "Per-band means after scaling, e.g. 0.485,0.456,0.406 (replaces the card's)");
    sub.add_option("--std", std_, "Per-band standard deviations after scaling, e.g. 0.229,0.224,0.225");
    sub.add_option(
           "--precision", precision_,
           "f32, bf16, int8, or auto: where the CPU has bf16 natively (AVX512-BF16, AMX), f32 or bf16, whichever is "
           "faster (measured per model and input size with --tuning measure; bf16 on AMX only with rules); else f32")
        ->check(CLI::IsMember({"f32", "bf16", "int8", "auto"}));
    sub.add_flag("--cog,!--no-cog", cog_,
                 "Write Cloud Optimized GeoTIFFs (the default: GDAL's COG driver; --no-cog: plain tiled GeoTIFFs)");
    sub.add_option("--co", creation_options_,
                   "-co NAME=VALUE: a GDAL creation option for the rasters written, as gdal_translate's (repeatable; "
                   "e.g. -co COMPRESS=ZSTD; `gdalinfo --format GTiff`, or COG with --cog, lists them)");
    sub.add_option(
        "-r,--resampling", resampling_,
        "How the input is warped to the model card's pixel size: near, bilinear, cubic, cubicspline, lanczos, "
        "average, rms, mode, min, max, med, q1, q3, sum (default: bilinear when enlarging, average when "
        "shrinking); classes come back by mode/nearest");
    sub.add_flag("--no-resample", no_resample_,
                 "Predict at the input's own pixel size even when the model card states another");
    add_pass_options(sub, scales_, flip_);
  }

  int run() override {
    if (output_.empty() == output_dir_.empty())
      throw terraseg::Error("predict: give exactly one of -o OUTPUT or --output-dir DIR");
    if (!output_.empty() && inputs_.size() != 1)
      throw terraseg::Error("predict: -o takes one input; use --output-dir DIR for several");
    for (const auto& input : inputs_) check_input(input);
    check_utf8(model_path_, "--model '" + model_path_ + "'");
    // Every flag and output path is checked before the model is even loaded; folders are made once
    // the model has loaded, so a refused command leaves nothing behind.
    std::vector<PredictRequest> requests;
    for (const auto& input : inputs_) requests.push_back(make_request(input));
    check_outputs(requests);

    std::string warning;
    LoadedModel model = load_model_file(model_path_, &warning);
    if (!warning.empty()) std::cerr << "terraseg: warning: " << warning << '\n';
    const ModelCard card = with_normalisation_flags(model.graph.card);
    for (const PredictRequest& request : requests) {
      make_folder(std::filesystem::path(request.mask_path).parent_path(), output_.empty() ? "--output-dir" : "-o");
      make_folder(std::filesystem::path(request.logits_path).parent_path(), "--logits");
      make_folder(std::filesystem::path(request.vectors_path).parent_path(), "--vectors");
    }
    geo::set_thread_count(common_->threads);
    Engine engine(model.graph, engine_options(parse_precision(precision_)));
    ProgressDisplay display(common_->quiet);
    const InterruptGuard interrupts;  // SIGTERM / SIGINT: scratch folders and temporaries removed, exit 143 / 130
    std::vector<double> shifts;       // each input's domain_shift, for the verdict over all of them
    for (const PredictRequest& request : requests) {
      // What a killed predict left beside these outputs goes (a live predict's is kept).
      for (const std::string& output : {request.mask_path, request.logits_path, request.vectors_path}) {
        if (!output.empty()) geo::remove_stale_temporaries(output, true);
      }
      const std::string& input = request.input;
      display.begin(std::filesystem::path(input).filename().string());
      const PredictReport report = predict_file(engine, card, request, [&](double f) { display.update(f); });
      display.end();
      for (const auto& message : report.warnings) display.warn(message);
      if (report.domain) shifts.push_back(report.domain->shift);
    }
    if (shifts.size() >= 2) {  // one input's verdict is its own warning
      const DomainShiftSummary summary = summarise_domain_shifts(shifts);
      if (summary.warn()) {
        display.warn(domain_summary_warning(summary, model.source, "the " + std::to_string(shifts.size()) + " inputs"));
      } else if (!common_->quiet) {
        std::cerr << "terraseg: " << summary.describe() << " (the median is not above " << kDomainShiftWarning
                  << ": taken together, the inputs are like the model's training imagery)\n";
      }
    }
    return 0;
  }

 private:
  /// The card with --scale / --mean / --std in place of its normalisation (card-less models need them).
  ModelCard with_normalisation_flags(ModelCard card) const {
    const auto numbers = [](const std::string& text, const std::string& flag) {
      std::vector<float> values;
      for (const std::string& part : split_commas(text)) {
        char* end = nullptr;
        const float value = std::strtof(part.c_str(), &end);
        if (end == part.c_str() || *end != '\0' || !std::isfinite(value)) {
          throw terraseg::Error(flag + " '" + text + "': give numbers separated by commas, e.g. 0.485,0.456,0.406");
        }
        values.push_back(value);
      }
      return values;
    };
    if (scale_ > 0.0) card.scale = scale_;
    if (!mean_.empty()) card.mean = numbers(mean_, "--mean");
    if (!std_.empty()) card.std = numbers(std_, "--std");
    for (float sd : card.std) {
      if (sd == 0.0F) throw terraseg::Error("--std '" + std_ + "': a standard deviation of 0 divides by zero");
    }
    return card;
  }

  static void check_input(const std::string& input) {
    check_utf8(input, "input '" + input + "'");
    if (input.rfind("/vsi", 0) == 0) return;  // GDAL virtual paths are checked when opened
    if (!std::filesystem::exists(input)) throw terraseg::Error(input + ": input does not exist; check the path");
  }

  /// Output for `input` under `target`: DIR/<stem><suffix> when `target` is a directory (always for
  /// --output-dir, made later if missing), else `target` itself (one input only).
  std::string derive(const std::string& target, const std::string& flag, const std::string& input,
                     const std::string& suffix, bool always_dir) const {
    if (target.empty()) return {};
    // One input: a file name, unless it names a folder (an existing one, or a path ending in '/').
    if (!always_dir && inputs_.size() == 1 && !std::filesystem::is_directory(target) && !names_folder(target)) {
      return target;
    }
    if (std::filesystem::exists(target) && !std::filesystem::is_directory(target)) {
      throw terraseg::Error(flag + " " + target +
                            ": exists and is not a directory; give a directory (or -o FILE for one input)");
    }
    return (std::filesystem::path(target) / (std::filesystem::path(input).stem().string() + suffix)).string();
  }

  static bool names_folder(const std::string& path) { return !path.empty() && path.back() == '/'; }

  static void make_folder(const std::filesystem::path& folder, const std::string& flag) {
    if (folder.empty()) return;
    std::error_code error;
    std::filesystem::create_directories(folder, error);
    if (error) {
      throw terraseg::Error(flag + ": cannot create the folder '" + folder.string() + "' (" + error.message() +
                            "): a file may be in its way, or it is not writable; choose another output path");
    }
  }

  /// An output must be a new or replaceable file: never a directory, never one of the inputs, never
  /// below a file.
  void check_output(const std::string& path, const std::string& flag) const {
    if (path.empty()) return;
    if (std::filesystem::is_directory(path) || names_folder(path)) {
      throw terraseg::Error(
          flag + " " + path +
          (std::filesystem::is_directory(path) ? ": is a directory" : ": names a folder (it ends in '/')") +
          "; give a file name, or --output-dir DIR to write <input stem>.tif inside it");
    }
    for (const auto& input : inputs_) {
      std::error_code a_error, b_error, c_error;
      const auto a = std::filesystem::weakly_canonical(path, a_error);
      const auto b = std::filesystem::weakly_canonical(input, b_error);
      const bool same = std::filesystem::equivalent(path, input, c_error) || (!a_error && !b_error && a == b);
      if (same) {
        throw terraseg::Error(flag + " " + path +
                              ": is one of the inputs; predict never overwrites its input: give "
                              "another output path");
      }
    }
    // The nearest existing ancestor of the output must be a folder, or the folder cannot be made.
    std::filesystem::path folder = std::filesystem::path(path).parent_path();
    while (!folder.empty() && !std::filesystem::exists(folder) && folder != folder.parent_path()) {
      folder = folder.parent_path();
    }
    if (!folder.empty() && std::filesystem::exists(folder) && !std::filesystem::is_directory(folder)) {
      throw terraseg::Error(flag + ": cannot create the folder '" + std::filesystem::path(path).parent_path().string() +
                            "' for '" + path + "': '" + folder.string() + "' is a file; choose another output path");
    }
  }

  /// The outputs of every input, checked as a whole (output_plan.hpp): none is an input or the model,
  /// and no two are one file (inputs of one file name in different folders, -o equal to --logits ...).
  void check_outputs(const std::vector<PredictRequest>& requests) const {
    OutputPlan plan;
    plan.read(model_path_, "the model");
    for (const auto& input : inputs_) {
      if (input.rfind("/vsi", 0) != 0) plan.read(input, "an input");
    }
    for (const PredictRequest& request : requests) {
      const std::string of = inputs_.size() > 1 ? " for input '" + request.input + "'" : "";
      const std::string mask_flag = output_.empty() ? "--output-dir" : "-o";
      for (const std::string& path : {request.mask_path, request.logits_path, request.vectors_path}) {
        check_utf8(path, "output '" + path + "'");
      }
      plan.output(request.mask_path, mask_flag + of);
      plan.output(request.mask_path + ".aux.xml", mask_flag + of);
      plan.output(geo::qgis_style_path(request.mask_path), mask_flag + of + " (its QGIS style)");
      if (!request.logits_path.empty()) {
        plan.output(request.logits_path, "--logits" + of);
        plan.output(request.logits_path + ".aux.xml", "--logits" + of);
      }
      plan.output(request.vectors_path, "--vectors" + of);
    }
    plan.check();
  }

  PredictRequest make_request(const std::string& input) const {
    PredictRequest request;
    request.input = input;
    if (!tile_.empty()) request.tile = parse_tile_size(tile_, "--tile");
    request.mask_path = output_.empty() ? derive(output_dir_, "--output-dir", input, ".tif", true) : output_;
    request.logits_path = derive(logits_, "--logits", input, "-scores.tif", false);
    request.vectors_path = derive(vectors_, "--vectors", input, ".gpkg", false);
    check_output(request.mask_path, output_.empty() ? "--output-dir" : "-o");
    check_output(request.logits_path, "--logits");
    check_output(request.vectors_path, "--vectors");
    if (overlap_ >= 0) request.overlap = overlap_;
    if (pixel_size_m_ > 0.0) request.pixel_size_m = pixel_size_m_;
    request.cog = cog_;
    request.creation_options = creation_options_;
    geo::check_creation_options(creation_options_, cog_, "-co");
    request.resampling = resampling_;
    if (!resampling_.empty()) geo::check_resampling(resampling_, "-r");
    request.resample = !no_resample_;
    request.band_override = split_commas(bands_);
    apply_pass_options(scales_, flip_, request);
    return request;
  }

  CommonOptions* common_ = nullptr;
  std::string model_path_;
  std::vector<std::string> inputs_;
  std::string output_;
  std::string output_dir_;
  std::string logits_;
  std::string vectors_;
  std::string tile_;
  int overlap_ = -1;
  double pixel_size_m_ = 0.0;
  std::string scales_;
  std::string flip_;
  std::string bands_;
  double scale_ = 0.0;
  std::string mean_;
  std::string std_;
  std::string precision_ = "f32";
  bool cog_ = true;
  std::vector<std::string> creation_options_;
  std::string resampling_;
  bool no_resample_ = false;
};

}  // namespace

std::unique_ptr<Command> make_predict_command() { return std::make_unique<PredictCommand>(); }

}  // namespace terraseg::cli
