#include <gdal_priv.h>

#include <cstdio>

#include "report.hpp"
#include "run_summary.hpp"
#include "terraseg/geo/footprint.hpp"

namespace terraseg {

using nlohmann::json;

std::string stac_item_path(const std::string& raster_path) {
  const std::filesystem::path path(raster_path);
  return (path.parent_path() / (path.stem().string() + ".stac.json")).string();
}

namespace {

/// TIFFTAG_DATETIME ("YYYY:MM:DD HH:MM:SS") of `source` as ISO 8601, or null.
json acquisition_time(const std::string& source) {
  if (source.empty()) return nullptr;
  GDALDatasetUniquePtr dataset(GDALDataset::Open(source.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  const char* stamp = dataset ? dataset->GetMetadataItem("TIFFTAG_DATETIME") : nullptr;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (stamp == nullptr || std::sscanf(stamp, "%d:%d:%d %d:%d:%d", &year, &month, &day, &hour, &minute, &second) != 6) {
    return nullptr;
  }
  char iso[32];
  std::snprintf(iso, sizeof iso, "%04d-%02d-%02dT%02d:%02d:%02dZ", year, month, day, hour, minute, second);
  return iso;
}

json classification(const ModelCard& card) {
  json classes = json::array();
  for (const ClassInfo& info : card.classes) {
    char colour[8];
    std::snprintf(colour, sizeof colour, "%02x%02x%02x", info.rgb[0], info.rgb[1], info.rgb[2]);
    classes.push_back({{"value", info.id}, {"name", info.name}, {"color_hint", colour}});
  }
  return classes;
}

}  // namespace

void write_stac_item(const std::string& raster_path, const ModelCard& card, const json& properties) {
  const std::filesystem::path raster(raster_path);
  json item{{"type", "Feature"},
            {"stac_version", "1.0.0"},
            {"stac_extensions", {"https://stac-extensions.github.io/projection/v1.1.0/schema.json",
                                 "https://stac-extensions.github.io/classification/v1.1.0/schema.json"}},
            {"id", raster.parent_path().filename().string() + "-" + raster.stem().string()},
            {"links", json::array()}};
  json props = properties;
  // STAC's datetime is the acquisition time. Where the source does not record one it is null (the
  // processing time would make reruns differ byte for byte, which resume and shards rely on).
  props["datetime"] = acquisition_time(properties.value("terraseg:source", ""));
  const auto footprint = geo::raster_footprint(raster_path);
  if (footprint) {
    json ring = json::array();
    for (const auto& point : footprint->ring) ring.push_back({point[0], point[1]});
    item["bbox"] = footprint->bbox;
    item["geometry"] = {{"type", "Polygon"}, {"coordinates", {ring}}};
    props["proj:epsg"] = footprint->epsg ? json(*footprint->epsg) : json(nullptr);
    props["proj:wkt2"] = footprint->wkt2;
    props["proj:shape"] = footprint->shape;
    props["proj:transform"] = {footprint->transform[1], footprint->transform[2], footprint->transform[0],
                               footprint->transform[4], footprint->transform[5], footprint->transform[3]};
  } else {
    item["geometry"] = nullptr;
  }
  item["properties"] = props;
  item["assets"] = {{"data",
                     {{"href", "./" + raster.filename().string()},
                      {"type", "image/tiff; application=geotiff"},
                      {"roles", {"data"}},
                      {"classification:classes", classification(card)}}}};
  write_json_atomically(stac_item_path(raster_path), item);
}

}  // namespace terraseg
