#pragma once
/// Helpers for geo tests: synthetic GeoTIFFs and a deterministic local "model".
#include <gdal_priv.h>
#include <ogr_spatialref.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "gdal_ok.hpp"
#include "terraseg/core/tensor.hpp"
#include "terraseg/geo/raster_io.hpp"
#include "terraseg/geo/tiling.hpp"

namespace terraseg::geo::test {

struct SyntheticRaster {
  int width = 64;
  int height = 48;
  int bands = 1;
  GDALDataType type = GDT_Byte;
  std::optional<double> nodata;  ///< set on every band
  std::optional<GeoTransform> geotransform = GeoTransform{500000.0, 10.0, 0.0, 4000000.0, 0.0, -10.0};
  int epsg = 32631;                       ///< 0 = no CRS
  std::vector<GDALColorInterp> colours;   ///< per band; empty = leave GDAL's default
  std::vector<std::string> descriptions;  ///< per band; empty = none
};

/// Writes `bands` planes of w x h bytes as a PNG (no georeferencing), as training images and masks are.
inline void write_png(const std::string& path, int w, int h, const std::vector<std::vector<uint8_t>>& bands) {
  GDALAllRegister();
  GDALDatasetUniquePtr mem(GetGDALDriverManager()->GetDriverByName("MEM")->Create(
      "", w, h, static_cast<int>(bands.size()), GDT_Byte, nullptr));
  for (size_t b = 0; b < bands.size(); ++b) {
    auto* data = const_cast<uint8_t*>(bands[b].data());
    if (mem->GetRasterBand(static_cast<int>(b) + 1)->RasterIO(GF_Write, 0, 0, w, h, data, w, h, GDT_Byte, 0, 0) !=
        CE_None) {
      throw std::runtime_error("cannot fill " + path);
    }
  }
  GDALDatasetUniquePtr png(GetGDALDriverManager()->GetDriverByName("PNG")->CreateCopy(path.c_str(), mem.get(), FALSE,
                                                                                      nullptr, nullptr, nullptr));
  if (!png) throw std::runtime_error("cannot write " + path);
}

/// A deterministic, textured pixel value for band b (1-based) at (x, y), in [0, 250].
inline double texture(int b, int x, int y) {
  uint32_t h = static_cast<uint32_t>(x) * 73856093U ^ static_cast<uint32_t>(y) * 19349663U ^
               static_cast<uint32_t>(b) * 83492791U;
  h ^= h >> 13;
  h *= 0x5bd1e995U;
  h ^= h >> 15;
  return static_cast<double>((x * 3 + y * 2 + b * 40) % 200) * 0.75 + static_cast<double>(h % 100);
}

/// Writes a tiled GTiff at `path` (a file or /vsimem/ path) with value(b, x, y) per pixel.
inline void write_raster(const std::string& path, const SyntheticRaster& spec,
                         const std::function<double(int, int, int)>& value = texture) {
  GDALAllRegister();
  GDALDriver* driver = GetGDALDriverManager()->GetDriverByName("GTiff");
  // Without explicit colours, keep GTiff from reading 3-4 Byte bands as RGB(A): plain bands, no alpha.
  const char* options[] = {"TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64",
                           spec.colours.empty() ? "PHOTOMETRIC=MINISBLACK" : nullptr, nullptr};
  GDALDatasetUniquePtr ds(
      driver->Create(path.c_str(), spec.width, spec.height, spec.bands, spec.type, const_cast<char**>(options)));
  if (!ds) throw std::runtime_error("test: cannot create " + path);
  if (spec.geotransform) {
    GeoTransform gt = *spec.geotransform;
    terraseg::test::gdal_ok(ds->SetGeoTransform(gt.data()));
  }
  if (spec.epsg != 0) {
    OGRSpatialReference srs;
    terraseg::test::gdal_ok(srs.importFromEPSG(spec.epsg));
    srs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
    terraseg::test::gdal_ok(ds->SetSpatialRef(&srs));
  }
  std::vector<double> buffer(static_cast<size_t>(spec.width) * static_cast<size_t>(spec.height));
  for (int b = 1; b <= spec.bands; ++b) {
    for (int y = 0; y < spec.height; ++y) {
      for (int x = 0; x < spec.width; ++x) buffer[static_cast<size_t>(y) * spec.width + x] = value(b, x, y);
    }
    GDALRasterBand* band = ds->GetRasterBand(b);
    if (band->RasterIO(GF_Write, 0, 0, spec.width, spec.height, buffer.data(), spec.width, spec.height, GDT_Float64, 0,
                       0, nullptr) != CE_None) {
      throw std::runtime_error("test: cannot write " + path);
    }
    if (spec.nodata) terraseg::test::gdal_ok(band->SetNoDataValue(*spec.nodata));
    if (!spec.colours.empty())
      terraseg::test::gdal_ok(band->SetColorInterpretation(spec.colours[static_cast<size_t>(b - 1)]));
    if (!spec.descriptions.empty()) band->SetDescription(spec.descriptions[static_cast<size_t>(b - 1)].c_str());
  }
}

/// Reads band b (1-based) of `path` as floats (row-major height x width).
inline std::vector<float> read_band(const std::string& path, int b) {
  GDALDatasetUniquePtr ds = open_raster(path);
  const int w = ds->GetRasterXSize();
  const int h = ds->GetRasterYSize();
  std::vector<float> values(static_cast<size_t>(w) * static_cast<size_t>(h));
  if (ds->GetRasterBand(b)->RasterIO(GF_Read, 0, 0, w, h, values.data(), w, h, GDT_Float32, 0, 0, nullptr) != CE_None) {
    throw std::runtime_error("test: cannot read " + path);
  }
  return values;
}

/// Opens a written output for checks. GDAL 3.6's GTiff loads the .aux.xml sidecar (category names,
/// band descriptions) lazily on the first georeferencing/metadata query, not on GetCategoryNames():
/// query the CRS first, as gdalinfo and QGIS do.
inline GDALDatasetUniquePtr open_output(const std::string& path) {
  GDALDatasetUniquePtr ds = open_raster(path);
  ds->GetProjectionRef();
  return ds;
}

/// A local "model": 3 classes from 5x5 box means (reflect-101 borders, radius 2) of the input channels.
/// Works on any H x W, so it can run on a whole image or on a tile.
inline void box_model(const Tensor& input, Tensor& scores) {
  const int channels = static_cast<int>(input.dim(1));
  const int h = static_cast<int>(input.dim(2));
  const int w = static_cast<int>(input.dim(3));
  const size_t plane = static_cast<size_t>(h) * static_cast<size_t>(w);
  scores.resize({1, 3, h, w});
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      std::vector<double> mean(static_cast<size_t>(channels), 0.0);
      for (int dy = -2; dy <= 2; ++dy) {
        for (int dx = -2; dx <= 2; ++dx) {
          const size_t at =
              static_cast<size_t>(reflect_101(y + dy, h)) * w + static_cast<size_t>(reflect_101(x + dx, w));
          for (int c = 0; c < channels; ++c) mean[static_cast<size_t>(c)] += input.data()[c * plane + at] / 25.0;
        }
      }
      const size_t at = static_cast<size_t>(y) * w + static_cast<size_t>(x);
      const double first = mean.front();
      const double last = mean.back();
      scores.data()[at] = static_cast<float>(first);
      scores.data()[plane + at] = static_cast<float>(0.8 * last + 0.1);
      scores.data()[2 * plane + at] = static_cast<float>(0.9 - 0.5 * first - 0.4 * last);
    }
  }
}

}  // namespace terraseg::geo::test
