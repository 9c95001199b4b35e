#include "terraseg/core/deepness.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>

#include "terraseg/core/error.hpp"

namespace terraseg {
namespace {

using nlohmann::json;

/// The JSON value of `key`, or nullopt when absent or not JSON (a bare word counts as a string).
std::optional<json> value_of(const std::map<std::string, std::string>& metadata, const std::string& key) {
  const auto it = metadata.find(key);
  if (it == metadata.end()) return std::nullopt;
  const json parsed = json::parse(it->second, nullptr, false);
  if (!parsed.is_discarded()) return parsed;
  return json(it->second);
}

std::optional<double> number_of(const std::map<std::string, std::string>& metadata, const std::string& key) {
  const auto value = value_of(metadata, key);
  if (!value || !value->is_number()) return std::nullopt;
  return value->get<double>();
}

std::vector<float> floats_of(const std::map<std::string, std::string>& metadata, const std::string& key) {
  const auto value = value_of(metadata, key);
  std::vector<float> result;
  if (!value || !value->is_array()) return result;
  for (const json& item : *value) {
    if (!item.is_number()) return {};
    result.push_back(item.get<float>());
  }
  return result;
}

bool is_rgb_over_255(const ModelCard& card) {
  return card.bands == std::vector<std::string>{"red", "green", "blue"} && std::abs(card.scale * 255.0 - 1.0) < 1e-6 &&
         card.mean.size() == 3 && card.std.size() == 3;
}

}  // namespace

bool has_deepness_metadata(const std::map<std::string, std::string>& metadata) {
  return metadata.contains("model_type") || metadata.contains("class_names");
}

ModelCard card_from_deepness(const std::map<std::string, std::string>& metadata, const std::string& source) {
  ModelCard card;
  if (const auto type = value_of(metadata, "model_type"); type && type->is_string() && *type != "Segmentor") {
    throw Error(source + ": a Deepness '" + type->get<std::string>() +
                "' model; terraseg runs segmentation models (Deepness model_type 'Segmentor')");
  }
  if (const auto names = value_of(metadata, "class_names"); names && names->is_object()) {
    for (const auto& [key, name] : names->items()) {
      char* end = nullptr;
      const long id = std::strtol(key.c_str(), &end, 10);
      if (end == key.c_str() || *end != '\0' || id < 0 || id > 254 || !name.is_string()) continue;
      card.classes.push_back(
          {static_cast<int>(id), name.get<std::string>(), default_class_colour(static_cast<int>(id))});
    }
    std::sort(card.classes.begin(), card.classes.end(),
              [](const ClassInfo& a, const ClassInfo& b) { return a.id < b.id; });
  }
  if (const auto cm = number_of(metadata, "resolution"); cm && *cm > 0.0) card.pixel_size_m = *cm / 100.0;
  // Deepness's documentation names the key tiles_size, its code reads tile_size: either.
  auto tile = number_of(metadata, "tiles_size");
  if (!tile) tile = number_of(metadata, "tile_size");
  if (tile && *tile >= 8 && *tile <= 16384) {
    const int side = static_cast<int>(*tile);
    card.tile = std::array<int, 2>{side, side};
    if (const auto percent = number_of(metadata, "tiles_overlap"); percent && *percent >= 0.0 && *percent < 50.0) {
      card.tile_overlap = static_cast<int>(side * *percent / 100.0);
    }
  }
  if (const auto threshold = number_of(metadata, "seg_thresh");
      threshold && card.classes.size() == 2 && *threshold > 0.0 && *threshold < 1.0) {
    card.threshold = *threshold;
  }
  card.bands = {"red", "green", "blue"};
  card.scale = 1.0 / 255.0;
  const std::vector<float> mean = floats_of(metadata, "standardization_mean");
  const std::vector<float> std = floats_of(metadata, "standardization_std");
  if (mean.size() == 3 && std.size() == 3) {
    card.mean = mean;
    card.std = std;
  }
  card.notes = "card read from the QGIS Deepness plugin's metadata";
  card.present = true;
  try {
    check_card_ranges(card);
  } catch (const Error& e) {
    throw Error(source +
                ": model card read from its QGIS Deepness metadata (resolution in cm, "
                "standardization_mean/std): " +
                e.what() + "; fix that metadata or re-export the model");
  }
  return card;
}

std::map<std::string, std::string> deepness_metadata(const ModelCard& card) {
  std::map<std::string, std::string> metadata;
  if (card.classes.empty()) return metadata;
  json names = json::object();
  for (const ClassInfo& info : card.classes) names[std::to_string(info.id)] = info.name;
  metadata["model_type"] = json("Segmentor").dump();
  metadata["class_names"] = names.dump();
  if (card.pixel_size_m) metadata["resolution"] = json(*card.pixel_size_m * 100.0).dump();
  if (card.tile) {
    const int side = std::min((*card.tile)[0], (*card.tile)[1]);
    metadata["tiles_size"] = json(side).dump();
    if (card.tile_overlap) metadata["tiles_overlap"] = json(std::lround(100.0 * *card.tile_overlap / side)).dump();
  }
  if (card.threshold && card.classes.size() == 2) metadata["seg_thresh"] = json(*card.threshold).dump();
  if (is_rgb_over_255(card)) {
    metadata["standardization_mean"] = json(card.mean).dump();
    metadata["standardization_std"] = json(card.std).dump();
  }
  return metadata;
}

}  // namespace terraseg
