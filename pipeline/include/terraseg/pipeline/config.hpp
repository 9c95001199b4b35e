#pragma once
/// Region configs: YAML parsed once, at the edge, into these plain structs (defaults in member
/// initialisers). Relative paths are resolved against the config file's directory.
/// Documented with examples in configs/README.md.
#include <array>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace terraseg {

/// A model: an ONNX file, or (until trained models ship, or for experiments) a native builder.
struct ModelRef {
  std::filesystem::path path;  ///< ONNX file; empty when `builder` is set
  std::string builder;         ///< "unet" | "segnet" | "segnet-basic"; empty when `path` is set
  int classes = 2;
  int base_width = 16;
  int depth = 3;
  std::vector<std::string> class_names;  ///< builder models: names for the card
  int seed = 1;
  std::string precision = "f32";
};

struct TilingConfig {
  /// Window (height, width) for rasters that do not fit in one; YAML N or [H, W]. Unset: each model
  /// card's, else 512. Overrides the cards for every model of the config.
  std::optional<std::array<int, 2>> tile;
  std::optional<int> overlap;  ///< pixels shared by neighbouring windows; unset: the card's, else 64
  bool resample = true;        ///< run each model at its card's pixel_size_m, warping in and back
  std::string resampling;      ///< how inputs are warped to it (gdalwarp -r names); "" = automatic
  /// Scales each window runs at, scores averaged (YAML list, e.g. [1, 1.5]; [1]: one pass, fastest), and
  /// whether the mirror image runs too. Unset: each model card's inference_scales / inference_flip.
  std::optional<std::vector<double>> scales;
  std::optional<bool> flip;
};

struct OutputsConfig {
  bool masks = true;
  bool scores = false;
  bool vectors = false;
  /// Cloud Optimized GeoTIFFs (GDAL's COG driver: tiled, overviews after the full resolution image),
  /// which GDAL's validator and STAC's "profile=cloud-optimized" mean; false: plain tiled GeoTIFFs.
  bool cog = true;
  std::vector<std::string> creation_options;  ///< GDAL -co NAME=VALUE for every raster written
};

/// Area of interest in `crs` (any GDAL-understood definition, e.g. "EPSG:4326").
struct AoiConfig {
  std::optional<std::array<double, 4>> bbox;   ///< min_x, min_y, max_x, max_y
  std::vector<std::array<double, 2>> polygon;  ///< closed or open ring
  std::string crs;
};

/// One output grid for every input of a region (inputs in different CRSs are warped onto it).
struct GridConfig {
  std::string crs;            ///< e.g. "EPSG:32632"
  double pixel_size_m = 0.0;  ///< square pixels, metres (converted to degrees for a geographic crs)
};

struct RegionConfig {
  std::string name;
  std::vector<std::filesystem::path> inputs;  ///< files, globs expanded at load, or VRTs
  std::vector<std::string> tasks;             ///< keys into RunConfig::models; default: every aerial task
  std::optional<AoiConfig> aoi;
  std::optional<GridConfig> grid;  ///< none: each input keeps its own grid
};

struct IndicatorsConfig {
  bool enabled = true;
  double cell_size_m = 250.0;
  double ndvi_threshold = 0.3;  ///< NDVI above this counts as vegetation
  int red_band = 0;             ///< 1-based; 0 = find by colour interpretation / description
  int nir_band = 0;
  /// Road centreline clean-up (geo::RoadGraphOptions): unset keys are scaled from road_width_m and the
  /// raster's pixel size (geo::road_graph_defaults); 0 turns one off.
  double road_width_m = 8.0;                ///< typical road width, metres
  std::optional<double> min_spur_m;         ///< prune skeleton spurs shorter than this (metres)
  std::optional<double> merge_junctions_m;  ///< merge junctions closer than this (metres)
  std::optional<double> smooth_mask_m;      ///< closing radius applied to the mask before thinning
};

struct StreetViewConfig {
  std::filesystem::path points;      ///< CSV: id, lon, lat, image[, image...]; empty = none
  std::string model = "street";      ///< key into RunConfig::models
  std::string levels = "quintiles";  ///< "quintiles" over the points, or "breakpoints"
  /// With levels: breakpoints, four ascending values per indicator G, C, S, D.
  std::map<std::string, std::vector<double>> breakpoints;
  std::vector<std::string> invert;                ///< indicators ranked descending, e.g. [C]
  std::map<std::string, std::vector<int>> roles;  ///< role -> class ids, overriding the defaults
};

struct RunConfig {
  std::filesystem::path source;  ///< the YAML file itself
  std::filesystem::path output_dir;
  int threads = 0;
  TilingConfig tiling;
  OutputsConfig outputs;
  std::map<std::string, ModelRef> models;  ///< task name -> model ("roads", "landcover", "street")
  std::vector<RegionConfig> regions;
  IndicatorsConfig indicators;
  StreetViewConfig street_view;
};

/// Parses and validates `path`. Throws Error naming the file, the key and (where known) the line,
/// e.g. "configs/x.yaml:12: key 'regions[0].tiles': unknown key; did you mean 'tasks'?".
RunConfig load_run_config(const std::filesystem::path& path);
/// Same, from text (`source` is used for messages and relative paths).
RunConfig parse_run_config(const std::string& yaml_text, const std::filesystem::path& source);

}  // namespace terraseg
