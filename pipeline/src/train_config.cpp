#include "train_config.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "yaml_reader.hpp"

namespace terraseg {
namespace {

using yaml::MapReader;
namespace fs = std::filesystem;

std::vector<std::string> dir_list(MapReader& reader, const std::string& key) {
  std::vector<std::string> dirs;
  for (const auto& path : reader.paths(key)) dirs.push_back(path.string());
  return dirs;
}

geo::Normalisation parse_normalisation(MapReader reader) {
  geo::Normalisation norm;
  reader.optional("bands", norm.bands);
  reader.optional("scale", norm.scale);
  reader.optional("mean", norm.mean);
  reader.optional("std", norm.std);
  reader.finish();
  return norm;
}

void parse_model(MapReader reader, TrainModelConfig& model) {
  reader.path("init", model.init.path);
  reader.optional("builder", model.init.builder);
  reader.optional("base_width", model.init.base_width);
  reader.optional("depth", model.init.depth);
  reader.optional("seed", model.init.seed);
  reader.path("checkpoint", model.checkpoint);
  reader.optional("weights", model.weights);
  if (model.weights != "pretrained" && model.weights != "random") {
    reader.fail("weights", "must be pretrained or random", reader.raw("weights"));
  }
  if (auto head = reader.child("head")) {
    head->optional("mode", model.head.mode);
    head->optional("map", model.head.map);
    head->finish();
    if (model.head.mode != "keep" && model.head.mode != "remap" && model.head.mode != "replace") {
      head->fail("mode", "must be keep, remap or replace", head->raw("mode"));
    }
  }
  for (MapReader& entry : reader.list("classes")) {
    ClassInfo info;
    info.id = static_cast<int>(model.classes.size());
    std::string colour = "#000000";
    entry.required("name", info.name);
    entry.optional("color", colour);
    entry.finish();
    info.rgb = geo::parse_hex_colour(colour);
    model.classes.push_back(info);
  }
  reader.optional("freeze", model.freeze);
  reader.optional("train_last", model.train_last);
  for (MapReader& group : reader.list("lr_groups")) {
    std::pair<std::string, double> entry;
    group.required("match", entry.first);
    group.required("factor", entry.second);
    group.finish();
    model.lr_groups.push_back(entry);
  }
  if (auto norm = reader.child("normalisation")) {
    model.normalisation = parse_normalisation(*norm);
    model.has_normalisation = true;
  }
  reader.finish();
  if (!model.classes.empty()) model.init.classes = static_cast<int>(model.classes.size());
  if (model.init.path.empty() == model.init.builder.empty()) {
    reader.fail("init", "or 'builder' must be given, exactly one of them", YAML::Node());
  }
  if (!model.init.path.empty() && !std::filesystem::is_regular_file(model.init.path)) {
    reader.fail("init", "names '" + model.init.path.string() + "', which does not exist", YAML::Node());
  }
  if (model.head.mode == "remap" && model.head.map.size() != model.classes.size()) {
    reader.fail("head", "remap needs one 'map' entry per class in 'classes'", YAML::Node());
  }
}

void parse_mask(MapReader reader, geo::MaskEncoding& mask) {
  std::string type = "ids";
  reader.optional("type", type);
  reader.optional("ignore_ids", mask.ignore_ids);
  reader.optional("threshold", mask.threshold);
  if (auto palette = reader.child("palette")) {
    for (const std::string& colour : palette->keys()) {
      int id = 0;
      palette->required(colour, id);
      mask.palette.emplace_back(geo::parse_hex_colour(colour), static_cast<uint8_t>(id < 0 ? kIgnoreLabel : id));
    }
  }
  reader.finish();
  if (type == "ids")
    mask.kind = geo::MaskKind::ids;
  else if (type == "palette")
    mask.kind = geo::MaskKind::palette;
  else if (type == "threshold")
    mask.kind = geo::MaskKind::threshold;
  else
    reader.fail("type", "must be ids, palette or threshold", reader.raw("type"));
  if (mask.kind == geo::MaskKind::palette && mask.palette.empty())
    reader.fail("palette", "must list colours", YAML::Node());
}

void parse_augment(MapReader reader, geo::AugmentConfig& aug) {
  reader.optional("hflip", aug.hflip);
  reader.optional("vflip", aug.vflip);
  reader.optional("rot90", aug.rot90);
  std::vector<double> scale;
  reader.optional("scale", scale);
  if (scale.size() == 2) {
    aug.scale_min = scale[0];
    aug.scale_max = scale[1];
  } else if (!scale.empty()) {
    reader.fail("scale", "must be [min, max]", reader.raw("scale"));
  }
  reader.optional("brightness", aug.brightness);
  reader.optional("contrast", aug.contrast);
  reader.optional("saturation", aug.saturation);
  reader.optional("grey", aug.grey_probability);
  reader.optional("rotate", aug.rotate_deg);
  reader.optional("channel_gain", aug.channel_gain);
  reader.optional("gamma", aug.gamma);
  reader.optional("equalize", aug.equalize);
  reader.optional("blur", aug.blur);
  reader.optional("sharpen", aug.sharpen);
  reader.optional("noise", aug.noise);
  reader.optional("jpeg", aug.jpeg);
  reader.finish();
  const auto in_range = [&](const char* key, double value, double lo, double hi, const char* what) {
    if (value < lo || value > hi) reader.fail(key, what, reader.raw(key));
  };
  in_range("grey", aug.grey_probability, 0.0, 1.0, "is a probability: 0..1");
  in_range("equalize", aug.equalize, 0.0, 1.0, "is a probability: 0..1");
  in_range("blur", aug.blur, 0.0, 1.0, "is a probability: 0..1");
  in_range("sharpen", aug.sharpen, 0.0, 1.0, "is a probability: 0..1");
  in_range("jpeg", aug.jpeg, 0.0, 1.0, "is a probability: 0..1");
  in_range("rotate", aug.rotate_deg, 0.0, 180.0, "is the largest rotation in degrees: 0..180");
  in_range("channel_gain", aug.channel_gain, 0.0, 0.9, "is a +- fraction: 0..0.9");
  in_range("gamma", aug.gamma, 0.0, 4.0, "must be 0..4 (gamma is drawn in [1/(1+g), 1+g])");
  in_range("noise", aug.noise, 0.0, 64.0, "is the largest noise sigma in 0..255 units: 0..64");
}

void parse_source(MapReader reader, TrainSourceConfig& source) {
  source.images = dir_list(reader, "images");
  source.masks = dir_list(reader, "masks");
  if (auto mask = reader.child("mask")) parse_mask(*mask, source.mask);
  reader.optional("crops_per_image", source.crops_per_image);
  reader.optional("split_every", source.split_every);
  reader.optional("scale", source.scale);
  reader.optional("windows", source.windows);
  reader.finish();
  if (source.split_every == 1 || source.split_every < 0) {
    reader.fail("split_every", "must be 0 (train on every pair) or at least 2", reader.raw("split_every"));
  }
  if (source.images.empty() || source.images.size() != source.masks.size()) {
    reader.fail("images", "and 'masks' must list the same number of directories (at least one)", YAML::Node());
  }
  if (source.crops_per_image < 1 || source.crops_per_image > 1000) {
    reader.fail("crops_per_image", "must be between 1 and 1000", reader.raw("crops_per_image"));
  }
  if (!(source.scale > 0.05 && source.scale < 20.0)) {
    reader.fail("scale", "must be between 0.05 and 20 (this source's pixel size / the model's)", reader.raw("scale"));
  }
}

/// Validation scores held-out data only: a validation directory also listed for training is refused.
void check_validation_is_held_out(MapReader& reader, const TrainDataConfig& data) {
  auto same = [](const std::string& a, const std::string& b) {
    std::error_code ec;
    const fs::path ca = fs::weakly_canonical(a, ec), cb = fs::weakly_canonical(b, ec);
    return ca.lexically_normal() == cb.lexically_normal();
  };
  for (const std::string& val : data.val_images) {
    for (const std::string& train : data.train_images) {
      if (same(val, train)) {
        reader.fail(
            "val_images",
            "lists " + val +
                ", which train_images lists too: figures on data the model trained on are "
                "not a validation. For a final model on train + val, set output.select: last, leave the validation "
                "data out and give card.validation_from (the run that picked the schedule on val)",
            reader.raw("val_images"));
      }
    }
  }
}

void parse_data(MapReader reader, TrainDataConfig& data, bool validation_required) {
  data.train_images = dir_list(reader, "train_images");
  data.train_masks = dir_list(reader, "train_masks");
  data.val_images = dir_list(reader, "val_images");
  data.val_masks = dir_list(reader, "val_masks");
  reader.optional("split_every", data.split_every);
  reader.optional("holdout_rows", data.holdout_rows);
  if (data.holdout_rows != 0.0 && !(data.holdout_rows >= 0.05 && data.holdout_rows <= 0.5)) {
    reader.fail("holdout_rows", "must be 0 (off) or a fraction of each image's height from 0.05 to 0.5",
                reader.raw("holdout_rows"));
  }
  if (auto mask = reader.child("mask")) parse_mask(*mask, data.mask);
  std::vector<int> crop;
  reader.optional("crop", crop);
  if (crop.size() == 2) {
    data.crop_h = crop[0];
    data.crop_w = crop[1];
  } else if (!crop.empty()) {
    reader.fail("crop", "must be [height, width]", reader.raw("crop"));
  }
  reader.optional("val_multiple", data.val_multiple);
  reader.optional("scale", data.scale);
  if (!(data.scale > 0.05 && data.scale < 20.0)) {
    reader.fail("scale", "must be between 0.05 and 20 (the primary data's pixel size / the model's)",
                reader.raw("scale"));
  }
  reader.optional("crops_per_image", data.crops_per_image);
  if (data.crops_per_image < 1 || data.crops_per_image > 1000) {
    reader.fail("crops_per_image", "must be between 1 and 1000", reader.raw("crops_per_image"));
  }
  if (auto aug = reader.child("augment")) parse_augment(*aug, data.augment);
  reader.optional("class_weights", data.class_weights);
  reader.optional("windows", data.windows);
  reader.optional("val_window", data.val_window);
  for (MapReader& entry : reader.list("extra_sources")) {
    data.extra_sources.emplace_back();
    parse_source(entry, data.extra_sources.back());
  }
  reader.finish();
  if (data.train_images.empty() || data.train_images.size() != data.train_masks.size()) {
    reader.fail("train_images", "and 'train_masks' must list the same number of directories (at least one)",
                YAML::Node());
  }
  if (data.holdout_rows > 0.0 && (!data.val_images.empty() || data.split_every > 1 || data.windows)) {
    reader.fail("holdout_rows",
                "holds a strip of every image out for validation: it cannot be used with val_images, "
                "split_every or windows",
                reader.raw("holdout_rows"));
  }
  if (validation_required && !has_validation_data(data)) {
    reader.fail("val_images",
                "or 'split_every' (>= 2) or 'holdout_rows' is needed for validation (or output.select: last, which "
                "exports the end of the schedule and needs none)",
                YAML::Node());
  }
  check_validation_is_held_out(reader, data);
  if (data.val_window < std::max(1, data.val_multiple)) {
    reader.fail("val_window", "must be at least val_multiple (" + std::to_string(data.val_multiple) + ") pixels",
                reader.raw("val_window"));
  }
  bool any_windows = data.windows;
  for (const TrainSourceConfig& source : data.extra_sources) any_windows = any_windows || source.windows;
  if (any_windows && (data.crop_h <= 0 || data.crop_w <= 0)) {
    reader.fail("crop", "is required when rasters are read as windows ('windows: true')", YAML::Node());
  }
  if (data.augment.rotate_deg > 0.0 && (data.crop_h <= 0 || data.crop_w <= 0)) {
    reader.fail("crop", "is required by augment.rotate (rotated samples are cut to the crop)", YAML::Node());
  }
  if (data.class_weights != "none" && data.class_weights != "median_frequency") {
    reader.fail("class_weights", "must be none or median_frequency", reader.raw("class_weights"));
  }
}

void parse_optim(MapReader reader, TrainOptimConfig& optim) {
  std::string type = "sgd", loss = "ce";
  reader.optional("type", type);
  optim.optimizer.type = parse_optimizer_type(type);
  reader.optional("lr", optim.lr);
  reader.optional("momentum", optim.optimizer.momentum);
  reader.optional("nesterov", optim.optimizer.nesterov);
  reader.optional("beta1", optim.optimizer.beta1);
  reader.optional("beta2", optim.optimizer.beta2);
  reader.optional("weight_decay", optim.optimizer.weight_decay);
  if (auto schedule = reader.child("schedule")) {
    std::string kind = "poly";
    schedule->optional("type", kind);
    optim.schedule.kind = parse_schedule_kind(kind);
    schedule->optional("power", optim.schedule.power);
    schedule->optional("min_lr", optim.schedule.min_lr);
    schedule->optional("warmup_steps", optim.schedule.warmup_steps);
    schedule->finish();
  }
  reader.optional("clip_norm", optim.clip_norm);
  reader.optional("epochs", optim.epochs);
  reader.optional("max_steps", optim.max_steps);
  std::string budget;
  reader.optional("time_budget", budget);
  if (!budget.empty()) {
    try {
      optim.time_budget_s = parse_duration(budget, "time_budget");
    } catch (const Error&) {
      reader.fail("time_budget", "must be a duration such as 20m, 90s or 1.5h (or seconds), above 0",
                  reader.raw("time_budget"));
    }
  }
  reader.optional("batch", optim.batch);
  reader.optional("loss", loss);
  optim.loss = parse_loss_kind(loss);
  reader.optional("dice_weight", optim.dice_weight);
  reader.finish();
  if (optim.batch < 1) reader.fail("batch", "must be at least 1", reader.raw("batch"));
}

void parse_output(MapReader reader, TrainOutputConfig& output) {
  reader.path("model", output.model, true);
  reader.path("checkpoint_dir", output.checkpoint_dir, true);
  reader.optional("checkpoint_every", output.checkpoint_every);
  reader.optional("log_every", output.log_every);
  reader.optional("patience", output.patience);
  reader.optional("metric", output.metric);
  reader.optional("select", output.select);
  reader.finish();
  if (output.select != "best" && output.select != "last") {
    reader.fail("select", "must be best (the epoch with the best validation metric) or last (the end of the schedule)",
                reader.raw("select"));
  }
  if (output.select == "last" && output.patience > 0) {
    reader.fail("patience",
                "stops on validation, so it cannot be used with select: last (which runs the whole schedule)",
                reader.raw("patience"));
  }
  if (output.metric != "val_miou" && output.metric != "val_f1" && output.metric != "val_global_accuracy") {
    reader.fail("metric", "must be val_miou, val_f1 or val_global_accuracy", reader.raw("metric"));
  }
}

void parse_card(MapReader reader, TrainCardConfig& card, const TrainOutputConfig& output, bool has_validation) {
  reader.optional("name", card.name);
  reader.optional("architecture", card.architecture);
  reader.optional("training_data", card.training_data);
  reader.optional("licence", card.licence);
  reader.optional("initial_weights", card.initial_weights);
  reader.optional("initial_weights_licence", card.initial_weights_licence);
  reader.optional("notes", card.notes);
  reader.optional("pixel_size_m", card.pixel_size_m);
  reader.optional("tile", card.tile);
  reader.optional("tile_overlap", card.tile_overlap);
  reader.optional("inference_scales", card.inference_scales);
  reader.optional("inference_flip", card.inference_flip);
  if (reader.has("validation_from")) {
    if (output.select != "last") {
      reader.fail("validation_from", "is for output.select: last runs (a best-epoch run records its own validation)",
                  reader.raw("validation_from"));
    }
    if (has_validation) {
      reader.fail("validation_from", "and validation data (data.val_images or split_every) are both given: keep one",
                  reader.raw("validation_from"));
    }
  }
  reader.path("validation_from", card.validation_from);
  if (!card.validation_from.empty() && !fs::is_regular_file(card.validation_from)) {
    reader.fail("validation_from",
                "names " + card.validation_from.string() +
                    ", which does not exist: train the run that "
                    "picked the schedule first, or point at its model",
                reader.raw("validation_from"));
  }
  if (reader.has("inference_scales")) {
    try {
      check_inference_scales(card.inference_scales);
    } catch (const Error& e) {
      reader.fail("inference_scales", e.what(), reader.raw("inference_scales"));
    }
  }
  if (reader.has("tile") && (card.tile < 32 || card.tile > 16384)) {
    reader.fail("tile", "must be 32..16384 pixels", reader.raw("tile"));
  }
  if (reader.has("tile_overlap") && (card.tile_overlap < 0 || (card.tile > 0 && 2 * card.tile_overlap >= card.tile))) {
    reader.fail("tile_overlap", "must be at least 0 and less than half of 'tile'", reader.raw("tile_overlap"));
  }
  reader.finish();
  if (card.pixel_size_m < 0.0) reader.fail("pixel_size_m", "must be positive (metres)", reader.raw("pixel_size_m"));
}

}  // namespace

TrainConfig load_train_config(const std::filesystem::path& file) {
  TrainConfig config;
  config.source = file;
  MapReader root(yaml::load_file(file), "", file);
  int seed = 1;
  root.optional("seed", seed);
  config.seed = static_cast<uint64_t>(seed);
  root.optional("threads", config.threads);
  auto section = [&](const std::string& key) {
    auto child = root.child(key);
    if (!child) root.fail(key, "is required but missing", YAML::Node());
    return *child;
  };
  parse_model(section("model"), config.model);
  parse_output(section("output"), config.output);
  parse_data(section("data"), config.data, config.output.select == "best");
  parse_optim(section("optim"), config.optim);
  const bool has_validation = has_validation_data(config.data);
  if (auto card = root.child("card")) parse_card(*card, config.card, config.output, has_validation);
  root.finish();
  config.data.mask.classes =
      config.model.classes.empty() ? config.model.init.classes : static_cast<int>(config.model.classes.size());
  for (TrainSourceConfig& source : config.data.extra_sources) source.mask.classes = config.data.mask.classes;
  return config;
}

bool has_validation_data(const TrainDataConfig& data) {
  return !data.val_images.empty() || data.split_every > 1 || data.holdout_rows > 0.0;
}

double parse_duration(const std::string& text, const std::string& source) {
  const std::string rule = "is a duration such as 20m, 90s or 1.5h (or seconds), above 0";
  char* end = nullptr;
  const double number = std::strtod(text.c_str(), &end);
  if (end == text.c_str()) throw Error(source + " '" + text + "' " + rule);
  const std::string unit(end);
  double factor = 0.0;
  if (unit.empty() || unit == "s")
    factor = 1.0;
  else if (unit == "m" || unit == "min")
    factor = 60.0;
  else if (unit == "h")
    factor = 3600.0;
  const double seconds = number * factor;
  if (factor == 0.0 || !std::isfinite(seconds) || !(seconds > 0.0)) throw Error(source + " '" + text + "' " + rule);
  return seconds;
}

}  // namespace terraseg
