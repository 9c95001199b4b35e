#pragma once
/// Small PNG previews for reports: a class mask drawn over its imagery, an indicator grid over its imagery.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "terraseg/core/model_card.hpp"

namespace terraseg::geo {

struct QuicklookOptions {
  int max_side = 768;    ///< longest side of the PNG in pixels (the raster is decimated by GDAL)
  double opacity = 0.5;  ///< class colour weight over the imagery (0..1)
};

/// Renders `image_path` (bands 1-3, or band 1 as grey; 2-98 % stretch per band) with `mask_path`
/// (class ids; 255 = nodata, drawn transparent) in the colours of `classes` on top, as a PNG at
/// `png_path` (written under a temporary name and renamed). Either raster may be omitted ("").
/// Throws terraseg::Error naming the file on failure.
void render_quicklook(const std::string& image_path, const std::string& mask_path,
                      const std::vector<ClassInfo>& classes, const std::string& png_path,
                      const QuicklookOptions& options = {});

struct ScalarMapOptions {
  int max_side = 768;     ///< longest side of the PNG in pixels
  double opacity = 0.65;  ///< ramp colour weight over the imagery (0..1)
  /// Raster drawn under the cells (as render_quicklook draws it); used only when it and the grid are
  /// both georeferenced north-up in the same CRS and overlap. "" = none: the cells alone, enlarged.
  std::string imagery;
  /// Values at the ends of the ramp (low, high); values outside are clamped. Default: the lowest and
  /// the highest valid cell, or see `from_zero`.
  std::optional<std::array<double, 2>> range;
  /// Without `range`, when no cell is negative: the ramp runs from 0 to the highest cell rounded up at
  /// its leading digit (0.67 -> 0.7, 43.3 -> 50, 5389 -> 6000), at most `ceiling` when set.
  bool from_zero = false;
  std::optional<double> ceiling;
};

/// What render_scalar_quicklook drew, for a legend.
struct ScalarMapLegend {
  std::string description;       ///< the band's description ("" when unset), e.g. "greenery_ndvi"
  double low = 0.0;              ///< value at the start of the ramp (ramp_colour(0))
  double high = 0.0;             ///< value at its end (ramp_colour(1)); == low when all cells are equal
  std::optional<double> min;     ///< lowest valid cell; nullopt when no cell has a value
  std::optional<double> max;     ///< highest valid cell
  std::optional<double> nodata;  ///< the band's nodata value
  int64_t cells = 0;             ///< cells drawn (the grid's, or fewer when it exceeds 2048 a side)
  int64_t nodata_cells = 0;      ///< cells without a value (nodata, NaN), drawn in kNodataGrey
  int grid_width = 0;            ///< cells
  int grid_height = 0;
  bool over_imagery = false;  ///< false: no imagery given, or not co-registered with the grid
};

/// Grey of cells without a value (over imagery: the imagery's brightness tinted towards it).
constexpr std::array<uint8_t, 3> kNodataGrey{150, 150, 150};

/// Colour (RGB) of ramp position `t` (0..1, clamped) as render_scalar_quicklook draws it: viridis,
/// dark blue (low) to yellow (high).
std::array<uint8_t, 3> ramp_colour(double t);

/// Renders band `band` (1-based) of a float raster (an indicator grid) as a PNG at `png_path`: each
/// cell filled with ramp_colour (linear over `range`, 0..max rounded up, or min..max), nearest-neighbour (cells
/// stay square blocks, outlined when large enough), over `options.imagery` at `options.opacity`;
/// nodata and non-finite cells in kNodataGrey. Written under a temporary name and renamed.
/// Throws terraseg::Error naming the file on failure.
ScalarMapLegend render_scalar_quicklook(const std::string& raster_path, int band, const std::string& png_path,
                                        const ScalarMapOptions& options = {});

}  // namespace terraseg::geo
