#include "models.hpp"

#include "terraseg/core/builders.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/onnx.hpp"

namespace terraseg {
namespace {

Graph build_native(const ModelRef& ref) {
  if (ref.builder == "unet") {
    UNetSpec spec;
    spec.classes = ref.classes;
    spec.base_width = ref.base_width;
    spec.depth = ref.depth;
    spec.seed = static_cast<uint64_t>(ref.seed);
    return build_unet(spec);
  }
  SegNetSpec spec;
  spec.classes = ref.classes;
  spec.basic = ref.builder == "segnet-basic";
  spec.base_width = ref.base_width;
  spec.seed = static_cast<uint64_t>(ref.seed);
  return build_segnet(spec);
}

}  // namespace

LoadedModel load_model_file(const std::string& path, std::string* warning) {
  LoadedModel model{load_onnx(path), path, true};
  if (!model.graph.card.present) {
    if (warning != nullptr) {
      *warning = path +
                 " has no terraseg model card: it runs on raw band values in file order, "
                 "with generic class names; pass --bands/--scale/--mean/--std to change that";
    }
    model.graph.card.notes = "no model card in the file";
  }
  return model;
}

LoadedModel load_model(const ModelRef& ref, std::string* warning) {
  if (!ref.path.empty()) {
    return load_model_file(ref.path.string(), warning);
  }
  LoadedModel model{build_native(ref), "builder:" + ref.builder, false};
  ModelCard& card = model.graph.card;
  card.name = ref.builder + " (untrained)";
  card.notes = "UNTRAINED: random weights from the native builder (seed " + std::to_string(ref.seed) +
               "); the masks demonstrate the pipeline only and carry no meaning";
  card.bands = {"red", "green", "blue"};
  card.scale = 1.0 / 255.0;
  card.classes.clear();
  for (size_t id = 0; id < ref.class_names.size() && static_cast<int>(id) < ref.classes; ++id) {
    card.classes.push_back({static_cast<int>(id), ref.class_names[id], default_class_colour(static_cast<int>(id))});
  }
  card.classes = complete_class_table(card.classes, ref.classes);
  return model;
}

namespace {

/// The process's choice (--tuning, TERRASEG_TUNING), set once by the CLI before any model loads.
EngineOptions::Tuning& engine_tuning() {
  static EngineOptions::Tuning tuning = EngineOptions::Tuning::rules;
  return tuning;
}

}  // namespace

void set_engine_tuning(EngineOptions::Tuning tuning) { engine_tuning() = tuning; }

EngineOptions engine_options(Precision precision) {
  EngineOptions options;
  options.precision = precision;
  options.tuning = engine_tuning();
  return options;
}

EngineOptions::Tuning parse_tuning(const std::string& text, const std::string& source) {
  if (text == "measure") return EngineOptions::Tuning::measure;
  if (text == "rules") return EngineOptions::Tuning::rules;
  throw Error(source + " '" + text +
              "': use measure (time the plan candidates once per CPU, model and shape; "
              "cached) or rules (fixed, deterministic choices)");
}

}  // namespace terraseg
