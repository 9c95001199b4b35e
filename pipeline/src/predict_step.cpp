#include "predict_step.hpp"

#include <chrono>
#include <cmath>

#include "models.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/predict.hpp"
#include "terraseg/geo/raster_io.hpp"
#include "terraseg/geo/vectorize.hpp"

namespace terraseg {
namespace {

/// Output channels of the model for a tile of `tile` pixels: the card's class count, else one planned
/// run (the same shape the tiles use, so the plan is reused, not wasted).
int model_classes(Engine& engine, const ModelCard& card, int channels, int tile) {
  if (!card.classes.empty()) return static_cast<int>(card.classes.size());
  Tensor probe({1, channels, tile, tile});
  Tensor scores;
  engine.run(probe, scores);
  if (scores.rank() != 4) throw Error("model output '" + engine.graph().outputs.at(0) + "' is not NCHW scores");
  return static_cast<int>(scores.dim(1));
}

std::map<int, int64_t> class_histogram(const std::string& mask_path, int classes) {
  const std::vector<int64_t> counts = geo::count_class_pixels(mask_path);
  std::map<int, int64_t> result;
  for (int id = 0; id < classes; ++id) result[id] = counts[static_cast<size_t>(id)];
  return result;
}

}  // namespace

PredictReport predict_file(Engine& engine, const ModelCard& card, const PredictRequest& request,
                           const ProgressFn& progress) {
  const auto start = std::chrono::steady_clock::now();
  const geo::RasterInfo info = geo::read_raster_info(request.input);
  PredictReport report;
  report.width = info.width;
  report.height = info.height;
  report.crs_wkt = info.crs_wkt;
  report.georeferenced = info.geotransform.has_value();

  const geo::InputSpec spec = geo::input_spec_from_card(card, request.band_override);
  const Dims& declared = engine.graph().input_dims;
  const int channels = declared.size() == 4 && declared[1] > 0 ? static_cast<int>(declared[1])
                                                               : static_cast<int>(spec.bands.size());
  if (!spec.bands.empty() && static_cast<int>(spec.bands.size()) != channels) {
    throw Error(request.input + ": the model takes " + std::to_string(channels) + " bands but its card (or --bands) names " +
                std::to_string(spec.bands.size()) + "; pass --bands with " + std::to_string(channels) + " entries");
  }
  const int classes = model_classes(engine, card, channels, request.tile);
  std::vector<ClassInfo> class_table = card.classes;
  if (class_table.empty()) {
    ModelCard generic;
    ensure_class_table(generic, classes);
    class_table = generic.classes;
  }

  geo::PredictOptions options;
  options.tile = request.tile;
  options.overlap = request.overlap;
  options.output.cog = request.cog;
  if (request.resample) options.model_pixel_size_m = card.pixel_size_m;
  options.warn = [&report](const std::string& message) { report.warnings.push_back(message); };
  // A binary model with a tuned threshold t on P(class 1): class 1 iff l1 - l0 > logit(t), so adding
  // logit(t) to the class-0 logit makes the blender's argmax apply the threshold (scores shift alike).
  const float class0_shift = classes == 2 && card.threshold && *card.threshold > 0.0 && *card.threshold < 1.0
                                 ? static_cast<float>(std::log(*card.threshold / (1.0 - *card.threshold)))
                                 : 0.0F;
  const geo::TileInfer infer = [&engine, class0_shift](const Tensor& input, Tensor& scores) {
    engine.run(input, scores);
    if (class0_shift == 0.0F) return;
    const int64_t plane = scores.dim(2) * scores.dim(3);
    float* class0 = scores.data();
    for (int64_t i = 0; i < plane; ++i) class0[i] += class0_shift;
  };
  const geo::PredictStats stats = geo::predict_raster(request.input, geo::PredictOutputs{request.mask_path, request.logits_path}, spec, infer, classes,
                      class_table, options, progress);
  if (!request.vectors_path.empty()) geo::vectorize_classes(request.mask_path, request.vectors_path, class_table);

  report.resample_ratio = stats.resample_ratio;
  report.tiles_inferred = stats.tiles_inferred;
  report.class_pixels = class_histogram(request.mask_path, classes);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace terraseg
