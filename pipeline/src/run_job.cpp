#include "terraseg/pipeline/run_job.hpp"

#include <gdal_priv.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "file_lock.hpp"
#include "fingerprint.hpp"
#include "indicators_step.hpp"
#include "interrupt.hpp"
#include "models.hpp"
#include "predict_step.hpp"
#include "progress.hpp"
#include "report.hpp"
#include "run_layout.hpp"
#include "run_log.hpp"
#include "run_summary.hpp"
#include "stac.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/aoi.hpp"
#include "terraseg/geo/target_grid.hpp"
#include "terraseg/geo/threads.hpp"
#include "terraseg/geo/writer.hpp"

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
  // Made under a name of this process's, then renamed: a run reading the view never sees it half written.
  // The caller holds the view's lock, so whatever a temporary of it is, it was left by a dead run.
  geo::remove_stale_temporaries(vrt);
  const std::string temporary = vrt + ".tmp-" + geo::process_token() + ".vrt";
  try {
    make(unit.request.input, temporary);
  } catch (const Error& e) {
    std::filesystem::remove(temporary);
    throw Error(config.source.string() + ": key 'regions' (" + unit.where() + ", " + kind + "): " + e.what());
  }
  std::filesystem::rename(temporary, vrt);
  unit.request.input = vrt;
}

std::filesystem::path lock_path(const RunConfig& config, const std::string& name);

bool in_shard(const Unit& unit, const RunOptions& options) {
  return static_cast<int>(unit.index % static_cast<size_t>(options.shard_count)) == options.shard_index;
}

/// This shard's units' input views, made before any unit runs so that a bad one writes nothing: an
/// area of interest reads the input through a VRT window (checked for an empty intersection); a region
/// grid then warps that onto the region's CRS, pixel size and pixel lattice, whatever the inputs' CRSs.
/// Each view is made under its own lock: shards (containers, machines) sharing the folder never write
/// one view at once.
void prepare_input_views(const RunConfig& config, const RunOptions& options, std::vector<Unit>& units,
                         std::string& failed_unit) {
  for (Unit& unit : units) {
    if (!in_shard(unit, options) || (!unit.region->aoi && !unit.region->grid)) continue;
    check_interrupted();
    const FileLock lock(lock_path(config, "view-" + unit.id), [&unit](const std::string& holder) {
      std::cerr << "terraseg: waiting for " << holder << ", which is making the input view of " << unit.id << '\n';
    });
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

/// What made a unit's outputs (fingerprint.hpp): its input's files, its model, every config key that
/// changes its outputs, and terraseg's build. Threads and --tuning change no class (plans are chosen
/// among equivalent computations), so they are not part of it.
json unit_fingerprint(const RunConfig& config, const Unit& unit, FingerprintCache& cache) {
  const ModelRef& ref = config.models.at(unit.task);
  json model;
  if (!ref.path.empty()) {
    model = {{"file", cache.file(ref.path.string())}, {"settings", {{"precision", ref.precision}}}};
  } else {
    model = {{"builder", ref.builder},    {"classes", ref.classes},         {"base_width", ref.base_width},
             {"depth", ref.depth},        {"class_names", ref.class_names}, {"seed", ref.seed},
             {"precision", ref.precision}};
  }
  const TilingConfig& t = config.tiling;
  const OutputsConfig& o = config.outputs;
  json aoi = nullptr;
  if (const auto& a = unit.region->aoi) {
    aoi = {{"crs", a->crs}, {"polygon", a->polygon}, {"bbox", a->bbox ? json(*a->bbox) : json(nullptr)}};
  }
  json grid = nullptr;
  if (const auto& g = unit.region->grid) grid = {{"crs", g->crs}, {"pixel_size_m", g->pixel_size_m}};
  return {{"terraseg", terraseg_build()},
          {"input", cache.raster(unit.input.string())},
          {"model", model},
          {"settings",
           {{"tiling",
             {{"tile", t.tile ? json(*t.tile) : json(nullptr)},
              {"overlap", t.overlap ? json(*t.overlap) : json(nullptr)},
              {"resample", t.resample},
              {"resampling", t.resampling},
              {"scales", t.scales ? json(*t.scales) : json(nullptr)},
              {"flip", t.flip ? json(*t.flip) : json(nullptr)}}},
            {"outputs",
             {{"masks", o.masks},
              {"scores", o.scores},
              {"vectors", o.vectors},
              {"cog", o.cog},
              {"creation_options", o.creation_options}}},
            {"regions[].aoi", aoi},
            {"regions[].grid", grid}}}};
}

/// "" when the output at `path` is there and reads as what it is; else what is wrong with it.
std::string output_problem(const std::string& path) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  if (error) return "its output '" + path + "' is missing";
  if (size == 0) return "its output '" + path + "' is empty";
  const std::string extension = std::filesystem::path(path).extension().string();
  if (extension == ".tif" || extension == ".gpkg") {
    CPLPushErrorHandler(CPLQuietErrorHandler);
    std::unique_ptr<GDALDataset> dataset(
        GDALDataset::Open(path.c_str(), (extension == ".tif" ? GDAL_OF_RASTER : GDAL_OF_VECTOR) | GDAL_OF_READONLY));
    CPLPopErrorHandler();
    if (!dataset) return "its output '" + path + "' cannot be read by GDAL";
  } else if (extension == ".json") {
    std::ifstream stream(path);
    if (!json::accept(stream)) return "its output '" + path + "' is not valid JSON";
  }
  return "";
}

/// Why `unit` must be computed (again), or "" when its record and outputs are complete and what made
/// them is unchanged; `record` receives the record then.
std::string redo_reason(const Unit& unit, const json& fingerprint, json* record = nullptr) {
  if (!std::filesystem::exists(unit.paths.record)) return "not computed yet";
  json stored;
  {
    std::ifstream stream(unit.paths.record);
    stored = json::parse(stream, nullptr, false);
  }
  if (stored.is_discarded() || !stored.is_object()) return "its record is unreadable";
  for (const auto& output : unit.paths.outputs()) {
    if (auto problem = output_problem(output); !problem.empty()) return problem;
  }
  if (auto changed = fingerprint_difference(stored.value("fingerprint", json()), fingerprint); !changed.empty()) {
    return changed;
  }
  if (record != nullptr) *record = std::move(stored);
  return "";
}

/// `<out>/.terraseg/locks/<name>.lock`: units and the final merge each have their own, so that the
/// shards of one run proceed in parallel while two runs of the same work never interleave.
std::filesystem::path lock_path(const RunConfig& config, const std::string& name) {
  return config.output_dir / ".terraseg" / "locks" / (name + ".lock");
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
  // How unlike the model's training imagery this input is (run-summary.json's domain_shift).
  if (report.domain) stac.properties["terraseg:domain_shift"] = report.domain->shift;
  ModelCard card = entry.model.graph.card;
  card.classes = report.classes;  // the table the mask carries
  write_stac_item(unit.request.mask_path, card, stac);
  json record =
      unit_record(unit.region->name, unit.task, unit.request.input, entry.model, unit.paths.outputs(), report);
  record["input"]["source"] = unit.input.string();
  return record;
}

/// Runs this shard's units that are not complete (with --resume: complete and unchanged); returns how
/// many ran. Each unit runs under its own lock. A unit's failure is rethrown naming its region, task and
/// input; `failed_unit` is then its id.
int run_units(const RunConfig& config, const RunOptions& options, const std::vector<Unit>& units, RunLog& log,
              FingerprintCache& fingerprints, const std::string& run_started, std::string& failed_unit) {
  ModelCache models(config);
  ProgressDisplay display(options.quiet);
  int computed = 0;
  for (const Unit& unit : units) {
    if (!in_shard(unit, options)) continue;
    check_interrupted();
    const FileLock lock(lock_path(config, unit.id), [&](const std::string& holder) {
      display.warn("unit " + unit.id + " is being computed by " + holder + " in this output folder; waiting for it");
      log.event("unit_wait", {{"unit", unit.id}, {"holder", holder}});
    });
    json fingerprint;
    try {
      fingerprint = unit_fingerprint(config, unit, fingerprints);
    } catch (const Error& e) {
      failed_unit = unit.id;
      throw Error(unit.where() + ": " + e.what());
    }
    if (options.resume) {
      const std::string reason = redo_reason(unit, fingerprint);
      if (reason.empty()) {
        // Complete, so nothing writes it any more: whatever a killed run left beside it goes.
        for (const auto& output : unit.paths.outputs()) geo::remove_stale_temporaries(output);
        log.event("unit_skipped", {{"unit", unit.id}, {"reason", "complete"}});
        continue;
      }
      if (reason != "not computed yet") {
        if (!options.quiet) std::cerr << "terraseg: redoing " << unit.id << ": " << reason << '\n';
      }
      log.event("unit_redo", {{"unit", unit.id}, {"reason", reason}});
    }
    log.event("unit_start", {{"unit", unit.id}, {"input", unit.request.input}, {"task", unit.task}});
    json record;
    try {
      // The old record goes first: from here until the new one is written the unit is incomplete.
      std::filesystem::remove(unit.paths.record);
      record = run_unit(config, unit, models, display, run_started);
    } catch (const Interrupted&) {
      failed_unit = unit.id;
      throw;
    } catch (const Error& e) {
      failed_unit = unit.id;
      throw Error(unit.where() + ": " + e.what());
    }
    record["fingerprint"] = fingerprint;
    write_json_atomically(unit.paths.record, record);
    log.event("unit_done", {{"unit", unit.id},
                            {"seconds", record.at("seconds")},
                            {"outputs", record.at("outputs")},
                            {"warnings", record.at("warnings")}});
    ++computed;
  }
  return computed;
}

/// Parses a non-negative decimal integer, the whole of `text` ("0x1", "1abc", "", "-1" are not).
bool parse_count(const std::string& text, int& value) {
  if (text.empty() || text.size() > 9) return false;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
  }
  value = std::stoi(text);
  return true;
}

}  // namespace

void parse_shard(const std::string& text, RunOptions& options) {
  const size_t slash = text.find('/');
  int index = 0;
  int count = 0;
  if (slash == std::string::npos || !parse_count(text.substr(0, slash), index) ||
      !parse_count(text.substr(slash + 1), count)) {
    throw Error("--shard '" + text + "': expected I/N in decimal digits, e.g. 0/4 for the first of four shards");
  }
  if (count < 1 || index >= count) throw Error("--shard '" + text + "': need 0 <= I < N");
  options.shard_index = index;
  options.shard_count = count;
}

void apply_shard_environment(RunOptions& options) {
  const char* index = std::getenv("JOB_COMPLETION_INDEX");
  const char* count = std::getenv("TERRASEG_SHARD_COUNT");
  if (index == nullptr && count == nullptr) return;
  if (index == nullptr || count == nullptr) {
    throw Error(std::string(index == nullptr ? "TERRASEG_SHARD_COUNT is set but JOB_COMPLETION_INDEX is not"
                                             : "JOB_COMPLETION_INDEX is set but TERRASEG_SHARD_COUNT is not") +
                ": set both (a Kubernetes Indexed Job sets JOB_COMPLETION_INDEX; TERRASEG_SHARD_COUNT is its "
                "completions), or neither to run every unit");
  }
  try {
    parse_shard(std::string(index) + "/" + count, options);
  } catch (const Error&) {
    throw Error("JOB_COMPLETION_INDEX='" + std::string(index) + "', TERRASEG_SHARD_COUNT='" + count +
                "': expected decimal digits with 0 <= index < count");
  }
}

int run_job(const RunConfig& config, const RunOptions& options) {
  const auto started = std::chrono::system_clock::now();
  // Resolved here, once: the summary and the log record the count that really ran, never "0".
  // Every path the run will write, checked as a whole before anything is written (output_plan.hpp).
  check_run_outputs(config);
  const int threads = geo::set_thread_count(options.threads > 0 ? options.threads : config.threads);
  ensure_writable_dir(config.output_dir, "output_dir in " + config.source.string());
  std::filesystem::create_directories(unit_record_dir(config));

  RunLog log(config.output_dir, std::to_string(options.shard_index) + "/" + std::to_string(options.shard_count));
  log.event("run_start", {{"config", config.source.string()}, {"resume", options.resume}, {"threads", threads}});
  std::vector<Unit> units = plan_units(config);
  int computed = 0;
  std::string failed_unit;
  FingerprintCache fingerprints;
  try {
    prepare_input_views(config, options, units, failed_unit);
    computed = run_units(config, options, units, log, fingerprints, iso_time(started), failed_unit);
  } catch (const Interrupted& e) {
    log.event("interrupted", {{"message", e.what()}, {"unit", failed_unit}});
    throw;
  } catch (const Error& e) {
    json error{{"message", e.what()}};
    if (!failed_unit.empty()) error["unit"] = failed_unit;
    log.event("error", error);
    throw;
  }

  // The merge: the last shard to finish (or each, in turn) writes the summary, report and Collection
  // once every unit is complete and current; a stale record of another shard's counts as pending.
  const FileLock merge_lock(lock_path(config, "merge"), [&](const std::string& holder) {
    if (!options.quiet) std::cerr << "terraseg: waiting for " << holder << ", which is writing the run summary\n";
  });
  std::vector<json> records;
  for (const Unit& unit : units) {
    json record;
    if (!redo_reason(unit, unit_fingerprint(config, unit, fingerprints), &record).empty()) {
      log.event("shard_done", {{"computed_here", computed}, {"pending", unit.id}});
      if (!options.quiet) {
        std::cerr << "terraseg: " << computed << " unit(s) computed; other shards still pending, "
                  << "run-summary.json will be written when all are done\n";
      }
      return computed;
    }
    record.erase("fingerprint");  // the summary reports what ran, the records keep what made it
    records.push_back(std::move(record));
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
  for (const RegionDomainShift& region : region_domain_shifts(records)) {
    if (region.summary.inputs < 2 || !region.summary.warn()) continue;  // one input: its own warning
    const std::string message =
        domain_summary_warning(region.summary, region.model,
                               "the " + std::to_string(region.summary.inputs) + " inputs of region '" + region.region +
                                   "' (" + region.task + ")");
    display.warn(message);
    log.event("warning", {{"message", message}});
  }
  write_report(config.output_dir, summary);
  std::vector<std::string> items;
  items.reserve(units.size());
  for (const Unit& unit : units) items.push_back(unit.paths.stac_item.string());
  std::vector<std::string> others = indicator_outputs(indicators);
  for (const auto& path : {run_summary_path(config.output_dir), report_path(config.output_dir),
                           write_licence_notes(config.output_dir, records)}) {
    others.push_back(path.string());
  }
  write_stac_collection(config.output_dir, config.source.filename().string(), items, others);
  log.event("run_done", {{"units", records.size()}, {"computed_here", computed}});
  if (!options.quiet) std::cerr << "terraseg: wrote " << run_summary_path(config.output_dir).string() << '\n';
  return computed;
}

}  // namespace terraseg
