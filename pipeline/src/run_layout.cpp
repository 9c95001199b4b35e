#include "run_layout.hpp"

#include "output_plan.hpp"
#include "street_view_step.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/qgis_style.hpp"
#include "terraseg/geo/walkability.hpp"

namespace terraseg {

namespace fs = std::filesystem;

std::string unit_id(const RegionConfig& region, const std::string& task, const fs::path& input) {
  return region.name + "__" + task + "__" + input.stem().string();
}

std::vector<std::string> UnitPaths::outputs() const {
  std::vector<std::string> list{mask.string(), style.string()};
  if (!scores.empty()) list.push_back(scores.string());
  if (!vectors.empty()) list.push_back(vectors.string());
  list.push_back(stac_item.string());
  return list;
}

fs::path task_mask_path(const RunConfig& config, const RegionConfig& region, const std::string& task,
                        const fs::path& input) {
  const fs::path dir = config.output_dir / region.name;
  return region.inputs.size() == 1 ? dir / (task + ".tif") : dir / task / (input.stem().string() + ".tif");
}

UnitPaths unit_paths(const RunConfig& config, const RegionConfig& region, const std::string& task,
                     const fs::path& input) {
  UnitPaths paths;
  paths.mask = task_mask_path(config, region, task, input);
  const std::string base = (paths.mask.parent_path() / paths.mask.stem()).string();
  if (config.outputs.scores) paths.scores = base + "-scores.tif";
  if (config.outputs.vectors) paths.vectors = base + ".gpkg";
  paths.style = geo::qgis_style_path(paths.mask.string());
  paths.stac_item = stac_item_path(paths.mask.string());
  paths.record = unit_record_dir(config) / (unit_id(region, task, input) + ".json");
  return paths;
}

fs::path unit_record_dir(const RunConfig& config) { return config.output_dir / ".terraseg" / "units"; }

fs::path input_view_path(const RunConfig& config, const std::string& kind, const std::string& unit_id) {
  return config.output_dir / ".terraseg" / kind / (unit_id + ".vrt");
}

fs::path model_input_path(const RunConfig& config, const RegionConfig& region, const fs::path& input) {
  if (region.tasks.empty() || (!region.grid && !region.aoi)) return input;
  // Every task of a region reads the same view; the first task's unit names it.
  return input_view_path(config, region.grid ? "grid" : "aoi", unit_id(region, region.tasks.front(), input));
}

IndicatorPaths indicator_paths(const RunConfig& config, const RegionConfig& region, const fs::path& input) {
  const fs::path dir = config.output_dir / region.name;
  if (region.inputs.size() == 1) return {dir / "indicators.tif", dir / "roads-centrelines.gpkg"};
  const std::string stem = input.stem().string();
  return {dir / "indicators" / (stem + ".tif"), dir / "roads-centrelines" / (stem + ".gpkg")};
}

fs::path run_summary_path(const fs::path& output_dir) { return output_dir / "run-summary.json"; }
fs::path report_path(const fs::path& output_dir) { return output_dir / "report.html"; }
fs::path run_log_path(const fs::path& output_dir) { return output_dir / "terraseg-log.jsonl"; }
fs::path stac_collection_path(const fs::path& output_dir) { return output_dir / "collection.json"; }

void check_run_outputs(const RunConfig& config) {
  OutputPlan plan(config.output_dir);
  plan.read(config.source, "the config");
  for (const auto& [task, model] : config.models) plan.read(model.path, "the model of task '" + task + "'");
  plan.read(config.street_view.points, "the street-view points (key 'street_view.points')");
  for (const RegionConfig& region : config.regions) {
    for (const auto& input : region.inputs) plan.read(input, "an input of region '" + region.name + "'");
  }
  for (const RegionConfig& region : config.regions) {
    for (const auto& input : region.inputs) {
      for (const std::string& task : region.tasks) {
        const std::string owner = "region '" + region.name + "', task '" + task + "', input '" + input.string() + "'";
        const UnitPaths paths = unit_paths(config, region, task, input);
        for (const auto& output : paths.outputs()) plan.output(output, owner);
        plan.output(paths.mask.string() + ".aux.xml", owner);
        if (!paths.scores.empty()) plan.output(paths.scores.string() + ".aux.xml", owner);
        plan.output(paths.record, owner + " (its record)");
        const std::string id = unit_id(region, task, input);
        if (region.aoi) plan.output(input_view_path(config, "aoi", id), owner + " (its input view)");
        if (region.grid) plan.output(input_view_path(config, "grid", id), owner + " (its input view)");
      }
      if (config.indicators.enabled && !region.tasks.empty()) {
        const std::string owner = "the indicators of region '" + region.name + "', input '" + input.string() + "'";
        const IndicatorPaths paths = indicator_paths(config, region, input);
        plan.output(paths.grid, owner);
        plan.output(paths.grid.string() + ".aux.xml", owner);
        plan.output(geo::qgis_style_path(paths.grid.string()), owner + " (its QGIS style)");
        plan.output(paths.centrelines, owner);
      }
    }
  }
  if (!config.street_view.points.empty()) {
    const std::string step = "the street-view step";
    plan.output_folder(config.output_dir / "street-view", step);
    // Every photo's mask is planned too: two point ids that are one file name apart ("a/b", "a_b") meet.
    for (const geo::StreetPoint& point : geo::read_street_points(config.street_view.points.string())) {
      const std::string where = config.street_view.points.string() + ": street point '" + point.id + "'";
      check_utf8(point.id, where);
      for (size_t i = 0; i < point.images.size(); ++i) {
        check_utf8(point.images[i], where + ", photo '" + point.images[i] + "'");
        plan.read(point.images[i], "a photo of street point '" + point.id + "'");
        plan.output(street_mask_path(config.output_dir, point.id, i), step + " (point '" + point.id + "')");
      }
    }
  }
  plan.output(run_summary_path(config.output_dir), "the run summary");
  plan.output(report_path(config.output_dir), "the report");
  plan.output_folder(config.output_dir / "report", "the report");
  plan.output(run_log_path(config.output_dir), "the run log");
  plan.output(stac_collection_path(config.output_dir), "the STAC Collection");
  plan.output(config.output_dir / "licences.md", "the STAC Collection's licence notes");
  try {
    plan.check();
  } catch (const Error& e) {
    throw Error(config.source.string() + ": " + e.what());
  }
}

std::string stac_item_path(const std::string& raster_path) {
  const fs::path path(raster_path);
  return (path.parent_path() / (path.stem().string() + ".stac.json")).string();
}

}  // namespace terraseg
