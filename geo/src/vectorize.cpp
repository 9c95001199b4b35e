#include "terraseg/geo/vectorize.hpp"

#include <cpl_string.h>
#include <gdal_alg.h>
#include <ogrsf_frmts.h>

#include <optional>
#include <set>

#include "gdal_util.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/raster_io.hpp"
#include "terraseg/geo/writer.hpp"

namespace terraseg::geo {
namespace {

std::string sql_quote(const std::string& text) {
  std::string quoted = "'";
  for (char ch : text) {
    quoted += ch;
    if (ch == '\'') quoted += '\'';
  }
  return quoted + "'";
}

OGRLayer* create_layer(GDALDataset& gpkg, GDALDataset& mask, const std::string& name, const std::string& path) {
  // GDAL 3.6 takes a non-const CRS (and clones it): hand it a copy.
  std::optional<OGRSpatialReference> crs;
  if (const OGRSpatialReference* source = mask.GetSpatialRef()) crs.emplace(*source);
  OGRLayer* layer = gpkg.CreateLayer(name.c_str(), crs ? &*crs : nullptr, wkbPolygon, nullptr);
  if (layer == nullptr)
    throw Error("cannot create layer '" + name + "' in '" + path + "': " + detail::last_gdal_message());
  OGRFieldDefn id_field("class_id", OFTInteger);
  OGRFieldDefn name_field("class_name", OFTString);
  if (layer->CreateField(&id_field) != OGRERR_NONE || layer->CreateField(&name_field) != OGRERR_NONE) {
    throw Error("cannot add class fields to '" + path + "': " + detail::last_gdal_message());
  }
  return layer;
}

/// Fills class_name for every class id present, in one SQL statement (fast on large layers).
void name_classes(GDALDataset& gpkg, const std::string& layer, const std::vector<ClassInfo>& classes,
                  const std::set<int>& ids) {
  if (ids.empty()) return;
  std::string sql = "UPDATE \"" + layer + "\" SET class_name = CASE class_id";
  for (int id : ids) sql += " WHEN " + std::to_string(id) + " THEN " + sql_quote(class_name(classes, id));
  sql += " END";
  OGRLayer* result = gpkg.ExecuteSQL(sql.c_str(), nullptr, nullptr);
  if (result != nullptr) gpkg.ReleaseResultSet(result);
}

}  // namespace

int64_t vectorize_classes(const std::string& mask_path, const std::string& gpkg_path,
                          const std::vector<ClassInfo>& class_table, const VectorizeOptions& options) {
  GDALDatasetUniquePtr mask = open_raster(mask_path);
  GDALDriver* driver = GetGDALDriverManager()->GetDriverByName("GPKG");
  if (driver == nullptr) throw Error("GDAL was built without the GeoPackage driver: cannot vectorise");
  TempPath temp(gpkg_path);
  int64_t count = 0;
  {
    detail::QuietGdal quiet;
    GDALDatasetUniquePtr gpkg(driver->Create(temp.temp().c_str(), 0, 0, 0, GDT_Unknown, nullptr));
    if (!gpkg) {
      throw Error("cannot create '" + gpkg_path + "': " + detail::last_gdal_message() +
                  " — check that the directory exists and is writable");
    }
    OGRLayer* layer = create_layer(*gpkg, *mask, options.layer, gpkg_path);
    GDALRasterBand* band = mask->GetRasterBand(1);
    CPLStringList poly_options;
    if (options.eight_connected) poly_options.SetNameValue("8CONNECTED", "8");
    detail::check_ogr(layer->StartTransaction(), "starting a transaction in '" + gpkg_path + "'");
    detail::check(
        GDALPolygonize(band, band->GetMaskBand(), OGRLayer::ToHandle(layer), 0, poly_options.List(), nullptr, nullptr),
        "polygonising '" + mask_path + "' into '" + gpkg_path + "'");
    detail::check_ogr(layer->CommitTransaction(), "writing '" + gpkg_path + "'");
    std::set<int> ids;
    layer->ResetReading();
    for (const auto& feature : *layer) {
      ids.insert(feature->GetFieldAsInteger(0));
      ++count;
    }
    name_classes(*gpkg, options.layer, class_table, ids);
    gpkg.reset();
    if (CPLGetLastErrorType() == CE_Failure) {
      throw Error("finishing '" + gpkg_path + "' failed: " + detail::last_gdal_message());
    }
  }
  temp.commit();
  return count;
}

}  // namespace terraseg::geo
