#pragma once
/// Opening rasters and describing them: size, bands, georeferencing, pixel size in metres.
#include <gdal_priv.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace terraseg::geo {

/// The six GDAL affine coefficients: x = gt[0] + col*gt[1] + row*gt[2], y = gt[3] + col*gt[4] + row*gt[5]
/// (col/row in pixels, 0-based, at the pixel's top-left corner).
using GeoTransform = std::array<double, 6>;

/// One band of a raster, as GDAL reports it.
struct BandInfo {
  int index = 1;  ///< GDAL band number, 1-based
  GDALDataType data_type = GDT_Unknown;
  std::string data_type_name;  ///< "Byte", "UInt16", "Float32", ...
  GDALColorInterp colour = GCI_Undefined;
  std::string colour_name;         ///< "Red", "Gray", "Undefined", ...
  std::string description;         ///< band description (may be empty)
  std::optional<double> nodata;    ///< the band's nodata value, if any
  int mask_flags = GMF_ALL_VALID;  ///< GDALRasterBand::GetMaskFlags()
};

/// Ground size of one pixel in metres along columns (x) and rows (y).
struct PixelSizeM {
  double x = 0.0;
  double y = 0.0;
};

/// Everything the pipeline needs to know about a raster before processing it.
struct RasterInfo {
  std::string path;
  std::string driver;           ///< GDAL short name, e.g. "GTiff"
  int width = 0;                ///< pixels
  int height = 0;               ///< pixels
  std::vector<BandInfo> bands;  ///< bands[i].index == i + 1
  std::string crs_wkt;          ///< GetProjectionRef() verbatim; empty = no CRS
  bool crs_is_geographic = false;
  std::optional<GeoTransform> geotransform;  ///< nullopt when the raster has none
  /// True when gt[2] == gt[4] == 0 (north-up or flipped, no rotation/shear). True without a geotransform.
  bool axis_aligned = true;
  /// Metres per pixel; nullopt without geotransform or CRS. Geographic CRSs are converted at the
  /// latitude of the raster centre on the CRS's ellipsoid; projected CRSs use their linear unit
  /// (no scale-factor correction).
  std::optional<PixelSizeM> pixel_size_m;

  int band_count() const { return static_cast<int>(bands.size()); }
};

/// Opens `path` read-only. Throws terraseg::Error naming the path when it does not exist or is not a
/// raster GDAL can open. The returned handle closes the dataset when destroyed.
GDALDatasetUniquePtr open_raster(const std::string& path);

/// Describes the raster at `path` (opens and closes it). Throws like open_raster.
RasterInfo read_raster_info(const std::string& path);

/// Describes an open dataset; `path` is only used in messages and RasterInfo::path.
RasterInfo describe_raster(GDALDataset& dataset, const std::string& path);

/// Metres per pixel for a grid of `width` x `height` pixels with geotransform `gt` in the CRS `crs`;
/// nullopt when the CRS is empty, local/engineering or has unknown units.
std::optional<PixelSizeM> pixel_size_in_metres(const OGRSpatialReference* crs, const GeoTransform& gt, int width,
                                               int height);

/// Band `band` (1-based) of a raster, whole, as floats (row-major, width x height); for small rasters
/// such as one photo's class map or scores. Throws Error naming the file.
std::vector<float> read_band_floats(const std::string& path, int band, int& width, int& height);

/// How many model pixels one input pixel spans: input pixel size / model pixel size (mean of x and y).
/// > 1: the input is coarser than the model was trained on. nullopt when the input's pixel size in
/// metres is unknown. predict_raster resamples to the model's pixel size (PredictOptions::model_pixel_size_m).
std::optional<double> model_scale_ratio(const RasterInfo& info, double model_pixel_size_m);

}  // namespace terraseg::geo
