#pragma once
/// Street-view walkability (issue 8): segment every photo of the points CSV with the street model,
/// count pixels per role, score the points (terraseg/geo/walkability.hpp) and write
/// <output_dir>/street-view/walkability.{gpkg,csv}, walkability-grid.tif and one class mask per photo
/// under street-view/masks/.
#include <array>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "terraseg/core/engine.hpp"
#include "terraseg/core/model_card.hpp"
#include "terraseg/geo/walkability.hpp"
#include "terraseg/pipeline/config.hpp"

namespace terraseg {

/// Receives warnings for the run's output (may be empty: then they go to std::cerr).
using WarnFn = std::function<void(const std::string& message)>;

struct StreetViewOptions {
  geo::LevelScheme levels;                                 ///< default: quintiles over the points
  std::map<std::string, std::vector<int>> role_overrides;  ///< role name -> class ids (see geo::override_roles)
  double cell_size_m = 250.0;                              ///< walkability grid cell, metres
  std::string grid_crs;                                    ///< empty = UTM zone of the points' centroid
  /// Tiling overrides for photos too large for one window (config tiling; unset: the card's). Photos
  /// go through predict_file, the same path as predict and eval.
  std::optional<std::array<int, 2>> tile;
  std::optional<int> overlap;
  std::string tile_source = "tiling.tile";
  std::string overlap_source = "tiling.overlap";
  std::optional<std::vector<double>> scales;  ///< config tiling.scales / tiling.flip (unset: the card's)
  std::optional<bool> flip;
  std::string scales_source = "tiling.scales";
  /// Fraction of the points segmented, after each (may be empty).
  std::function<void(double fraction)> progress;
};

/// What one street-view run produced.
struct StreetViewResult {
  std::vector<geo::WalkabilityPoint> points;
  std::string role_scheme;  ///< how classes were mapped to roles
  std::filesystem::path gpkg;
  std::filesystem::path csv;
  std::filesystem::path grid;  ///< empty when no point has an IVW (no grid written)
  geo::WalkGridSummary grid_summary;
  int images = 0;
  double seconds = 0.0;
};

/// Segments the photos of `points_csv` with `engine` (the card gives band order, scaling, mean/std
/// and classes; `num_classes` is the model's output channels) and writes the outputs under
/// `output_dir`/street-view. Throws Error naming the CSV, the photo or the output on failure.
StreetViewResult run_street_view(Engine& engine, const ModelCard& card, int num_classes,
                                 const std::filesystem::path& points_csv, const std::filesystem::path& output_dir,
                                 const StreetViewOptions& options, const WarnFn& warn = {});

/// Where photo `index` of street point `point_id` gets its class mask: `<output_dir>/street-view/masks/
/// <id made file-name safe>-<index>.tif`.
std::filesystem::path street_mask_path(const std::filesystem::path& output_dir, const std::string& point_id,
                                       size_t index);

/// Summary of a result for run-summary.json: counts, means of G, C, S, D and IVW over defined
/// values, outputs.
nlohmann::json street_view_json(const StreetViewResult& result);

/// The whole step for a config: loads config.street_view.model, picks the grid CRS (the regions' AOI
/// CRS when they name exactly one, else the UTM zone of the points) and the cell size
/// (indicators.cell_size_m), runs, and returns street_view_json() plus "model" and "trained".
/// Returns a null json when the config has no street_view.points.
nlohmann::json run_street_view_step(const RunConfig& config, const WarnFn& warn = {},
                                    const std::function<void(double fraction)>& progress = {});

}  // namespace terraseg
