#include "stac.hpp"

#include <gdal_priv.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <map>
#include <optional>
#include <sstream>
#include <string_view>

#include "run_summary.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/footprint.hpp"
#include "terraseg/geo/qgis_style.hpp"
#include "terraseg/geo/writer.hpp"

namespace terraseg {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kProjection = "https://stac-extensions.github.io/projection/v1.1.0/schema.json";
constexpr const char* kRaster = "https://stac-extensions.github.io/raster/v1.1.0/schema.json";
constexpr const char* kClassification = "https://stac-extensions.github.io/classification/v1.1.0/schema.json";
constexpr const char* kFile = "https://stac-extensions.github.io/file/v2.1.0/schema.json";

/// The number written by text[first, first + width), or -1 unless those are all decimal digits.
int digits_at(std::string_view text, size_t first, size_t width) {
  if (first + width > text.size()) return -1;
  int value = 0;
  for (const char c : text.substr(first, width)) {
    if (c < '0' || c > '9') return -1;
    value = value * 10 + (c - '0');
  }
  return value;
}

/// "YYYY?MM?DD?HH:MM:SS" (GDAL's TIFFTAG_DATETIME and EXIF write ':' or '-' between the date's
/// fields and ' ' or 'T' before the time) as ISO 8601 UTC, or "".
std::string iso_from_stamp(const char* stamp) {
  if (stamp == nullptr) return "";
  const std::string_view text(stamp);
  const auto separator = [&text](size_t at, std::string_view allowed) {
    return at < text.size() && allowed.find(text[at]) != std::string_view::npos;
  };
  const int year = digits_at(text, 0, 4), month = digits_at(text, 5, 2), day = digits_at(text, 8, 2);
  const int hour = digits_at(text, 11, 2), minute = digits_at(text, 14, 2), second = digits_at(text, 17, 2);
  if (!separator(4, ":-") || !separator(7, ":-") || !separator(10, " T") || !separator(13, ":") ||
      !separator(16, ":") || year < 1800 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 ||
      minute < 0 || minute > 59 || second < 0 || second > 60) {
    return "";
  }
  std::ostringstream iso;
  iso << std::setfill('0') << std::setw(4) << year << '-' << std::setw(2) << month << '-' << std::setw(2) << day << 'T'
      << std::setw(2) << hour << ':' << std::setw(2) << minute << ':' << std::setw(2) << second << 'Z';
  return iso.str();
}

/// Two upper-case hexadecimal digits.
std::string hex_byte(unsigned value) {
  std::ostringstream text;
  text << std::uppercase << std::hex << std::setfill('0') << std::setw(2) << (value & 0xFFU);
  return text.str();
}

/// "file:///abs/path" with the characters a URL cannot carry percent-encoded (RFC 3986, RFC 8089).
std::string file_url(const fs::path& path) {
  const std::string text = fs::absolute(path).lexically_normal().generic_string();
  std::string url = "file://";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || std::strchr("/-._~!$&'()*+,;=:@", c) != nullptr) {
      url += c;
    } else {
      url += '%' + hex_byte(byte);
    }
  }
  return url;
}

/// `target` relative to `from_dir`, written with a leading "./" when it stays below it.
std::string relative_href(const fs::path& target, const fs::path& from_dir) {
  const fs::path relative =
      fs::absolute(target).lexically_normal().lexically_relative(fs::absolute(from_dir).lexically_normal());
  const std::string text = relative.generic_string();
  return text.rfind("..", 0) == 0 ? text : "./" + text;
}

/// Where a STAC document at `from_dir` points to `source`: relative when the file lies in the run's
/// folder `run_root` (the run stays movable), a URL otherwise (file:// for a local file, the URL a GDAL
/// /vsicurl/ path wraps, s3:// and gs:// for /vsis3/ and /vsigs/).
std::string source_href(const std::string& source, const fs::path& from_dir, const fs::path& run_root) {
  for (const char* prefix : {"/vsicurl/", "/vsicurl_streaming/"}) {
    if (source.rfind(prefix, 0) == 0) return source.substr(std::char_traits<char>::length(prefix));
  }
  if (source.rfind("/vsis3/", 0) == 0) return "s3://" + source.substr(7);
  if (source.rfind("/vsigs/", 0) == 0) return "gs://" + source.substr(7);
  if (source.rfind("/vsi", 0) == 0) return source;
  if (!run_root.empty()) {
    const fs::path inside =
        fs::absolute(source).lexically_normal().lexically_relative(fs::absolute(run_root).lexically_normal());
    if (!inside.empty() && inside.generic_string().rfind("..", 0) != 0) return relative_href(source, from_dir);
  }
  return file_url(source);
}

/// A STAC media type from the file name; GeoTIFFs whose layout GDAL reports as COG get the profile.
std::string media_type(const fs::path& path) {
  const std::string ext = path.extension().string();
  if (ext == ".tif" || ext == ".tiff") {
    GDALDatasetUniquePtr dataset(GDALDataset::Open(path.string().c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
    const char* layout = dataset ? dataset->GetMetadataItem("LAYOUT", "IMAGE_STRUCTURE") : nullptr;
    const bool cog = layout != nullptr && std::string(layout) == "COG";
    return cog ? "image/tiff; application=geotiff; profile=cloud-optimized" : "image/tiff; application=geotiff";
  }
  if (ext == ".gpkg") return "application/geopackage+sqlite3";
  if (ext == ".csv") return "text/csv";
  if (ext == ".json") return "application/json";
  if (ext == ".html") return "text/html";
  if (ext == ".jsonl") return "application/x-ndjson";
  return "application/octet-stream";
}

/// Class objects: value, description (the card's name), a machine-readable name and the colour.
json classification(const ModelCard& card) {
  json classes = json::array();
  for (const ClassInfo& info : card.classes) {
    std::string name = class_name(card.classes, info.id);
    const std::string description = name;
    std::replace_if(
        name.begin(), name.end(), [](unsigned char c) { return !std::isalnum(c) && c != '-'; }, '_');
    const std::string colour = hex_rgb(info.rgb);
    classes.push_back({{"value", info.id}, {"name", name}, {"description", description}, {"color_hint", colour}});
  }
  return classes;
}

/// The band of a single-band class mask: data type, nodata and resolution from the file itself.
json mask_band(const std::string& raster_path, const json& classes) {
  json band{{"sampling", "area"}, {"classification:classes", classes}};
  GDALDatasetUniquePtr dataset(GDALDataset::Open(raster_path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  if (!dataset || dataset->GetRasterCount() < 1) return band;
  GDALRasterBand* raster_band = dataset->GetRasterBand(1);
  switch (raster_band->GetRasterDataType()) {
    case GDT_Byte:
      band["data_type"] = "uint8";
      break;
    case GDT_UInt16:
      band["data_type"] = "uint16";
      break;
    case GDT_Int16:
      band["data_type"] = "int16";
      break;
    case GDT_Float32:
      band["data_type"] = "float32";
      break;
    default:
      band["data_type"] = "other";
  }
  int has_nodata = 0;
  const double nodata = raster_band->GetNoDataValue(&has_nodata);
  if (has_nodata) band["nodata"] = nodata;
  double transform[6];
  if (dataset->GetGeoTransform(transform) == CE_None) band["spatial_resolution"] = std::abs(transform[1]);
  return band;
}

json file_asset(const fs::path& path, const fs::path& item_dir, const std::string& title, const json& roles) {
  json asset{{"href", relative_href(path, item_dir)}, {"type", media_type(path)}, {"title", title}, {"roles", roles}};
  std::error_code error;
  const auto size = fs::file_size(path, error);
  if (!error) asset["file:size"] = size;
  return asset;
}

/// The collection's id: the name of the output folder.
std::string collection_id(const fs::path& output_dir) {
  fs::path dir = fs::absolute(output_dir).lexically_normal();
  if (dir.filename().empty()) dir = dir.parent_path();
  return dir.filename().string();
}

json read_json(const fs::path& path) {
  std::ifstream stream(path);
  return json::parse(stream, nullptr, /*allow_exceptions=*/false);
}

}  // namespace

std::pair<std::string, std::string> raster_acquisition_time(const std::string& path) {
  if (path.empty()) return {};
  CPLErrorHandlerPusher quiet(CPLQuietErrorHandler);  // a source that cannot be opened has no date
  GDALDatasetUniquePtr dataset(GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  if (!dataset) return {};
  std::string iso = iso_from_stamp(dataset->GetMetadataItem("ACQUISITIONDATETIME", "IMAGERY"));
  if (!iso.empty()) return {iso, "ACQUISITIONDATETIME (IMAGERY metadata of the source)"};
  iso = iso_from_stamp(dataset->GetMetadataItem("TIFFTAG_DATETIME"));
  if (!iso.empty()) return {iso, "TIFFTAG_DATETIME of the source"};
  return {};
}

void write_stac_item(const std::string& raster_path, const ModelCard& card, const StacItemRequest& request) {
  const fs::path raster(raster_path);
  const fs::path item_dir = raster.parent_path().empty() ? fs::path(".") : raster.parent_path();
  json item{{"type", "Feature"},
            {"stac_version", "1.0.0"},
            {"stac_extensions", {kProjection, kRaster, kClassification, kFile}},
            {"id", request.id.empty() ? raster.stem().string() : request.id}};
  json props = request.properties;
  const auto [acquired, acquired_from] = raster_acquisition_time(request.source);
  props["datetime"] = acquired.empty() ? request.run_started : acquired;
  props["terraseg:datetime_source"] =
      acquired.empty() ? "the run's start (the source records no acquisition time)" : acquired_from;
  if (!request.run_started.empty()) props["created"] = request.run_started;
  const fs::path run_root = request.collection.empty() ? fs::path() : request.collection.parent_path();
  if (!request.source.empty()) props["terraseg:source"] = source_href(request.source, item_dir, run_root);
  const auto footprint = geo::raster_footprint(raster_path);
  if (footprint) {
    json ring = json::array();
    for (const auto& point : footprint->ring) ring.push_back({point[0], point[1]});
    item["bbox"] = footprint->bbox;
    item["geometry"] = {{"type", "Polygon"}, {"coordinates", json::array({ring})}};
    props["proj:epsg"] = footprint->epsg ? json(*footprint->epsg) : json(nullptr);
    props["proj:wkt2"] = footprint->wkt2;
    props["proj:shape"] = footprint->shape;
    props["proj:transform"] = {footprint->transform[1], footprint->transform[2], footprint->transform[0],
                               footprint->transform[4], footprint->transform[5], footprint->transform[3]};
  } else {
    item["geometry"] = nullptr;
    props["proj:epsg"] = nullptr;  // the projection extension needs one of its fields: "no CRS"
  }
  item["properties"] = props;

  json links = json::array();
  if (!request.source.empty()) {
    links.push_back({{"rel", "derived_from"},
                     {"href", source_href(request.source, item_dir, run_root)},
                     {"title", "input raster"}});
  }
  // STAC wants self absolute: where this run's folder is now (a published copy rewrites it).
  links.push_back({{"rel", "self"}, {"href", file_url(stac_item_path(raster_path))}, {"type", "application/geo+json"}});
  if (!request.collection.empty()) {
    const std::string href = relative_href(request.collection, item_dir);
    for (const char* rel : {"collection", "parent", "root"}) {
      links.push_back({{"rel", rel}, {"href", href}, {"type", "application/json"}});
    }
    item["collection"] = collection_id(request.collection.parent_path());
  }
  item["links"] = links;

  const json classes = classification(card);
  json data = file_asset(raster, item_dir, "class mask", {"data"});
  data["classification:classes"] = classes;
  data["raster:bands"] = json::array({mask_band(raster_path, classes)});
  json assets{{"data", data}};
  const fs::path sidecar = raster_path + ".aux.xml";
  if (fs::exists(sidecar)) {
    // GDAL keeps the class names there: a client given only the .tif shows bare palette entries.
    assets["metadata"] = file_asset(sidecar, item_dir, "GDAL sidecar: class names and statistics", {"metadata"});
    assets["metadata"]["type"] = "application/xml";
  }
  if (!request.scores_path.empty() && fs::exists(request.scores_path)) {
    assets["scores"] = file_asset(request.scores_path, item_dir, "class scores (one band per class)", {"data"});
  }
  if (!request.vectors_path.empty() && fs::exists(request.vectors_path)) {
    assets["polygons"] = file_asset(request.vectors_path, item_dir, "class polygons", {"data"});
  }
  const fs::path style = geo::qgis_style_path(raster_path);
  if (fs::exists(style)) {
    assets["style"] = file_asset(style, item_dir, "QGIS layer style (class colours and names)", {"style"});
    assets["style"]["type"] = "application/xml";
  }
  item["assets"] = assets;
  write_json_atomically(stac_item_path(raster_path), item);
}

fs::path write_licence_notes(const fs::path& output_dir, const std::vector<json>& unit_records) {
  std::map<std::string, json> models;  // source -> model record, each model once
  for (const json& record : unit_records) {
    const json& model = record.value("model", json::object());
    models.emplace(model.value("source", ""), model);
  }
  std::string text =
      "# Licences of this run's outputs\n\n"
      "The masks, scores and indicators here were derived by terraseg from your inputs with the models "
      "below. The licence of your input imagery applies to them, and so do the terms of each model's "
      "weights and training data:\n";
  for (const auto& entry : models) {
    const std::string& source = entry.first;
    const json& model = entry.second;
    const auto field = [&model](const char* key) {
      const std::string value = model.value(key, "");
      return value.empty() ? std::string("not stated in its card") : value;
    };
    text += "\n## " + (model.value("name", "").empty() ? source : model.value("name", "")) + "\n\n";
    text += "- model: `" + source + "`" + (model.value("trained", true) ? "" : " (untrained: random weights)") + "\n";
    text += "- weights: " + field("licence") + "\n";
    text += "- training data: " + field("training_data") + "\n";
    text += "- transferred from: " + field("initial_weights") + " (" + field("initial_weights_licence") + ")\n";
  }
  fs::path path = output_dir / "licences.md";
  const fs::path temporary = path.string() + ".tmp-" + geo::process_token();
  {
    std::ofstream stream(temporary);
    stream << text;
    if (!stream.flush()) throw Error(path.string() + ": cannot write it (disk full or not writable?)");
  }
  fs::rename(temporary, path);
  return path;
}

void write_stac_collection(const fs::path& output_dir, const std::string& config_name,
                           const std::vector<std::string>& item_paths, const std::vector<std::string>& other_outputs) {
  const fs::path collection_path = stac_collection_path(output_dir);
  json links = json::array({{{"rel", "root"}, {"href", "./collection.json"}, {"type", "application/json"}},
                            {{"rel", "self"}, {"href", file_url(collection_path)}, {"type", "application/json"}}});
  std::array<double, 4> bbox{180.0, 90.0, -180.0, -90.0};
  bool any_bbox = false;
  std::string first, last;
  for (const std::string& path : item_paths) {
    const json item = read_json(path);
    if (item.is_discarded()) throw Error(path + ": not valid JSON; rerun the unit (delete it and run with --resume)");
    links.push_back({{"rel", "item"},
                     {"href", relative_href(path, output_dir)},
                     {"type", "application/geo+json"},
                     {"title", item.value("id", "")}});
    if (item.contains("bbox") && item["bbox"].size() == 4) {
      any_bbox = true;
      for (int i = 0; i < 2; ++i) bbox[i] = std::min(bbox[i], item["bbox"][i].get<double>());
      for (int i = 2; i < 4; ++i) bbox[i] = std::max(bbox[i], item["bbox"][i].get<double>());
    }
    const std::string when = item["properties"].value("datetime", "");
    if (!when.empty() && (first.empty() || when < first)) first = when;
    if (!when.empty() && (last.empty() || when > last)) last = when;
  }
  json assets = json::object();
  for (const std::string& output : other_outputs) {
    const fs::path path(output);
    if (!fs::is_regular_file(path)) continue;
    const std::string relative = fs::absolute(path)
                                     .lexically_normal()
                                     .lexically_relative(fs::absolute(output_dir).lexically_normal())
                                     .generic_string();
    std::string key = relative;
    std::replace(key.begin(), key.end(), '/', '-');
    const std::string ext = path.extension().string();
    const json roles = ext == ".json" || ext == ".md" ? json{"metadata"}
                       : ext == ".html"               ? json{"overview"}
                       : ext == ".qml"                ? json{"style"}
                                                      : json{"data"};
    assets[key] = file_asset(path, output_dir, relative, roles);
    if (ext == ".qml") assets[key]["type"] = "application/xml";
    if (ext == ".md") assets[key]["type"] = "text/markdown";
    if (path.filename() == "licences.md") {
      links.push_back({{"rel", "license"},
                       {"href", relative_href(path, output_dir)},
                       {"type", "text/markdown"},
                       {"title", "licences of the models and their training data"}});
    }
    // The extent covers every asset with a place, not only the Items: the street-view points too.
    std::optional<std::array<double, 4>> place;
    if (ext == ".tif") {
      if (const auto footprint = geo::raster_footprint(path.string())) place = footprint->bbox;
    } else if (ext == ".gpkg") {
      place = geo::vector_bbox(path.string());
    }
    if (place) {
      any_bbox = true;
      for (int i = 0; i < 2; ++i) bbox[i] = std::min(bbox[i], (*place)[i]);
      for (int i = 2; i < 4; ++i) bbox[i] = std::max(bbox[i], (*place)[i]);
    }
  }
  json collection{{"type", "Collection"},
                  {"stac_version", "1.0.0"},
                  {"stac_extensions", {kFile}},
                  {"id", collection_id(output_dir)},
                  {"title", "terraseg run of " + config_name},
                  {"description",
                   "Masks (one STAC Item each) and indicators that terraseg derived from the inputs "
                   "of " +
                       config_name + ". The licence of the inputs and of the models applies."},
                  // Models and inputs come under their own terms: licences.md (the `license` link) lists them.
                  {"license", "proprietary"},
                  {"extent",
                   {{"spatial", {{"bbox", json::array({any_bbox ? json(bbox) : json{-180.0, -90.0, 180.0, 90.0}})}}},
                    {"temporal",
                     {{"interval", json::array({json::array({first.empty() ? json(nullptr) : json(first),
                                                             last.empty() ? json(nullptr) : json(last)})})}}}}},
                  {"links", links},
                  {"assets", assets}};
  write_json_atomically(collection_path, collection);
}

}  // namespace terraseg
