#pragma once
/// Small GeoTIFFs made on the fly for the pipeline tests.
#include <gdal_priv.h>
#include <ogr_spatialref.h>

#include <filesystem>

#include "gdal_ok.hpp"

namespace terraseg::test {

/// A 3-band 64x48 Byte GeoTIFF on a UTM grid (1 m pixels), band b filled with 40 * b; `stamp`, when
/// given, goes into TIFFTAG_DATETIME.
inline std::filesystem::path make_rgb_raster(const std::filesystem::path& path, const char* stamp = nullptr) {
  GDALAllRegister();
  GDALDriver* driver = GetGDALDriverManager()->GetDriverByName("GTiff");
  GDALDatasetUniquePtr dataset(driver->Create(path.c_str(), 64, 48, 3, GDT_Byte, nullptr));
  double gt[6] = {500000, 1, 0, 5700000, 0, -1};
  terraseg::test::gdal_ok(dataset->SetGeoTransform(gt));
  OGRSpatialReference utm;
  terraseg::test::gdal_ok(utm.importFromEPSG(32631));
  terraseg::test::gdal_ok(dataset->SetSpatialRef(&utm));
  for (int band = 1; band <= 3; ++band) terraseg::test::gdal_ok(dataset->GetRasterBand(band)->Fill(40.0 * band));
  if (stamp != nullptr) terraseg::test::gdal_ok(dataset->SetMetadataItem("TIFFTAG_DATETIME", stamp));
  return path;
}

}  // namespace terraseg::test
