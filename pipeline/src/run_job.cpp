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
#include "models.hpp"
#include "predict_step.hpp"
#include "progress.hpp"
#include "report.hpp"
#include "run_log.hpp"
#include "run_summary.hpp"
#include "stac.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/threads.hpp"
#include "terraseg/geo/aoi.hpp"
#include "terraseg/geo/qgis_style.hpp"
#include "terraseg/geo/target_grid.hpp"

namespace terraseg {
namespace {

using nlohmann::json;

struct Unit {
  size_t index = 0;
  std::string id;  ///< stable, file-name safe: <region>__<task>__<input stem>
  const RegionConfig* region = nullptr;
  std::filesystem::path input;
  std::string task;
  PredictRequest request;
};

std::filesystem::path unit_dir(const RunConfig& config) { return config.output_dir / ".terraseg" / "units"; }

std::vector<Unit> plan_units(const RunConfig& config) {
  std::vector<Unit> units;
  for (const RegionConfig& region : config.regions) {
    for (const std::string& task : region.tasks) {
      for (const auto& input : region.inputs) {
        Unit unit;
        unit.region = &region;
        unit.input = input;
        unit.task = task;
        const std::filesystem::path mask = task_mask_path(config, region, task, input);
        const std::string base = (mask.parent_path() / mask.stem()).string();
        unit.id = unit_id(region, task, input);
        unit.request.input = input.string();
        unit.request.mask_path = mask.string();
        if (config.outputs.scores) unit.request.logits_path = base + "-scores.tif";
        if (config.outputs.vectors) unit.request.vectors_path = base + ".gpkg";
        unit.request.tile = config.tiling.tile;
        unit.request.overlap = config.tiling.overlap;
        unit.request.tile_source = config.source.string() + ": key 'tiling.tile'";
        unit.request.overlap_source = config.source.string() + ": key 'tiling.overlap'";
        unit.request.cog = config.outputs.cog;
        unit.request.resample = config.tiling.resample;
        unit.request.resampling = config.tiling.resampling;
        unit.request.creation_options = config.outputs.creation_options;
        unit.index = units.size();
        units.push_back(std::move(unit));
      }
    }
  }
  return units;
}

/// Points `unit` at `.terraseg/<kind>/<unit id>.vrt` (see model_input_path), written by
/// make(current input, vrt); a failure is reported under the region's config key `kind`.
template <typename MakeVrt>
void read_through_vrt(const RunConfig& config, Unit& unit, const std::string& kind, const MakeVrt& make) {
  const std::filesystem::path dir = config.output_dir / ".terraseg" / kind;
  std::filesystem::create_directories(dir);
  const std::string vrt = (dir / (unit.id + ".vrt")).string();
  try {
    make(unit.request.input, vrt);
  } catch (const Error& e) {
    throw Error(config.source.string() + ": key 'regions' (region '" + unit.region->name + "', " + kind + "): " +
                e.what());
  }
  unit.request.input = vrt;
}

/// Every unit's input view, made before any unit runs so that a bad one writes nothing: an area of
/// interest reads the input through a VRT window (checked for an empty intersection); a region grid
/// then warps that onto the region's CRS, pixel size and pixel lattice, whatever the inputs' CRSs.
void prepare_input_views(const RunConfig& config, std::vector<Unit>& units) {
  for (Unit& unit : units) {
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
}

std::vector<std::string> unit_outputs(const Unit& unit) {
  std::vector<std::string> outputs{unit.request.mask_path, geo::qgis_style_path(unit.request.mask_path)};
  if (!unit.request.logits_path.empty()) outputs.push_back(unit.request.logits_path);
  if (!unit.request.vectors_path.empty()) outputs.push_back(unit.request.vectors_path);
  outputs.push_back(stac_item_path(unit.request.mask_path));
  return outputs;
}

bool unit_complete(const RunConfig& config, const Unit& unit) {
  if (!std::filesystem::exists(unit_dir(config) / (unit.id + ".json"))) return false;
  for (const auto& output : unit_outputs(unit)) {
    if (!std::filesystem::exists(output)) return false;
  }
  return true;
}

/// Models are loaded (and planned) once per task, lazily, and reused for every unit.
class ModelCache {
 public:
  ModelCache(const RunConfig& config, int threads) : config_(config), threads_(threads) {}

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
    entry.engine = std::make_unique<Engine>(entry.model.graph, engine_options(threads_, parse_precision(ref.precision)));
    return entries_.emplace(task, std::move(entry)).first->second;
  }

 private:
  const RunConfig& config_;
  int threads_;
  std::map<std::string, Entry> entries_;
};

json run_unit(const RunConfig& config, const Unit& unit, ModelCache& models, ProgressDisplay& display,
             const std::string& run_started) {
  ModelCache::Entry& entry = models.get(unit.task);
  std::filesystem::create_directories(std::filesystem::path(unit.request.mask_path).parent_path());
  for (const auto& output : unit_outputs(unit)) geo::remove_stale_temporaries(output);
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
  write_stac_item(unit.request.mask_path, entry.model.graph.card, stac);
  json record = unit_record(unit.region->name, unit.task, unit.request.input, entry.model, unit_outputs(unit), report);
  record["input"]["source"] = unit.input.string();
  return record;
}

/// Runs this shard's units that are not complete (with --resume); returns how many ran.
int run_units(const RunConfig& config, const RunOptions& options, const std::vector<Unit>& units, int threads,
              RunLog& log, const std::string& run_started) {
  ModelCache models(config, threads);
  ProgressDisplay display(options.quiet);
  int computed = 0;
  for (const Unit& unit : units) {
    if (static_cast<int>(unit.index % static_cast<size_t>(options.shard_count)) != options.shard_index) continue;
    if (options.resume && unit_complete(config, unit)) {
      // Complete, so nothing writes it any more: whatever a killed run left beside it goes.
      for (const auto& output : unit_outputs(unit)) geo::remove_stale_temporaries(output);
      log.event("unit_skipped", {{"unit", unit.id}, {"reason", "complete"}});
      continue;
    }
    log.event("unit_start", {{"unit", unit.id}, {"input", unit.request.input}, {"task", unit.task}});
    const json record = run_unit(config, unit, models, display, run_started);
    write_json_atomically(unit_dir(config) / (unit.id + ".json"), record);
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
  const int requested = options.threads > 0 ? options.threads : config.threads;
  const int threads = requested > 0 ? requested : default_thread_count();
  set_thread_count(threads);
  ensure_writable_dir(config.output_dir, "output_dir in " + config.source.string());
  std::filesystem::create_directories(unit_dir(config));

  RunLog log(config.output_dir, std::to_string(options.shard_index) + "/" + std::to_string(options.shard_count));
  log.event("run_start", {{"config", config.source.string()}, {"resume", options.resume}, {"threads", threads}});
  std::vector<Unit> units = plan_units(config);
  int computed = 0;
  try {
    prepare_input_views(config, units);
    computed = run_units(config, options, units, threads, log, iso_time(started));
  } catch (const Error& e) {
    log.event("error", {{"message", e.what()}});
    throw;
  }

  std::vector<json> records;
  for (const Unit& unit : units) {
    if (!unit_complete(config, unit)) {
      log.event("shard_done", {{"computed_here", computed}, {"pending", unit.id}});
      if (!options.quiet) {
        std::cerr << "terraseg: " << computed << " unit(s) computed; other shards still pending, "
                  << "run-summary.json will be written when all are done\n";
      }
      return computed;
    }
    std::ifstream stream(unit_dir(config) / (unit.id + ".json"));
    records.push_back(json::parse(stream));
  }
  ProgressDisplay display(options.quiet);
  const json indicators = compute_run_indicators(
      config, threads,
      [&display, &log](const std::string& m) {
        display.warn(m);
        log.event("warning", {{"message", m}});
      },
      &display);
  const json summary = write_run_summary(config, records, indicators, started, threads);
  write_report(config.output_dir, summary);
  std::vector<std::string> items;
  for (const Unit& unit : units) items.push_back(stac_item_path(unit.request.mask_path));
  std::vector<std::string> others = indicator_outputs(indicators);
  for (const char* name : {"run-summary.json", "report.html"}) others.push_back((config.output_dir / name).string());
  write_stac_collection(config.output_dir, config.source.filename().string(), items, others);
  log.event("run_done", {{"units", records.size()}, {"computed_here", computed}});
  if (!options.quiet) std::cerr << "terraseg: wrote " << (config.output_dir / "run-summary.json").string() << '\n';
  return computed;
}

}  // namespace terraseg
