#pragma once
/// Where `terraseg run` writes everything: every output path of a run is spelled here, once.
///
///   <out>/run-summary.json, report.html (+ report/), collection.json, terraseg-log.jsonl
///   <out>/<region>/<task>.tif (+ -scores.tif, .gpkg, .qml, .stac.json)      one input per region
///   <out>/<region>/<task>/<stem>.tif (and the same siblings)                 several inputs
///   <out>/<region>/indicators.tif, roads-centrelines.gpkg                    (or indicators/<stem>.tif ...)
///   <out>/.terraseg/units/<unit id>.json                                      a finished unit's record
///   <out>/.terraseg/aoi|grid/<unit id>.vrt                                    the input views models read
#include <filesystem>
#include <string>
#include <vector>

#include "terraseg/pipeline/config.hpp"

namespace terraseg {

/// "<region>__<task>__<input stem>": stable and file-name safe; names a unit's record and its VRTs.
std::string unit_id(const RegionConfig& region, const std::string& task, const std::filesystem::path& input);

/// The files one unit (region x task x input) writes. Optional outputs the config turns off are empty.
struct UnitPaths {
  std::filesystem::path mask;       ///< class ids: `<out>/<region>/<task>.tif` or `<out>/<region>/<task>/<stem>.tif`
  std::filesystem::path scores;     ///< beside the mask, "<stem>-scores.tif" (outputs.scores)
  std::filesystem::path vectors;    ///< beside the mask, "<stem>.gpkg" (outputs.vectors)
  std::filesystem::path style;      ///< the mask's QGIS style (geo::qgis_style_path)
  std::filesystem::path stac_item;  ///< the mask's STAC Item (stac_item_path)
  std::filesystem::path record;     ///< `<out>/.terraseg/units/<unit id>.json`: written last, marks the unit complete

  /// The outputs that must all exist for the unit to be complete (the record aside), in a fixed order.
  std::vector<std::string> outputs() const;
};
UnitPaths unit_paths(const RunConfig& config, const RegionConfig& region, const std::string& task,
                     const std::filesystem::path& input);

/// UnitPaths::mask alone (the indicators read the masks of other tasks).
std::filesystem::path task_mask_path(const RunConfig& config, const RegionConfig& region, const std::string& task,
                                     const std::filesystem::path& input);

/// `<out>/.terraseg/units`: the folder of unit records.
std::filesystem::path unit_record_dir(const RunConfig& config);

/// `<out>/.terraseg/<kind>/<unit id>.vrt`: the view a unit's model reads, for kind "aoi" (the area
/// of interest's window) or "grid" (warped onto the region grid).
std::filesystem::path input_view_path(const RunConfig& config, const std::string& kind, const std::string& unit_id);

/// The raster the models of `region` read for `input` (after `terraseg run` prepared it): the region
/// grid's VRT, else the area-of-interest VRT, else the input itself. Indicators read it so that
/// masks, spectral bands and cells share one grid.
std::filesystem::path model_input_path(const RunConfig& config, const RegionConfig& region,
                                       const std::filesystem::path& input);

/// Paths of one region input's indicator outputs: with one input `<out>/<region>/indicators.tif` and
/// `roads-centrelines.gpkg`; with several, `<out>/<region>/indicators/<stem>.tif` and
/// `<out>/<region>/roads-centrelines/<stem>.gpkg` (mirroring the masks' layout).
struct IndicatorPaths {
  std::filesystem::path grid;
  std::filesystem::path centrelines;
};
IndicatorPaths indicator_paths(const RunConfig& config, const RegionConfig& region, const std::filesystem::path& input);

/// The run's own files at the output root.
std::filesystem::path run_summary_path(const std::filesystem::path& output_dir);      ///< run-summary.json
std::filesystem::path report_path(const std::filesystem::path& output_dir);           ///< report.html
std::filesystem::path run_log_path(const std::filesystem::path& output_dir);          ///< terraseg-log.jsonl
std::filesystem::path stac_collection_path(const std::filesystem::path& output_dir);  ///< collection.json

/// Every file and folder `terraseg run` of `config` writes, and every file it reads (inputs, models,
/// the config, the street-view points), checked as a whole (OutputPlan::check) before anything runs.
/// Throws Error naming the config and both sides of the first conflict.
void check_run_outputs(const RunConfig& config);

/// STAC Item path for `raster_path`: "<dir>/<stem>.stac.json".
std::string stac_item_path(const std::string& raster_path);

}  // namespace terraseg
