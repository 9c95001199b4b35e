#include "terraseg/core/model_card.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "terraseg/core/error.hpp"

namespace terraseg {

using nlohmann::json;

namespace {

std::string number_text(double value) {
  std::ostringstream out;
  out.precision(6);
  out << value;
  return out.str();
}

[[noreturn]] void bad_key(const std::string& key, const std::string& value, const std::string& rule) {
  throw Error("key '" + key + "' is " + value + ": " + rule);
}

/// A whole number from `lo` to `hi` (JSON integers, or floats with no fraction); names `key` otherwise.
int whole_number(const json& value, const std::string& key, int lo, int hi, const std::string& rule) {
  if (!value.is_number()) bad_key(key, value.dump(), rule);
  const double number = value.get<double>();
  if (!(number >= lo && number <= hi) || number != std::floor(number)) bad_key(key, value.dump(), rule);
  return static_cast<int>(number);
}

constexpr const char* kTileRule = "tile sides are whole numbers of pixels from 8 to 16384 (N or [H, W])";
constexpr const char* kOverlapRule = "tile_overlap is a whole number of pixels from 0 to 4096, below half the tile";
constexpr const char* kClassIdRule = "class ids are whole numbers from 0 to 254 (255 is the masks' nodata), each once";

/// "tile": N | [H, W], "tile_overlap": N, "input_range": [lo, hi], "inference_scales": [s, ...],
/// "inference_flip": bool (all optional).
void read_tiling(const json& doc, ModelCard& card) {
  if (doc.contains("tile") && !doc["tile"].is_null()) {
    const json& tile = doc["tile"];
    if (tile.is_array() && tile.size() != 2) bad_key("tile", tile.dump(), kTileRule);
    const json& h = tile.is_array() ? tile[0] : tile;
    const json& w = tile.is_array() ? tile[1] : tile;
    card.tile =
        std::array<int, 2>{whole_number(h, "tile", 8, 16384, kTileRule), whole_number(w, "tile", 8, 16384, kTileRule)};
  }
  if (doc.contains("tile_overlap") && !doc["tile_overlap"].is_null()) {
    card.tile_overlap = whole_number(doc["tile_overlap"], "tile_overlap", 0, 4096, kOverlapRule);
  }
  if (doc.contains("input_range") && !doc["input_range"].is_null()) {
    const auto range = doc["input_range"].get<std::vector<double>>();
    if (range.size() != 2) bad_key("input_range", doc["input_range"].dump(), "input_range is [lo, hi] with lo < hi");
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

ClassInfo read_class(const json& entry, size_t index) {
  const std::string where = "classes[" + std::to_string(index) + "]";
  ClassInfo info;
  info.id = whole_number(entry.at("id"), where + ".id", 0, 254, kClassIdRule);
  info.name = entry.value("name", "");
  if (entry.contains("rgb")) {
    const json& rgb = entry.at("rgb");
    const std::string rule = "a class colour is [r, g, b] with whole numbers from 0 to 255";
    if (!rgb.is_array() || rgb.size() != 3) bad_key(where + ".rgb", rgb.dump(), rule);
    for (size_t i = 0; i < 3; ++i)
      info.rgb[i] = static_cast<uint8_t>(whole_number(rgb[i], where + ".rgb", 0, 255, rule));
  }
  return info;
}

/// Hues spread by the golden ratio, for ids past the fixed list.
std::array<uint8_t, 3> generated_colour(int id) {
  const double hue = std::fmod(id * 0.6180339887, 1.0) * 6.0;
  const double f = hue - std::floor(hue);
  const auto v = [](double x) { return static_cast<uint8_t>(std::lround(40.0 + 200.0 * x)); };
  switch (static_cast<int>(hue)) {
    case 0:
      return {v(1), v(f), v(0)};
    case 1:
      return {v(1 - f), v(1), v(0)};
    case 2:
      return {v(0), v(1), v(f)};
    case 3:
      return {v(0), v(1 - f), v(1)};
    case 4:
      return {v(f), v(0), v(1)};
    default:
      return {v(1), v(0), v(1 - f)};
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

void check_card_ranges(const ModelCard& card) {
  if (card.pixel_size_m && !(*card.pixel_size_m >= 1e-3 && *card.pixel_size_m <= 1e5)) {
    bad_key("pixel_size_m", number_text(*card.pixel_size_m),
            "the ground pixel size the model was trained at is in metres, from 0.001 to 100000 (null: unknown)");
  }
  if (!std::isfinite(card.scale) || !(card.scale > 0.0)) {
    bad_key("scale", number_text(card.scale),
            "the scale on raw values must be finite and above 0 (e.g. 0.00392 for 1/255)");
  }
  for (size_t c = 0; c < card.mean.size(); ++c) {
    if (!std::isfinite(card.mean[c])) {
      bad_key("mean[" + std::to_string(c) + "]", number_text(card.mean[c]), "band means must be finite numbers");
    }
  }
  for (size_t c = 0; c < card.std.size(); ++c) {
    if (!std::isfinite(card.std[c]) || !(card.std[c] > 0.0F)) {
      bad_key("std[" + std::to_string(c) + "]", number_text(card.std[c]),
              "band standard deviations must be finite and above 0 (the values are divided by them)");
    }
  }
  std::set<int> ids;
  for (size_t i = 0; i < card.classes.size(); ++i) {
    const int id = card.classes[i].id;
    const std::string key = "classes[" + std::to_string(i) + "].id";
    if (id < 0 || id > 254) bad_key(key, std::to_string(id), kClassIdRule);
    if (!ids.insert(id).second) bad_key(key, std::to_string(id) + " again", kClassIdRule);
  }
  if (card.input_range) {
    const auto [lo, hi] = *card.input_range;
    if (!std::isfinite(lo) || !std::isfinite(hi) || !(lo < hi)) {
      bad_key("input_range", "[" + number_text(lo) + ", " + number_text(hi) + "]",
              "the raw value range the normalisation expects is [lo, hi], finite, with lo < hi (e.g. [0, 255])");
    }
  }
  if (card.tile) {
    for (int side : *card.tile) {
      if (side < 8 || side > 16384) {
        bad_key("tile", std::to_string((*card.tile)[0]) + "x" + std::to_string((*card.tile)[1]), kTileRule);
      }
    }
  }
  if (card.tile_overlap) {
    const int overlap = *card.tile_overlap;
    const int shortest = card.tile ? std::min((*card.tile)[0], (*card.tile)[1]) : 8193;
    if (overlap < 0 || overlap > 4096 || (overlap > 0 && 2 * overlap >= shortest)) {
      bad_key("tile_overlap", std::to_string(overlap), kOverlapRule);
    }
  }
  if (card.threshold && !(*card.threshold > 0.0 && *card.threshold < 1.0)) {
    bad_key("threshold", number_text(*card.threshold),
            "a binary model's threshold is a probability of its class 1 strictly between 0 and 1 (null: argmax)");
  }
  if (!card.inference_scales.empty()) check_inference_scales(card.inference_scales);
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

std::string hex_rgb(const std::array<uint8_t, 3>& rgb, bool upper_case) {
  std::ostringstream text;
  if (upper_case) text << std::uppercase;
  text << std::hex << std::setfill('0');
  for (const uint8_t value : rgb) text << std::setw(2) << static_cast<unsigned>(value);
  return text.str();
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

namespace {

/// "training_domain": every descriptor as long as the feature list, scales and spread finite and above 0.
DomainProfile read_domain(const json& doc) {
  DomainProfile d;
  d.features = doc.at("features").get<std::vector<std::string>>();
  d.scale = doc.at("scale").get<std::vector<float>>();
  d.reference = doc.at("reference").get<std::vector<std::vector<float>>>();
  d.spread = doc.at("spread").get<double>();
  d.images = doc.value("images", 0);
  d.source = doc.value("source", "");
  if (doc.contains("validation_max") && !doc["validation_max"].is_null())
    d.validation_max = doc["validation_max"].get<double>();
  const std::string rule =
      "training_domain holds one finite descriptor per reference image, as long as its feature list, "
      "and finite positive scales and spread (re-export the model with terraseg train or adapt)";
  if (d.features.empty() || d.scale.size() != d.features.size() || d.reference.empty()) {
    bad_key("training_domain",
            std::to_string(d.features.size()) + " features, " + std::to_string(d.scale.size()) + " scales and " +
                std::to_string(d.reference.size()) + " reference images",
            rule);
  }
  for (const float s : d.scale) {
    if (!std::isfinite(s) || !(s > 0.0F)) bad_key("training_domain.scale", number_text(s), rule);
  }
  if (!std::isfinite(d.spread) || !(d.spread > 0.0)) bad_key("training_domain.spread", number_text(d.spread), rule);
  for (const std::vector<float>& r : d.reference) {
    if (r.size() != d.features.size()) bad_key("training_domain.reference", std::to_string(r.size()) + " values", rule);
    for (const float v : r) {
      if (!std::isfinite(v)) bad_key("training_domain.reference", number_text(v), rule);
    }
  }
  return d;
}

}  // namespace

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
  if (training_domain) {
    const DomainProfile& d = *training_domain;
    doc["training_domain"] = {{"features", d.features}, {"scale", d.scale},   {"reference", d.reference},
                              {"spread", d.spread},     {"images", d.images}, {"source", d.source}};
    if (d.validation_max) doc["training_domain"]["validation_max"] = *d.validation_max;
  }
  return doc.dump(2);
}

ModelCard ModelCard::from_json(const std::string& text, const std::string& source) {
  ModelCard card;
  try {
    const json doc = json::parse(text);
    card.name = doc.value("name", "");
    card.architecture = doc.value("architecture", "");
    const json classes = doc.value("classes", json::array());
    for (size_t i = 0; i < classes.size(); ++i) card.classes.push_back(read_class(classes[i], i));
    card.ignore_ids = doc.value("ignore_ids", std::vector<int>{});
    card.bands = doc.value("bands", std::vector<std::string>{});
    card.scale = doc.value("scale", 1.0);
    card.mean = doc.value("mean", std::vector<float>{});
    card.std = doc.value("std", std::vector<float>{});
    if (doc.contains("pixel_size_m") && !doc["pixel_size_m"].is_null())
      card.pixel_size_m = doc["pixel_size_m"].get<double>();
    card.training_data = doc.value("training_data", "");
    card.licence = doc.value("licence", "");
    card.initial_weights = doc.value("initial_weights", "");
    card.initial_weights_licence = doc.value("initial_weights_licence", "");
    card.metrics = doc.value("metrics", std::map<std::string, double>{});
    if (doc.contains("threshold") && !doc["threshold"].is_null()) card.threshold = doc["threshold"].get<double>();
    read_tiling(doc, card);
    card.notes = doc.value("notes", "");
    if (doc.contains("training_domain") && !doc["training_domain"].is_null())
      card.training_domain = read_domain(doc["training_domain"]);
    check_card_ranges(card);
  } catch (const json::exception& e) {
    throw Error(source + ": model card is not valid JSON of the expected shape (" + e.what() +
                "); re-export the model with terraseg or fix the 'terraseg.model_card' metadata");
  } catch (const Error& e) {
    throw Error(source + ": model card: " + e.what() +
                "; fix the card (scripts/set-card.py MODEL.onnx KEY=VALUE) or re-export the model");
  }
  card.present = true;
  return card;
}

std::string ModelCard::class_name(int id) const { return terraseg::class_name(classes, id); }

}  // namespace terraseg
