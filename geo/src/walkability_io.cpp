#include <ogr_spatialref.h>
#include <ogrsf_frmts.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <set>
#include <sstream>

#include "gdal_util.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/indicators.hpp"
#include "terraseg/geo/walkability.hpp"

namespace terraseg::geo {
namespace {

std::string trim(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t\r");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t\r") - begin + 1);
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> fields;
  std::stringstream stream(line);
  std::string field;
  while (std::getline(stream, field, ',')) fields.push_back(trim(field));
  return fields;
}

double parse_coordinate(const std::string& text, double limit, const std::string& where, const char* what) {
  size_t used = 0;
  double value = 0.0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || !(std::abs(value) <= limit)) {
    throw Error(where + ": " + what + " '" + text + "' is not a number in -" + std::to_string(static_cast<int>(limit)) +
                ".." + std::to_string(static_cast<int>(limit)) +
                " (columns are id,lon,lat,image[,image...] in WGS 84 degrees)");
  }
  return value;
}

std::string format_value(const std::optional<double>& value) {
  if (!value) return "";
  std::ostringstream text;
  text << std::setprecision(10) << *value;
  return text.str();
}

std::string format_level(const std::optional<int>& value) { return value ? std::to_string(*value) : ""; }

}  // namespace

std::vector<StreetPoint> read_street_points(const std::string& csv_path) {
  std::ifstream stream(csv_path);
  if (!stream) throw Error(csv_path + ": cannot open the street-view points CSV; check street_view.points");
  const std::filesystem::path base = std::filesystem::path(csv_path).parent_path();
  std::vector<StreetPoint> points;
  std::set<std::string> ids;
  std::string line;
  bool first_row = true;  // a header may follow leading comments
  for (int number = 1; std::getline(stream, line); ++number) {
    const std::string text = trim(line);
    if (text.empty() || text[0] == '#') continue;
    const std::vector<std::string> fields = split_csv_line(text);
    const std::string where = csv_path + ":" + std::to_string(number);
    const bool header = first_row && !fields.empty() && (fields[0] == "id" || fields[0] == "ID");
    first_row = false;
    if (header) continue;
    if (fields.size() < 4)
      throw Error(where + ": expected id,lon,lat,image[,image...], got " + std::to_string(fields.size()) + " field(s)");
    StreetPoint point;
    point.id = fields[0];
    if (point.id.empty() || !ids.insert(point.id).second)
      throw Error(where + ": id '" + point.id + "' is empty or repeated");
    point.lon = parse_coordinate(fields[1], 180.0, where, "lon");
    point.lat = parse_coordinate(fields[2], 90.0, where, "lat");
    for (size_t i = 3; i < fields.size(); ++i) {
      if (fields[i].empty()) continue;
      const std::filesystem::path image(fields[i]);
      point.images.push_back(image.is_absolute() ? image.string() : (base / image).lexically_normal().string());
    }
    if (point.images.empty()) throw Error(where + ": point '" + point.id + "' names no image");
    points.push_back(std::move(point));
  }
  return points;
}

void write_walkability_csv(const std::string& path, const std::vector<WalkabilityPoint>& points) {
  TempPath temp(path);
  {
    std::ofstream out(temp.temp());
    out << "id,lon,lat,G,C,S,D,G_level,C_level,S_level,D_level,IVW,images,pixels\n";
    out << std::setprecision(10);
    for (const WalkabilityPoint& p : points) {
      const StreetIndicators& ind = p.indicators;
      out << p.point.id << ',' << p.point.lon << ',' << p.point.lat << ',' << format_value(ind.greenery) << ','
          << format_value(ind.crowdedness) << ',' << format_value(ind.enclosure) << ',' << format_value(ind.pavement);
      for (const auto& level : p.levels) out << ',' << format_level(level);
      out << ',' << format_level(p.ivw) << ',' << p.counts.images << ',' << p.counts.counted << '\n';
    }
    out.flush();
    if (!out) throw Error(path + ": cannot write (disk full or no permission?)");
  }
  temp.commit();
}

namespace {

void create_fields(OGRLayer& layer, const std::string& path) {
  const std::vector<std::pair<const char*, OGRFieldType>> fields{
      {"id", OFTString},       {"G", OFTReal},          {"C", OFTReal},          {"S", OFTReal},
      {"D", OFTReal},          {"G_level", OFTInteger}, {"C_level", OFTInteger}, {"S_level", OFTInteger},
      {"D_level", OFTInteger}, {"IVW", OFTInteger},     {"images", OFTInteger},  {"pixels", OFTInteger64}};
  for (const auto& [name, type] : fields) {
    OGRFieldDefn field(name, type);
    if (layer.CreateField(&field) != OGRERR_NONE) {
      throw Error(path + ": cannot create field '" + name + "': " + detail::last_gdal_message());
    }
  }
}

void set_optional(OGRFeature& feature, const char* name, const std::optional<double>& value) {
  if (value) {
    feature.SetField(name, *value);
  } else {
    feature.SetFieldNull(feature.GetFieldIndex(name));
  }
}

void set_optional(OGRFeature& feature, const char* name, const std::optional<int>& value) {
  if (value) {
    feature.SetField(name, *value);
  } else {
    feature.SetFieldNull(feature.GetFieldIndex(name));
  }
}

void write_feature(OGRLayer& layer, const WalkabilityPoint& p, const std::string& path) {
  OGRFeature feature(layer.GetLayerDefn());
  feature.SetField("id", p.point.id.c_str());
  set_optional(feature, "G", p.indicators.greenery);
  set_optional(feature, "C", p.indicators.crowdedness);
  set_optional(feature, "S", p.indicators.enclosure);
  set_optional(feature, "D", p.indicators.pavement);
  constexpr std::array<const char*, 4> kLevelFields{"G_level", "C_level", "S_level", "D_level"};
  for (size_t i = 0; i < 4; ++i) set_optional(feature, kLevelFields[i], p.levels[i]);
  set_optional(feature, "IVW", p.ivw);
  feature.SetField("images", p.counts.images);
  feature.SetField("pixels", static_cast<GIntBig>(p.counts.counted));
  OGRPoint point(p.point.lon, p.point.lat);
  feature.SetGeometry(&point);
  if (layer.CreateFeature(&feature) != OGRERR_NONE) {
    throw Error(path + ": cannot write point '" + p.point.id + "': " + detail::last_gdal_message());
  }
}

}  // namespace

void write_walkability_gpkg(const std::string& path, const std::vector<WalkabilityPoint>& points) {
  detail::ensure_gdal_registered();
  GDALDriver* driver = GetGDALDriverManager()->GetDriverByName("GPKG");
  if (driver == nullptr) throw Error("GDAL was built without the GPKG driver: cannot write " + path);
  TempPath temp(path);
  {
    GDALDatasetUniquePtr dataset;
    {
      detail::QuietGdal quiet;
      dataset.reset(driver->Create(temp.temp().c_str(), 0, 0, 0, GDT_Unknown, nullptr));
    }
    if (!dataset)
      throw Error("cannot create '" + path + "': " + detail::last_gdal_message() + "; check the directory is writable");
    OGRSpatialReference wgs84;
    detail::check_ogr(wgs84.importFromEPSG(4326), "cannot write '" + path + "': WGS 84 (EPSG:4326)");
    wgs84.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);  // x = lon, y = lat
    OGRLayer* layer = dataset->CreateLayer("walkability", &wgs84, wkbPoint, nullptr);
    if (layer == nullptr) throw Error(path + ": cannot create layer 'walkability': " + detail::last_gdal_message());
    create_fields(*layer, path);
    if (dataset->StartTransaction() != OGRERR_NONE) throw Error(path + ": cannot start a transaction");
    for (const WalkabilityPoint& point : points) write_feature(*layer, point, path);
    if (dataset->CommitTransaction() != OGRERR_NONE)
      throw Error(path + ": cannot commit: " + detail::last_gdal_message());
  }
  temp.commit();
}

}  // namespace terraseg::geo
