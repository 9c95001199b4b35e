#pragma once
/// What a run leaves for people: a static HTML report and STAC Items beside output rasters.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "terraseg/core/model_card.hpp"

namespace terraseg {

/// STAC Item path for `raster_path`: "<dir>/<stem>.stac.json".
std::string stac_item_path(const std::string& raster_path);

/// Writes a STAC 1.0 Item (projection extension; bbox and geometry in WGS84, or null geometry for
/// rasters without georeferencing) describing `raster_path` as the asset "data", with the model card's
/// classes (classification extension) and `properties` merged in. Atomic (temporary name + rename).
void write_stac_item(const std::string& raster_path, const ModelCard& card, const nlohmann::json& properties);

/// Writes <output_dir>/report.html (and its images under <output_dir>/report/) from the run summary:
/// a quicklook per unit (mask over imagery), class fractions, indicators, model notes, timings,
/// versions. Self-contained static HTML, no scripts, opens from disk.
void write_report(const std::filesystem::path& output_dir, const nlohmann::json& summary);

}  // namespace terraseg
