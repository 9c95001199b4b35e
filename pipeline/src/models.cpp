#include "models.hpp"

#include "terraseg/core/builders.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/onnx.hpp"

namespace terraseg {
namespace {

/// Distinct, readable colours for class ids (QGIS colour table).
std::array<uint8_t, 3> palette_colour(int id) {
  static const std::array<std::array<uint8_t, 3>, 12> kColours{{{0, 0, 0},
                                                                 {230, 25, 75},
                                                                 {60, 180, 75},
                                                                 {255, 225, 25},
                                                                 {0, 130, 200},
                                                                 {245, 130, 48},
                                                                 {145, 30, 180},
                                                                 {70, 240, 240},
                                                                 {240, 50, 230},
                                                                 {210, 245, 60},
                                                                 {250, 190, 212},
                                                                 {0, 128, 128}}};
  return kColours[static_cast<size_t>(id) % kColours.size()];
}

/// Fills the classes of a card that has none from the graph's declared class count.
void default_classes(ModelCard& card, int classes, const std::vector<std::string>& names) {
  if (!card.classes.empty()) return;
  for (int id = 0; id < classes; ++id) {
    const std::string name = id < static_cast<int>(names.size()) ? names[static_cast<size_t>(id)] : "class " + std::to_string(id);
    card.classes.push_back({id, name, palette_colour(id)});
  }
}

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

void ensure_class_table(ModelCard& card, int classes) { default_classes(card, classes, {}); }

LoadedModel load_model_file(const std::string& path, std::string* warning) {
  LoadedModel model{load_onnx(path), path, true};
  if (!model.graph.card.present) {
    if (warning != nullptr) {
      *warning = path + " has no terraseg model card: it runs on raw band values in file order, "
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
  default_classes(card, ref.classes, ref.class_names);
  return model;
}

}  // namespace terraseg
