#include <iostream>

#include "command.hpp"
#include "deepness_report.hpp"
#include "models.hpp"
#include "output_plan.hpp"
#include "terraseg/core/deepness.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/onnx.hpp"
#include "terraseg/geo/threads.hpp"

namespace terraseg::cli {
namespace {

/// `terraseg export MODEL.onnx --for deepness -o OUT.onnx`: a copy of the model that the QGIS Deepness
/// plugin runs as terraseg does (core/deepness.hpp, docs/deepness.md), and that terraseg runs too.
class ExportCommand final : public Command {
 public:
  void declare(CLI::App& sub, CommonOptions& common) override {
    common_ = &common;
    sub.footer(
        "Write a copy of MODEL for another tool. --for deepness (the default): the QGIS Deepness plugin's form, "
        "which runs in Deepness exactly as terraseg runs MODEL: it takes red, green, blue / 255 (the card's band "
        "order, scale, mean and std become a 1x1 convolution at its start), gives class probabilities (a softmax; "
        "a binary card's threshold built in), declares a fixed square input (the card's tile, or --tile) and carries "
        "Deepness's metadata (model_type, class_names, resolution, tiles_size and tile_size, tiles_overlap, "
        "seg_thresh, seg_small_segment, standardization_mean/std). Given the same pixels, Deepness's classes are "
        "terraseg's; where a layer ends inside a tile Deepness fills the tile with zeros, which the model sees "
        "(docs/deepness.md). terraseg reads the copy as a model too and predicts the same classes. In Deepness, load "
        "it and press \"Load default parameters\".");
    sub.add_option("model", model_path_, "ONNX model file (with a terraseg model card)")->required();
    sub.add_option("--for", target_, "The tool to export for: deepness (the QGIS Deepness plugin)")
        ->check(CLI::IsMember({"deepness"}))
        ->capture_default_str();
    sub.add_option("-o,--output", output_, "The ONNX file to write (never the model itself)")->required();
    sub.add_option("--tile", tile_,
                   "Input size in pixels (square; Deepness's tile). Default: the card's tile, else 512; a model that "
                   "only runs at one size gets that size")
        ->check(CLI::Range(8, 16384));
  }

  int run() override {
    // The one output rule (output_plan.hpp): -o is never the model, however it is spelled or linked.
    OutputPlan plan;
    plan.read(model_path_, "the model");
    plan.output(output_, "-o");
    plan.check();
    std::string warning;
    LoadedModel model = load_model_file(model_path_, &warning);
    if (!warning.empty() && !common_->quiet) std::cerr << "terraseg: warning: " << warning << '\n';
    geo::set_thread_count(common_->threads);
    const Graph exported = export_for_deepness(model.graph, tile_);
    save_onnx(exported, output_);
    // What a Deepness user gets is what the written file says: read it back.
    const Graph written = load_onnx(output_);
    const DeepnessReadiness readiness = deepness_readiness(written);
    if (!readiness.ready()) {
      std::string problems;
      for (const std::string& problem : readiness.problems) problems += "; " + problem;
      throw Error(output_ + ": written, but not ready for Deepness" + problems + " (please report this)");
    }
    if (!common_->quiet) {
      std::cout << "wrote " << output_ << " for the QGIS Deepness plugin\n";
      print_deepness(std::cout, written, output_);
    }
    return 0;
  }

 private:
  CommonOptions* common_ = nullptr;
  std::string model_path_;
  std::string target_ = "deepness";
  std::string output_;
  int tile_ = 0;  ///< 0: the card's tile, else 512
};

}  // namespace

std::unique_ptr<Command> make_export_command() { return std::make_unique<ExportCommand>(); }

}  // namespace terraseg::cli
