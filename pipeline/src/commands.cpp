#include "command.hpp"
#include "inference_passes.hpp"
#include "predict_step.hpp"

namespace terraseg::cli {

std::vector<CommandEntry> all_commands() {
  return {
      {"run", "Batch job over the regions of a YAML config", &make_run_command},
      {"predict", "Segment rasters or photos into class-id GeoTIFFs", &make_predict_command},
      {"info",
       "Print a model's card, inputs, outputs, op counts, parameters and FLOPs, and whether QGIS Deepness can run it",
       &make_info_command},
      {"export", "Write a copy of a model for the QGIS Deepness plugin, which terraseg runs too", &make_export_command},
      {"bench", "Time inference alone (ms per image, GFLOP/s)", &make_bench_command},
      {"train", "Train or fine-tune a model from a YAML config", &make_train_command},
      {"eval", "Evaluate a model on images paired with masks", &make_eval_command},
      {"labels", "Training labels from vectors (OpenStreetMap, GeoPackage ...) burned onto georeferenced images",
       &make_labels_command},
      {"adapt",
       "Fine-tune a model on a few labelled tiles of your region (masks or OpenStreetMap), within a time budget",
       &make_adapt_command},
  };
}

void add_pass_options(CLI::App& sub, std::string& scales, std::string& flip) {
  sub.add_option("--scales", scales,
                 "Run the model on each window at these scales and average the scores, e.g. 1,1.5 (default: the "
                 "model card's inference_scales, else 1; 1 alone is the fastest)");
  sub.add_option("--flip", flip,
                 "on: also run each scale on the mirror image and average it in; off: do not (default: the model "
                 "card's inference_flip)");
}

void apply_pass_options(const std::string& scales, const std::string& flip, PredictRequest& request) {
  if (!scales.empty()) request.scales = parse_scales(scales, "--scales");
  if (!flip.empty()) request.flip = parse_on_off(flip, "--flip");
}

}  // namespace terraseg::cli
