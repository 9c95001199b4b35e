// terraseg adapt (adapt_job.hpp): a TrainConfig made from the request, run by train_job.
#include "adapt_job.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <set>

#include "models.hpp"
#include "output_plan.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/input_geometry.hpp"
#include "terraseg/geo/raster_io.hpp"
#include "terraseg/geo/vector_labels.hpp"
#include "train_config.hpp"
#include "train_job.hpp"

namespace terraseg {
namespace {

namespace fs = std::filesystem;

/// Training crops: enough context for the model, no larger than its tile.
constexpr int kCrop = 384;
/// Crops drawn per epoch (an epoch ends with a validation): about this many whatever the tile count.
constexpr int kCropsPerEpoch = 96;

/// The tiles' pixel size / the model's: --pixel-size, else the first tile's georeference, else 1 (the
/// model's own, said so).
double tile_scale(const AdaptRequest& request, const ModelCard& card, const std::string& first_tile, bool quiet) {
  if (!card.pixel_size_m) {
    if (request.pixel_size_m && !quiet) {
      std::cerr << "terraseg: warning: " << request.model
                << " states no pixel size; --pixel-size is ignored and the tiles are used as they are\n";
    }
    return 1.0;
  }
  if (request.pixel_size_m) return *request.pixel_size_m / *card.pixel_size_m;
  const geo::RasterInfo info = geo::read_raster_info(first_tile);
  if (const auto ratio = geo::model_scale_ratio(info, *card.pixel_size_m)) return *ratio;
  if (!quiet) {
    std::cerr << "terraseg: warning: " << first_tile
              << " has no georeference and --pixel-size is not given: the tiles are taken "
              << "to be at the model's " << *card.pixel_size_m << " m; give --pixel-size if they are not\n";
  }
  return 1.0;
}

/// For a binary model: 0/255 images (>= 128 positive) unless the masks hold 1s and nothing from 2 to
/// 254, which are class ids (0, 1; 255 unlabelled, as `terraseg labels` writes them). Several
/// classes: class ids, 255 (and ids beyond the model's) unlabelled.
geo::MaskEncoding mask_encoding(const std::vector<std::pair<std::string, std::string>>& pairs, int classes) {
  geo::MaskEncoding encoding;
  encoding.kind = geo::MaskKind::ids;
  encoding.classes = classes;
  if (classes != 2) return encoding;
  const auto are_class_ids = [&pairs] {
    geo::MaskEncoding raw;
    raw.kind = geo::MaskKind::ids;
    bool ones = false;
    for (const auto& pair : pairs) {
      int height = 0, width = 0;
      for (const uint8_t value : geo::load_labels(pair.second, raw, height, width)) {
        if (value >= 2 && value != 255) return false;
        ones = ones || value == 1;
      }
    }
    return ones;
  };
  if (!are_class_ids()) {
    encoding.kind = geo::MaskKind::threshold;
    encoding.threshold = 128;
  }
  return encoding;
}

/// Road-width labels from vectors for every tile, into `folder` (<stem>.png).
void burn_labels(const AdaptRequest& request, const std::vector<std::string>& tiles, const fs::path& folder,
                 bool quiet) {
  geo::VectorLabelOptions options = geo::osm_road_label_options();
  options.layer = request.layer;
  fs::create_directories(folder);
  for (const std::string& tile : tiles) {
    const fs::path mask = folder / (fs::path(tile).stem().string() + ".png");
    const geo::VectorLabelStats stats = geo::rasterize_labels(tile, request.labels, options, mask.string());
    fs::remove(mask.string() + ".aux.xml");
    if (stats.features == 0 && !quiet) {
      std::cerr << "terraseg: warning: no feature of " << request.labels << " lies on " << tile
                << ": its labels are all background\n";
    }
  }
}

/// Image files tiles come as: GeoTIFF, PNG, JPEG (any case).
bool is_tile(const fs::path& path) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension == ".tif" || extension == ".tiff" || extension == ".png" || extension == ".jpg" ||
         extension == ".jpeg";
}

std::string joined(const std::vector<std::string>& parts) {
  std::string text;
  for (const std::string& part : parts) text += (text.empty() ? "" : ", ") + part;
  return text;
}

}  // namespace

AdaptResult adapt_job(const AdaptRequest& request) {
  const auto start = std::chrono::steady_clock::now();
  const fs::path output(request.output);
  if (output.extension() != ".onnx")
    throw Error("-o " + request.output + ": the adapted model is an ONNX file: give a name ending in .onnx");
  const fs::path work = output.parent_path() / ("." + output.filename().string() + ".adapt");
  if (fs::exists(output)) {  // also with --resume: a finished adaptation has nothing left to resume
    throw Error("-o " + request.output +
                ": exists; adapt never overwrites a model: give another name, or remove it first");
  }
  std::string warning;
  const LoadedModel base = load_model_file(request.model, &warning);
  const ModelCard& card = base.graph.card;
  if (!card.present)
    throw Error(request.model + ": has no terraseg model card (classes, bands, normalisation); adapt needs one");
  const int classes = static_cast<int>(card.classes.size());
  if (classes < 2)
    throw Error(request.model + ": its card names " + std::to_string(classes) + " classes; adapt needs at least 2");

  // Tiles, labels and everything written are known and checked before anything runs.
  const std::vector<std::string> masks =
      request.labels.empty() ? request.masks : std::vector<std::string>{(work / "labels").string()};
  std::vector<std::string> tiles;
  OutputPlan plan;
  plan.read(request.model, "the model to adapt");
  if (!request.labels.empty()) plan.read(request.labels, "the vector labels");
  for (const std::string& folder : request.images) {
    if (!fs::is_directory(folder)) throw Error("--images " + folder + ": is not a folder of tiles");
    for (const auto& entry : fs::directory_iterator(folder)) {
      if (!entry.is_regular_file() || !is_tile(entry.path())) continue;  // sidecars (.aux.xml, .qml ...) are not tiles
      plan.read(entry.path(), "a tile");
      tiles.push_back(entry.path().string());
    }
  }
  for (const std::string& folder : request.masks) {
    if (!fs::is_directory(folder)) throw Error("--masks " + folder + ": is not a folder of masks");
    for (const auto& entry : fs::directory_iterator(folder)) {
      if (entry.is_regular_file()) plan.read(entry.path(), "a mask");
    }
  }
  std::sort(tiles.begin(), tiles.end());
  if (tiles.empty()) throw Error("--images " + joined(request.images) + ": holds no image tiles (.tif, .png, .jpg)");
  plan.output(output, "-o");
  plan.output_folder(work, "-o (its checkpoints, removed when done)");
  plan.check();
  if (!request.resume) fs::remove_all(work);
  if (!request.labels.empty()) burn_labels(request, tiles, work / "labels", request.quiet);

  const auto pairs = geo::pair_by_stem(request.images, masks, geo::DatasetSplit{});
  TrainConfig config;
  config.source = output;
  config.seed = static_cast<uint64_t>(request.seed);
  config.model.init.path = request.model;
  config.data.train_images = request.images;
  config.data.train_masks = masks;
  config.data.holdout_rows = request.holdout;
  config.data.scale = tile_scale(request, card, pairs.front().first, request.quiet);
  if (!(config.data.scale > 0.05 && config.data.scale < 20.0)) {
    throw Error("--pixel-size: the tiles' pixel size is " + std::to_string(config.data.scale) +
                " times the model's; adapt works "
                "from 0.05 to 20 times (resample the tiles nearer the model's " +
                std::to_string(*card.pixel_size_m) + " m)");
  }
  config.data.mask = mask_encoding(pairs, classes);
  const InputGeometry geometry = input_geometry(base.graph);
  const int multiple = std::max(1, geometry.multiple);
  // Crops no larger than the model's tile, nor than the smallest tile at the model's pixel size
  // (padding would be trained on).
  int side = card.tile ? std::min((*card.tile)[0], (*card.tile)[1]) : kCrop;
  for (const auto& pair : pairs) {
    const geo::RasterInfo info = geo::read_raster_info(pair.first);
    side = std::min(side, static_cast<int>(std::min(info.width, info.height) * config.data.scale));
  }
  const int crop = std::max(multiple, std::min(kCrop, side) / multiple * multiple);
  config.data.crop_h = config.data.crop_w = crop;
  config.data.val_multiple = multiple;
  config.data.crops_per_image = std::clamp(kCropsPerEpoch / static_cast<int>(pairs.size()), 1, 1000);
  geo::AugmentConfig& augment = config.data.augment;
  augment.hflip = augment.vflip = augment.rot90 = true;
  augment.rotate_deg = 20.0;
  augment.scale_min = 0.8;
  augment.scale_max = 1.25;
  augment.brightness = 0.2;
  augment.contrast = 0.2;
  augment.saturation = 0.2;
  augment.gamma = 0.2;
  augment.blur = 0.1;
  augment.noise = 3.0;

  config.optim.optimizer.type = OptimizerType::adam;
  config.optim.optimizer.weight_decay = 1e-4;
  config.optim.lr = request.lr;
  config.optim.schedule.kind = ScheduleKind::poly;
  config.optim.schedule.power = 0.9;
  config.optim.schedule.warmup_steps = 20;
  config.optim.clip_norm = 5.0;
  config.optim.epochs = 100000;  // the time budget ends it
  config.optim.batch = 4;
  config.optim.loss = classes == 2 ? LossKind::cross_entropy_dice : LossKind::cross_entropy;
  config.optim.time_budget_s = request.time_budget_s;

  // The model grows in the work folder and takes its name only when complete: an interrupted or
  // failed adaptation leaves no -o (and --resume continues it).
  const fs::path growing = work / "model.onnx";
  config.output.model = growing;
  config.output.checkpoint_dir = work;
  config.output.checkpoint_every = 50;
  config.output.log_every = 20;
  config.output.metric = classes == 2 ? "val_f1" : "val_miou";

  const int minutes = static_cast<int>(std::lround(request.time_budget_s / 60.0));
  config.card.name = card.name + ", adapted to " + joined(request.images);
  config.card.training_data = card.training_data + "; adapted on " + std::to_string(pairs.size()) + " tiles of " +
                              joined(request.images) +
                              (request.labels.empty() ? "" : " labelled from " + request.labels);
  config.card.initial_weights = fs::path(request.model).filename().string() + " (" + card.name + ")";
  config.card.initial_weights_licence = card.licence;
  config.card.notes = "Adapted by terraseg adapt from " + fs::path(request.model).filename().string() + " on " +
                      std::to_string(pairs.size()) + " tiles in " + std::to_string(minutes) +
                      " min. Its validation figures are on the bottom " +
                      std::to_string(static_cast<int>(std::lround(request.holdout * 100))) +
                      " % of those tiles (held out of training): the region's own, though not an independent test.";

  if (!request.quiet) {
    std::cerr << "adapt: " << pairs.size() << " tiles at " << config.data.scale << "x the model's pixel size, masks as "
              << (config.data.mask.kind == geo::MaskKind::threshold ? "0/255 (>= 128 positive)"
                                                                    : "class ids (255 unlabelled)")
              << "; " << crop << " px crops; budget " << request.time_budget_s << " s\n";
  }
  TrainOptions options;
  options.resume = request.resume;
  options.quiet = request.quiet;
  options.threads = request.threads;
  const TrainResult trained = train_job(config, options);
  if (!fs::exists(growing)) {
    throw Error("-o " + request.output + ": no epoch finished within the time budget; give a longer --time-budget");
  }
  fs::rename(growing, output);
  fs::remove_all(work);
  AdaptResult result;
  result.tiles = static_cast<int>(pairs.size());
  result.metric = config.output.metric;
  result.score = trained.best;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace terraseg
