#include "deepness_report.hpp"

#include <filesystem>
#include <iomanip>
#include <map>
#include <sstream>

#include "terraseg/core/deepness.hpp"

namespace terraseg::cli {
namespace {

std::string export_command(const std::string& model_path) {
  const std::filesystem::path path(model_path);
  const std::filesystem::path out = path.parent_path() / (path.stem().string() + "-deepness.onnx");
  return "terraseg export " + model_path + " --for deepness -o " + out.string();
}

std::string list(const nlohmann::json& values) {
  std::ostringstream text;
  text << std::setprecision(6) << '[';
  for (size_t i = 0; i < values.size(); ++i) text << (i ? ", " : "") << values[i].get<double>();
  text << ']';
  return text.str();
}

}  // namespace

nlohmann::json deepness_json(const Graph& graph, const std::string& model_path) {
  const DeepnessReadiness readiness = deepness_readiness(graph);
  const auto metadata = deepness_metadata(graph);
  const auto value = [&](const std::string& key) {
    const auto it = metadata.find(key);
    return it == metadata.end() ? nlohmann::json(nullptr) : nlohmann::json::parse(it->second, nullptr, false);
  };
  nlohmann::json doc;
  doc["ready"] = readiness.ready();
  doc["problems"] = readiness.problems;
  doc["tile"] = readiness.tile ? nlohmann::json(*readiness.tile) : nlohmann::json(nullptr);
  doc["input"] = readiness.rgb_over_255
                     ? "red, green, blue / 255, then (x - standardization_mean) / standardization_std"
                     : "not Deepness's (see problems)";
  doc["standardization_mean"] = value("standardization_mean");
  doc["standardization_std"] = value("standardization_std");
  doc["output"] = describe(readiness.output);
  doc["seg_thresh"] = value("seg_thresh");
  doc["classes"] = value("class_names");
  doc["resolution_cm"] = value("resolution");
  doc["tiles_overlap_percent"] = value("tiles_overlap");
  doc["export_command"] = readiness.ready() ? nlohmann::json(nullptr) : nlohmann::json(export_command(model_path));
  return doc;
}

void print_deepness(std::ostream& out, const Graph& graph, const std::string& model_path) {
  const nlohmann::json doc = deepness_json(graph, model_path);
  const auto row = [&out](const std::string& key, const std::string& value) {
    out << std::left << std::setw(14) << key << value << '\n';
  };
  if (!doc["ready"].get<bool>()) {
    row("Deepness", "NOT ready for the QGIS Deepness plugin: it would run it wrongly or not at all, because the model");
    for (const auto& problem : doc["problems"]) row("", "- " + problem.get<std::string>());
    row("", "export a copy that is ready (RGB / 255 in, probabilities out, a fixed tile; terraseg runs it too):");
    row("", doc["export_command"].get<std::string>());
    return;
  }
  row("Deepness", "ready for the QGIS Deepness plugin (load it, then press \"Load default parameters\")");
  std::string input = "red, green, blue / 255, then (x - " + list(doc["standardization_mean"]) + ") / " +
                      list(doc["standardization_std"]) + " (standardization_mean/std)";
  row("  input", input);
  const int tile = doc["tile"].get<int>();
  std::string tiles = std::to_string(tile) + "x" + std::to_string(tile) + " px (the input size; tiles_size, tile_size)";
  if (!doc["tiles_overlap_percent"].is_null())
    tiles += ", overlap " + doc["tiles_overlap_percent"].dump() + " % (tiles_overlap)";
  row("  tiles", tiles);
  std::string output = doc["output"].get<std::string>();
  if (!doc["seg_thresh"].is_null()) {
    const double threshold = doc["seg_thresh"].get<double>();
    std::ostringstream text;
    text << threshold;
    output += threshold > 0.0 ? "; seg_thresh " + text.str() + ", then the most probable class"
                              : "; seg_thresh 0 (off): the most probable class, as terraseg";
  }
  row("  output", output + "; no smoothing (seg_small_segment 0)");
  std::map<int, std::string> by_id;  // JSON objects sort "10" before "2"
  if (doc["classes"].is_object()) {
    for (const auto& [id, name] : doc["classes"].items()) by_id[std::stoi(id)] = name.get<std::string>();
  }
  std::string classes;
  for (const auto& [id, name] : by_id) classes += (classes.empty() ? "" : ", ") + std::to_string(id) + " " + name;
  row("  classes", classes);
  if (doc["resolution_cm"].is_null()) {
    row("  resolution", "not stated: set Deepness's resolution to the imagery's");
  } else {
    std::ostringstream text;
    text << doc["resolution_cm"].get<double>() << " cm/px (resolution): Deepness resamples the layer to it";
    row("  resolution", text.str());
  }
}

}  // namespace terraseg::cli
