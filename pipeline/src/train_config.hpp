#pragma once
/// `terraseg train` configuration: YAML parsed once into plain structs with defaults here. Every
/// relative path is resolved against the config file's directory. See configs/train/*.yaml.
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "terraseg/core/losses.hpp"
#include "terraseg/core/model_card.hpp"
#include "terraseg/core/optim.hpp"
#include "terraseg/geo/dataset.hpp"
#include "terraseg/pipeline/config.hpp"

namespace terraseg {

struct HeadConfig {
  std::string mode = "keep";  ///< keep | remap | replace
  std::vector<int> map;       ///< remap: new class i takes old output channel map[i] (-1 = fresh)
};

struct TrainModelConfig {
  ModelRef init;                       ///< ONNX path or native builder
  std::filesystem::path checkpoint;    ///< optional: initial weights from a training checkpoint
  std::string weights = "pretrained";  ///< pretrained | random (init's architecture, fresh weights: the ablation)
  HeadConfig head;
  std::vector<ClassInfo> classes;                         ///< the new class table (required for remap/replace)
  std::vector<std::string> freeze;                        ///< node-name globs; "!glob" unfreezes
  int train_last = 0;                                     ///< > 0: freeze all but the last N parameterised nodes
  std::vector<std::pair<std::string, double>> lr_groups;  ///< node glob -> learning-rate factor
  bool has_normalisation = false;                         ///< else taken from the model card
  geo::Normalisation normalisation;
};

/// A further training source (`data.extra_sources[]`): training only, validation stays on the primary data.
struct TrainSourceConfig {
  std::vector<std::string> images, masks;
  geo::MaskEncoding mask;
  int crops_per_image = 1;
  int split_every = 0;   ///< >= 2: every Nth pair (sorted) is held out, as the primary split does
  double scale = 1.0;    ///< this source's pixel size / the model's (the primary data's unless data.scale)
  bool windows = false;  ///< large rasters read window by window (GDAL)
};

struct TrainDataConfig {
  std::vector<std::string> train_images, train_masks, val_images, val_masks;
  int split_every = 0;  ///< no val dirs: every Nth train pair validates
  /// No val dirs, no split: the bottom fraction (0.05..0.5) of every training image validates and the
  /// rest trains (few images, each needed for both; `terraseg adapt`). 0: off.
  double holdout_rows = 0.0;
  int crops_per_image = 1;  ///< random crops drawn from each training image per epoch
  geo::MaskEncoding mask;
  int crop_h = 0, crop_w = 0;
  int val_multiple = 8;  ///< validation images are centre-cropped to a multiple of this
  double scale = 1.0;    ///< the primary data's pixel size / the model's: training and validation
                         ///< images are resized by it (sources at a common ground pixel size)
  geo::AugmentConfig augment;
  std::string class_weights = "none";  ///< none | median_frequency
  bool windows = false;                ///< large rasters (e.g. GeoTIFF image + label): random crop-sized windows
  int val_window = 1024;               ///< windows: validation reads the centred window of this size per raster
  std::vector<TrainSourceConfig> extra_sources;
};

struct TrainOptimConfig {
  OptimizerConfig optimizer;
  double lr = 0.01;
  ScheduleConfig schedule;
  double clip_norm = 0.0;
  int epochs = 10;
  int64_t max_steps = 0;  ///< 0: epochs x batches per epoch
  /// Wall-clock seconds for the whole run (0: none). The schedule's length is fitted to it from the
  /// measured speed (steps and validation), so that the learning rate decays to its end in time.
  double time_budget_s = 0.0;
  int batch = 4;
  LossKind loss = LossKind::cross_entropy;
  float dice_weight = 1.0F;
};

struct TrainOutputConfig {
  std::filesystem::path model;  ///< best model (ONNX with card)
  std::filesystem::path checkpoint_dir;
  int checkpoint_every = 100;       ///< steps
  int log_every = 10;               ///< steps
  int patience = 0;                 ///< epochs without improvement before stopping; 0 = never
  std::string metric = "val_miou";  ///< val_miou | val_f1 | val_global_accuracy
  /// Which weights become `model`: "best" (the epoch with the best validation metric) or "last" (the
  /// end of the schedule, e.g. a final model trained on train + val with a schedule picked on val;
  /// validation data is then optional and early stopping is off).
  std::string select = "best";
};

struct TrainCardConfig {
  std::string name, architecture, training_data, licence, initial_weights, initial_weights_licence, notes;
  double pixel_size_m = 0.0;  ///< ground pixel size of the training imagery; 0 = not stated
  int tile = 0;               ///< window predict cuts large rasters into (0 = not stated: the initial model's)
  int tile_overlap = -1;      ///< overlap between those windows (-1 = not stated: the initial model's)
  std::vector<double> inference_scales;  ///< passes predict runs (ModelCard::inference_scales); empty: one
  bool inference_flip = false;
  /// select: last without validation data: the card's validation figures (and a binary model's
  /// threshold) are copied from this model's card, the run that picked the schedule on val.
  std::filesystem::path validation_from;
};

struct TrainConfig {
  std::filesystem::path source;
  uint64_t seed = 1;
  int threads = 0;
  TrainModelConfig model;
  TrainDataConfig data;
  TrainOptimConfig optim;
  TrainOutputConfig output;
  TrainCardConfig card;
};

/// Throws Error naming the file, the key and the line for anything malformed or unknown.
TrainConfig load_train_config(const std::filesystem::path& file);

/// True when the config validates: val dirs, split_every >= 2 or holdout_rows.
bool has_validation_data(const TrainDataConfig& data);

/// "20m", "90s", "1.5h" or a number of seconds; throws Error naming `source` unless it is above 0.
double parse_duration(const std::string& text, const std::string& source);

}  // namespace terraseg
