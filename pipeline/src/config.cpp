#include "terraseg/pipeline/config.hpp"

#include <glob.h>
#include <ogr_spatialref.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "output_plan.hpp"
#include "terraseg/core/model_card.hpp"
#include "terraseg/core/threads.hpp"
#include "terraseg/geo/predict.hpp"
#include "terraseg/geo/writer.hpp"
#include "yaml_reader.hpp"

namespace terraseg {
namespace {

using yaml::MapReader;

bool is_gdal_virtual(const std::filesystem::path& path) { return path.string().rfind("/vsi", 0) == 0; }

bool has_wildcard(const std::string& text) { return text.find_first_of("*?[") != std::string::npos; }

/// Expands shell globs; a pattern matching nothing is an error naming the key.
std::vector<std::filesystem::path> expand_globs(const std::vector<std::filesystem::path>& patterns, MapReader& reader,
                                                const std::string& key) {
  std::vector<std::filesystem::path> result;
  for (const auto& pattern : patterns) {
    if (!has_wildcard(pattern.string()) || is_gdal_virtual(pattern)) {
      result.push_back(pattern);
      continue;
    }
    glob_t matches{};
    const int status = glob(pattern.c_str(), 0, nullptr, &matches);
    std::unique_ptr<glob_t, decltype(&globfree)> owner(&matches, &globfree);
    if (status != 0 || matches.gl_pathc == 0) {
      reader.fail(key, "pattern '" + pattern.string() + "' matches no file; check the path", reader.raw(key));
    }
    for (size_t i = 0; i < matches.gl_pathc; ++i) {
      const std::string match = matches.gl_pathv[i];
      if (!is_utf8(match)) {
        reader.fail(key,
                    "pattern '" + pattern.string() + "' matches '" + match +
                        "', whose name is not valid UTF-8; terraseg writes input paths into JSON, STAC and HTML, "
                        "which carry only UTF-8: rename the file",
                    reader.raw(key));
      }
      result.emplace_back(match);
    }
  }
  return result;
}

ModelRef parse_model(MapReader reader) {
  ModelRef model;
  reader.path("path", model.path);
  reader.optional("builder", model.builder);
  reader.optional("classes", model.classes);
  reader.optional("base_width", model.base_width);
  reader.optional("depth", model.depth);
  reader.optional("class_names", model.class_names);
  reader.optional("seed", model.seed);
  reader.optional("precision", model.precision);
  reader.finish();
  if (model.path.empty() == model.builder.empty()) {
    reader.fail("path", "or 'builder' must be given, exactly one of them", YAML::Node());
  }
  if (!model.builder.empty() && model.builder != "unet" && model.builder != "segnet" &&
      model.builder != "segnet-basic") {
    reader.fail("builder", "must be one of unet, segnet, segnet-basic", reader.raw("builder"));
  }
  if (!model.path.empty() && !std::filesystem::is_regular_file(model.path)) {
    reader.fail("path", "names '" + model.path.string() + "', which does not exist; check the path",
                reader.raw("path"));
  }
  if (model.classes < 1 || model.classes > 254) reader.fail("classes", "must be in 1..254", reader.raw("classes"));
  return model;
}

AoiConfig parse_aoi(MapReader reader) {
  AoiConfig aoi;
  std::vector<double> bbox;
  reader.optional("bbox", bbox);
  std::vector<std::vector<double>> ring;
  reader.optional("polygon", ring);
  reader.required("crs", aoi.crs);
  reader.finish();
  if (!bbox.empty()) {
    if (bbox.size() != 4 || bbox[0] >= bbox[2] || bbox[1] >= bbox[3]) {
      reader.fail("bbox", "must be [min_x, min_y, max_x, max_y] with min < max", reader.raw("bbox"));
    }
    aoi.bbox = std::array<double, 4>{bbox[0], bbox[1], bbox[2], bbox[3]};
  }
  for (const auto& vertex : ring) {
    if (vertex.size() != 2) reader.fail("polygon", "vertices must be [x, y] pairs", reader.raw("polygon"));
    aoi.polygon.push_back({vertex[0], vertex[1]});
  }
  if (!aoi.bbox && aoi.polygon.size() < 3) {
    reader.fail("bbox", "or 'polygon' (3 or more vertices) must describe the area of interest", YAML::Node());
  }
  return aoi;
}

GridConfig parse_grid(MapReader reader) {
  GridConfig grid;
  reader.required("crs", grid.crs);
  reader.required("pixel_size_m", grid.pixel_size_m);
  reader.finish();
  OGRSpatialReference crs;
  if (crs.SetFromUserInput(grid.crs.c_str()) != OGRERR_NONE) {
    reader.fail("crs", "'" + grid.crs + "' is not a CRS GDAL understands; use e.g. EPSG:32632", reader.raw("crs"));
  }
  if (!(grid.pixel_size_m > 0.0)) reader.fail("pixel_size_m", "must be positive (metres)", reader.raw("pixel_size_m"));
  return grid;
}

RegionConfig parse_region(MapReader reader, const std::map<std::string, ModelRef>& models) {
  RegionConfig region;
  reader.required("name", region.name);
  region.inputs = expand_globs(reader.paths("inputs"), reader, "inputs");
  reader.optional("tasks", region.tasks);
  if (auto aoi = reader.child("aoi")) region.aoi = parse_aoi(*aoi);
  if (auto grid = reader.child("grid")) region.grid = parse_grid(*grid);
  reader.finish();
  if (const auto problem = output_name_problem(region.name)) reader.fail("name", *problem, reader.raw("name"));
  if (region.inputs.empty()) reader.fail("inputs", "must list at least one raster", reader.raw("inputs"));
  for (const auto& input : region.inputs) {
    if (!is_gdal_virtual(input) && !std::filesystem::exists(input)) {
      reader.fail("inputs", "names '" + input.string() + "', which does not exist; check the path",
                  reader.raw("inputs"));
    }
  }
  if (region.tasks.empty()) {
    for (const auto& entry : models) {
      if (entry.first != "street") region.tasks.push_back(entry.first);
    }
  }
  for (const auto& task : region.tasks) {
    if (!models.contains(task)) {
      reader.fail("tasks", "names task '" + task + "', which has no entry under 'models'", reader.raw("tasks"));
    }
  }
  return region;
}

/// Checks the walkability level scheme: known indicators, four ascending breakpoints each.
void parse_street_levels(MapReader& street, const StreetViewConfig& view) {
  const std::set<std::string> indicators{"G", "C", "S", "D"};
  if (view.levels != "quintiles" && view.levels != "breakpoints") {
    street.fail("levels", "must be 'quintiles' or 'breakpoints'", street.raw("levels"));
  }
  if (view.levels == "breakpoints" && view.breakpoints.size() != 4) {
    street.fail("breakpoints", "needs four ascending values for each of G, C, S and D", street.raw("breakpoints"));
  }
  for (const auto& [name, values] : view.breakpoints) {
    if (!indicators.contains(name))
      street.fail("breakpoints", "names '" + name + "'; use G, C, S or D", street.raw("breakpoints"));
    if (values.size() != 4 || !std::is_sorted(values.begin(), values.end())) {
      street.fail("breakpoints", "for " + name + " must be four ascending values", street.raw("breakpoints"));
    }
  }
  for (const auto& name : view.invert) {
    if (!indicators.contains(name))
      street.fail("invert", "names '" + name + "'; use G, C, S or D", street.raw("invert"));
  }
}

/// tiling.tile: N or [H, W], sides 32..16384.
void read_tile(MapReader& tiling, TilingConfig& config) {
  const YAML::Node node = tiling.raw("tile");
  if (!node || node.IsNull()) return;
  std::vector<int> sides;
  try {
    if (node.IsScalar())
      sides = {node.as<int>(), node.as<int>()};
    else if (node.IsSequence())
      sides = node.as<std::vector<int>>();
  } catch (const YAML::Exception&) {
    sides.clear();
  }
  if (sides.size() != 2 || sides[0] < 32 || sides[1] < 32 || sides[0] > 16384 || sides[1] > 16384) {
    tiling.fail("tile", "must be N or [H, W] with sides from 32 to 16384 pixels", node);
  }
  config.tile = std::array<int, 2>{sides[0], sides[1]};
}

void parse_sections(MapReader& root, RunConfig& config) {
  root.path("output_dir", config.output_dir, true);
  if (is_gdal_virtual(config.output_dir)) {
    root.fail("output_dir",
              "is '" + config.output_dir.string() +
                  "': outputs go to a local or shared POSIX folder (terraseg renames and locks files "
                  "there); write locally and copy to object storage afterwards (docker/README.md)",
              root.raw("output_dir"));
  }
  root.optional("threads", config.threads);
  if (config.threads < 0) root.fail("threads", "must be 0 (all cores) or more", root.raw("threads"));
  if (config.threads > max_thread_count()) {
    root.fail("threads",
              "is " + std::to_string(config.threads) + ", more than this machine can use (at most " +
                  std::to_string(max_thread_count()) + "); give 0 for all its CPUs",
              root.raw("threads"));
  }
  if (auto tiling = root.child("tiling")) {
    read_tile(*tiling, config.tiling);
    tiling->optional("overlap", config.tiling.overlap);
    tiling->optional("resample", config.tiling.resample);
    tiling->optional("resampling", config.tiling.resampling);
    tiling->optional("scales", config.tiling.scales);
    tiling->optional("flip", config.tiling.flip);
    tiling->finish();
    if (config.tiling.scales) {
      try {
        check_inference_scales(*config.tiling.scales);
      } catch (const Error& e) {
        throw Error(root.file().string() + ": key 'tiling.scales': " + e.what());
      }
    }
    if (!config.tiling.resampling.empty()) {
      geo::check_resampling(config.tiling.resampling, root.file().string() + ": key 'tiling.resampling'");
    }
    const TilingConfig& t = config.tiling;
    if (t.overlap && (*t.overlap < 0 || (t.tile && 2 * *t.overlap >= std::min((*t.tile)[0], (*t.tile)[1])))) {
      tiling->fail("overlap", "must be at least 0 and less than half of 'tile'", YAML::Node());
    }
  }
  if (auto outputs = root.child("outputs")) {
    outputs->optional("masks", config.outputs.masks);
    outputs->optional("scores", config.outputs.scores);
    outputs->optional("vectors", config.outputs.vectors);
    outputs->optional("cog", config.outputs.cog);
    outputs->optional("creation_options", config.outputs.creation_options);
    outputs->finish();
    geo::check_creation_options(config.outputs.creation_options, config.outputs.cog,
                                root.file().string() + ": key 'outputs.creation_options'");
  }
  if (auto indicators = root.child("indicators")) {
    indicators->optional("enabled", config.indicators.enabled);
    indicators->optional("cell_size_m", config.indicators.cell_size_m);
    indicators->optional("ndvi_threshold", config.indicators.ndvi_threshold);
    indicators->optional("red_band", config.indicators.red_band);
    indicators->optional("nir_band", config.indicators.nir_band);
    indicators->optional("road_width_m", config.indicators.road_width_m);
    indicators->optional("min_spur_m", config.indicators.min_spur_m);
    indicators->optional("merge_junctions_m", config.indicators.merge_junctions_m);
    indicators->optional("smooth_mask_m", config.indicators.smooth_mask_m);
    indicators->finish();
    if (!(config.indicators.road_width_m > 0)) indicators->fail("road_width_m", "must be positive", YAML::Node());
    for (const auto& [key, value] : {std::pair{"min_spur_m", config.indicators.min_spur_m},
                                     std::pair{"merge_junctions_m", config.indicators.merge_junctions_m},
                                     std::pair{"smooth_mask_m", config.indicators.smooth_mask_m}}) {
      if (value && !(*value >= 0)) indicators->fail(key, "must be 0 (off) or positive", YAML::Node());
    }
    if (config.indicators.red_band < 0 || config.indicators.nir_band < 0) {
      indicators->fail("red_band", "and 'nir_band' must be 1-based band numbers (0 = find by name)", YAML::Node());
    }
    if (config.indicators.cell_size_m <= 0) indicators->fail("cell_size_m", "must be positive", YAML::Node());
  }
  if (auto street = root.child("street_view")) {
    street->path("points", config.street_view.points, true);
    street->optional("model", config.street_view.model);
    street->optional("levels", config.street_view.levels);
    street->optional("breakpoints", config.street_view.breakpoints);
    street->optional("invert", config.street_view.invert);
    street->optional("roles", config.street_view.roles);
    street->finish();
    parse_street_levels(*street, config.street_view);
  }
}

RunConfig parse_document(const YAML::Node& document, const std::filesystem::path& source) {
  if (!document || document.IsNull()) throw Error(source.string() + ": config is empty; see configs/README.md");
  MapReader root(document, "", source);
  RunConfig config;
  config.source = source;
  parse_sections(root, config);
  if (auto models = root.child("models")) {
    for (const auto& entry : models->keys()) {
      if (const auto problem = output_name_problem(entry)) {
        models->fail(entry, std::string("(a task name) ") + *problem, models->raw(entry));
      }
      auto model = models->child(entry);
      if (!model) models->fail(entry, "is empty; give it 'path' or 'builder'", models->raw(entry));
      config.models[entry] = parse_model(*model);
    }
    models->finish();
  }
  std::map<std::string, std::string> region_keys;  // name -> the key path of the region that has it
  for (MapReader& region : root.list("regions")) {
    config.regions.push_back(parse_region(region, config.models));
    const std::string key = region.key_name("name");
    const auto [it, inserted] = region_keys.emplace(config.regions.back().name, key);
    if (!inserted) {
      // Each region writes into output_dir/<name>/: two of one name would overwrite each other.
      region.fail("name",
                  "is '" + config.regions.back().name + "', as '" + it->second +
                      "' is: region names name their output folders and must differ",
                  region.raw("name"));
    }
  }
  root.finish();
  if (config.regions.empty() && config.street_view.points.empty()) {
    root.fail("regions", "must list at least one region (or give street_view.points)", YAML::Node());
  }
  if (!config.street_view.points.empty() && !config.models.contains(config.street_view.model)) {
    throw Error(source.string() + ": key 'street_view.model' names '" + config.street_view.model +
                "', which has no entry under 'models'");
  }
  return config;
}

}  // namespace

RunConfig parse_run_config(const std::string& yaml_text, const std::filesystem::path& source) {
  return parse_document(yaml::load_text(yaml_text, source), source);
}

RunConfig load_run_config(const std::filesystem::path& path) { return parse_document(yaml::load_file(path), path); }

}  // namespace terraseg
