#include "predict_step.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string_view>

#include "inference_passes.hpp"
#include "models.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/input_geometry.hpp"
#include "terraseg/geo/predict.hpp"
#include "terraseg/geo/qgis_style.hpp"
#include "terraseg/geo/raster_io.hpp"
#include "terraseg/geo/vectorize.hpp"

namespace terraseg {
namespace {

/// A small input the model takes (its fixed size, else 256² rounded to its stride): one plan serves
/// both the class-count probe and the memory estimate.
Dims probe_dims(int channels, const TilingPlan& tiling) {
  if (tiling.fixed_size) return {1, channels, tiling.tile[0], tiling.tile[1]};
  const int64_t side = std::max<int64_t>(256, tiling.multiple);
  return {1, channels, side, side};
}

/// Output channels of the model: the card's class count, else one run at the probe size.
int model_classes(Engine& engine, const ModelCard& card, int channels, const TilingPlan& tiling) {
  if (!card.classes.empty()) return static_cast<int>(card.classes.size());
  Tensor probe(probe_dims(channels, tiling));
  Tensor scores;
  engine.run(probe, scores);
  if (scores.rank() != 4) throw Error("model output '" + engine.graph().outputs.at(0) + "' is not NCHW scores");
  return static_cast<int>(scores.dim(1));
}

/// Pixels per class id 0..classes-1 (nodata and ids past the head left out).
std::map<int, int64_t> class_histogram(const std::array<int64_t, 256>& counts, int classes) {
  std::map<int, int64_t> result;
  for (int id = 0; id < classes; ++id) result[id] = counts[static_cast<size_t>(id)];
  return result;
}

std::string size_text(const std::array<int, 2>& hw) {
  return hw[0] == hw[1] ? std::to_string(hw[0]) : std::to_string(hw[0]) + "x" + std::to_string(hw[1]);
}

/// The raw value range the card's normalisation expects: its input_range, else 0..255 (the 8-bit
/// imagery every card so far was trained on). None without a card: raw values go in as they are.
std::optional<std::array<double, 2>> expected_input_range(const ModelCard& card) {
  if (card.input_range) return card.input_range;
  if (card.present) return std::array<double, 2>{0.0, 255.0};
  return std::nullopt;
}

/// Bytes this process may use: the smallest of the machine's physical memory, the cgroup memory limit
/// (v2 memory.max, v1 limit_in_bytes) and TERRASEG_MAX_MEMORY_GB (for sharing a machine).
int64_t memory_limit_bytes() {
  int64_t limit = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<int64_t>(sysconf(_SC_PAGE_SIZE));
  if (const char* cap = std::getenv("TERRASEG_MAX_MEMORY_GB"); cap != nullptr) {
    double gib = 0.0;
    const std::string_view text(cap);
    if (std::from_chars(text.data(), text.data() + text.size(), gib).ec == std::errc() && gib > 0.0) {
      limit = std::min(limit, static_cast<int64_t>(gib * static_cast<double>(int64_t{1} << 30)));
    }
  }
  for (const char* file : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    std::ifstream in(file);
    int64_t value = 0;
    if (in >> value && value > 0) limit = std::min(limit, value);
  }
  return limit;
}

std::string gigabytes(double bytes) {
  std::ostringstream out;
  out.precision(3);
  out << bytes / double(int64_t{1} << 30) << " GB";
  return out.str();
}

/// Refuses, before anything is allocated, a window whose activations, input and blended scores would
/// not fit in memory: the engine's buffers measured at a small size, scaled to the window.
void check_window_memory(Engine& engine, int channels, int classes, const TilingPlan& tiling,
                         const std::array<int64_t, 2>& window, const InferencePasses& passes,
                         const std::string& tile_source) {
  const Dims probe = probe_dims(channels, tiling);
  const double probe_pixels = static_cast<double>(probe[2] * probe[3]);
  // The largest pass sees the window at the largest scale.
  const double largest = std::max(1.0, *std::max_element(passes.scales.begin(), passes.scales.end()));
  const std::array<int64_t, 2> pass{scaled_side(window[0], largest, tiling.multiple),
                                    scaled_side(window[1], largest, tiling.multiple)};
  const double per_pixel = static_cast<double>(engine.stats(probe).buffer_bytes) / probe_pixels +
                           4.0 * (channels + 2.0 * classes);  // input, scores and their blend
  const double needed = per_pixel * static_cast<double>(pass[0] * pass[1]);
  const double limit = static_cast<double>(memory_limit_bytes());
  if (needed > 0.8 * limit) {
    const std::string scaled = largest > 1.0 ? " (at scales " + passes.describe() + ": " + std::to_string(pass[0]) +
                                                   "x" + std::to_string(pass[1]) + " at the largest)"
                                             : "";
    throw Error(tile_source + ": a " + std::to_string(window[0]) + "x" + std::to_string(window[1]) + " window" +
                scaled + " needs about " + gigabytes(needed) + " for this model, more than the " + gigabytes(limit) +
                " this process may use; give a smaller tile (e.g. --tile 1024, or tiling.tile)" +
                (largest > 1.0 ? " or fewer scales (--scales 1, tiling.scales)" : ""));
  }
}

}  // namespace

float threshold_logit_shift(const ModelCard& card, int classes) {
  // Class 1 iff l1 - l0 > logit(t): adding logit(t) to the class-0 logit makes the blender's argmax
  // apply the threshold (scores shift alike, so blending is unaffected).
  if (classes != 2 || !card.threshold || !(*card.threshold > 0.0) || !(*card.threshold < 1.0)) return 0.0F;
  return static_cast<float>(std::log(*card.threshold / (1.0 - *card.threshold)));
}

std::array<int, 2> parse_tile_size(const std::string& text, const std::string& source) {
  const auto number = [&](const std::string& part) {
    int value = 0;
    const auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (part.empty() || ec != std::errc() || ptr != part.data() + part.size() || value < 8 || value > 16384) {
      throw Error(source + ": tile '" + text +
                  "' must be N or HxW with sides from 8 to 16384 pixels, e.g. 512 or 512x1024");
    }
    return value;
  };
  const size_t x = text.find('x');
  if (x == std::string::npos) return {number(text), number(text)};
  return {number(text.substr(0, x)), number(text.substr(x + 1))};
}

namespace {

/// A setting, where it came from ("flag", "config", "card", "default") and how errors name it.
template <typename T>
struct Chosen {
  T value;
  std::string from;
  std::string source;
};

/// Precedence of every tiling setting: the request (command line or config), then the card, then
/// the default.
template <typename T>
Chosen<T> choose(const std::optional<T>& requested, const std::string& request_source, const std::optional<T>& carded,
                 const std::string& card_key, T fallback) {
  if (requested) return {*requested, request_source.rfind("--", 0) == 0 ? "flag" : "config", request_source};
  if (carded) return {*carded, "card", "the model card's '" + card_key + "'"};
  return {fallback, "default", "the default " + card_key};
}

/// The tile the model can take: a fixed-size model's own size (any other is an error), else the
/// tile rounded down to the model's stride (below the stride is an error).
std::array<int, 2> fit_tile(const Chosen<std::array<int, 2>>& tile, const InputGeometry& geometry,
                            const std::string& model_name, const std::function<void(const std::string&)>& warn) {
  if (geometry.fixed_hw) {
    if (tile.from != "default" && tile.value != *geometry.fixed_hw) {
      const std::string model = model_name.empty() ? "the model" : "the model '" + model_name + "'";
      throw Error(tile.source + ": " + model + " only runs at its input size " + size_text(*geometry.fixed_hw) +
                  " (H x W); set the tile to " + size_text(*geometry.fixed_hw) + " or leave it out");
    }
    return *geometry.fixed_hw;
  }
  std::array<int, 2> fitted = tile.value;
  for (int& side : fitted) {
    if (side < geometry.multiple) {
      throw Error(tile.source + ": tile " + size_text(tile.value) + " is below the model's minimum of " +
                  std::to_string(geometry.multiple) + " pixels (its stride); use a tile of at least " +
                  std::to_string(std::max(geometry.multiple, 64)) + " pixels");
    }
    if (side % geometry.multiple != 0) {
      const int rounded = side / geometry.multiple * geometry.multiple;
      if (warn) {
        warn(tile.source + ": tile side " + std::to_string(side) + " is not a multiple of the model's stride " +
             std::to_string(geometry.multiple) + "; using " + std::to_string(rounded));
      }
      side = rounded;
    }
  }
  return fitted;
}

}  // namespace

TilingPlan resolve_tiling(const ModelCard& card, const InputGeometry& geometry, const PredictRequest& request,
                          const std::function<void(const std::string&)>& warn) {
  const Chosen<std::array<int, 2>> tile =
      choose(request.tile, request.tile_source, card.tile, "tile", std::array<int, 2>{512, 512});
  TilingPlan plan;
  plan.multiple = geometry.multiple;
  plan.tile = fit_tile(tile, geometry, card.name, warn);
  plan.fixed_size = geometry.fixed_hw.has_value();
  plan.tile_from = plan.fixed_size ? "fixed input size" : tile.from;
  const int shortest = std::min(plan.tile[0], plan.tile[1]);
  const Chosen<int> overlap =
      choose(request.overlap, request.overlap_source, card.tile_overlap, "tile_overlap", std::min(64, shortest / 4));
  plan.overlap = overlap.value;
  plan.overlap_from = overlap.from;
  if (plan.overlap < 0 || (plan.overlap > 0 && 2 * plan.overlap >= shortest)) {
    throw Error(overlap.source + ": overlap " + std::to_string(plan.overlap) + " must be less than half the tile (" +
                size_text(plan.tile) + "); lower the overlap or raise the tile");
  }
  return plan;
}

namespace {

constexpr const char* kAdaptAdvice =
    "; its masks here may be poor. Adapt it to this region from a few labelled tiles or OpenStreetMap "
    "(terraseg adapt --help; README, \"Your own region\")";

std::string domain_warning(const DomainShift& shift, const std::string& model) {
  return "unlike the imagery " + model + " was trained on: " + shift.describe() + kAdaptAdvice;
}

}  // namespace

std::string domain_summary_warning(const DomainShiftSummary& summary, const std::string& model,
                                   const std::string& inputs) {
  return inputs + ", taken together, are unlike the imagery " + model + " was trained on: " + summary.describe() +
         kAdaptAdvice;
}

PredictReport predict_file(Engine& engine, const ModelCard& card, const PredictRequest& request,
                           const ProgressFn& progress) {
  const auto start = std::chrono::steady_clock::now();
  const geo::RasterInfo info = geo::read_raster_info(request.input);
  PredictReport report;
  report.width = info.width;
  report.height = info.height;
  report.crs_wkt = info.crs_wkt;
  report.georeferenced = info.geotransform.has_value();

  const geo::InputSpec spec = geo::input_spec_from_card(card, request.band_override);
  const Dims& declared = engine.graph().input_dims;
  const int channels =
      declared.size() == 4 && declared[1] > 0 ? static_cast<int>(declared[1]) : static_cast<int>(spec.bands.size());
  if (!spec.bands.empty() && static_cast<int>(spec.bands.size()) != channels) {
    throw Error(request.input + ": the model takes " + std::to_string(channels) +
                " bands but its card (or --bands) names " + std::to_string(spec.bands.size()) + "; pass --bands with " +
                std::to_string(channels) + " entries");
  }
  const auto warn = [&report](const std::string& message) { report.warnings.push_back(message); };
  const TilingPlan tiling = resolve_tiling(card, input_geometry(engine.graph()), request, warn);
  const InferencePasses passes =
      resolve_passes(card, request.scales ? &*request.scales : nullptr, request.flip ? &*request.flip : nullptr,
                     tiling.fixed_size, request.scales_source);
  const int classes = model_classes(engine, card, channels, tiling);
  {
    // The largest window this raster can give the model: the tile, or the whole (resampled) image.
    const double ratio =
        request.resample && card.pixel_size_m ? geo::model_scale_ratio(info, *card.pixel_size_m).value_or(1.0) : 1.0;
    const auto side = [&](int pixels, int tile) {
      const int64_t grid = static_cast<int64_t>(std::ceil(pixels * std::max(ratio, 1.0)));
      const int64_t padded = (grid + tiling.multiple - 1) / tiling.multiple * tiling.multiple;
      return tiling.fixed_size ? int64_t{tile} : std::min<int64_t>(tile, padded);
    };
    const std::array<int64_t, 2> window{side(info.height, tiling.tile[0]), side(info.width, tiling.tile[1])};
    check_window_memory(engine, channels, classes, tiling, window, passes,
                        request.tile ? request.tile_source : "the model card's 'tile'");
  }
  const std::vector<ClassInfo> class_table = complete_class_table(card.classes, classes);

  geo::PredictOptions options;
  options.tile_height = tiling.tile[0];
  options.tile_width = tiling.tile[1];
  options.overlap = tiling.overlap;
  options.multiple = tiling.multiple;
  options.fixed_size = tiling.fixed_size;
  options.output.cog = request.cog;
  options.output.overviews = request.overviews;
  options.output.creation_options = request.creation_options;
  options.input_resampling = request.resampling;
  options.input_range = expected_input_range(card);
  if (request.resample) options.model_pixel_size_m = card.pixel_size_m;
  options.input_pixel_size_m = request.pixel_size_m;
  options.warn = warn;
  options.model_name = !engine.graph().source.empty() ? engine.graph().source : card.name;
  options.memory_limit_bytes = static_cast<double>(memory_limit_bytes());
  const float class0_shift = threshold_logit_shift(card, classes);
  Dims window_dims;  // the last window's shape: its plan says what ran
  const ModelFn model = [&engine, &window_dims](const Tensor& input, Tensor& scores) {
    engine.run(input, scores);
    window_dims = input.dims();
  };
  const geo::TileInfer infer = [&model, &passes, &tiling, class0_shift](const Tensor& input, Tensor& scores) {
    run_passes(model, passes, tiling.multiple, input, scores);
    if (class0_shift == 0.0F) return;
    const int64_t plane = scores.dim(2) * scores.dim(3);
    float* class0 = scores.data();
    for (int64_t i = 0; i < plane; ++i) class0[i] += class0_shift;
  };
  // A card measured before kThresholdShareFeature existed gets the features it lists.
  std::optional<double> domain_threshold;
  if (card.training_domain && std::ranges::count(card.training_domain->features, kThresholdShareFeature) > 0) {
    domain_threshold = card.threshold;
  }
  DomainMeter meter(class0_shift, domain_threshold);
  if (card.training_domain) {
    options.observe = [&meter](const Tensor& input, const Tensor& scores, const std::vector<uint8_t>& valid) {
      meter.add(input, scores, valid.data());
    };
  }
  const geo::PredictStats stats =
      geo::predict_raster(request.input, geo::PredictOutputs{request.mask_path, request.logits_path}, spec, infer,
                          classes, class_table, options, progress);
  geo::write_qgis_style(request.mask_path, class_table);
  if (!request.vectors_path.empty()) geo::vectorize_classes(request.mask_path, request.vectors_path, class_table);

  report.resample_ratio = stats.resample_ratio;
  report.tiles_inferred = stats.tiles_inferred;
  report.window = {stats.window_height, stats.window_width};
  report.overlap = tiling.overlap;
  report.passes = passes.describe();
  report.precision = to_string(engine.options().precision);
  if (!window_dims.empty()) {
    const PlanStats plan = engine.stats(window_dims);
    report.precision = plan.precision;  // what it computed in ("auto" resolves per plan)
    report.plan = plan.plan_choice + " (" + plan.plan_choice_from + ")";
    report.emulated_bf16_convolutions = plan.emulated_bf16_convolutions;
  }
  report.class_pixels = class_histogram(stats.class_pixels, classes);
  report.classes = class_table;
  if (card.training_domain && meter.pixels() > 0) {
    report.domain = domain_shift(*card.training_domain, meter.descriptor());
    if (report.domain->warn()) report.warnings.push_back(domain_warning(*report.domain, options.model_name));
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace terraseg
