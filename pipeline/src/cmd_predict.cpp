#include <filesystem>
#include <iostream>

#include "command.hpp"
#include "models.hpp"
#include "predict_step.hpp"
#include "progress.hpp"
#include "terraseg/core/error.hpp"

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
    sub.add_option("--logits", logits_, "Float32 per-class scores: a file (one input) or a directory");
    sub.add_option("--vectors", vectors_, "GeoPackage polygons of the classes: a file (one input) or a directory");
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
    sub.add_option("--precision", precision_, "f32, bf16 or int8")->check(CLI::IsMember({"f32", "bf16", "int8"}));
    sub.add_flag("--cog", cog_, "Write Cloud Optimized GeoTIFFs");
    sub.add_flag("--no-resample", no_resample_,
                 "Predict at the input's own pixel size even when the model card states another");
  }

  int run() override {
    if (output_.empty() == output_dir_.empty()) throw terraseg::Error("predict: give exactly one of -o OUTPUT or --output-dir DIR");
    if (!output_.empty() && inputs_.size() != 1) throw terraseg::Error("predict: -o takes one input; use --output-dir DIR for several");
    for (const auto& input : inputs_) check_input(input);

    std::string warning;
    LoadedModel model = load_model_file(model_path_, &warning);
    if (!warning.empty()) std::cerr << "terraseg: warning: " << warning << '\n';
    set_thread_count(common_->threads);
    Engine engine(model.graph, EngineOptions{common_->threads, parse_precision(precision_)});
    ProgressDisplay display(common_->quiet);
    for (const auto& input : inputs_) {
      PredictRequest request = make_request(input);
      display.begin(std::filesystem::path(input).filename().string());
      const PredictReport report = predict_file(engine, model.graph.card, request, [&](double f) { display.update(f); });
      display.end();
      for (const auto& message : report.warnings) display.warn(message);
    }
    return 0;
  }

 private:
  static void check_input(const std::string& input) {
    if (input.rfind("/vsi", 0) == 0) return;  // GDAL virtual paths are checked when opened
    if (!std::filesystem::exists(input)) throw terraseg::Error(input + ": input does not exist; check the path");
  }

  /// Output for `input`: -o, or DIR/<stem><suffix>; when `target` is a directory the same rule applies.
  std::string derive(const std::string& target, const std::string& input, const std::string& suffix) const {
    if (target.empty()) return {};
    if (inputs_.size() == 1 && !std::filesystem::is_directory(target)) return target;
    std::filesystem::create_directories(target);
    return (std::filesystem::path(target) / (std::filesystem::path(input).stem().string() + suffix)).string();
  }

  PredictRequest make_request(const std::string& input) const {
    PredictRequest request;
    request.input = input;
    request.mask_path = output_.empty() ? derive(output_dir_, input, ".tif") : output_;
    request.logits_path = derive(logits_, input, "-scores.tif");
    request.vectors_path = derive(vectors_, input, ".gpkg");
    if (!tile_.empty()) request.tile = parse_tile_size(tile_, "--tile");
    if (overlap_ >= 0) request.overlap = overlap_;
    if (pixel_size_m_ > 0.0) request.pixel_size_m = pixel_size_m_;
    request.cog = cog_;
    request.resample = !no_resample_;
    request.band_override = split_commas(bands_);
    const auto parent = std::filesystem::path(request.mask_path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
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
  std::string bands_;
  std::string precision_ = "f32";
  bool cog_ = false;
  bool no_resample_ = false;
};

}  // namespace

std::unique_ptr<Command> make_predict_command() { return std::make_unique<PredictCommand>(); }

}  // namespace terraseg::cli
