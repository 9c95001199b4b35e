#include "terraseg/core/model_card.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "terraseg/core/error.hpp"

namespace terraseg {

using nlohmann::json;

namespace {

/// "tile": N | [H, W], "tile_overlap": N, "input_range": [lo, hi], "inference_scales": [s, ...],
/// "inference_flip": bool (all optional).
void read_tiling(const json& doc, ModelCard& card) {
  if (doc.contains("tile") && !doc["tile"].is_null()) {
    const json& tile = doc["tile"];
    const std::vector<int> hw =
        tile.is_array() ? tile.get<std::vector<int>>() : std::vector<int>{tile.get<int>(), tile.get<int>()};
    if (hw.size() != 2 || hw[0] < 8 || hw[1] < 8) {
      throw Error("tile must be N or [H, W] with sides of at least 8 pixels");
    }
    card.tile = std::array<int, 2>{hw[0], hw[1]};
  }
  if (doc.contains("tile_overlap") && !doc["tile_overlap"].is_null()) {
    card.tile_overlap = doc["tile_overlap"].get<int>();
    if (*card.tile_overlap < 0) throw Error("tile_overlap must be >= 0");
  }
  if (doc.contains("input_range") && !doc["input_range"].is_null()) {
    const auto range = doc["input_range"].get<std::vector<double>>();
    if (range.size() != 2 || !(range[1] > range[0])) throw Error("input_range must be [lo, hi] with hi > lo");
    card.input_range = std::array<double, 2>{range[0], range[1]};
  }
  if (doc.contains("inference_scales") && !doc["inference_scales"].is_null()) {
    card.inference_scales = doc["inference_scales"].get<std::vector<double>>();
    check_inference_scales(card.inference_scales);
  }
  if (doc.contains("inference_flip") && !doc["inference_flip"].is_null()) {
    card.inference_flip = doc["inference_flip"].get<bool>();
  }
}

/// Hues spread by the golden ratio, for ids past the fixed list.
std::array<uint8_t, 3> generated_colour(int id) {
  const double hue = std::fmod(id * 0.6180339887, 1.0) * 6.0;
  const double f = hue - std::floor(hue);
  const auto v = [](double x) { return static_cast<uint8_t>(std::lround(40.0 + 200.0 * x)); };
  switch (static_cast<int>(hue)) {
    case 0: return {v(1), v(f), v(0)};
    case 1: return {v(1 - f), v(1), v(0)};
    case 2: return {v(0), v(1), v(f)};
    case 3: return {v(0), v(1 - f), v(1)};
    case 4: return {v(f), v(0), v(1)};
    default: return {v(1), v(0), v(1 - f)};
  }
}

}  // namespace

void check_inference_scales(const std::vector<double>& scales) {
  if (scales.empty()) throw Error("inference_scales must list at least one scale (1 runs the model once)");
  for (double s : scales) {
    if (!std::isfinite(s) || s < 0.25 || s > 4.0) {
      throw Error("inference_scales: " + std::to_string(s) + " is outside 0.25..4 (a factor on the window's size)");
    }
  }
}

std::array<uint8_t, 3> default_class_colour(int id) {
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
  if (id >= 0 && static_cast<size_t>(id) < kColours.size()) return kColours[static_cast<size_t>(id)];
  return generated_colour(id);
}

std::string class_name(const std::vector<ClassInfo>& classes, int id) {
  const auto it = std::find_if(classes.begin(), classes.end(), [id](const ClassInfo& c) { return c.id == id; });
  return it != classes.end() && !it->name.empty() ? it->name : "class " + std::to_string(id);
}

std::vector<ClassInfo> complete_class_table(const std::vector<ClassInfo>& classes, int count) {
  std::map<int, ClassInfo> by_id;
  for (const ClassInfo& info : classes) by_id.emplace(info.id, info);
  for (int id = 0; id < count; ++id) by_id.emplace(id, ClassInfo{id, "", default_class_colour(id)});
  std::vector<ClassInfo> table;
  for (auto& [id, info] : by_id) {
    info.name = class_name(classes, id);
    table.push_back(std::move(info));
  }
  return table;
}

std::string ModelCard::to_json() const {
  json doc;
  doc["name"] = name;
  doc["architecture"] = architecture;
  json class_list = json::array();
  for (const ClassInfo& info : classes) {
    class_list.push_back({{"id", info.id}, {"name", info.name}, {"rgb", {info.rgb[0], info.rgb[1], info.rgb[2]}}});
  }
  doc["classes"] = class_list;
  doc["ignore_ids"] = ignore_ids;
  doc["bands"] = bands;
  doc["scale"] = scale;
  doc["mean"] = mean;
  doc["std"] = std;
  doc["pixel_size_m"] = pixel_size_m ? json(*pixel_size_m) : json(nullptr);
  doc["training_data"] = training_data;
  doc["licence"] = licence;
  doc["initial_weights"] = initial_weights;
  doc["initial_weights_licence"] = initial_weights_licence;
  doc["metrics"] = metrics;
  doc["threshold"] = threshold ? json(*threshold) : json(nullptr);
  if (tile) doc["tile"] = {(*tile)[0], (*tile)[1]};
  if (tile_overlap) doc["tile_overlap"] = *tile_overlap;
  if (input_range) doc["input_range"] = {(*input_range)[0], (*input_range)[1]};
  if (!inference_scales.empty()) doc["inference_scales"] = inference_scales;
  if (inference_flip) doc["inference_flip"] = true;
  doc["notes"] = notes;
  return doc.dump(2);
}

ModelCard ModelCard::from_json(const std::string& text, const std::string& source) {
  ModelCard card;
  try {
    const json doc = json::parse(text);
    card.name = doc.value("name", "");
    card.architecture = doc.value("architecture", "");
    for (const json& entry : doc.value("classes", json::array())) {
      ClassInfo info;
      info.id = entry.at("id").get<int>();
      info.name = entry.value("name", "");
      if (entry.contains("rgb")) {
        const auto rgb = entry.at("rgb").get<std::vector<int>>();
        if (rgb.size() != 3) throw Error("class " + std::to_string(info.id) + ": rgb must have 3 values");
        for (size_t i = 0; i < 3; ++i) info.rgb[i] = static_cast<uint8_t>(rgb[i]);
      }
      card.classes.push_back(info);
    }
    card.ignore_ids = doc.value("ignore_ids", std::vector<int>{});
    card.bands = doc.value("bands", std::vector<std::string>{});
    card.scale = doc.value("scale", 1.0);
    card.mean = doc.value("mean", std::vector<float>{});
    card.std = doc.value("std", std::vector<float>{});
    if (doc.contains("pixel_size_m") && !doc["pixel_size_m"].is_null()) card.pixel_size_m = doc["pixel_size_m"].get<double>();
    card.training_data = doc.value("training_data", "");
    card.licence = doc.value("licence", "");
    card.initial_weights = doc.value("initial_weights", "");
    card.initial_weights_licence = doc.value("initial_weights_licence", "");
    card.metrics = doc.value("metrics", std::map<std::string, double>{});
    if (doc.contains("threshold") && !doc["threshold"].is_null()) card.threshold = doc["threshold"].get<double>();
    read_tiling(doc, card);
    card.notes = doc.value("notes", "");
  } catch (const json::exception& e) {
    throw Error(source + ": model card is not valid JSON of the expected shape (" + e.what() +
                "); re-export the model with terraseg or fix the 'terraseg.model_card' metadata");
  } catch (const Error& e) {
    throw Error(source + ": model card: " + e.what());
  }
  card.present = true;
  return card;
}

std::string ModelCard::class_name(int id) const { return terraseg::class_name(classes, id); }

}  // namespace terraseg
