#include "report.hpp"

#include <cmath>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "report_html.hpp"
#include "run_layout.hpp"
#include "run_summary.hpp"
#include "terraseg/core/domain.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/markup.hpp"
#include "terraseg/geo/quicklook.hpp"
#include "terraseg/geo/writer.hpp"

namespace terraseg {

using nlohmann::json;

namespace report {

std::string escape(const std::string& text) { return geo::escape_markup(text); }

std::string shown_path(const std::string& path, const std::filesystem::path& output_dir) {
  std::error_code error;
  const std::filesystem::path relative = std::filesystem::relative(path, output_dir, error);
  if (error || relative.empty() || *relative.begin() == "..") return path;
  return relative.string();
}

}  // namespace report

namespace {

using report::escape;
using report::rounded;

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
  html << "<span class=sw style=\"background:rgb(" << static_cast<int>(info.rgb[0]) << ','
       << static_cast<int>(info.rgb[1]) << ',' << static_cast<int>(info.rgb[2]) << ")\"></span>";
  return html.str();
}

/// "A · B · C" of the parts that are not empty.
std::string joined(const std::vector<std::string>& parts) {
  std::string text;
  for (const std::string& part : parts) {
    if (part.empty()) continue;
    text += (text.empty() ? "" : " &middot; ") + part;
  }
  return text;
}

/// One unit: quicklook and class fractions.
std::string unit_section(const json& unit, const std::filesystem::path& output_dir) {
  const std::string input = unit["input"]["path"].get<std::string>();
  const std::string region = unit.at("region").get<std::string>();
  const std::string task = unit.at("task").get<std::string>();
  const std::string id = region + "-" + task + "-" + std::filesystem::path(input).stem().string();
  const std::vector<ClassInfo> classes = classes_of(unit);
  const std::string mask = unit["outputs"][0].get<std::string>();
  const std::string png = "report/" + id + ".png";
  const geo::QuicklookOptions options;
  geo::render_quicklook(input, mask, classes, (output_dir / png).string(), options);

  std::ostringstream html;
  html << "<section class=unit><h3>" << escape(region) << " &middot; " << escape(task) << "</h3>\n";
  if (!unit["model"]["trained"].get<bool>())
    html << "<p class=warn>UNTRAINED model: this mask carries no meaning.</p>\n";
  html << "<figure><img src=\"" << escape(png) << "\" alt=\"" << escape(task) << " mask over "
       << escape(std::filesystem::path(input).filename().string()) << "\"><figcaption>class mask <code>"
       << escape(report::shown_path(mask, output_dir)) << "</code> at " << std::lround(options.opacity * 100)
       << " % over <code title=\"" << escape(input) << "\">" << escape(std::filesystem::path(input).filename().string())
       << "</code> (" << unit["input"]["width"] << " &times; " << unit["input"]["height"]
       << " px)</figcaption></figure>\n";
  html << "<table><tr><th>class</th><th>share of valid pixels</th></tr>\n";
  for (const ClassInfo& info : classes) {
    const double share = unit["class_fractions"].value(info.name, 0.0);
    html << "<tr><td>" << swatch(info) << escape(info.name) << "</td><td class=num>" << std::fixed
         << std::setprecision(1) << share * 100.0 << " %</td></tr>\n";
  }
  const json& model = unit["model"];
  html << "</table>\n<p>"
       << joined({"model: <code>" + escape(model.value("source", "")) + "</code>", escape(model.value("notes", "")),
                  rounded(unit.value("seconds", 0.0)) + " s"})
       << "</p>\n";
  const json& domain = unit.contains("domain_shift") ? unit["domain_shift"] : json(nullptr);
  if (domain.is_object()) {
    // Above the warning the masks are not to be trusted: said where the reader looks at them.
    const bool warn = domain.value("warning", false);
    html << "<p class=" << (warn ? "warn" : "note") << ">domain shift " << rounded(domain.value("value", 0.0))
         << (warn
                 ? ": this image is unlike the imagery the model was trained on (above " +
                       rounded(domain.value("above", 0.0)) +
                       "); its masks here may be poor. Adapt the model to this region with <code>terraseg adapt</code>."
                 : std::string(": like the model's training imagery (the warning starts above ") +
                       rounded(domain.value("above", 0.0)) + ")")
         << "</p>\n";
  }
  for (const json& warning : unit.value("warnings", json::array())) {
    html << "<p class=note>" << escape(warning.get<std::string>()) << "</p>\n";
  }
  html << "</section>\n";
  return html.str();
}

constexpr const char* kStyle =
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}"
    "th{background:#f3f3f3}td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}"
    "td.def{color:#555;font-size:90%}img{max-width:100%;border:1px solid #999;display:block}"
    ".sw{display:inline-block;width:1em;height:1em;margin-right:.4em;vertical-align:middle;border:1px solid #555}"
    ".warn{background:#fee;border:1px solid #c00;padding:.4em}.note,.files{color:#555;font-size:90%}"
    "section.unit,section.ind{border-top:1px solid #ddd;padding-top:.5em}figure{margin:.5em 0}"
    "figcaption{font-size:90%;margin-top:.3em}.maps{display:flex;flex-wrap:wrap;gap:1.5em}"
    "figure.map{flex:1 1 420px;max-width:530px}.legend{display:flex;align-items:center;gap:.5em;margin:.4em 0}"
    ".ramp{flex:1;height:14px;border:1px solid #555}.key{color:#444}";

}  // namespace

void write_report(const std::filesystem::path& output_dir, const json& summary) {
  std::filesystem::create_directories(output_dir / "report");
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>terraseg run report</title><style>" << kStyle
       << "</style></head><body>\n<h1>terraseg run report</h1>\n";
  html << "<p>config <code>" << escape(summary.value("config", "")) << "</code> &middot; started "
       << escape(summary.value("started", "")) << " &middot; finished " << escape(summary.value("finished", ""))
       << " &middot; " << rounded(summary.value("timings", json::object()).value("compute_seconds", 0.0))
       << " s of compute</p>\n";
  if (summary.contains("notice")) html << "<p class=warn>" << escape(summary["notice"].get<std::string>()) << "</p>\n";
  // A region of several inputs is judged by their median domain_shift (run-summary.json's
  // domain_shift_by_region); one input's figure is in its own section.
  for (const json& region : summary.value("domain_shift_by_region", json::array())) {
    if (region.value("inputs", 0) < 2) continue;
    const bool warn = region.value("warning", false);
    html << "<p class=" << (warn ? "warn" : "note") << ">" << escape(region.value("task", "")) << " in region <b>"
         << escape(region.value("region", "")) << "</b>: domain shift over " << region.value("inputs", 0)
         << " inputs, median " << rounded(region.value("median", 0.0)) << ", max " << rounded(region.value("max", 0.0))
         << ", " << region.value("above", 0) << " above " << rounded(kDomainShiftWarning)
         << (warn ? ": taken together, these inputs are unlike the imagery the model was trained on; its masks here "
                    "may be poor. Adapt the model to this region with <code>terraseg adapt</code>."
                  : ": taken together, like the model's training imagery.")
         << "</p>\n";
  }
  html << "<h2>Masks</h2>\n";
  for (const json& unit : summary.at("units")) html << unit_section(unit, output_dir);
  html << report::indicators_section(summary, output_dir);
  html << "<h2>Versions</h2>\n<table>";
  const json versions = summary.value("versions", json::object());  // keep alive: items() only references it
  for (const auto& [name, version] : versions.items()) {
    html << "<tr><td>" << escape(name) << "</td><td>" << escape(as_text(version)) << "</td></tr>";
  }
  html << "</table>\n</body></html>\n";

  const std::filesystem::path final_path = report_path(output_dir);
  geo::remove_stale_temporaries(final_path.string());
  const std::filesystem::path temporary = final_path.string() + ".tmp";
  std::ofstream(temporary) << html.str();
  if (!std::filesystem::exists(temporary)) throw Error(final_path.string() + ": cannot write the report");
  std::filesystem::rename(temporary, final_path);
}

}  // namespace terraseg
