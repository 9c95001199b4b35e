#pragma once
/// STAC 1.0.0 metadata of a run: an Item beside each mask and a Collection at the output root that
/// links them and lists the run's other outputs (indicator grids, GeoPackages, report) as assets.
/// Extensions: projection v1.1.0, raster v1.1.0, classification v1.1.0, file v2.1.0. The vendored
/// schemas in tests/stac/ and scripts/validate-stac.py check what is written here.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "run_layout.hpp"  // stac_item_path, stac_collection_path
#include "terraseg/core/model_card.hpp"

namespace terraseg {

/// What an Item describes besides the mask itself.
// NOLINTNEXTLINE(bugprone-exception-escape): the throw it sees is nlohmann::json's invariant assert in a noexcept move
struct StacItemRequest {
  std::string id;                    ///< unique in the run (the unit id)
  std::string source;                ///< the input as the config names it (a file or a GDAL /vsi path)
  std::string run_started;           ///< ISO 8601 UTC: the datetime when the source records none
  std::string scores_path;           ///< optional: the class-score raster beside the mask
  std::string vectors_path;          ///< optional: the mask's polygons (GeoPackage)
  std::filesystem::path collection;  ///< the run's collection.json (linked as collection/parent/root)
  nlohmann::json properties;         ///< merged into the Item's properties (title, terraseg:*)
};

/// The acquisition time the raster records (TIFFTAG_DATETIME, or ACQUISITIONDATETIME in the IMAGERY
/// domain) as ISO 8601 UTC and the metadata item it came from; {"", ""} when there is none.
std::pair<std::string, std::string> raster_acquisition_time(const std::string& path);

/// Writes the Item for `raster_path` (assets: the mask with its classes, raster band and file size,
/// plus scores and polygons when given); atomic. `datetime` is the source's acquisition time, else the
/// run's start, and `terraseg:datetime_source` says which.
void write_stac_item(const std::string& raster_path, const ModelCard& card, const StacItemRequest& request);

/// Writes licences.md at the output root: for each model the runs used, its weights' licence, its
/// training data and their terms, and that the inputs' own licence applies. Returns its path.
std::filesystem::path write_licence_notes(const std::filesystem::path& output_dir,
                                          const std::vector<nlohmann::json>& unit_records);

/// Writes collection.json: one `item` link per Item in `item_paths` and an asset per file in
/// `other_outputs` that exists; its extent covers every Item and every asset with a place (indicator
/// grids, GeoPackages such as the street-view points); a `license` link to licences.md; atomic.
void write_stac_collection(const std::filesystem::path& output_dir, const std::string& config_name,
                           const std::vector<std::string>& item_paths, const std::vector<std::string>& other_outputs);

}  // namespace terraseg
