#pragma once
/// What a QGIS Deepness user gets from a model (core/deepness.hpp, docs/deepness.md), for `info` and
/// `export`: as text and as JSON.
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "terraseg/core/graph.hpp"

namespace terraseg::cli {

/// {"ready", "problems", "tile", "input", "standardization_mean", "standardization_std", "output",
/// "seg_thresh", "classes", "resolution_cm", "tiles_overlap_percent", "export_command"}.
nlohmann::json deepness_json(const Graph& graph, const std::string& model_path);

/// The "Deepness" lines of `terraseg info`: ready (what it gets) or not (why, and the export command).
void print_deepness(std::ostream& out, const Graph& graph, const std::string& model_path);

}  // namespace terraseg::cli
