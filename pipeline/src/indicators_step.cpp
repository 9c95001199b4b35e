#include "indicators_step.hpp"

#include <algorithm>
#include <cmath>

#include "terraseg/core/error.hpp"
#include "terraseg/geo/qgis_style.hpp"
#include "terraseg/geo/raster_io.hpp"
#include "terraseg/geo/writer.hpp"

namespace terraseg {
namespace {

using nlohmann::json;

json optional_number(const std::optional<double>& value) { return value ? json(*value) : json(nullptr); }

bool has_task(const RegionConfig& region, const std::string& task) {
  return std::find(region.tasks.begin(), region.tasks.end(), task) != region.tasks.end();
}

/// Road classes of a roads mask by name; a two-class mask without a "road" name counts class 1.
std::vector<int> road_classes(const std::string& mask, const WarnFn& warn) {
  std::vector<int> ids = geo::classes_named(mask, {"road", "street"});
  if (ids.empty()) {
    ids = {1};
    if (warn) warn(mask + ": no class named 'road'; counting class 1 as road");
  }
  return ids;
}

/// Fills the sources from the region's masks and input; says in `notes` what was left out and why.
geo::AerialInputs aerial_inputs(const RunConfig& config, const RegionConfig& region, const std::filesystem::path& input,
                                const IndicatorStepOptions& options, json& notes, const WarnFn& warn) {
  geo::AerialInputs inputs;
  if (has_task(region, kRoadsTask)) {
    inputs.roads_mask = task_mask_path(config, region, kRoadsTask, input).string();
    inputs.road_classes = road_classes(inputs.roads_mask, warn);
  }
  if (has_task(region, kLandcoverTask)) {
    const std::string mask = task_mask_path(config, region, kLandcoverTask, input).string();
    inputs.vegetation_classes = geo::classes_named(mask, {"vegetation", "tree"});
    if (inputs.vegetation_classes.empty()) {
      notes.push_back("landcover mask has no class named vegetation/tree: no land-cover greenery");
    } else {
      inputs.landcover_mask = mask;
    }
    if (inputs.roads_mask.empty()) {  // a land-cover "road" class stands in for a roads model
      const std::vector<int> roads = geo::classes_named(mask, {"road"});
      if (!roads.empty()) inputs.roads_mask = mask, inputs.road_classes = roads;
    }
  }
  const std::string source = model_input_path(config, region, input).string();
  const geo::RasterInfo info = geo::read_raster_info(source);
  inputs.red_band = options.red_band > 0 ? options.red_band : geo::find_spectral_band(info, "red");
  inputs.nir_band = options.nir_band > 0 ? options.nir_band : geo::find_spectral_band(info, "nir");
  if (inputs.red_band > 0 && inputs.nir_band > 0) {
    inputs.spectral = source;
  } else {
    notes.push_back("input has no bands tagged red and NIR: no NDVI greenery");
  }
  // Greenery by colour alone, beside the model's: it does not depend on where the model was trained.
  inputs.rgb_bands = {inputs.red_band, geo::find_spectral_band(info, "green"), geo::find_spectral_band(info, "blue")};
  if (inputs.rgb_bands[0] > 0 && inputs.rgb_bands[1] > 0 && inputs.rgb_bands[2] > 0) {
    inputs.rgb = source;
  } else {
    notes.push_back("input has no bands tagged red, green and blue: no RGB vegetation index");
  }
  return inputs;
}

json summary_json(const geo::AerialSummary& s, const IndicatorPaths& paths, bool roads) {
  json doc = {{"grid", paths.grid.string()},
              {"grid_size", {s.grid_width, s.grid_height}},
              {"bands", s.bands},
              {"strips", s.strips},
              {"greenery_landcover", optional_number(s.greenery_landcover)},
              {"greenery_ndvi", optional_number(s.greenery_ndvi)},
              {"greenery_rgb_index", optional_number(s.greenery_rgb_index)}};
  if (roads) {
    doc["centrelines"] = paths.centrelines.string();
    doc["road_area_ratio"] = optional_number(s.road_area_ratio);
    doc["road_length_km"] = s.road_length_km;
    doc["intersections"] = s.intersections;
    doc["dead_ends"] = s.dead_ends;
    doc["road_length_density_km_per_km2"] = optional_number(s.road_length_density);
    doc["intersection_density_per_km2"] = optional_number(s.intersection_density);
  }
  return doc;
}

/// The road-graph clean-up: scaled from the road width and pixel size, explicit values winning.
geo::RoadGraphOptions road_graph_options(const IndicatorStepOptions& options, const geo::PixelSizeM& pixel) {
  geo::RoadGraphOptions graph = geo::road_graph_defaults(options.road_width_m, pixel);
  if (options.min_spur_m) graph.min_spur_m = *options.min_spur_m;
  if (options.merge_junctions_m) graph.merge_junctions_m = *options.merge_junctions_m;
  if (options.smooth_mask_m) graph.smooth_mask_m = *options.smooth_mask_m;
  return graph;
}

/// Greenery figures further apart than this (as a share) are worth a warning.
constexpr double kGreeneryDisagreement = 0.15;

}  // namespace

json region_input_indicators(const RunConfig& config, const RegionConfig& region, const std::filesystem::path& input,
                             const IndicatorStepOptions& options, const WarnFn& warn) {
  json doc = {{"region", region.name}, {"input", input.string()}};
  const geo::RasterInfo info = geo::read_raster_info(model_input_path(config, region, input).string());
  if (!info.geotransform || !info.pixel_size_m || !info.axis_aligned) {
    doc["skipped"] = "input is not georeferenced north-up with a CRS in known units: no cell size in metres";
    return doc;
  }
  json notes = json::array();
  const geo::AerialInputs inputs = aerial_inputs(config, region, input, options, notes, warn);
  if (inputs.roads_mask.empty() && inputs.landcover_mask.empty() && inputs.spectral.empty() && inputs.rgb.empty()) {
    doc["skipped"] = "no roads or landcover task and no red/NIR or red/green/blue bands";
    return doc;
  }
  const IndicatorPaths paths = indicator_paths(config, region, input);
  std::filesystem::create_directories(paths.grid.parent_path());
  std::filesystem::create_directories(paths.centrelines.parent_path());
  geo::remove_stale_temporaries(paths.grid.string());
  geo::remove_stale_temporaries(paths.centrelines.string());
  geo::AerialOptions aerial;
  aerial.cell_size_m = config.indicators.cell_size_m;
  aerial.ndvi_threshold = options.ndvi_threshold;
  aerial.graph = road_graph_options(options, *info.pixel_size_m);
  aerial.output.cog = config.outputs.cog;
  const geo::AerialSummary summary =
      geo::compute_aerial_indicators(inputs, paths.grid.string(), paths.centrelines.string(), aerial);
  doc.update(summary_json(summary, paths, !inputs.roads_mask.empty()));
  doc["cell_size_m"] = config.indicators.cell_size_m;
  // The model's greenery against the vegetation index (or NDVI): far apart, one of them is wrong, and
  // the land-cover model, trained on one region, is the likelier (docs/indicators.md).
  const std::optional<double> independent = summary.greenery_ndvi ? summary.greenery_ndvi : summary.greenery_rgb_index;
  if (summary.greenery_landcover && independent &&
      std::abs(*summary.greenery_landcover - *independent) > kGreeneryDisagreement) {
    const std::string message = region.name + ": the land-cover model's greenery (" +
                                std::to_string(static_cast<int>(std::lround(*summary.greenery_landcover * 100))) +
                                " %) and the " + (summary.greenery_ndvi ? "NDVI's" : "RGB vegetation index's") + " (" +
                                std::to_string(static_cast<int>(std::lround(*independent * 100))) +
                                " %) differ by more than " +
                                std::to_string(static_cast<int>(std::lround(kGreeneryDisagreement * 100))) +
                                " points: the model may be out of its depth here (check the quicklook; terraseg adapt)";
    warn(message);
    doc["greenery_warning"] = message;
  }
  if (!inputs.roads_mask.empty()) {
    doc["road_graph"] = {{"road_width_m", options.road_width_m},
                         {"min_spur_m", aerial.graph.min_spur_m},
                         {"merge_junctions_m", aerial.graph.merge_junctions_m},
                         {"smooth_mask_m", aerial.graph.smooth_mask_m}};
  }
  if (!notes.empty()) doc["notes"] = notes;
  return doc;
}

json compute_run_indicators(const RunConfig& config, const WarnFn& warn, ProgressDisplay* display) {
  json result = {{"indicators", json::object()}, {"maps", json::array()}};
  if (!config.indicators.enabled) return result;
  IndicatorStepOptions step_options;
  step_options.ndvi_threshold = config.indicators.ndvi_threshold;
  step_options.red_band = config.indicators.red_band;
  step_options.nir_band = config.indicators.nir_band;
  step_options.road_width_m = config.indicators.road_width_m;
  step_options.min_spur_m = config.indicators.min_spur_m;
  step_options.merge_junctions_m = config.indicators.merge_junctions_m;
  step_options.smooth_mask_m = config.indicators.smooth_mask_m;
  json aerial = json::array();
  for (const RegionConfig& region : config.regions) {
    for (const auto& input : region.inputs) {
      if (display) display->begin("indicators " + region.name + " " + input.stem().string());
      json doc = region_input_indicators(config, region, input, step_options, warn);
      if (display) display->end();
      const auto bands = doc.value("bands", std::vector<std::string>{});
      // The region names the map; the input only when the region has several.
      const std::string where = region.inputs.size() > 1 ? region.name + " " + input.stem().string() : region.name;
      for (size_t b = 0; b < bands.size(); ++b) {
        result["maps"].push_back(
            {{"raster", doc.at("grid")}, {"band", static_cast<int>(b) + 1}, {"title", where + ": " + bands[b]}});
      }
      aerial.push_back(std::move(doc));
    }
  }
  result["indicators"]["aerial"] = aerial;
  if (display && !config.street_view.points.empty())
    display->begin("street view " + config.street_view.points.filename().string());
  json street = run_street_view_step(config, warn, [display](double f) {
    if (display) display->update(f);
  });
  if (display && !config.street_view.points.empty()) display->end();
  if (!street.is_null()) {
    if (street.contains("grid")) {
      result["maps"].push_back(
          {{"raster", street["grid"]["path"]}, {"band", 1}, {"title", "street view: mean IVW per cell"}});
    }
    result["indicators"]["street_view"] = street;
  }
  return result;
}

std::vector<std::string> indicator_outputs(const json& run_indicators) {
  std::vector<std::string> files;
  const json& indicators = run_indicators.value("indicators", json::object());
  for (const json& doc : indicators.value("aerial", json::array())) {
    for (const char* key : {"grid", "centrelines"}) {
      if (doc.contains(key) && doc[key].is_string()) files.push_back(doc[key].get<std::string>());
    }
  }
  if (indicators.contains("street_view")) {
    for (const json& path : indicators["street_view"].value("outputs", json::array()))
      files.push_back(path.get<std::string>());
  }
  const size_t listed = files.size();
  for (size_t i = 0; i < listed; ++i) {  // each grid's QGIS style beside it
    if (std::filesystem::path(files[i]).extension() == ".tif") files.push_back(geo::qgis_style_path(files[i]));
  }
  return files;
}

}  // namespace terraseg
