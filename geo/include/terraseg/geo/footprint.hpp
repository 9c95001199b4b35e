#pragma once
/// Where a raster lies on Earth, for STAC Items and reports.
#include <array>
#include <optional>
#include <string>
#include <vector>

namespace terraseg::geo {

struct Footprint {
  std::array<double, 4> bbox{};             ///< WGS84 lon/lat: west, south, east, north
  std::vector<std::array<double, 2>> ring;  ///< WGS84 lon/lat polygon of the raster's outline, closed
  std::optional<int> epsg;                  ///< the raster CRS's EPSG code, when it has one
  std::string wkt2;                         ///< the raster CRS as WKT2
  std::array<int, 2> shape{};               ///< rows, columns
  std::array<double, 6> transform{};        ///< GDAL geotransform
};

/// The raster's outline in WGS84 (edges densified, 10 points per side), or nullopt when it has no
/// CRS or geotransform. Throws terraseg::Error naming the file when it cannot be opened.
std::optional<Footprint> raster_footprint(const std::string& path);

/// The WGS84 bbox (west, south, east, north) of every feature of every layer of a vector file GDAL
/// reads (a GeoPackage of points or lines), or nullopt when it has no features or no CRS.
std::optional<std::array<double, 4>> vector_bbox(const std::string& path);

}  // namespace terraseg::geo
