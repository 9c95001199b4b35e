#include "command.hpp"

namespace terraseg::cli {

std::vector<CommandEntry> all_commands() {
  return {
      {"run", "Batch job over the regions of a YAML config", &make_run_command},
      {"predict", "Segment rasters or photos into class-id GeoTIFFs", &make_predict_command},
      {"info", "Print a model's card, inputs, outputs, op counts, parameters and FLOPs", &make_info_command},
      {"bench", "Time inference alone (ms per image, GFLOP/s)", &make_bench_command},
      {"train", "Train or fine-tune a model from a YAML config", &make_train_command},
      {"eval", "Evaluate a model on images paired with masks", &make_eval_command},
  };
}

}  // namespace terraseg::cli
