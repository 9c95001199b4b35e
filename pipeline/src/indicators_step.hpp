#pragma once
/// Urban indicators for a run (issue 8): after every unit's mask is written, aerial indicators per
/// region input (from the masks of the tasks named "roads" and "landcover" and, where the input has
/// red and NIR bands, NDVI) and the street-view walkability. Definitions: docs/indicators.md.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "progress.hpp"
#include "run_layout.hpp"
#include "street_view_step.hpp"
#include "terraseg/geo/indicators.hpp"
#include "terraseg/pipeline/config.hpp"

namespace terraseg {

/// Task keys whose masks feed the aerial indicators.
inline constexpr const char* kRoadsTask = "roads";
inline constexpr const char* kLandcoverTask = "landcover";

/// Knobs without config keys yet (defaults documented in docs/indicators.md).
struct IndicatorStepOptions {
  double ndvi_threshold = 0.3;
  int red_band = 0;  ///< 1-based; 0 = find by colour interpretation / description
  int nir_band = 0;
  double road_width_m = 8.0;                ///< scales the road-graph clean-up not set below
  std::optional<double> min_spur_m;         ///< metres; unset = from road_width_m, 0 = off
  std::optional<double> merge_junctions_m;  ///< metres; unset = from road_width_m, 0 = off
  std::optional<double> smooth_mask_m;      ///< metres; unset = from road_width_m, 0 = off
};

/// Aerial indicators of one region input. Returns its summary object ("region", "input", "grid",
/// "bands", greenery / road values, "road_length_km", "intersections", ...), or an object with
/// "skipped" and the reason (not georeferenced, nothing to compute from).
nlohmann::json region_input_indicators(const RunConfig& config, const RegionConfig& region,
                                       const std::filesystem::path& input, const IndicatorStepOptions& options,
                                       const WarnFn& warn = {});

/// Everything for run-summary.json: {"indicators": {"aerial": [...], "street_view": {...}},
/// "maps": [{"raster", "band", "title"}, ...]} — "maps" in the form pipeline/src/report.cpp renders.
/// Nothing is computed when config.indicators.enabled is false (both members empty).
/// Call once after all units are complete, before write_run_summary().
/// `display` (may be null) shows a progress line per region input and for the street-view photos.
nlohmann::json compute_run_indicators(const RunConfig& config, const WarnFn& warn = {},
                                      ProgressDisplay* display = nullptr);

/// The files compute_run_indicators() reported writing (indicator grids, centreline GeoPackages,
/// walkability tables): the run's STAC Collection lists them as assets.
std::vector<std::string> indicator_outputs(const nlohmann::json& run_indicators);

}  // namespace terraseg
