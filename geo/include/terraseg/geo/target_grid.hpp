#pragma once
/// One output grid for all inputs of a region, whatever their CRSs: each input is seen through a
/// warped VRT on the region's grid, so the masks of a region align pixel for pixel.
#include <string>

namespace terraseg::geo {

struct TargetGrid {
  std::string crs;  ///< anything OGRSpatialReference::SetFromUserInput takes, e.g. "EPSG:32632"
  /// Square pixels of this many metres. For a geographic crs it is converted to degrees (separately
  /// along longitude and latitude) at the centre of each input, on the crs's ellipsoid.
  double pixel_size_m = 0.0;
};

/// Writes `vrt_path`: `input` warped (bilinear) onto `grid`: its CRS, its pixel size, and pixel edges on
/// multiples of the pixel size (gdalwarp -tap), so inputs of one region share one lattice. Pixels
/// outside the input are nodata: its own nodata value, else an alpha band (which the reader honours).
/// Throws terraseg::Error naming the input when it has no CRS/geotransform or the grid's CRS is not
/// understood.
void warp_to_grid(const std::string& input, const TargetGrid& grid, const std::string& vrt_path);

}  // namespace terraseg::geo
