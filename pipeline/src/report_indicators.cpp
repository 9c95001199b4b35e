// The report's indicator tables and maps (docs/indicators.md says what each value is).
#include <array>
#include <cmath>
#include <iomanip>
#include <optional>
#include <set>
#include <sstream>

#include "report_html.hpp"
#include "terraseg/geo/quicklook.hpp"
#include "terraseg/geo/raster_io.hpp"

namespace terraseg::report {

using nlohmann::json;

namespace {

/// How a value is shown: its unit, and the ramp range of its maps.
enum class Kind { share, km, km_per_km2, per_km2, count, metres, ratio, score, level, seconds };

struct Indicator {
  const char* key;
  const char* label;
  Kind kind;
  const char* definition;
};

/// Known summary keys and grid bands, in table order.
const Indicator kIndicators[] = {
    {"greenery_landcover", "Greenery (land cover)", Kind::share, "vegetation pixels / valid land-cover pixels"},
    {"greenery_ndvi", "Greenery (NDVI)", Kind::share, "pixels with NDVI above the threshold / pixels with an NDVI"},
    {"greenery_rgb_index", "Greenery (RGB vegetation index)", Kind::share,
     "pixels whose colour is green vegetation (ExG - ExR > 0, Meyer and Neto 2008) / pixels with a colour; no model "
     "involved"},
    {"road_area_ratio", "Road area", Kind::share, "road pixels / valid road-mask pixels"},
    {"road_length_km", "Road length", Kind::km, "length of the road centrelines"},
    {"road_length_density_km_per_km2", "Road length density", Kind::km_per_km2,
     "centreline length / valid road-mask area"},
    {"intersections", "Intersections", Kind::count, "centreline junctions where three or more roads meet"},
    {"dead_ends", "Dead ends", Kind::count, "centreline ends"},
    {"intersection_density_per_km2", "Intersection density", Kind::per_km2, "intersections / valid road-mask area"},
    {"points", "Street-view points", Kind::count, "points in the points file"},
    {"points_with_ivw", "Points with a walkability score", Kind::count, "points where all four indicators are defined"},
    {"images", "Photos", Kind::count, "street-view photos segmented"},
    {"G", "Greenery G", Kind::share, "tree pixels / counted pixels"},
    {"C", "Crowdedness C", Kind::share, "obstacle pixels (poles, signs, vehicles, people) / counted pixels"},
    {"S", "Enclosure S", Kind::ratio, "(building + tree) / (pavement + road + fence) pixels"},
    {"D", "Pavement D", Kind::ratio, "(pavement + road) / road pixels"},
    {"IVW", "Walkability IVW", Kind::score, "(G + C + S + D levels, each 1-5) × 5"},
    {"ivw_mean", "Walkability IVW", Kind::score, "mean IVW of the street-view points in the cell"},
    {"point_count", "Street-view points", Kind::count, "points in the cell"},
    {"cell_size_m", "Grid cell", Kind::metres, "side of one grid cell on the ground"},
    {"road_width_m", "Road width assumed", Kind::metres, "typical road width the centreline clean-up scales from"},
    {"min_spur_m", "Spurs pruned below", Kind::metres, "skeleton branches shorter than this ending in nothing"},
    {"merge_junctions_m", "Junctions merged within", Kind::metres, "junctions closer than this count as one"},
    {"smooth_mask_m", "Mask gaps closed up to", Kind::metres, "closing of the road mask before skeletonising"},
    {"strips", "Processing strips", Kind::count, "strips of cell rows the masks were read in"},
    {"seconds", "Compute time", Kind::seconds, ""},
};

const Indicator* find_indicator(const std::string& key) {
  for (const Indicator& indicator : kIndicators) {
    if (key == indicator.key) return &indicator;
  }
  static const Indicator kLevel{"", "", Kind::level, "level 1-5 of the indicator among the run's points"};
  if (key.size() > 6 && key.compare(key.size() - 6, 6, "_level") == 0) return &kLevel;
  return nullptr;
}

std::string with_unit(double value, Kind kind) {
  switch (kind) {
    case Kind::share: {
      const double percent = value * 100.0;
      if (percent == 0.0) return "0 %";
      if (std::abs(percent) >= 1.0) {
        std::ostringstream text;
        text << std::fixed << std::setprecision(1) << percent << " %";
        return text.str();
      }
      return rounded(percent, 2) + " %";
    }
    case Kind::km:
      return rounded(value) + " km";
    case Kind::km_per_km2:
      return rounded(value) + " km/km²";
    case Kind::per_km2:
      return rounded(value) + " per km²";
    case Kind::count:
      return rounded(value);
    case Kind::metres:
      return rounded(value, 4) + " m";
    case Kind::ratio:
      return rounded(value);
    case Kind::score:
      return rounded(value) + " (of 20-100)";
    case Kind::level:
      return "level " + rounded(value) + " of 5";
    case Kind::seconds:
      return rounded(value) + " s";
  }
  return rounded(value);
}

/// A summary value as text: numbers rounded (with the unit of `kind` when known), null as "not computed".
std::string shown_value(const json& value, const Indicator* indicator) {
  if (value.is_null()) return "not computed";
  if (value.is_boolean()) return value.get<bool>() ? "yes" : "no";
  if (value.is_number())
    return indicator ? with_unit(value.get<double>(), indicator->kind) : rounded(value.get<double>());
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

std::string row(const std::string& label, const std::string& value, const std::string& definition) {
  return "<tr><td>" + escape(label) + "</td><td class=num>" + escape(value) + "</td><td class=def>" +
         escape(definition) + "</td></tr>\n";
}

/// Rows for the known indicators of `doc` in table order, then every other key not in `skip`
/// (nested values flattened to "key/sub"), rounded.
std::string indicator_rows(const json& doc, const std::set<std::string>& skip, const std::string& suffix = "") {
  std::string html;
  for (const Indicator& indicator : kIndicators) {
    if (doc.contains(indicator.key) && !skip.contains(indicator.key)) {
      html += row(indicator.label + suffix, shown_value(doc[indicator.key], &indicator), indicator.definition);
    }
  }
  for (const auto& [key, value] : doc.items()) {
    if (skip.contains(key) || (find_indicator(key) && find_indicator(key)->label[0] != '\0')) continue;
    if (value.is_object()) {  // e.g. road_graph: its known keys by name, the rest by path
      for (const auto& [sub, leaf] : value.items()) {
        const Indicator* known = find_indicator(sub);
        if (known != nullptr && known->label[0] != '\0' && !leaf.is_structured()) {
          html += row(known->label, shown_value(leaf, known), known->definition);
        } else {
          const json flat = json::object({{sub, leaf}}).flatten();  // keep alive: items() only references it
          for (const auto& [path, nested] : flat.items()) html += row(key + path, shown_value(nested, nullptr), "");
        }
      }
      continue;
    }
    const json flat = json{{key, value}}.flatten();  // keys like "/key/0"
    for (const auto& [path, leaf] : flat.items())
      html += row(path.substr(1), shown_value(leaf, find_indicator(key)), "");
  }
  return html;
}

std::string files_line(const std::vector<std::pair<std::string, std::string>>& files,
                       const std::filesystem::path& out) {
  std::string html = "<p class=files>files:";
  const char* separator = " ";
  for (const auto& [path, what] : files) {
    html += separator + std::string("<code>") + escape(shown_path(path, out)) + "</code> (" + escape(what) + ")";
    separator = " &middot; ";
  }
  return html + "</p>\n";
}

/// CSS gradient of the map ramp, sampled from geo::ramp_colour so bar and map agree.
std::string ramp_css() {
  std::ostringstream css;
  css << "linear-gradient(to right";
  for (int i = 0; i <= 10; ++i) {
    const auto rgb = geo::ramp_colour(i / 10.0);
    css << ",rgb(" << static_cast<int>(rgb[0]) << ',' << static_cast<int>(rgb[1]) << ',' << static_cast<int>(rgb[2])
        << ") " << i * 10 << '%';
  }
  return css.str() + ")";
}

/// Fixed ramp ends for scores and levels; nullopt: from 0 (or the lowest cell) to the highest cell.
std::optional<std::array<double, 2>> fixed_range(const Indicator* indicator) {
  if (indicator == nullptr) return std::nullopt;
  if (indicator->kind == Kind::score) return std::array<double, 2>{20.0, 100.0};
  if (indicator->kind == Kind::level) return std::array<double, 2>{1.0, 5.0};
  return std::nullopt;
}

/// One map: the PNG over `imagery`, a colour bar with its end values, the stretch and nodata stated.
std::string map_figure(const json& map, int index, const std::string& imagery, const std::string& cell,
                       const std::filesystem::path& output_dir) {
  const std::string png = "report/map-" + std::to_string(index) + ".png";
  const std::string raster = map.at("raster").get<std::string>();
  const int band = map.value("band", 1);
  const geo::RasterInfo info = geo::read_raster_info(raster);
  const std::string name = band >= 1 && band <= info.band_count() ? info.bands[band - 1].description : "";
  const Indicator* indicator = find_indicator(name);
  geo::ScalarMapOptions options;
  options.imagery = imagery;
  options.range = fixed_range(indicator);
  options.from_zero = true;
  if (indicator && indicator->kind == Kind::share) options.ceiling = 1.0;
  const geo::ScalarMapLegend legend = geo::render_scalar_quicklook(raster, band, (output_dir / png).string(), options);
  const std::string label = indicator ? indicator->label : !name.empty() ? name : map.value("title", "");
  auto show = [&](double value) { return indicator ? with_unit(value, indicator->kind) : rounded(value); };
  auto end_label = [&](double value) {  // a score's bar ends are the bare numbers 20 and 100
    return indicator && indicator->kind == Kind::score ? rounded(value) : show(value);
  };

  std::ostringstream html;
  html << "<figure class=map><img src=\"" << escape(png) << "\" alt=\"" << escape(label) << " map\"><figcaption><b>"
       << escape(label) << "</b>" << escape(cell) << "<div class=legend><span>" << escape(end_label(legend.low))
       << "</span><span class=ramp style=\"background:" << ramp_css() << "\"></span><span>"
       << escape(end_label(legend.high)) << "</span></div>\n<div class=key><span class=sw style=\"background:rgb("
       << static_cast<int>(geo::kNodataGrey[0]) << ',' << static_cast<int>(geo::kNodataGrey[1]) << ','
       << static_cast<int>(geo::kNodataGrey[2]) << ")\"></span>no data";
  if (legend.nodata) html << " (" << escape(rounded(*legend.nodata)) << ")";
  html << ": " << legend.nodata_cells << " of " << legend.cells << " cells</div>\n<div class=key>";
  if (!legend.min) {
    html << "no cell has a value";
  } else if (*legend.min == *legend.max) {
    html << "every cell with a value: " << escape(show(*legend.min));
  } else {
    html << "cells range from " << escape(show(*legend.min)) << " to " << escape(show(*legend.max)) << "; ";
    if (options.range) {
      html << "colours on the indicator's fixed scale";
    } else if (legend.low == 0.0 && *legend.min >= 0.0) {
      html << "colours from 0 to the highest cell, rounded up";
    } else {
      html << "colours stretched linearly from the lowest to the highest cell";
    }
  }
  if (legend.over_imagery) html << "; drawn at " << std::lround(options.opacity * 100.0) << " % over the input image";
  html << "</div></figcaption></figure>\n";
  return html.str();
}

std::string maps_for(const json& summary, const std::string& raster, const std::string& imagery,
                     const std::string& cell, const std::filesystem::path& output_dir, std::set<int>& drawn) {
  std::string html;
  int index = 0;
  for (const json& map : summary.value("maps", json::array())) {
    if (!drawn.contains(index) && map.value("raster", "") == raster) {
      html += map_figure(map, index, imagery, cell, output_dir);
      drawn.insert(index);
    }
    ++index;
  }
  return html.empty() ? html : "<div class=maps>\n" + html + "</div>\n";
}

std::string aerial_section(const json& summary, const json& doc, bool several_inputs, const std::filesystem::path& out,
                           std::set<int>& drawn) {
  const std::string input = doc.value("input", "");
  std::string html = "<section class=ind><h3>" + escape(doc.value("region", "aerial"));
  if (several_inputs) html += " &middot; " + escape(std::filesystem::path(input).filename().string());
  html += "</h3>\n";
  if (doc.contains("skipped"))
    return html + "<p class=note>not computed: " + escape(shown_value(doc["skipped"], nullptr)) + "</p></section>\n";
  std::string cell;
  if (doc.contains("cell_size_m")) cell = " per " + rounded(doc["cell_size_m"].get<double>(), 4) + " m cell";
  html += "<p>Whole-area values over <code>" + escape(std::filesystem::path(input).filename().string()) + "</code>";
  if (!cell.empty()) html += "; maps" + escape(cell);
  if (doc.contains("grid_size") && doc["grid_size"].size() == 2) {
    html += " (" + escape(doc["grid_size"][0].dump()) + " &times; " + escape(doc["grid_size"][1].dump()) + " cells)";
  }
  html += ".</p>\n<table><tr><th>indicator</th><th>whole area</th><th>definition</th></tr>\n";
  html += indicator_rows(
      doc, {"region", "input", "grid", "grid_size", "bands", "centrelines", "notes", "cell_size_m", "strips"});
  html += "</table>\n";
  for (const json& note : doc.value("notes", json::array()))
    html += "<p class=note>" + escape(shown_value(note, nullptr)) + "</p>\n";
  std::vector<std::pair<std::string, std::string>> files;
  if (doc.contains("grid")) files.emplace_back(doc["grid"].get<std::string>(), "grid, one band per indicator");
  if (doc.contains("centrelines"))
    files.emplace_back(doc["centrelines"].get<std::string>(), "road centrelines and nodes");
  if (!files.empty()) html += files_line(files, out);
  if (doc.contains("grid")) html += maps_for(summary, doc["grid"].get<std::string>(), input, cell, out, drawn);
  return html + "</section>\n";
}

std::string street_view_section(const json& summary, const json& doc, const std::filesystem::path& out,
                                std::set<int>& drawn) {
  std::string html = "<section class=ind><h3>Street view: walkability</h3>\n";
  if (doc.contains("notice")) html += "<p class=warn>" + escape(shown_value(doc["notice"], nullptr)) + "</p>\n";
  html += "<table><tr><th>indicator</th><th>value</th><th>definition</th></tr>\n";
  html +=
      indicator_rows(doc, {"mean", "by_point", "outputs", "grid", "model", "trained", "notice", "role_map", "seconds"});
  if (doc.contains("mean")) html += indicator_rows(doc["mean"], {}, ", mean over points");
  if (doc.contains("role_map"))
    html += row("Class roles", shown_value(doc["role_map"], nullptr), "how the model's classes were counted");
  html += "</table>\n";
  if (doc.contains("by_point") && !doc["by_point"].empty()) {
    html += "<table><tr><th>point</th>";
    for (const char* key : {"G", "C", "S", "D", "IVW"})
      html += std::string("<th>") + find_indicator(key)->label + "</th>";
    html += "</tr>\n";
    for (const json& point : doc["by_point"]) {
      html += "<tr><td>" + escape(shown_value(point.value("id", json()), nullptr)) + "</td>";
      for (const char* key : {"G", "C", "S", "D", "IVW"}) {
        html += "<td class=num>" + escape(shown_value(point.value(key, json()), find_indicator(key))) + "</td>";
      }
      html += "</tr>\n";
    }
    html += "</table>\n";
  }
  html += "<p>model: <code>" + escape(shown_value(doc.value("model", json("")), nullptr)) + "</code>";
  if (doc.contains("seconds")) html += " &middot; " + escape(with_unit(doc["seconds"].get<double>(), Kind::seconds));
  html += "</p>\n";
  std::vector<std::pair<std::string, std::string>> files;
  for (const json& path : doc.value("outputs", json::array())) {
    const std::string extension = std::filesystem::path(path.get<std::string>()).extension().string();
    files.emplace_back(path.get<std::string>(), extension == ".tif"   ? "grid, IVW and point count per cell"
                                                : extension == ".csv" ? "points, table"
                                                                      : "points, GeoPackage");
  }
  if (!files.empty()) html += files_line(files, out);
  if (doc.contains("grid") && doc["grid"].contains("path")) {
    html += maps_for(summary, doc["grid"]["path"].get<std::string>(), "", " per grid cell", out, drawn);
  }
  return html + "</section>\n";
}

}  // namespace

std::string rounded(double value, int significant) {
  if (!std::isfinite(value)) return "n/a";
  std::ostringstream text;
  if (value == std::trunc(value) && std::abs(value) < 1e15) {
    text << std::fixed << std::setprecision(0) << value;
    return text.str();
  }
  const double magnitude = std::floor(std::log10(std::abs(value)));
  const double unit = std::pow(10.0, magnitude - significant + 1);
  const double kept = std::round(value / unit) * unit;  // 9.996 -> 10.0: recompute the digits after
  const int digits = static_cast<int>(std::floor(std::log10(std::abs(kept))));
  if (digits < -4 || digits >= 9) {
    text << std::setprecision(significant) << kept;
    return text.str();
  }
  // Whole digits are never rounded away: 1234.5 -> "1235", not "1230".
  text << std::fixed << std::setprecision(std::max(0, significant - 1 - digits))
       << (digits >= significant - 1 ? std::round(value) : kept);
  return text.str();
}

std::string indicators_section(const json& summary, const std::filesystem::path& output_dir) {
  std::string html;
  std::set<int> drawn;
  const json indicators = summary.value("indicators", json::object());
  if (!indicators.empty() || !summary.value("maps", json::array()).empty()) html += "<h2>Indicators</h2>\n";
  const json aerial = indicators.value("aerial", json::array());
  for (const json& doc : aerial) {
    int inputs = 0;
    for (const json& other : aerial) inputs += other.value("region", "") == doc.value("region", "") ? 1 : 0;
    html += aerial_section(summary, doc, inputs > 1, output_dir, drawn);
  }
  if (indicators.contains("street_view"))
    html += street_view_section(summary, indicators["street_view"], output_dir, drawn);
  json others = json::object();
  for (const auto& [key, value] : indicators.items()) {
    if (key != "aerial" && key != "street_view") others[key] = value;
  }
  if (!others.empty()) {
    html += "<section class=ind><h3>Other values</h3>\n<table><tr><th>key</th><th>value</th><th></th></tr>\n" +
            indicator_rows(others, {}) + "</table></section>\n";
  }
  int index = 0;
  std::string rest;
  for (const json& map : summary.value("maps", json::array())) {
    if (!drawn.contains(index)) rest += map_figure(map, index, map.value("imagery", ""), "", output_dir);
    ++index;
  }
  if (!rest.empty()) html += "<section class=ind><h3>Other maps</h3>\n<div class=maps>\n" + rest + "</div></section>\n";
  return html;
}

}  // namespace terraseg::report
