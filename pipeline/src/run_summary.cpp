#include "run_summary.hpp"

#include <gdal.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "run_layout.hpp"
#include "terraseg/core/engine.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/version.hpp"
#include "terraseg/geo/writer.hpp"

namespace terraseg {

using nlohmann::json;

std::string iso_time(std::chrono::system_clock::time_point when) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  std::ostringstream text;
  text << std::put_time(&utc, "%Y-%m-%dT%H:%M:%SZ");
  return text.str();
}

namespace {

json class_fractions(const PredictReport& report) {
  int64_t total = 0;
  for (const auto& entry : report.class_pixels) total += entry.second;
  json fractions = json::object();
  for (const auto& [id, count] : report.class_pixels) {
    fractions[class_name(report.classes, id)] =
        total > 0 ? static_cast<double>(count) / static_cast<double>(total) : 0.0;
  }
  return fractions;
}

}  // namespace

std::vector<RegionDomainShift> region_domain_shifts(const std::vector<json>& unit_records) {
  std::map<std::pair<std::string, std::string>, std::pair<std::string, std::vector<double>>> groups;
  for (const json& record : unit_records) {
    const json& domain = record.value("domain_shift", json(nullptr));
    if (!domain.is_object()) continue;
    auto& [model, shifts] = groups[{record.at("region").get<std::string>(), record.at("task").get<std::string>()}];
    model = record.at("model").at("source").get<std::string>();
    shifts.push_back(domain.at("value").get<double>());
  }
  std::vector<RegionDomainShift> regions;
  regions.reserve(groups.size());
  for (const auto& [key, group] : groups) {
    regions.push_back({key.first, key.second, group.first, summarise_domain_shifts(group.second)});
  }
  return regions;
}

json versions() {
  return {
      {"terraseg", TERRASEG_VERSION_STRING}, {"gdal", GDALVersionInfo("RELEASE_NAME")}, {"onednn", onednn_version()}};
}

json unit_record(const std::string& region, const std::string& task, const std::string& input, const LoadedModel& model,
                 const std::vector<std::string>& outputs, const PredictReport& report) {
  json classes = json::array();
  for (const ClassInfo& info : report.classes) {  // the table the mask carries
    classes.push_back({{"id", info.id}, {"name", info.name}, {"rgb", {info.rgb[0], info.rgb[1], info.rgb[2]}}});
  }
  return {{"region", region},
          {"task", task},
          {"input",
           {{"path", input},
            {"width", report.width},
            {"height", report.height},
            {"georeferenced", report.georeferenced},
            {"crs_wkt", report.crs_wkt}}},
          {"model",
           {{"source", model.source},
            {"trained", model.trained},
            {"name", model.graph.card.name},
            {"notes", model.graph.card.notes},
            {"classes", classes},
            // what licences.md (the STAC Collection's license link) says of it
            {"licence", model.graph.card.licence},
            {"training_data", model.graph.card.training_data},
            {"initial_weights", model.graph.card.initial_weights},
            {"initial_weights_licence", model.graph.card.initial_weights_licence}}},
          {"outputs", outputs},
          {"seconds", report.seconds},
          // Input pixel size / model pixel size when the model ran on a resampled grid, else null.
          {"resample_ratio", report.resample_ratio ? json(*report.resample_ratio) : json(nullptr)},
          // The window the model saw (height, width; the whole padded image when it fit), the overlap, and
          // the scales (and mirror) each window ran at, scores averaged.
          {"tiling",
           {{"window", report.window},
            {"overlap", report.overlap},
            {"windows", report.tiles_inferred},
            {"passes", report.passes}}},
          // What the engine actually ran: precision, plan choice and convolutions bf16 fell back from.
          {"engine",
           {{"precision", report.precision},
            {"plan", report.plan},
            {"emulated_bf16_convolutions", report.emulated_bf16_convolutions}}},
          {"class_fractions", class_fractions(report)},
          // How unlike the model's training imagery the input is (null: the model's card has no
          // training_domain); above domain_shift_warning the masks are not to be trusted.
          {"domain_shift", report.domain ? json{{"value", report.domain->shift},
                                                {"warning", report.domain->warn()},
                                                {"above", kDomainShiftWarning},
                                                {"most_different", report.domain->feature}}
                                         : json(nullptr)},
          {"warnings", report.warnings}};
}

json write_run_summary(const RunConfig& config, const std::vector<json>& unit_records, const json& indicators,
                       std::chrono::system_clock::time_point started, int threads) {
  json summary;
  summary["config"] = std::filesystem::absolute(config.source).string();
  summary["output_dir"] = std::filesystem::absolute(config.output_dir).string();
  summary["started"] = iso_time(started);
  summary["finished"] = iso_time(std::chrono::system_clock::now());
  summary["threads"] = threads;
  summary["cpu"] = {{"isa", cpu_isa_name()}, {"native_bf16", native_bf16()}};
  summary["versions"] = versions();
  summary["units"] = unit_records;
  // Each region's inputs taken together (several tiles: the median says whether to adapt the model).
  for (const RegionDomainShift& r : region_domain_shifts(unit_records)) {
    summary["domain_shift_by_region"].push_back({{"region", r.region},
                                                 {"task", r.task},
                                                 {"model", r.model},
                                                 {"inputs", r.summary.inputs},
                                                 {"median", r.summary.median},
                                                 {"max", r.summary.max},
                                                 {"above", r.summary.above},
                                                 {"warning", r.summary.warn()}});
  }
  for (const char* key : {"indicators", "maps"}) {
    if (indicators.contains(key) && !indicators[key].empty()) summary[key] = indicators[key];
  }
  double seconds = 0.0;
  bool all_trained = true;
  for (const json& record : unit_records) {
    seconds += record.at("seconds").get<double>();
    all_trained = all_trained && record.at("model").at("trained").get<bool>();
  }
  summary["timings"] = {{"compute_seconds", seconds}};
  summary["all_models_trained"] = all_trained;
  if (!all_trained) {
    summary["notice"] = "Some models are UNTRAINED (random weights): their masks demonstrate the pipeline only.";
  }
  write_json_atomically(run_summary_path(config.output_dir), summary);
  return summary;
}

void write_json_atomically(const std::filesystem::path& path, const json& doc) {
  geo::remove_stale_temporaries(path.string());
  const std::filesystem::path temporary = path.string() + ".tmp-" + geo::process_token();
  {
    std::ofstream stream(temporary);
    stream << doc.dump(2) << '\n';
    stream.flush();
    if (!stream) {
      std::error_code ignored;
      std::filesystem::remove(temporary, ignored);
      throw Error(path.string() +
                  ": cannot write (disk full or no permission?); free space or choose another output_dir");
    }
  }
  std::filesystem::rename(temporary, path);
}

void ensure_writable_dir(const std::filesystem::path& dir, const std::string& what) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error || access(dir.c_str(), W_OK) != 0) {
    throw Error(what + ": cannot create or write to directory '" + dir.string() +
                "'; choose a writable directory or fix its permissions");
  }
}

}  // namespace terraseg
