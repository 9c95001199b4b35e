#include "terraseg/geo/footprint.hpp"

#include <gdal_priv.h>
#include <ogr_spatialref.h>
#include <ogrsf_frmts.h>

#include <algorithm>
#include <memory>

#include "terraseg/geo/raster_io.hpp"

namespace terraseg::geo {
namespace {

/// Pixel-space outline: 10 points per side, clockwise from the top-left corner, closed.
std::vector<std::array<double, 2>> pixel_outline(int width, int height) {
  std::vector<std::array<double, 2>> points;
  constexpr int kSteps = 10;
  points.reserve(size_t{4} * kSteps);
  for (int i = 0; i < kSteps; ++i) points.push_back({width * i / static_cast<double>(kSteps), 0.0});
  for (int i = 0; i < kSteps; ++i)
    points.push_back({static_cast<double>(width), height * i / static_cast<double>(kSteps)});
  for (int i = 0; i < kSteps; ++i)
    points.push_back({width * (kSteps - i) / static_cast<double>(kSteps), static_cast<double>(height)});
  for (int i = 0; i < kSteps; ++i) points.push_back({0.0, height * (kSteps - i) / static_cast<double>(kSteps)});
  points.push_back(points.front());
  return points;
}

}  // namespace

std::optional<Footprint> raster_footprint(const std::string& path) {
  GDALDatasetUniquePtr dataset = open_raster(path);
  const OGRSpatialReference* source = dataset->GetSpatialRef();
  Footprint footprint;
  if (source == nullptr || dataset->GetGeoTransform(footprint.transform.data()) != CE_None) return std::nullopt;
  footprint.shape = {dataset->GetRasterYSize(), dataset->GetRasterXSize()};
  const char* code = source->GetAuthorityCode(nullptr);
  const char* authority = source->GetAuthorityName(nullptr);
  if (code != nullptr && authority != nullptr && std::string(authority) == "EPSG") footprint.epsg = std::stoi(code);
  char* wkt = nullptr;
  const char* const options[] = {"FORMAT=WKT2_2019", nullptr};
  if (source->exportToWkt(&wkt, options) == OGRERR_NONE && wkt != nullptr) footprint.wkt2 = wkt;
  CPLFree(wkt);

  OGRSpatialReference wgs84;
  wgs84.SetWellKnownGeogCS("WGS84");
  wgs84.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  OGRSpatialReference from(*source);
  from.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  std::unique_ptr<OGRCoordinateTransformation> to_wgs84(OGRCreateCoordinateTransformation(&from, &wgs84));
  if (!to_wgs84) return std::nullopt;

  const auto& gt = footprint.transform;
  footprint.bbox = {180.0, 90.0, -180.0, -90.0};
  for (const auto& [col, row] : pixel_outline(footprint.shape[1], footprint.shape[0])) {
    double x = gt[0] + col * gt[1] + row * gt[2];
    double y = gt[3] + col * gt[4] + row * gt[5];
    if (!to_wgs84->Transform(1, &x, &y)) return std::nullopt;
    footprint.ring.push_back({x, y});
    footprint.bbox = {std::min(footprint.bbox[0], x), std::min(footprint.bbox[1], y), std::max(footprint.bbox[2], x),
                      std::max(footprint.bbox[3], y)};
  }
  // GeoJSON (RFC 7946) wants exterior rings counter-clockwise: a north-up raster's outline traced
  // along its rows comes out clockwise in lon/lat, so it is reversed when its signed area says so.
  double twice_area = 0.0;
  for (size_t i = 0; i + 1 < footprint.ring.size(); ++i) {
    twice_area += footprint.ring[i][0] * footprint.ring[i + 1][1] - footprint.ring[i + 1][0] * footprint.ring[i][1];
  }
  if (twice_area < 0.0) std::reverse(footprint.ring.begin(), footprint.ring.end());
  return footprint;
}

std::optional<std::array<double, 4>> vector_bbox(const std::string& path) {
  GDALDatasetUniquePtr dataset(GDALDataset::Open(path.c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY));
  if (!dataset) return std::nullopt;
  OGRSpatialReference wgs84;
  wgs84.SetWellKnownGeogCS("WGS84");
  wgs84.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  std::array<double, 4> bbox{180.0, 90.0, -180.0, -90.0};
  bool any = false;
  for (OGRLayer* layer : dataset->GetLayers()) {
    OGREnvelope extent;
    const OGRSpatialReference* crs = layer->GetSpatialRef();
    if (crs == nullptr || layer->GetFeatureCount() == 0 || layer->GetExtent(&extent, TRUE) != OGRERR_NONE) continue;
    OGRSpatialReference from(*crs);
    from.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
    std::unique_ptr<OGRCoordinateTransformation> to_wgs84(OGRCreateCoordinateTransformation(&from, &wgs84));
    if (!to_wgs84) continue;
    double west = 0.0, south = 0.0, east = 0.0, north = 0.0;
    if (!to_wgs84->TransformBounds(extent.MinX, extent.MinY, extent.MaxX, extent.MaxY, &west, &south, &east, &north,
                                   21)) {
      continue;
    }
    bbox = {std::min(bbox[0], west), std::min(bbox[1], south), std::max(bbox[2], east), std::max(bbox[3], north)};
    any = true;
  }
  if (!any) return std::nullopt;
  return bbox;
}

}  // namespace terraseg::geo
