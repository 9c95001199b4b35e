#include "street_view_step.hpp"

#include <chrono>
#include <iostream>
#include <set>

#include "models.hpp"
#include "predict_step.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/predict.hpp"
#include "terraseg/geo/raster_io.hpp"
#include "terraseg/geo/writer.hpp"

namespace terraseg {
namespace {

using nlohmann::json;

/// File-name-safe form of a point id.
std::string safe_name(const std::string& id) {
  std::string name = id;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_';
  }
  return name;
}

geo::RoleCounts segment_point(Engine& engine, const ModelCard& card, const geo::StreetRoleMap& roles,
                              const geo::StreetPoint& point, const std::filesystem::path& output_dir,
                              const StreetViewOptions& options, const WarnFn& warn) {
  geo::RoleCounts counts;
  for (size_t i = 0; i < point.images.size(); ++i) {
    const std::string& image = point.images[i];
    if (!std::filesystem::exists(image) && image.rfind("/vsi", 0) != 0) {
      throw Error("street point '" + point.id + "': photo '" + image + "' does not exist; fix the points CSV");
    }
    PredictRequest request;
    request.input = image;
    request.mask_path = street_mask_path(output_dir, point.id, i).string();
    request.tile = options.tile;
    request.overlap = options.overlap;
    request.tile_source = options.tile_source;
    request.overlap_source = options.overlap_source;
    request.scales = options.scales;
    request.flip = options.flip;
    request.scales_source = options.scales_source;
    request.overviews = false;
    geo::remove_stale_temporaries(request.mask_path);
    const PredictReport report = predict_file(engine, card, request, {});
    if (warn) {
      for (const std::string& message : report.warnings) warn(message);
    }
    // predict_file counted the classes as it finished the mask: no second read of it.
    std::vector<int64_t> pixels_by_class(256, 0);
    for (const auto& [id, pixels] : report.class_pixels) pixels_by_class[static_cast<size_t>(id)] = pixels;
    counts.add_class_counts(pixels_by_class, roles);
  }
  return counts;
}

json optional_number(const std::optional<double>& value) { return value ? json(*value) : json(nullptr); }

/// Mean of the defined values, or null.
json mean_of(const std::vector<std::optional<double>>& values) {
  double sum = 0.0;
  int n = 0;
  for (const auto& value : values) {
    if (value) sum += *value, ++n;
  }
  return n > 0 ? json(sum / n) : json(nullptr);
}

/// The regions' AOI CRS when they agree on exactly one, else empty (UTM of the points).
std::string regions_crs(const RunConfig& config) {
  std::set<std::string> crs;
  for (const RegionConfig& region : config.regions) {
    if (region.aoi && !region.aoi->crs.empty()) crs.insert(region.aoi->crs);
  }
  return crs.size() == 1 ? *crs.begin() : std::string();
}

}  // namespace

std::filesystem::path street_mask_path(const std::filesystem::path& output_dir, const std::string& point_id,
                                       size_t index) {
  return output_dir / "street-view" / "masks" / (safe_name(point_id) + "-" + std::to_string(index) + ".tif");
}

StreetViewResult run_street_view(Engine& engine, const ModelCard& card, int num_classes,
                                 const std::filesystem::path& points_csv, const std::filesystem::path& output_dir,
                                 const StreetViewOptions& options, const WarnFn& warn) {
  const auto start = std::chrono::steady_clock::now();
  const std::vector<geo::StreetPoint> points = geo::read_street_points(points_csv.string());
  if (points.empty()) throw Error(points_csv.string() + ": lists no street-view point");
  geo::StreetRoleMap roles = geo::role_map_for_model(card.classes, card.ignore_ids, num_classes);
  if (!options.role_overrides.empty()) geo::override_roles(roles, options.role_overrides);
  const std::filesystem::path dir = output_dir / "street-view";
  std::filesystem::create_directories(dir / "masks");
  StreetViewResult result;
  result.role_scheme = roles.scheme;
  std::vector<geo::RoleCounts> counts;
  for (const geo::StreetPoint& point : points) {
    counts.push_back(segment_point(engine, card, roles, point, output_dir, options, warn));
    result.images += counts.back().images;
    if (options.progress) options.progress(static_cast<double>(counts.size()) / static_cast<double>(points.size()));
  }
  result.points = geo::score_points(points, counts, options.levels);
  result.gpkg = dir / "walkability.gpkg";
  result.csv = dir / "walkability.csv";
  for (const char* name : {"walkability.gpkg", "walkability.csv", "walkability-grid.tif"}) {
    geo::remove_stale_temporaries((dir / name).string());
  }
  geo::write_walkability_gpkg(result.gpkg.string(), result.points);
  geo::write_walkability_csv(result.csv.string(), result.points);
  const bool any_ivw =
      std::any_of(result.points.begin(), result.points.end(), [](const auto& p) { return p.ivw.has_value(); });
  if (any_ivw) {
    result.grid = dir / "walkability-grid.tif";
    geo::WalkGridOptions grid;
    grid.cell_size_m = options.cell_size_m;
    grid.crs = options.grid_crs;
    result.grid_summary = geo::write_walkability_grid(result.grid.string(), result.points, grid);
  } else if (warn) {
    warn("no street-view point has all four indicators (no road pixels?): walkability-grid.tif not written");
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

json street_view_json(const StreetViewResult& result) {
  std::array<std::vector<std::optional<double>>, 5> values;
  int with_ivw = 0;
  json points = json::array();
  for (const geo::WalkabilityPoint& p : result.points) {
    values[0].push_back(p.indicators.greenery);
    values[1].push_back(p.indicators.crowdedness);
    values[2].push_back(p.indicators.enclosure);
    values[3].push_back(p.indicators.pavement);
    values[4].push_back(p.ivw ? std::optional<double>(*p.ivw) : std::nullopt);
    with_ivw += p.ivw ? 1 : 0;
  }
  json doc = {{"points", result.points.size()},
              {"points_with_ivw", with_ivw},
              {"images", result.images},
              {"role_map", result.role_scheme},
              {"mean",
               {{"G", mean_of(values[0])},
                {"C", mean_of(values[1])},
                {"S", mean_of(values[2])},
                {"D", mean_of(values[3])},
                {"IVW", mean_of(values[4])}}},
              {"outputs", {result.gpkg.string(), result.csv.string()}},
              {"seconds", result.seconds}};
  if (!result.grid.empty()) {
    doc["outputs"].push_back(result.grid.string());
    doc["grid"] = {{"path", result.grid.string()},
                   {"width", result.grid_summary.width},
                   {"height", result.grid_summary.height},
                   {"cells_with_points", result.grid_summary.cells_with_points}};
  }
  if (result.points.size() <= 20) {
    for (const geo::WalkabilityPoint& p : result.points) {
      points.push_back({{"id", p.point.id},
                        {"G", optional_number(p.indicators.greenery)},
                        {"C", optional_number(p.indicators.crowdedness)},
                        {"S", optional_number(p.indicators.enclosure)},
                        {"D", optional_number(p.indicators.pavement)},
                        {"IVW", p.ivw ? json(*p.ivw) : json(nullptr)}});
    }
    doc["by_point"] = points;
  }
  return doc;
}

namespace {

/// The configured level derivation (config validation already checked names and order).
geo::LevelScheme level_scheme(const StreetViewConfig& view) {
  static const std::map<std::string, size_t> kIndex{{"G", 0}, {"C", 1}, {"S", 2}, {"D", 3}};
  geo::LevelScheme scheme;
  if (view.levels == "breakpoints") {
    scheme.mode = geo::LevelScheme::Mode::breakpoints;
    for (const auto& [name, values] : view.breakpoints) {
      for (size_t i = 0; i < 4; ++i) scheme.breakpoints[kIndex.at(name)][i] = values[i];
    }
  }
  for (const auto& name : view.invert) scheme.invert[kIndex.at(name)] = true;
  return scheme;
}

}  // namespace

json run_street_view_step(const RunConfig& config, const WarnFn& warn, const std::function<void(double)>& progress) {
  if (config.street_view.points.empty()) return nullptr;
  const ModelRef& ref = config.models.at(config.street_view.model);
  std::string warning;
  LoadedModel model = load_model(ref, &warning);
  if (!warning.empty() && warn) warn(warning);
  Engine engine(model.graph, engine_options(parse_precision(ref.precision)));
  const int num_classes =
      model.graph.card.classes.empty() ? ref.classes : static_cast<int>(model.graph.card.classes.size());
  StreetViewOptions options;
  options.cell_size_m = config.indicators.cell_size_m;
  options.grid_crs = regions_crs(config);
  options.tile = config.tiling.tile;
  options.overlap = config.tiling.overlap;
  options.tile_source = config.source.string() + ": key 'tiling.tile'";
  options.scales = config.tiling.scales;
  options.flip = config.tiling.flip;
  options.scales_source = config.source.string() + ": key 'tiling.scales'";
  options.overlap_source = config.source.string() + ": key 'tiling.overlap'";
  options.levels = level_scheme(config.street_view);
  options.role_overrides = config.street_view.roles;
  options.progress = progress;
  const StreetViewResult result = run_street_view(engine, model.graph.card, num_classes, config.street_view.points,
                                                  config.output_dir, options, warn);
  json doc = street_view_json(result);
  doc["model"] = model.source;
  doc["trained"] = model.trained;
  if (!model.trained)
    doc["notice"] = "the street model is UNTRAINED (random weights): these values demonstrate the pipeline only";
  return doc;
}

}  // namespace terraseg
