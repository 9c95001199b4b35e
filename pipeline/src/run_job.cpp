#include "terraseg/geo/writer.hpp"
#include "terraseg/pipeline/run_job.hpp"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "indicators_step.hpp"
#include "run_layout.hpp"
#include "models.hpp"
#include "predict_step.hpp"
#include "progress.hpp"
#include "report.hpp"
#include "run_log.hpp"
#include "run_summary.hpp"
#include "stac.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/aoi.hpp"
#include "terraseg/geo/target_grid.hpp"
#include "terraseg/geo/threads.hpp"

namespace terraseg {
namespace {

using nlohmann::json;

struct Unit {
  size_t index = 0;
  std::string id;  ///< unit_id(): <region>__<task>__<input stem>
  const RegionConfig* region = nullptr;
  std::filesystem::path input;
  std::string task;
  UnitPaths paths;
  PredictRequest request;

  /// "region 'r', task 't', input 'i'": what a message about this unit starts with.
  std::string where() const {
    return "region '" + region->name + "', task '" + task + "', input '" + input.string() + "'";
  }
};

std::vector<Unit> plan_units(const RunConfig& config) {
  std::vector<Unit> units;
  for (const RegionConfig& region : config.regions) {
    for (const std::string& task : region.tasks) {
      for (const auto& input : region.inputs) {
        Unit unit;
        unit.region = &region;
        unit.input = input;
        unit.task = task;
        unit.id = unit_id(region, task, input);
        unit.paths = unit_paths(config, region, task, input);
        unit.request.input = input.string();
        unit.request.mask_path = unit.paths.mask.string();
        unit.request.logits_path = unit.paths.scores.string();
        unit.request.vectors_path = unit.paths.vectors.string();
        unit.request.tile = config.tiling.tile;
        unit.request.overlap = config.tiling.overlap;
        unit.request.tile_source = config.source.string() + ": key 'tiling.tile'";
        unit.request.overlap_source = config.source.string() + ": key 'tiling.overlap'";
        unit.request.cog = config.outputs.cog;
        unit.request.resample = config.tiling.resample;
        unit.request.resampling = config.tiling.resampling;
        unit.request.scales = config.tiling.scales;
        unit.request.flip = config.tiling.flip;
        unit.request.scales_source = config.source.string() + ": key 'tiling.scales'";
        unit.request.creation_options = config.outputs.creation_options;
        unit.index = units.size();
        units.push_back(std::move(unit));
      }
    }
  }
  return units;
}

/// Points `unit` at its input view input_view_path(kind) (see model_input_path), written by
/// make(current input, vrt); a failure is reported under the region's config key `kind`.
template <typename MakeVrt>
void read_through_vrt(const RunConfig& config, Unit& unit, const std::string& kind, const MakeVrt& make) {
  const std::filesystem::path path = input_view_path(config, kind, unit.id);
  std::filesystem::create_directories(path.parent_path());
  const std::string vrt = path.string();
  try {
    make(unit.request.input, vrt);
  } catch (const Error& e) {
    throw Error(config.source.string() + ": key 'regions' (" + unit.where() + ", " + kind + "): " + e.what());
  }
  unit.request.input = vrt;
}

/// Every unit's input view, made before any unit runs so that a bad one writes nothing: an area of
/// interest reads the input through a VRT window (checked for an empty intersection); a region grid
/// then warps that onto the region's CRS, pixel size and pixel lattice, whatever the inputs' CRSs.
void prepare_input_views(const RunConfig& config, std::vector<Unit>& units, std::string& failed_unit) {
  for (Unit& unit : units) {
    failed_unit = unit.id;  // the unit whose view is being made, should it fail
    if (const auto& aoi = unit.region->aoi) {
      read_through_vrt(config, unit, "aoi", [&aoi](const std::string& input, const std::string& vrt) {
        geo::crop_to_aoi(input, geo::AreaOfInterest{aoi->bbox, aoi->polygon, aoi->crs}, vrt);
      });
    }
    if (const auto& grid = unit.region->grid) {
      read_through_vrt(config, unit, "grid", [&grid](const std::string& input, const std::string& vrt) {
        geo::warp_to_grid(input, geo::TargetGrid{grid->crs, grid->pixel_size_m}, vrt);
      });
    }
  }
  failed_unit.clear();
}

bool unit_complete(const Unit& unit) {
  if (!std::filesystem::exists(unit.paths.record)) return false;
  for (const auto& output : unit.paths.outputs()) {
    if (!std::filesystem::exists(output)) return false;
  }
  return true;
}

/// Models are loaded (and planned) once per task, lazily, and reused for every unit.
class ModelCache {
 public:
  explicit ModelCache(const RunConfig& config) : config_(config) {}

  struct Entry {
    LoadedModel model;
    std::unique_ptr<Engine> engine;
  };

  Entry& get(const std::string& task) {
    auto found = entries_.find(task);
    if (found != entries_.end()) return found->second;
    std::string warning;
    Entry entry{load_model(config_.models.at(task), &warning), nullptr};
    if (!warning.empty()) std::cerr << "terraseg: warning: " << warning << '\n';
    const ModelRef& ref = config_.models.at(task);
    entry.engine = std::make_unique<Engine>(entry.model.graph, engine_options(parse_precision(ref.precision)));
    return entries_.emplace(task, std::move(entry)).first->second;
  }

 private:
  const RunConfig& config_;
  std::map<std::string, Entry> entries_;
};

json run_unit(const RunConfig& config, const Unit& unit, ModelCache& models, ProgressDisplay& display,
             const std::string& run_started) {
  ModelCache::Entry& entry = models.get(unit.task);
  std::filesystem::create_directories(std::filesystem::path(unit.request.mask_path).parent_path());
  for (const auto& output : unit.paths.outputs()) geo::remove_stale_temporaries(output);
  display.begin(unit.id);
  const PredictReport report = predict_file(*entry.engine, entry.model.graph.card, unit.request,
                                            [&display](double fraction) { display.update(fraction); });
  display.end();
  for (const auto& message : report.warnings) display.warn(message);
  StacItemRequest stac;
  stac.id = unit.id;
  stac.source = unit.input.string();
  stac.run_started = run_started;
  stac.scores_path = unit.request.logits_path;
  stac.vectors_path = unit.request.vectors_path;
  stac.collection = stac_collection_path(config.output_dir);
  stac.properties = {{"title", unit.region->name + " " + unit.task},
                     {"terraseg:region", unit.region->name},
                     {"terraseg:task", unit.task},
                     {"terraseg:model", entry.model.source},
                     {"terraseg:trained", entry.model.trained}};
  ModelCard card = entry.model.graph.card;
  card.classes = report.classes;  // the table the mask carries
  write_stac_item(unit.request.mask_path, card, stac);
  json record = unit_record(unit.region->name, unit.task, unit.request.input, entry.model, unit.paths.outputs(), report);
  record["input"]["source"] = unit.input.string();
  return record;
}

/// Runs this shard's units that are not complete (with --resume); returns how many ran. A unit's
/// failure is rethrown naming its region, task and input; `failed_unit` is then its id.
int run_units(const RunConfig& config, const RunOptions& options, const std::vector<Unit>& units, RunLog& log,
              const std::string& run_started, std::string& failed_unit) {
  ModelCache models(config);
  ProgressDisplay display(options.quiet);
  int computed = 0;
  for (const Unit& unit : units) {
    if (static_cast<int>(unit.index % static_cast<size_t>(options.shard_count)) != options.shard_index) continue;
    if (options.resume && unit_complete(unit)) {
      // Complete, so nothing writes it any more: whatever a killed run left beside it goes.
      for (const auto& output : unit.paths.outputs()) geo::remove_stale_temporaries(output);
      log.event("unit_skipped", {{"unit", unit.id}, {"reason", "complete"}});
      continue;
    }
    log.event("unit_start", {{"unit", unit.id}, {"input", unit.request.input}, {"task", unit.task}});
    json record;
    try {
      record = run_unit(config, unit, models, display, run_started);
    } catch (const Error& e) {
      failed_unit = unit.id;
      throw Error(unit.where() + ": " + e.what());
    }
    write_json_atomically(unit.paths.record, record);
    log.event("unit_done", {{"unit", unit.id}, {"seconds", record.at("seconds")}, {"outputs", record.at("outputs")},
                            {"warnings", record.at("warnings")}});
    ++computed;
  }
  return computed;
}

}  // namespace

void parse_shard(const std::string& text, RunOptions& options) {
  const size_t slash = text.find('/');
  try {
    if (slash == std::string::npos) throw std::invalid_argument("no slash");
    options.shard_index = std::stoi(text.substr(0, slash));
    options.shard_count = std::stoi(text.substr(slash + 1));
  } catch (const std::exception&) {
    throw Error("--shard '" + text + "': expected I/N, e.g. 0/4 for the first of four shards");
  }
  if (options.shard_count < 1 || options.shard_index < 0 || options.shard_index >= options.shard_count) {
    throw Error("--shard '" + text + "': need 0 <= I < N");
  }
}

void apply_shard_environment(RunOptions& options) {
  const char* index = std::getenv("JOB_COMPLETION_INDEX");
  const char* count = std::getenv("TERRASEG_SHARD_COUNT");
  if (index == nullptr || count == nullptr) return;
  parse_shard(std::string(index) + "/" + count, options);
}

int run_job(const RunConfig& config, const RunOptions& options) {
  const auto started = std::chrono::system_clock::now();
  // Resolved here, once: the summary and the log record the count that really ran, never "0".
  const int threads = geo::set_thread_count(options.threads > 0 ? options.threads : config.threads);
  ensure_writable_dir(config.output_dir, "output_dir in " + config.source.string());
  std::filesystem::create_directories(unit_record_dir(config));

  RunLog log(config.output_dir, std::to_string(options.shard_index) + "/" + std::to_string(options.shard_count));
  log.event("run_start", {{"config", config.source.string()}, {"resume", options.resume}, {"threads", threads}});
  std::vector<Unit> units = plan_units(config);
  int computed = 0;
  std::string failed_unit;
  try {
    prepare_input_views(config, units, failed_unit);
    computed = run_units(config, options, units, log, iso_time(started), failed_unit);
  } catch (const Error& e) {
    json error{{"message", e.what()}};
    if (!failed_unit.empty()) error["unit"] = failed_unit;
    log.event("error", error);
    throw;
  }

  std::vector<json> records;
  for (const Unit& unit : units) {
    if (!unit_complete(unit)) {
      log.event("shard_done", {{"computed_here", computed}, {"pending", unit.id}});
      if (!options.quiet) {
        std::cerr << "terraseg: " << computed << " unit(s) computed; other shards still pending, "
                  << "run-summary.json will be written when all are done\n";
      }
      return computed;
    }
    std::ifstream stream(unit.paths.record);
    records.push_back(json::parse(stream));
  }
  ProgressDisplay display(options.quiet);
  const json indicators = compute_run_indicators(
      config,
      [&display, &log](const std::string& m) {
        display.warn(m);
        log.event("warning", {{"message", m}});
      },
      &display);
  const json summary = write_run_summary(config, records, indicators, started, threads);
  write_report(config.output_dir, summary);
  std::vector<std::string> items;
  for (const Unit& unit : units) items.push_back(unit.paths.stac_item.string());
  std::vector<std::string> others = indicator_outputs(indicators);
  for (const auto& path : {run_summary_path(config.output_dir), report_path(config.output_dir)}) {
    others.push_back(path.string());
  }
  write_stac_collection(config.output_dir, config.source.filename().string(), items, others);
  log.event("run_done", {{"units", records.size()}, {"computed_here", computed}});
  if (!options.quiet) std::cerr << "terraseg: wrote " << run_summary_path(config.output_dir).string() << '\n';
  return computed;
}

}  // namespace terraseg
