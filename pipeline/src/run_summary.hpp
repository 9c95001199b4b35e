#pragma once
/// run-summary.json and the per-unit records it is merged from (contract: inputs, outputs, timings,
/// metrics/indicators, versions).
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "models.hpp"
#include "predict_step.hpp"
#include "terraseg/pipeline/config.hpp"

namespace terraseg {

/// One unit's record: region, task, input (size, CRS), model (source, trained?, card), outputs,
/// seconds and class pixel fractions.
nlohmann::json unit_record(const std::string& region, const std::string& task, const std::string& input,
                           const LoadedModel& model, const std::vector<std::string>& outputs,
                           const PredictReport& report);

/// One region's inputs for one task, their domain_shift taken together (a region of several tiles is
/// judged by the median; DomainShiftSummary).
struct RegionDomainShift {
  std::string region, task, model;
  DomainShiftSummary summary;
};

/// Per region and task, from the unit records; tasks whose model has no training_domain are left out.
std::vector<RegionDomainShift> region_domain_shifts(const std::vector<nlohmann::json>& unit_records);

/// Writes run-summary.json and returns it (with "domain_shift_by_region": region_domain_shifts()). `indicators` is
/// compute_run_indicators()'s result; its "indicators" and "maps" members are copied in when not empty.
nlohmann::json write_run_summary(const RunConfig& config, const std::vector<nlohmann::json>& unit_records,
                                 const nlohmann::json& indicators, std::chrono::system_clock::time_point started,
                                 int threads);

/// Writes JSON to a temporary name in the same directory and renames it into place.
void write_json_atomically(const std::filesystem::path& path, const nlohmann::json& doc);

/// Creates `dir` if needed and proves it writable; Error naming `what` and the directory otherwise.
void ensure_writable_dir(const std::filesystem::path& dir, const std::string& what);

/// `when` as ISO 8601 UTC to the second ("2026-12-03T19:08:55Z").
std::string iso_time(std::chrono::system_clock::time_point when);

/// Library versions: terraseg, GDAL, oneDNN, OpenCV.
nlohmann::json versions();

}  // namespace terraseg
