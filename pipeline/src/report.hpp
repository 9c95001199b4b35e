#pragma once
/// What a run leaves for people: a static HTML report (STAC metadata: stac.hpp).
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "terraseg/core/model_card.hpp"

namespace terraseg {

/// Writes <output_dir>/report.html (and its images under <output_dir>/report/) from the run summary:
/// a quicklook per unit (mask over imagery), class fractions, indicators, model notes, timings,
/// versions. Self-contained static HTML, no scripts, opens from disk.
void write_report(const std::filesystem::path& output_dir, const nlohmann::json& summary);

}  // namespace terraseg
