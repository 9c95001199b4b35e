#include "terraseg/geo/raster_io.hpp"

#include <cpl_vsi.h>
#include <ogr_spatialref.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "gdal_util.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg::geo {
namespace {

BandInfo describe_band(GDALRasterBand& band, int index) {
  BandInfo info;
  info.index = index;
  info.data_type = band.GetRasterDataType();
  info.data_type_name = GDALGetDataTypeName(info.data_type);
  info.colour = band.GetColorInterpretation();
  info.colour_name = GDALGetColorInterpretationName(info.colour);
  info.description = band.GetDescription();
  int has_nodata = 0;
  const double nodata = band.GetNoDataValue(&has_nodata);
  if (has_nodata != 0) info.nodata = nodata;
  info.mask_flags = band.GetMaskFlags();
  return info;
}

/// Metres per CRS unit along the data x and y axes at geodetic latitude `lat_rad`, for a geographic CRS.
std::array<double, 2> geographic_metres_per_unit(const OGRSpatialReference& crs, double lat_rad, bool x_is_longitude) {
  OGRErr err = OGRERR_NONE;
  const double a = crs.GetSemiMajor(&err);
  const double inv_f = crs.GetInvFlattening(&err);
  const double f = inv_f > 0.0 ? 1.0 / inv_f : 0.0;
  const double e2 = f * (2.0 - f);
  const double s = std::sin(lat_rad);
  const double w = std::sqrt(1.0 - e2 * s * s);
  const double radians_per_unit = crs.GetAngularUnits(nullptr);
  const double along_parallel = a / w * std::cos(lat_rad) * radians_per_unit;     // N cos(phi)
  const double along_meridian = a * (1.0 - e2) / (w * w * w) * radians_per_unit;  // M
  if (x_is_longitude) return {along_parallel, along_meridian};
  return {along_meridian, along_parallel};
}

/// True when data axis 0 (columns, "x") carries longitude for this geographic CRS.
bool data_x_is_longitude(const OGRSpatialReference& crs) {
  const auto& mapping = crs.GetDataAxisToSRSAxisMapping();
  const int crs_axis = mapping.empty() ? 1 : std::abs(mapping[0]);
  OGRAxisOrientation orientation = OAO_Other;
  crs.GetAxis(nullptr, crs_axis - 1, &orientation);
  return orientation == OAO_East || orientation == OAO_West || orientation == OAO_Other;
}

}  // namespace

GDALDatasetUniquePtr open_raster(const std::string& path) {
  detail::ensure_gdal_registered();
  VSIStatBufL stat{};
  if (VSIStatL(path.c_str(), &stat) != 0) {
    throw Error("raster '" + path + "' does not exist: check the path (and the working directory)");
  }
  detail::QuietGdal quiet;
  GDALDatasetUniquePtr dataset(GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  if (!dataset) {
    throw Error("'" + path +
                "' is not a raster GDAL can open: check the path and that the file is a "
                "complete image (GDAL: " +
                detail::last_gdal_message() + ")");
  }
  if (dataset->GetRasterCount() < 1) {
    throw Error("'" + path + "' has no raster bands: pass an image, not a vector or container file");
  }
  return dataset;
}

std::optional<PixelSizeM> pixel_size_in_metres(const OGRSpatialReference* crs, const GeoTransform& gt, int width,
                                               int height) {
  if (crs == nullptr || crs->IsEmpty()) return std::nullopt;
  std::array<double, 2> per_unit{};
  if (crs->IsGeographic()) {
    const bool x_lon = data_x_is_longitude(*crs);
    const double cx = gt[0] + gt[1] * width / 2.0 + gt[2] * height / 2.0;
    const double cy = gt[3] + gt[4] * width / 2.0 + gt[5] * height / 2.0;
    const double lat_units = x_lon ? cy : cx;
    const double lat_rad = lat_units * crs->GetAngularUnits(nullptr);
    if (!std::isfinite(lat_rad) || std::abs(lat_rad) > std::numbers::pi / 2) return std::nullopt;
    per_unit = geographic_metres_per_unit(*crs, lat_rad, x_lon);
  } else if (crs->IsProjected() || crs->IsLocal()) {
    const double metres = crs->GetLinearUnits(nullptr);
    if (!(metres > 0.0)) return std::nullopt;
    per_unit = {metres, metres};
  } else {
    return std::nullopt;
  }
  PixelSizeM size;
  size.x = std::hypot(gt[1] * per_unit[0], gt[4] * per_unit[1]);
  size.y = std::hypot(gt[2] * per_unit[0], gt[5] * per_unit[1]);
  return size;
}

RasterInfo describe_raster(GDALDataset& dataset, const std::string& path) {
  RasterInfo info;
  info.path = path;
  if (GDALDriver* driver = dataset.GetDriver()) info.driver = driver->GetDescription();
  info.width = dataset.GetRasterXSize();
  info.height = dataset.GetRasterYSize();
  for (int b = 1; b <= dataset.GetRasterCount(); ++b) {
    info.bands.push_back(describe_band(*dataset.GetRasterBand(b), b));
  }
  const char* wkt = dataset.GetProjectionRef();
  info.crs_wkt = wkt != nullptr ? wkt : "";
  const OGRSpatialReference* crs = dataset.GetSpatialRef();
  info.crs_is_geographic = crs != nullptr && crs->IsGeographic();
  GeoTransform gt{};
  if (dataset.GetGeoTransform(gt.data()) == CE_None) {
    info.geotransform = gt;
    info.axis_aligned = gt[2] == 0.0 && gt[4] == 0.0;
    info.pixel_size_m = pixel_size_in_metres(crs, gt, info.width, info.height);
  }
  return info;
}

RasterInfo read_raster_info(const std::string& path) {
  GDALDatasetUniquePtr dataset = open_raster(path);
  return describe_raster(*dataset, path);
}

std::vector<float> read_band_floats(const std::string& path, int band, int& width, int& height) {
  GDALDatasetUniquePtr dataset = open_raster(path);
  if (band < 1 || band > dataset->GetRasterCount()) {
    throw Error(path + ": has " + std::to_string(dataset->GetRasterCount()) + " band(s); band " + std::to_string(band) +
                " was asked for");
  }
  width = dataset->GetRasterXSize();
  height = dataset->GetRasterYSize();
  std::vector<float> values(static_cast<size_t>(width) * static_cast<size_t>(height));
  if (dataset->GetRasterBand(band)->RasterIO(GF_Read, 0, 0, width, height, values.data(), width, height, GDT_Float32, 0,
                                             0, nullptr) != CE_None) {
    throw Error(path + ": cannot read band " + std::to_string(band) + " (" + detail::last_gdal_message() + ")");
  }
  return values;
}

std::optional<double> model_scale_ratio(const RasterInfo& info, double model_pixel_size_m) {
  if (!info.pixel_size_m || !(model_pixel_size_m > 0.0)) return std::nullopt;
  return (info.pixel_size_m->x + info.pixel_size_m->y) / 2.0 / model_pixel_size_m;
}

}  // namespace terraseg::geo
