#include "terraseg/geo/vector_labels.hpp"

#include <gdal_alg.h>
#include <gdal_priv.h>
#include <ogr_spatialref.h>
#include <ogrsf_frmts.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>

#include "gdal_util.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/raster_io.hpp"
#include "terraseg/geo/writer.hpp"

namespace terraseg::geo {
namespace {

using GeometryPtr = std::unique_ptr<OGRGeometry>;
using TransformPtr = std::unique_ptr<OGRCoordinateTransformation>;

TransformPtr transform_between(const OGRSpatialReference& from, const OGRSpatialReference& to,
                               const std::string& what) {
  OGRSpatialReference a(from);
  OGRSpatialReference b(to);
  a.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  b.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  TransformPtr transform(OGRCreateCoordinateTransformation(&a, &b));
  if (!transform) throw Error(what + ": PROJ cannot transform between its CRS and the image's");
  return transform;
}

/// The UTM zone (WGS 84) of the image's centre: where widths in metres are ground metres.
OGRSpatialReference local_utm(const OGRSpatialReference& image_crs, const double gt[6], int width, int height,
                              const std::string& image) {
  double x = gt[0] + gt[1] * width / 2.0 + gt[2] * height / 2.0;
  double y = gt[3] + gt[4] * width / 2.0 + gt[5] * height / 2.0;
  OGRSpatialReference wgs84;
  wgs84.SetWellKnownGeogCS("WGS84");
  if (!transform_between(image_crs, wgs84, image)->Transform(1, &x, &y)) {
    throw Error(image + ": its centre cannot be placed on Earth (check its CRS)");
  }
  OGRSpatialReference utm;
  utm.SetWellKnownGeogCS("WGS84");
  utm.SetUTM(std::clamp(static_cast<int>(std::floor((x + 180.0) / 6.0)) + 1, 1, 60), y >= 0.0 ? TRUE : FALSE);
  return utm;
}

/// A line's width in metres: its own field, else the table entry of its `width_by` value (OSM's
/// "primary_link" as "primary"), else the default.
double line_width(OGRFeature& feature, const VectorLabelOptions& options) {
  if (!options.width_field.empty()) {
    const int field = feature.GetFieldIndex(options.width_field.c_str());
    if (field >= 0 && feature.IsFieldSetAndNotNull(field)) {
      const double value = feature.GetFieldAsDouble(field);
      if (std::isfinite(value) && value > 0.0) return value;
    }
  }
  if (!options.width_by.empty()) {
    const int field = feature.GetFieldIndex(options.width_by.c_str());
    if (field >= 0 && feature.IsFieldSetAndNotNull(field)) {
      std::string value = feature.GetFieldAsString(field);
      auto found = options.widths.find(value);
      const std::string link = "_link";
      if (found == options.widths.end() && value.size() > link.size() &&
          value.compare(value.size() - link.size(), link.size(), link) == 0) {
        found = options.widths.find(value.substr(0, value.size() - link.size()));
      }
      if (found != options.widths.end()) return found->second;
    }
  }
  return options.width_m;
}

GeometryPtr buffered(const OGRGeometry& geometry, double distance, OGRCoordinateTransformation& to_image) {
  GeometryPtr result(distance == 0.0 ? geometry.clone() : geometry.Buffer(distance, 8));
  if (!result || result->IsEmpty()) return nullptr;
  if (result->transform(&to_image) != OGRERR_NONE) return nullptr;
  return result;
}

std::vector<OGRLayer*> chosen_layers(GDALDataset& vectors, const std::string& name, const std::string& path) {
  std::vector<OGRLayer*> layers;
  if (!name.empty()) {
    OGRLayer* layer = vectors.GetLayerByName(name.c_str());
    if (layer == nullptr) {
      std::string names;
      for (OGRLayer* candidate : vectors.GetLayers())
        names += std::string(names.empty() ? "" : ", ") + candidate->GetName();
      throw Error(path + ": has no layer '" + name + "' (its layers: " + names + ")");
    }
    layers.push_back(layer);
    return layers;
  }
  for (OGRLayer* layer : vectors.GetLayers()) layers.push_back(layer);
  return layers;
}

}  // namespace

const std::map<std::string, double>& osm_highway_widths() {
  static const std::map<std::string, double> widths{
      {"motorway", 24.0}, {"trunk", 18.0},      {"primary", 14.0},     {"secondary", 11.0},
      {"tertiary", 9.0},  {"residential", 7.0}, {"unclassified", 7.0}, {"living_street", 6.0},
      {"service", 5.0},   {"track", 3.5},       {"cycleway", 2.5},     {"footway", 2.5},
      {"path", 2.5},      {"pedestrian", 2.5},  {"steps", 2.5},        {"bridleway", 2.5},
  };
  return widths;
}

VectorLabelStats rasterize_labels(const std::string& image, const std::string& vectors,
                                  const VectorLabelOptions& options, const std::string& mask_path) {
  detail::ensure_gdal_registered();
  if (!(options.width_m > 0.0) || !(options.ignore_m >= 0.0) || !std::isfinite(options.ignore_m)) {
    throw Error("label widths must be positive and the unknown band 0 or more metres");
  }
  for (const VectorClass& c : options.classes) {
    if (c.id < 0 || c.id > 254) throw Error("class id " + std::to_string(c.id) + " is outside 0..254 (255 is unknown)");
  }
  GDALDatasetUniquePtr source = open_raster(image);
  double gt[6];
  const OGRSpatialReference* image_crs = source->GetSpatialRef();
  if (source->GetGeoTransform(gt) != CE_None || image_crs == nullptr) {
    throw Error(image +
                ": has no georeference (geotransform and CRS); labels from vectors need a georeferenced "
                "image: give the GeoTIFF, not a PNG/JPEG tile cut from it");
  }
  const int width = source->GetRasterXSize();
  const int height = source->GetRasterYSize();
  const OGRSpatialReference utm = local_utm(*image_crs, gt, width, height, image);
  const TransformPtr utm_to_image = transform_between(utm, *image_crs, image);

  GDALDatasetUniquePtr data(
      GDALDataset::Open(vectors.c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY | GDAL_OF_VERBOSE_ERROR));
  if (!data) throw Error(vectors + ": GDAL/OGR cannot open it as vectors: " + detail::last_gdal_message());
  const std::vector<OGRLayer*> layers = chosen_layers(*data, options.layer, vectors);

  // The image's extent, to read only the features near it.
  double xs[4] = {gt[0], gt[0] + gt[1] * width, gt[0] + gt[2] * height, gt[0] + gt[1] * width + gt[2] * height};
  double ys[4] = {gt[3], gt[3] + gt[4] * width, gt[3] + gt[5] * height, gt[3] + gt[4] * width + gt[5] * height};
  const double min_x = *std::min_element(xs, xs + 4), max_x = *std::max_element(xs, xs + 4);
  const double min_y = *std::min_element(ys, ys + 4), max_y = *std::max_element(ys, ys + 4);

  VectorLabelStats stats;
  std::vector<GeometryPtr> unknown;                  // every feature's edge band, burned first
  std::vector<std::pair<int, GeometryPtr>> classes;  // then each class, in order
  for (const VectorClass& c : options.classes) {
    for (OGRLayer* layer : layers) {
      const OGRSpatialReference* layer_crs = layer->GetSpatialRef();
      if (layer_crs == nullptr) throw Error(vectors + ": layer '" + std::string(layer->GetName()) + "' has no CRS");
      const TransformPtr to_utm = transform_between(*layer_crs, utm, vectors);
      double west = 0.0, south = 0.0, east = 0.0, north = 0.0;
      const TransformPtr to_layer = transform_between(*image_crs, *layer_crs, vectors);
      if (to_layer->TransformBounds(min_x, min_y, max_x, max_y, &west, &south, &east, &north, 21)) {
        // Features just outside the image reach into it by half their width and the unknown band.
        double reach = options.width_m;
        for (const auto& [value, metres] : options.widths) reach = std::max(reach, metres);
        reach = reach / 2.0 + options.ignore_m + 1.0;
        if (layer_crs->IsGeographic())
          reach /= 111000.0 * std::max(0.1, std::cos((south + north) / 2.0 * M_PI / 180.0));
        layer->SetSpatialFilterRect(west - reach, south - reach, east + reach, north + reach);
      }
      const auto bad_filter = [&]() {
        return Error("class " + std::to_string(c.id) + " '" + c.where + "': OGR cannot filter layer '" +
                     layer->GetName() + "' of " + vectors + " with it (" + detail::last_gdal_message() +
                     "); it is an OGR SQL WHERE clause on the layer's fields, e.g. \"highway IS NOT NULL\"");
      };
      {
        // Some drivers (GeoPackage) check a filter only when reading: the first read tells.
        detail::QuietGdal quiet;
        CPLErrorReset();
        if (layer->SetAttributeFilter(c.where.empty() ? nullptr : c.where.c_str()) != OGRERR_NONE) throw bad_filter();
        layer->ResetReading();
        OGRFeatureUniquePtr first(layer->GetNextFeature());
        if (CPLGetLastErrorType() == CE_Failure || CPLGetLastErrorType() == CE_Fatal) throw bad_filter();
      }
      layer->ResetReading();
      for (auto& feature : *layer) {
        const OGRGeometry* geometry = feature->GetGeometryRef();
        if (geometry == nullptr || geometry->IsEmpty()) continue;
        const OGRwkbGeometryType type = wkbFlatten(geometry->getGeometryType());
        const bool line = type == wkbLineString || type == wkbMultiLineString;
        const bool area = type == wkbPolygon || type == wkbMultiPolygon;
        if (!line && !area) continue;  // points carry no extent
        GeometryPtr local(geometry->clone());
        if (local->transform(to_utm.get()) != OGRERR_NONE) continue;
        const double half = line ? line_width(*feature, options) / 2.0 : 0.0;
        GeometryPtr outer = buffered(*local, half + options.ignore_m, *utm_to_image);
        GeometryPtr inner;
        if (!line) {
          inner = buffered(*local, -options.ignore_m, *utm_to_image);
        } else if (half > options.ignore_m) {
          inner = buffered(*local, half - options.ignore_m, *utm_to_image);
        }
        if (outer && options.ignore_m > 0.0) unknown.push_back(std::move(outer));
        if (inner) classes.emplace_back(c.id, std::move(inner));
        ++stats.features;
      }
      layer->SetAttributeFilter(nullptr);
      layer->SetSpatialFilter(nullptr);
    }
  }

  GDALDriver* mem = GetGDALDriverManager()->GetDriverByName("MEM");
  GDALDatasetUniquePtr grid(mem->Create("", width, height, 1, GDT_Byte, nullptr));
  detail::check(grid->SetGeoTransform(gt), mask_path + ": setting the label grid's geotransform");
  detail::check(grid->SetSpatialRef(image_crs), mask_path + ": setting the label grid's CRS");
  GDALRasterBand* band = grid->GetRasterBand(1);
  detail::check(band->Fill(options.background), mask_path + ": filling the label grid");
  detail::check(band->SetNoDataValue(255), mask_path + ": setting the label grid's nodata");
  const auto burn = [&grid, &mask_path](std::vector<OGRGeometryH>& geometries, std::vector<double>& values) {
    if (geometries.empty()) return;
    int band_list[] = {1};
    const CPLErr err =
        GDALRasterizeGeometries(GDALDataset::ToHandle(grid.get()), 1, band_list, static_cast<int>(geometries.size()),
                                geometries.data(), nullptr, nullptr, values.data(), nullptr, nullptr, nullptr);
    detail::check(err, mask_path + ": rasterising the labels");
  };
  {
    std::vector<OGRGeometryH> geometries;
    std::vector<double> values;
    for (const GeometryPtr& g : unknown) {
      geometries.push_back(OGRGeometry::ToHandle(g.get()));
      values.push_back(255.0);
    }
    burn(geometries, values);
  }
  {
    std::vector<OGRGeometryH> geometries;
    std::vector<double> values;
    for (const auto& [id, g] : classes) {
      geometries.push_back(OGRGeometry::ToHandle(g.get()));
      values.push_back(id);
    }
    burn(geometries, values);
  }
  std::vector<uint8_t> pixels(static_cast<size_t>(width) * static_cast<size_t>(height));
  detail::check(band->RasterIO(GF_Read, 0, 0, width, height, pixels.data(), width, height, GDT_Byte, 0, 0, nullptr),
                mask_path + ": reading the labels back");
  for (uint8_t value : pixels) ++stats.pixels[value];

  std::string extension = std::filesystem::path(mask_path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char ch) { return std::tolower(ch); });
  const char* driver_name = extension == ".png"                           ? "PNG"
                            : extension == ".tif" || extension == ".tiff" ? "GTiff"
                                                                          : nullptr;
  if (driver_name == nullptr) throw Error(mask_path + ": give labels a .png or .tif name");
  GDALDriver* driver = GetGDALDriverManager()->GetDriverByName(driver_name);
  TempPath temp(mask_path);
  CPLStringList create;
  if (std::string(driver_name) == "GTiff") {
    create.SetNameValue("COMPRESS", "DEFLATE");
    create.SetNameValue("TILED", "YES");
  }
  GDALDatasetUniquePtr written;
  {
    detail::QuietGdal quiet;
    written.reset(driver->CreateCopy(temp.temp().c_str(), grid.get(), FALSE, create.List(), nullptr, nullptr));
  }
  if (!written) throw Error(mask_path + ": cannot write the labels: " + detail::last_gdal_message());
  written.reset();
  temp.commit();
  return stats;
}

VectorLabelOptions osm_road_label_options() {
  VectorLabelOptions options;
  options.width_by = "highway";
  options.widths = osm_highway_widths();
  return options;
}

}  // namespace terraseg::geo
