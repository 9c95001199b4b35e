#pragma once
/// Restricting a raster to an area of interest without copying pixels: a VRT window.
#include <array>
#include <optional>
#include <string>
#include <vector>

namespace terraseg::geo {

struct AreaOfInterest {
  std::optional<std::array<double, 4>> bbox;   ///< min_x, min_y, max_x, max_y in `crs`
  std::vector<std::array<double, 2>> polygon;  ///< vertices in `crs` (ring; closing is optional)
  std::string crs;                             ///< anything OGRSpatialReference::SetFromUserInput takes
};

/// Writes `vrt_path`: the window of `input` covering the AOI (transformed into the raster's CRS, edges
/// densified), on the input's own pixel grid (whole pixels, so outputs align with the input). With a
/// polygon, pixels outside it are masked (nodata in, nodata out). Throws terraseg::Error naming the
/// input when the AOI does not intersect the raster, the raster has no georeferencing, or the CRS
/// cannot be understood.
void crop_to_aoi(const std::string& input, const AreaOfInterest& aoi, const std::string& vrt_path);

}  // namespace terraseg::geo
