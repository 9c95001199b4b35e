#pragma once
/// Urban indicators on a regular grid of cells sized in metres: greenery (land-cover vegetation class,
/// NDVI and/or an RGB vegetation index), road area ratio, road length density and intersection density from road
/// centrelines. Written as float32 GeoTIFFs (one band per indicator, band descriptions) in the source raster's CRS. See
/// docs/indicators.md for the definitions and the strip approximation.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "terraseg/geo/raster_io.hpp"
#include "terraseg/geo/road_graph.hpp"
#include "terraseg/geo/writer.hpp"

namespace terraseg::geo {

/// Value written to grid cells that have no data (no valid pixel, no point).
inline constexpr double kIndicatorNodata = -9999.0;

/// A grid of cells laid over a raster, starting at the raster's top-left corner. Each raster pixel
/// belongs to the cell containing its centre; the last column/row of cells may be partly outside.
struct CellGrid {
  int width = 0;                ///< cells
  int height = 0;               ///< cells
  GeoTransform geotransform{};  ///< of the cell grid, in the raster's CRS (rotation not supported)
  std::string crs_wkt;
  double cell_px_x = 1.0;    ///< cell width in raster pixels (may be fractional)
  double cell_px_y = 1.0;    ///< cell height in raster pixels
  double cell_size_m = 0.0;  ///< requested cell size in metres

  int cell_col(int pixel_col) const;   ///< 0-based cell column of a 0-based pixel column
  int cell_row(int pixel_row) const;   ///< 0-based cell row of a 0-based pixel row
  int first_pixel_row(int row) const;  ///< first pixel row whose centre lies in cell row `row`
};

/// The grid of `cell_size_m` metre cells over `raster`. The cell size in pixels is cell_size_m divided
/// by RasterInfo::pixel_size_m, so a geographic CRS gets degrees converted at the raster's centre
/// latitude. Throws terraseg::Error naming the raster when it has no geotransform, no CRS with known
/// units, or a rotated geotransform.
CellGrid cell_grid_for_raster(const RasterInfo& raster, double cell_size_m);

/// Writes a float32 grid (band-sequential `values`, bands x height x width, row-major) with band
/// descriptions `band_names`, nodata kIndicatorNodata, CRS `crs_wkt` and `geotransform`, atomically.
void write_indicator_grid(const std::string& path, int width, int height, const GeoTransform& geotransform,
                          const std::string& crs_wkt, const std::vector<std::string>& band_names,
                          const std::vector<float>& values, const OutputOptions& output = {});

/// Starts a float32 grid GeoTIFF like write_indicator_grid() for streaming: rows are appended (all bands
/// of each row block at once, see GridWriter::append_rows) and finish() renames it into place.
std::unique_ptr<GridWriter> create_indicator_grid(const std::string& path, int width, int height,
                                                  const GeoTransform& geotransform, const std::string& crs_wkt,
                                                  const std::vector<std::string>& band_names,
                                                  const OutputOptions& output = {});

/// The rasters to read. Every given raster must have the same size (they share one grid); the first
/// given one defines the grid's georeferencing.
struct AerialInputs {
  std::string roads_mask;               ///< class-id raster (e.g. <region>/roads.tif); empty = none
  std::vector<int> road_classes{1};     ///< class ids counted as road
  std::string landcover_mask;           ///< class-id raster; empty = none
  std::vector<int> vegetation_classes;  ///< class ids counted as vegetation
  std::string spectral;                 ///< multiband image for NDVI (e.g. the region input); empty = none
  int red_band = 0;                     ///< 1-based; 0 = find by colour interpretation / description "red"
  int nir_band = 0;                     ///< 1-based; 0 = find by description "nir" / "near infrared"
  /// Image with red, green and blue bands for the RGB vegetation index (greenery that does not depend
  /// on a model or its training region); empty = none.
  std::string rgb;
  std::array<int, 3> rgb_bands{0, 0, 0};  ///< red, green, blue, 1-based; 0 = find by colour interpretation
};

struct AerialOptions {
  double cell_size_m = 250.0;
  double ndvi_threshold = 0.3;  ///< vegetation where NDVI > threshold
  /// Masks up to this many pixels are skeletonised whole; larger ones in strips of cell rows.
  int64_t whole_mask_max_pixels = int64_t{16} * 1024 * 1024;
  int strip_halo_px = 64;  ///< rows read above and below a strip for thinning
  RoadGraphOptions graph;
  OutputOptions output;
};

/// Whole-raster figures (over valid pixels) and what was written.
struct AerialSummary {
  int grid_width = 0;
  int grid_height = 0;
  std::vector<std::string> bands;            ///< band descriptions, in band order
  int strips = 0;                            ///< 1 = skeletonised whole
  std::optional<double> greenery_landcover;  ///< vegetation pixels / valid land-cover pixels
  std::optional<double> greenery_ndvi;       ///< NDVI > threshold / valid spectral pixels
  /// ExG - ExR > 0 (Meyer and Neto 2008) / valid RGB pixels: green vegetation by colour alone
  std::optional<double> greenery_rgb_index;
  std::optional<double> road_area_ratio;  ///< road pixels / valid road-mask pixels
  double road_length_km = 0.0;
  int intersections = 0;                       ///< junction nodes (>= 3 edges)
  int dead_ends = 0;                           ///< end nodes (1 edge)
  double road_area_km2 = 0.0;                  ///< area of valid road-mask pixels
  std::optional<double> road_length_density;   ///< km per km2 of valid road-mask area
  std::optional<double> intersection_density;  ///< per km2 of valid road-mask area
};

/// Band names used in the grid (only those with a source are written).
inline constexpr const char* kBandGreeneryLandcover = "greenery_landcover";
inline constexpr const char* kBandGreeneryNdvi = "greenery_ndvi";
inline constexpr const char* kBandGreeneryRgbIndex = "greenery_rgb_index";
inline constexpr const char* kBandRoadAreaRatio = "road_area_ratio";
inline constexpr const char* kBandRoadLengthDensity = "road_length_density_km_per_km2";
inline constexpr const char* kBandIntersectionDensity = "intersection_density_per_km2";

/// Computes the grid and writes it to `grid_path`; with a roads mask and a non-empty
/// `centrelines_path`, also writes a GeoPackage with layers "centrelines" (lines, length_m) and
/// "road_nodes" (points, kind "junction"/"end", degree) in the raster's CRS. Outputs appear only when
/// complete. Throws terraseg::Error naming the file on failure.
AerialSummary compute_aerial_indicators(const AerialInputs& inputs, const std::string& grid_path,
                                        const std::string& centrelines_path, const AerialOptions& options = {});

/// Class ids of the class raster at `mask_path` whose category name equals one of `names` (case-
/// insensitive, a trailing plural "s" allowed), e.g. {"vegetation", "tree"}. Empty when none match.
std::vector<int> classes_named(const std::string& mask_path, const std::vector<std::string>& names);

/// The 1-based band of `raster` for `name` ("red", "green", "blue" or "nir"), by colour interpretation
/// or description; 0 when not found.
int find_spectral_band(const RasterInfo& raster, const std::string& name);

}  // namespace terraseg::geo
