#include "run_layout.hpp"

#include "terraseg/geo/qgis_style.hpp"

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

std::string stac_item_path(const std::string& raster_path) {
  const fs::path path(raster_path);
  return (path.parent_path() / (path.stem().string() + ".stac.json")).string();
}

}  // namespace terraseg
