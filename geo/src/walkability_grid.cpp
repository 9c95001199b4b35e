#include <ogr_spatialref.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "gdal_util.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/indicators.hpp"
#include "terraseg/geo/qgis_style.hpp"
#include "terraseg/geo/walkability.hpp"

namespace terraseg::geo {
namespace {

struct Projected {
  double x = 0.0;
  double y = 0.0;
  std::optional<int> ivw;
};

/// The grid CRS: the configured one, or WGS 84 / UTM of the centroid (zones 1..60, north 326zz,
/// south 327zz; the Norway/Svalbard zone exceptions are not applied).
OGRSpatialReference grid_crs(const std::vector<WalkabilityPoint>& points, const std::string& configured) {
  OGRSpatialReference crs;
  if (!configured.empty()) {
    if (crs.SetFromUserInput(configured.c_str()) != OGRERR_NONE) {
      throw Error("walkability grid CRS '" + configured + "' is not a CRS GDAL understands (e.g. EPSG:32631)");
    }
  } else {
    double lon = 0.0;
    double lat = 0.0;
    for (const WalkabilityPoint& p : points) {
      lon += p.point.lon / static_cast<double>(points.size());
      lat += p.point.lat / static_cast<double>(points.size());
    }
    const int zone = std::clamp(static_cast<int>(std::floor((lon + 180.0) / 6.0)) + 1, 1, 60);
    const int epsg = (lat >= 0.0 ? 32600 : 32700) + zone;
    detail::check_ogr(crs.importFromEPSG(epsg), "the walkability grid's UTM CRS (EPSG:" + std::to_string(epsg) + ")");
  }
  crs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  return crs;
}

std::vector<Projected> project_points(const std::vector<WalkabilityPoint>& points, const OGRSpatialReference& crs) {
  OGRSpatialReference wgs84;
  detail::check_ogr(wgs84.importFromEPSG(4326), "WGS 84 (EPSG:4326) for the street-view points");
  wgs84.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  std::unique_ptr<OGRCoordinateTransformation> transform(OGRCreateCoordinateTransformation(&wgs84, &crs));
  if (!transform)
    throw Error("cannot transform WGS 84 points to the walkability grid CRS: " + detail::last_gdal_message());
  std::vector<Projected> projected;
  for (const WalkabilityPoint& p : points) {
    double x = p.point.lon;
    double y = p.point.lat;
    if (!transform->Transform(1, &x, &y)) {
      throw Error("street point '" + p.point.id +
                  "' cannot be projected to the walkability grid CRS; check its lon/lat");
    }
    projected.push_back({x, y, p.ivw});
  }
  return projected;
}

/// Cell size in CRS units for `cell_size_m` metres at (x, y): metres per unit from raster_io's
/// pixel_size_in_metres on a one-unit pixel centred there (degrees at that latitude when geographic).
std::array<double, 2> cell_in_crs_units(const OGRSpatialReference& crs, double x, double y, double cell_size_m) {
  const GeoTransform unit{x - 0.5, 1.0, 0.0, y + 0.5, 0.0, -1.0};
  const auto per_unit = pixel_size_in_metres(&crs, unit, 1, 1);
  if (!per_unit || !(per_unit->x > 0.0) || !(per_unit->y > 0.0)) {
    throw Error("the walkability grid CRS has no known units; choose a projected CRS in metres");
  }
  return {cell_size_m / per_unit->x, cell_size_m / per_unit->y};
}

}  // namespace

WalkGridSummary write_walkability_grid(const std::string& path, const std::vector<WalkabilityPoint>& points,
                                       const WalkGridOptions& options) {
  if (std::none_of(points.begin(), points.end(), [](const WalkabilityPoint& p) { return p.ivw.has_value(); })) {
    throw Error(path + ": no street point has a walkability index (every point lacks road pixels or images?)");
  }
  detail::ensure_gdal_registered();
  const OGRSpatialReference crs = grid_crs(points, options.crs);
  const std::vector<Projected> projected = project_points(points, crs);
  double min_x = std::numeric_limits<double>::max(), max_x = -min_x, min_y = min_x, max_y = -min_x;
  for (const Projected& p : projected) {
    min_x = std::min(min_x, p.x), max_x = std::max(max_x, p.x);
    min_y = std::min(min_y, p.y), max_y = std::max(max_y, p.y);
  }
  const auto cell = cell_in_crs_units(crs, (min_x + max_x) / 2.0, (min_y + max_y) / 2.0, options.cell_size_m);
  WalkGridSummary grid;
  const double x0 = std::floor(min_x / cell[0]) * cell[0];
  const double y0 = std::ceil(max_y / cell[1]) * cell[1];
  const auto col_of = [&](double x) { return static_cast<int>(std::floor((x - x0) / cell[0])); };
  const auto row_of = [&](double y) { return static_cast<int>(std::floor((y0 - y) / cell[1])); };
  grid.width = col_of(max_x) + 1;
  grid.height = row_of(min_y) + 1;
  if (static_cast<double>(grid.width) * grid.height > 1e8) {
    throw Error(path + ": the street points span " + std::to_string(grid.width) + "x" + std::to_string(grid.height) +
                " cells; use a larger indicators.cell_size_m or split the points by region");
  }
  const size_t cells = static_cast<size_t>(grid.width) * static_cast<size_t>(grid.height);
  std::vector<double> sum(cells, 0.0);
  std::vector<int> count(cells, 0);
  for (const Projected& p : projected) {
    if (!p.ivw) continue;
    const size_t at =
        static_cast<size_t>(row_of(p.y)) * static_cast<size_t>(grid.width) + static_cast<size_t>(col_of(p.x));
    sum[at] += *p.ivw;
    count[at] += 1;
  }
  std::vector<float> values(2 * cells, static_cast<float>(kIndicatorNodata));
  for (size_t c = 0; c < cells; ++c) {
    if (count[c] == 0) continue;
    values[c] = static_cast<float>(sum[c] / count[c]);
    values[cells + c] = static_cast<float>(count[c]);
    grid.cells_with_points += 1;
  }
  char* wkt = nullptr;
  crs.exportToWkt(&wkt);
  grid.crs_wkt = wkt != nullptr ? wkt : "";
  CPLFree(wkt);
  grid.geotransform = {x0, cell[0], 0.0, y0, 0.0, -cell[1]};
  write_indicator_grid(path, grid.width, grid.height, grid.geotransform, grid.crs_wkt, {"ivw_mean", "point_count"},
                       values, options.output);
  write_indicator_style(path);
  return grid;
}

}  // namespace terraseg::geo
