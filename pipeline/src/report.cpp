#include "report.hpp"

#include <fstream>
#include <sstream>

#include "run_summary.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/quicklook.hpp"
#include "terraseg/geo/writer.hpp"

namespace terraseg {

using nlohmann::json;

namespace {

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string as_text(const json& value) { return value.is_string() ? value.get<std::string>() : value.dump(); }

std::vector<ClassInfo> classes_of(const json& unit) {
  std::vector<ClassInfo> classes;
  for (const json& entry : unit["model"].value("classes", json::array())) {
    ClassInfo info;
    info.id = entry.at("id").get<int>();
    info.name = entry.at("name").get<std::string>();
    const auto rgb = entry.at("rgb").get<std::vector<int>>();
    for (size_t i = 0; i < 3 && i < rgb.size(); ++i) info.rgb[i] = static_cast<uint8_t>(rgb[i]);
    classes.push_back(info);
  }
  return classes;
}

std::string swatch(const ClassInfo& info) {
  std::ostringstream html;
  html << "<span class=sw style=\"background:rgb(" << int(info.rgb[0]) << ',' << int(info.rgb[1]) << ','
       << int(info.rgb[2]) << ")\"></span>";
  return html.str();
}

/// One unit: quicklook and class fractions.
std::string unit_section(const json& unit, const std::filesystem::path& output_dir) {
  const std::string id = unit.at("region").get<std::string>() + "-" + unit.at("task").get<std::string>() + "-" +
                         std::filesystem::path(unit["input"]["path"].get<std::string>()).stem().string();
  const std::vector<ClassInfo> classes = classes_of(unit);
  const std::string mask = unit["outputs"][0].get<std::string>();
  const std::string png = "report/" + id + ".png";
  geo::render_quicklook(unit["input"]["path"].get<std::string>(), mask, classes, (output_dir / png).string());

  std::ostringstream html;
  html << "<section class=unit><h3>" << escape(unit["region"].get<std::string>()) << " &middot; "
       << escape(unit["task"].get<std::string>()) << "</h3>\n";
  if (!unit["model"]["trained"].get<bool>()) html << "<p class=warn>UNTRAINED model: this mask carries no meaning.</p>\n";
  html << "<figure><img src=\"" << escape(png) << "\" alt=\"" << escape(id) << " quicklook\"><figcaption>"
       << escape(unit["input"]["path"].get<std::string>()) << " (" << unit["input"]["width"] << "&times;"
       << unit["input"]["height"] << " px) with " << escape(mask) << "</figcaption></figure>\n";
  html << "<table><tr><th>class</th><th>share of valid pixels</th></tr>\n";
  for (const ClassInfo& info : classes) {
    const double share = unit["class_fractions"].value(info.name, 0.0);
    html << "<tr><td>" << swatch(info) << escape(info.name) << "</td><td>" << std::fixed << std::setprecision(1)
         << share * 100.0 << " %</td></tr>\n";
  }
  html << "</table>\n<p>model: " << escape(unit["model"]["source"].get<std::string>()) << " &middot; "
       << escape(unit["model"].value("notes", "")) << " &middot; " << unit["seconds"].get<double>() << " s</p>\n";
  for (const json& warning : unit.value("warnings", json::array())) {
    html << "<p class=note>" << escape(warning.get<std::string>()) << "</p>\n";
  }
  html << "</section>\n";
  return html.str();
}

/// Indicator values (any nested object) as a table, and indicator maps as images.
std::string indicators_section(const json& summary, const std::filesystem::path& output_dir) {
  std::ostringstream html;
  if (summary.contains("indicators")) {
    html << "<h2>Indicators</h2>\n<table><tr><th>indicator</th><th>value</th></tr>\n";
    const json flat = summary["indicators"].flatten();  // keep alive: items() only references it
    for (const auto& [key, value] : flat.items()) {
      html << "<tr><td>" << escape(key) << "</td><td>" << escape(as_text(value)) << "</td></tr>\n";
    }
    html << "</table>\n";
  }
  int index = 0;
  for (const json& map : summary.value("maps", json::array())) {
    const std::string png = "report/map-" + std::to_string(index++) + ".png";
    geo::render_scalar_quicklook(map.at("raster").get<std::string>(), map.value("band", 1), (output_dir / png).string());
    html << "<figure class=map><img src=\"" << png << "\" alt=\"" << escape(map.at("title").get<std::string>())
         << "\"><figcaption>" << escape(map.at("title").get<std::string>()) << "</figcaption></figure>\n";
  }
  return html.str();
}

const char* kStyle =
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}"
    "img{max-width:100%;border:1px solid #999}.sw{display:inline-block;width:1em;height:1em;margin-right:.4em;"
    "vertical-align:middle;border:1px solid #555}.warn{background:#fee;border:1px solid #c00;padding:.4em}"
    ".note{color:#666;font-size:90%}section.unit{border-top:1px solid #ddd;padding-top:.5em}";

}  // namespace

void write_report(const std::filesystem::path& output_dir, const json& summary) {
  std::filesystem::create_directories(output_dir / "report");
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>terraseg run report</title><style>" << kStyle
       << "</style></head><body>\n<h1>terraseg run report</h1>\n";
  html << "<p>config <code>" << escape(summary.value("config", "")) << "</code> &middot; started "
       << escape(summary.value("started", "")) << " &middot; finished " << escape(summary.value("finished", ""))
       << " &middot; " << summary["timings"]["compute_seconds"].get<double>() << " s of compute</p>\n";
  if (summary.contains("notice")) html << "<p class=warn>" << escape(summary["notice"].get<std::string>()) << "</p>\n";
  html << "<h2>Masks</h2>\n";
  for (const json& unit : summary.at("units")) html << unit_section(unit, output_dir);
  html << indicators_section(summary, output_dir);
  html << "<h2>Versions</h2>\n<table>";
  for (const auto& [name, version] : summary["versions"].items()) {
    html << "<tr><td>" << escape(name) << "</td><td>" << escape(as_text(version)) << "</td></tr>";
  }
  html << "</table>\n</body></html>\n";

  const std::filesystem::path final_path = output_dir / "report.html";
  geo::remove_stale_temporaries(final_path.string());
  const std::filesystem::path temporary = final_path.string() + ".tmp";
  std::ofstream(temporary) << html.str();
  if (!std::filesystem::exists(temporary)) throw Error(final_path.string() + ": cannot write the report");
  std::filesystem::rename(temporary, final_path);
}

}  // namespace terraseg
