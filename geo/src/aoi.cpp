#include "terraseg/geo/aoi.hpp"

#include <cpl_string.h>
#include <gdal_utils.h>
#include <ogr_spatialref.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "terraseg/core/error.hpp"
#include "terraseg/geo/raster_io.hpp"

namespace terraseg::geo {
namespace {

/// The AOI outline as a ring in its own CRS (the bbox as four corners when no polygon is given).
std::vector<std::array<double, 2>> aoi_ring(const AreaOfInterest& aoi) {
  if (!aoi.polygon.empty()) return aoi.polygon;
  const auto& b = *aoi.bbox;
  return {{b[0], b[1]}, {b[2], b[1]}, {b[2], b[3]}, {b[0], b[3]}};
}

/// The AOI ring in `raster_crs`, each edge densified into 16 segments so curved projections of
/// straight edges stay inside the bounding box.
std::vector<std::array<double, 2>> ring_in_crs(const AreaOfInterest& aoi, const OGRSpatialReference& raster_crs,
                                               const std::string& input) {
  OGRSpatialReference aoi_crs;
  if (aoi.crs.empty() || aoi_crs.SetFromUserInput(aoi.crs.c_str()) != OGRERR_NONE) {
    throw Error("area of interest for '" + input + "': CRS '" + aoi.crs + "' is not understood; use e.g. EPSG:4326");
  }
  aoi_crs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  OGRSpatialReference target(raster_crs);
  target.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  std::unique_ptr<OGRCoordinateTransformation> transform(OGRCreateCoordinateTransformation(&aoi_crs, &target));
  if (!transform)
    throw Error("area of interest for '" + input + "': no transformation from " + aoi.crs + " to the raster's CRS");
  const auto ring = aoi_ring(aoi);
  std::vector<std::array<double, 2>> dense;
  constexpr int kSteps = 16;
  for (size_t i = 0; i < ring.size(); ++i) {
    const auto& a = ring[i];
    const auto& b = ring[(i + 1) % ring.size()];
    for (int s = 0; s < kSteps; ++s) {
      double x = a[0] + (b[0] - a[0]) * s / kSteps;
      double y = a[1] + (b[1] - a[1]) * s / kSteps;
      if (!transform->Transform(1, &x, &y))
        throw Error("area of interest for '" + input + "': a vertex cannot be transformed");
      dense.push_back({x, y});
    }
  }
  return dense;
}

struct PixelWindow {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  bool empty() const { return x1 <= x0 || y1 <= y0; }
};

PixelWindow window_of(const std::vector<std::array<double, 2>>& ring, const double* gt, int width, int height) {
  double inverse[6];
  if (GDALInvGeoTransform(const_cast<double*>(gt), inverse) == 0) return {};  // degenerate grid: nothing inside
  double min_col = 1e300, min_row = 1e300, max_col = -1e300, max_row = -1e300;
  for (const auto& point : ring) {
    double col = 0.0;
    double row = 0.0;
    GDALApplyGeoTransform(inverse, point[0], point[1], &col, &row);
    min_col = std::min(min_col, col);
    max_col = std::max(max_col, col);
    min_row = std::min(min_row, row);
    max_row = std::max(max_row, row);
  }
  PixelWindow window;
  window.x0 = static_cast<int>(std::clamp(std::floor(min_col), 0.0, static_cast<double>(width)));
  window.y0 = static_cast<int>(std::clamp(std::floor(min_row), 0.0, static_cast<double>(height)));
  window.x1 = static_cast<int>(std::clamp(std::ceil(max_col), 0.0, static_cast<double>(width)));
  window.y1 = static_cast<int>(std::clamp(std::ceil(max_row), 0.0, static_cast<double>(height)));
  return window;
}

void run_translate(GDALDataset& source, CPLStringList& args, const std::string& vrt_path, const std::string& input) {
  std::unique_ptr<GDALTranslateOptions, decltype(&GDALTranslateOptionsFree)> options(
      GDALTranslateOptionsNew(args.List(), nullptr), &GDALTranslateOptionsFree);
  int usage_error = FALSE;
  GDALDatasetH result = GDALTranslate(vrt_path.c_str(), GDALDataset::ToHandle(&source), options.get(), &usage_error);
  if (result == nullptr)
    throw Error("area of interest for '" + input + "': cannot write " + vrt_path + ": " + CPLGetLastErrorMsg());
  GDALClose(result);
}

/// Writes the polygon (WGS84 lon/lat, GeoJSON's only CRS) as a cutline beside the VRT.
std::string write_cutline(const std::vector<std::array<double, 2>>& ring, const std::string& vrt_path) {
  std::string path = vrt_path + ".cutline.geojson";
  std::string coordinates;
  for (size_t i = 0; i <= ring.size(); ++i) {
    const auto& point = ring[i % ring.size()];
    coordinates += (i == 0 ? "" : ",") + std::string("[") + CPLSPrintf("%.17g,%.17g", point[0], point[1]) + "]";
  }
  const std::string text = R"({"type":"FeatureCollection","features":[{"type":"Feature","properties":{},)"
                           R"("geometry":{"type":"Polygon","coordinates":[[)" +
                           coordinates + "]]}}]}";
  VSILFILE* file = VSIFOpenL(path.c_str(), "wb");
  if (file == nullptr) throw Error("cannot write the area-of-interest cutline " + path);
  VSIFWriteL(text.data(), 1, text.size(), file);
  VSIFCloseL(file);
  return path;
}

/// Warps (nearest, same grid) the window through a polygon cutline; outside pixels get alpha 0,
/// which the reader treats as nodata.
void warp_with_cutline(GDALDataset& source, const double* gt, const PixelWindow& window, const std::string& cutline,
                       const std::string& vrt_path, const std::string& input) {
  if (gt[2] != 0.0 || gt[4] != 0.0) {
    throw Error("area of interest for '" + input + "': polygons need a north-up raster; use a bbox for rotated grids");
  }
  const double west = gt[0] + window.x0 * gt[1];
  const double east = gt[0] + window.x1 * gt[1];
  const double north = gt[3] + window.y0 * gt[5];
  const double south = gt[3] + window.y1 * gt[5];
  CPLStringList args;
  for (const char* arg : {"-of", "VRT", "-r", "near", "-dstalpha", "-cutline", cutline.c_str(), "-te"})
    args.AddString(arg);
  for (double value : {std::min(west, east), std::min(south, north), std::max(west, east), std::max(south, north)}) {
    args.AddString(CPLSPrintf("%.17g", value));
  }
  args.AddString("-ts");
  args.AddString(std::to_string(window.x1 - window.x0).c_str());
  args.AddString(std::to_string(window.y1 - window.y0).c_str());
  std::unique_ptr<GDALWarpAppOptions, decltype(&GDALWarpAppOptionsFree)> options(
      GDALWarpAppOptionsNew(args.List(), nullptr), &GDALWarpAppOptionsFree);
  GDALDatasetH handle = GDALDataset::ToHandle(&source);
  int usage_error = FALSE;
  GDALDatasetH result = GDALWarp(vrt_path.c_str(), nullptr, 1, &handle, options.get(), &usage_error);
  if (result == nullptr)
    throw Error("area of interest for '" + input + "': cannot write " + vrt_path + ": " + CPLGetLastErrorMsg());
  GDALClose(result);
}

}  // namespace

void crop_to_aoi(const std::string& input, const AreaOfInterest& aoi, const std::string& vrt_path) {
  GDALDatasetUniquePtr source = open_raster(input);
  double gt[6];
  const OGRSpatialReference* crs = source->GetSpatialRef();
  if (crs == nullptr || source->GetGeoTransform(gt) != CE_None) {
    throw Error("area of interest for '" + input + "': the raster has no CRS or geotransform to place the area in");
  }
  const auto ring = ring_in_crs(aoi, *crs, input);
  const PixelWindow window = window_of(ring, gt, source->GetRasterXSize(), source->GetRasterYSize());
  if (window.empty()) {
    throw Error("area of interest does not intersect '" + input + "'; check the aoi coordinates and its crs");
  }
  CPLStringList args;
  for (const char* arg : {"-of", "VRT", "-srcwin"}) args.AddString(arg);
  for (int value : {window.x0, window.y0, window.x1 - window.x0, window.y1 - window.y0}) {
    args.AddString(std::to_string(value).c_str());
  }
  if (aoi.polygon.empty()) {
    run_translate(*source, args, vrt_path, input);
  } else {
    OGRSpatialReference wgs84;
    wgs84.SetWellKnownGeogCS("WGS84");
    const auto lon_lat = ring_in_crs(aoi, wgs84, input);
    warp_with_cutline(*source, gt, window, write_cutline(lon_lat, vrt_path), vrt_path, input);
  }
}

}  // namespace terraseg::geo
