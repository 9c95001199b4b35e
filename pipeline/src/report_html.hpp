#pragma once
/// Internals of the HTML run report (report.cpp, report_indicators.cpp).
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace terraseg::report {

/// `text` with & < > " escaped for HTML text and attribute values.
std::string escape(const std::string& text);

/// `value` rounded to `significant` digits for people: "0.0423", "16.5"; whole digits and integral
/// values in full ("1235", "12"); "n/a" when not finite; an exponent only below 1e-4 or from 1e9.
std::string rounded(double value, int significant = 3);

/// `path` relative to `output_dir` when it lies inside it, else as given.
std::string shown_path(const std::string& path, const std::filesystem::path& output_dir);

/// The "Indicators" part of the page: a table per region input and for street view (readable names,
/// rounded values with units, definitions), and each indicator map over its imagery with a colour bar.
/// Map PNGs are written under <output_dir>/report/.
std::string indicators_section(const nlohmann::json& summary, const std::filesystem::path& output_dir);

}  // namespace terraseg::report
