// The training job (train_job.hpp): one TrainJob per run holds the data lists, the class weights and
// the validation samples; the loop, validation, early stop, checkpoints and export are its methods.
#include "train_job.hpp"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "models.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/metrics.hpp"
#include "terraseg/core/onnx.hpp"
#include "terraseg/core/trainer.hpp"
#include "terraseg/core/transfer.hpp"
#include "terraseg/geo/dataset.hpp"
#include "terraseg/geo/threads.hpp"

namespace terraseg {
namespace {

namespace fs = std::filesystem;

/// Progress that a checkpoint carries besides weights and optimiser state.
struct RunState {
  int64_t epoch = 0;
  int64_t batch = 0;           ///< next batch within the epoch
  double best = -1.0;
  int64_t bad_epochs = 0;
  nlohmann::json best_metrics = nlohmann::json::object();
};

Graph prepare_graph(const TrainConfig& config) {
  std::string warning;
  Graph graph = load_model(config.model.init, &warning).graph;
  const TrainModelConfig& model = config.model;
  if (model.weights == "random") reinitialise_weights(graph, config.seed);
  if (model.head.mode == "remap") remap_head(graph, model.head.map, config.seed);
  if (model.head.mode == "replace") replace_head(graph, static_cast<int>(model.classes.size()), config.seed);
  if (!model.classes.empty()) graph.card.classes = model.classes;
  return graph;
}

void apply_transfer(const TrainConfig& config, TrainGraph& graph, std::map<std::string, double>& lr_scale, bool quiet) {
  int frozen = 0;
  if (config.model.train_last > 0) frozen = freeze_all_but_last(graph, config.model.train_last);
  if (!config.model.freeze.empty()) frozen = freeze_by_glob(graph, config.model.freeze);
  lr_scale = lr_multipliers(graph, config.model.lr_groups);
  if (!quiet) {
    std::cerr << "parameters: " << graph.parameters().size() << " tensors, " << frozen << " frozen\n";
  }
}

class TrainJob {
 public:
  TrainJob(const TrainConfig& config, const TrainOptions& options) : config_(config), options_(options) {}

  TrainResult run() {
    TrainResult result;
    result.threads = geo::set_thread_count(options_.threads > 0 ? options_.threads : config_.threads);
    TrainGraph graph(prepare_graph(config_));
    Trainer trainer(graph, trainer_config(graph));
    RunState state = options_.resume ? restore(trainer) : RunState{};
    if (!config_.model.checkpoint.empty() && !options_.resume) {
      trainer.restore_weights(load_checkpoint(config_.model.checkpoint.string()));
    }
    load_inherited_validation();
    load_validation();
    train(trainer, state);
    result.best = state.best;
    result.steps = trainer.step_count();
    return result;
  }

 private:
  TrainerConfig trainer_config(TrainGraph& graph) {
    TrainerConfig tc;
    tc.optimizer = config_.optim.optimizer;
    tc.lr = config_.optim.lr;
    tc.schedule = config_.optim.schedule;
    tc.clip_norm = config_.optim.clip_norm;
    tc.loss.kind = config_.optim.loss;
    tc.loss.dice_weight = config_.optim.dice_weight;
    apply_transfer(config_, graph, tc.lr_scale, options_.quiet || apply_once_);
    apply_once_ = true;
    list_training_pairs();
    tc.schedule.total_steps = total_steps();
    if (config_.data.class_weights == "median_frequency" && class_weights_.empty()) {
      std::vector<int64_t> pixels, image_pixels;
      geo::class_statistics(train_pairs_, sources(), classes(graph), pixels, image_pixels);
      class_weights_ = median_frequency_weights(pixels, image_pixels);
    }
    tc.loss.class_weights = class_weights_;
    return tc;
  }

  int classes(TrainGraph& graph) const {
    const auto& card_classes = graph.graph().card.classes;
    return card_classes.empty() ? config_.model.init.classes : static_cast<int>(card_classes.size());
  }

  /// The primary data's training pairs (source 0), then each of data.extra_sources' (source 1, 2, ...).
  void list_training_pairs() {
    train_pairs_.clear();
    crops_.clear();
    auto add = [&](const std::vector<std::string>& images, const std::vector<std::string>& masks, int split_every, int crops) {
      const int source = static_cast<int>(crops_.size());
      for (auto& [image, mask] : geo::pair_by_stem(images, masks, geo::DatasetSplit{split_every, 0, false})) {
        train_pairs_.push_back({std::move(image), std::move(mask), source});
      }
      crops_.push_back(crops);
    };
    const TrainDataConfig& data = config_.data;
    add(data.train_images, data.train_masks, data.split_every, data.crops_per_image);
    for (const TrainSourceConfig& extra : data.extra_sources) add(extra.images, extra.masks, extra.split_every, extra.crops_per_image);
  }

  std::vector<geo::DataSource> sources() const {
    std::vector<geo::DataSource> list{geo::DataSource{config_.data.mask, config_.data.scale, config_.data.windows}};
    for (const TrainSourceConfig& extra : config_.data.extra_sources) {
      list.push_back(geo::DataSource{extra.mask, extra.scale, extra.windows});
    }
    return list;
  }

  /// Each training image appears its source's crops_per_image times per epoch (a different random crop each time).
  std::vector<geo::TrainingPair> epoch_pairs() const {
    std::vector<geo::TrainingPair> pairs;
    for (size_t source = 0; source < crops_.size(); ++source) {
      for (int copy = 0; copy < crops_[source]; ++copy) {
        for (const geo::TrainingPair& pair : train_pairs_) {
          if (pair.source == static_cast<int>(source)) pairs.push_back(pair);
        }
      }
    }
    return pairs;
  }

  int64_t batches_per_epoch() const {
    int64_t pairs = 0;
    for (const geo::TrainingPair& pair : train_pairs_) pairs += crops_[static_cast<size_t>(pair.source)];
    return pairs / config_.optim.batch;
  }
  int64_t total_steps() const {
    const int64_t epochs_steps = batches_per_epoch() * config_.optim.epochs;
    return config_.optim.max_steps > 0 ? std::min(config_.optim.max_steps, epochs_steps) : epochs_steps;
  }

  std::string checkpoint_path() const { return (config_.output.checkpoint_dir / "last.ckpt").string(); }

  RunState restore(Trainer& trainer) {
    RunState state;
    if (!fs::exists(checkpoint_path())) {
      if (!options_.quiet) std::cerr << "no checkpoint at " << checkpoint_path() << "; starting afresh\n";
      return state;
    }
    const auto extra = nlohmann::json::parse(trainer.restore(load_checkpoint(checkpoint_path())));
    state.epoch = extra.value("epoch", int64_t{0});
    state.batch = extra.value("batch", int64_t{0});
    state.best = extra.value("best", -1.0);
    state.bad_epochs = extra.value("bad_epochs", int64_t{0});
    state.best_metrics = extra.value("best_metrics", nlohmann::json::object());
    if (!options_.quiet) std::cerr << "resumed at step " << trainer.step_count() << " (epoch " << state.epoch << ")\n";
    return state;
  }

  void save(Trainer& trainer, const RunState& state) const {
    nlohmann::json extra{{"epoch", state.epoch}, {"batch", state.batch}, {"best", state.best},
                         {"bad_epochs", state.bad_epochs}, {"best_metrics", state.best_metrics},
                         {"seed", config_.seed}, {"config", fs::absolute(config_.source).string()}};
    save_checkpoint(trainer.state(extra.dump()), checkpoint_path());
  }

  /// select: last without validation data: the schedule run's figures (card.validation_from), checked
  /// before the first step so that a bad file costs no training time.
  void load_inherited_validation() {
    const fs::path& from = config_.card.validation_from;
    if (from.empty()) return;
    std::string warning;
    const ModelCard card = load_model_file(from.string(), &warning).graph.card;
    if (!card.present || card.metrics.empty()) {
      throw Error(config_.source.string() + ": card.validation_from: " + from.string() +
                  " has no validation figures in its model card; point at a model exported by terraseg train with validation");
    }
    inherited_ = nlohmann::json::object();
    for (const auto& [key, value] : card.metrics) inherited_[key] = value;
    if (card.threshold) inherited_["threshold"] = *card.threshold;
  }

  bool has_validation() const { return !config_.data.val_images.empty() || config_.data.split_every > 1; }

  void load_validation() {
    if (!has_validation()) return;
    const bool split = config_.data.val_images.empty();
    const auto pairs = split ? geo::pair_by_stem(config_.data.train_images, config_.data.train_masks,
                                                 geo::DatasetSplit{config_.data.split_every, 0, true})
                             : geo::pair_by_stem(config_.data.val_images, config_.data.val_masks, geo::DatasetSplit{});
    const int window = config_.data.val_window;
    for (const auto& pair : pairs) {  // at the model's pixel size, as predict would see them
      val_.push_back(geo::centre_crop(geo::rescale(config_.data.windows ? geo::load_centre_window(pair, config_.data.mask, window, window)
                                                                        : geo::load_sample(pair, config_.data.mask),
                                                   config_.data.scale),
                                      config_.data.val_multiple));
    }
    if (!options_.quiet) {
      int64_t pixels = 0;
      for (const geo::Sample& sample : val_) pixels += int64_t{sample.height} * sample.width;
      std::cerr << "validation: " << val_.size() << " images, " << pixels << " pixels"
                << (config_.data.scale != 1.0 ? " (resized by data.scale to the model's pixel size)" : "") << '\n';
    }
  }

  geo::Normalisation normalisation(const TrainGraph& graph) const {
    if (config_.model.has_normalisation) return config_.model.normalisation;
    if (!graph.graph().card.present) {
      throw Error(config_.source.string() + ": the initial model has no model card; give model.normalisation (bands, scale, mean, std)");
    }
    return geo::Normalisation::from_card(graph.graph().card);
  }

  nlohmann::json validate(Trainer& trainer) {
    const int n_classes = classes(trainer.graph());
    const bool binary = n_classes == 2 || trainer.graph().graph().card.classes.size() == 2;
    ConfusionMatrix matrix(std::max(2, n_classes));
    ThresholdSweep sweep;
    std::vector<uint8_t> ids;
    std::vector<float> positive;
    std::vector<float> all_positive;   // binary: every validation pixel, to score at the chosen threshold
    std::vector<uint8_t> all_labels;
    const geo::Normalisation norm = normalisation(trainer.graph());
    for (const geo::Sample& sample : val_) {
      Tensor images({1, static_cast<int64_t>(norm.bands.size()), sample.height, sample.width});
      Labels labels{1, sample.height, sample.width, std::vector<uint8_t>(sample.labels.size())};
      geo::normalise_into(sample, norm, images, labels, 0);
      trainer.predict(images, ids, binary ? &positive : nullptr);
      if (!binary) {
        matrix.add(ids.data(), labels.ids.data(), static_cast<int64_t>(ids.size()));
        continue;
      }
      sweep.add(positive.data(), labels.ids.data(), static_cast<int64_t>(ids.size()));
      all_positive.insert(all_positive.end(), positive.begin(), positive.end());
      all_labels.insert(all_labels.end(), labels.ids.begin(), labels.ids.end());
    }
    const BinaryScore best = binary ? sweep.best() : BinaryScore{};
    if (binary) {
      // predict applies the card's threshold, so the card's figures are those at that threshold.
      ids.resize(all_positive.size());
      for (size_t i = 0; i < ids.size(); ++i) ids[i] = all_positive[i] > best.threshold ? 1 : 0;
      matrix.add(ids.data(), all_labels.data(), static_cast<int64_t>(ids.size()));
    }
    nlohmann::json m{{"val_miou", matrix.mean_iou()}, {"val_global_accuracy", matrix.global_accuracy()},
                     {"val_class_accuracy", matrix.class_average_accuracy()}};
    if (binary) {
      m["val_f1"] = best.f1;
      m["val_precision"] = best.precision;
      m["val_recall"] = best.recall;
      m["threshold"] = best.threshold;
    }
    return m;
  }

  void export_best(Trainer& trainer, const nlohmann::json& metrics) const {
    Graph graph = trainer.graph().graph();
    ModelCard& card = graph.card;
    card.present = true;
    const geo::Normalisation norm = normalisation(trainer.graph());
    card.bands = norm.bands;
    card.scale = norm.scale;
    card.mean = norm.mean;
    card.std = norm.std;
    const TrainCardConfig& c = config_.card;
    if (!c.name.empty()) card.name = c.name;
    if (!c.training_data.empty()) card.training_data = c.training_data;
    if (!c.licence.empty()) card.licence = c.licence;
    if (!c.initial_weights.empty()) card.initial_weights = c.initial_weights;
    if (!c.initial_weights_licence.empty()) card.initial_weights_licence = c.initial_weights_licence;
    if (!c.architecture.empty()) card.architecture = c.architecture;
    if (c.pixel_size_m > 0.0) card.pixel_size_m = c.pixel_size_m;
    // The context the network needs comes with its architecture: kept from the initial model's card
    // unless the config states it.
    if (c.tile > 0) card.tile = std::array<int, 2>{c.tile, c.tile};
    if (c.tile_overlap >= 0) card.tile_overlap = c.tile_overlap;
    // How predict runs it was chosen on this model's validation: never inherited from the initial model.
    card.inference_scales = c.inference_scales;
    card.inference_flip = c.inference_flip;
    card.notes = c.notes;  // never inherit notes about the initial file (e.g. "no model card")
    if (!c.validation_from.empty()) {
      card.notes += std::string(card.notes.empty() ? "" : " ") + "Trained to the end of its schedule without held-out data " +
                    "(output.select: last); its validation figures are those of " + c.validation_from.filename().string() +
                    ", the same recipe trained without the validation data.";
    }
    // The dataset's own ignored label ids (e.g. CamVid's 11 Unlabelled); kIgnoreLabel otherwise.
    card.ignore_ids = config_.data.mask.ignore_ids.empty() ? std::vector<int>{kIgnoreLabel} : config_.data.mask.ignore_ids;
    card.metrics.clear();
    for (const auto& [key, value] : metrics.items()) {
      if (key == "threshold") card.threshold = value.get<double>();
      else if (value.is_number() && std::isfinite(value.get<double>())) card.metrics[key] = value.get<double>();
    }
    fs::create_directories(config_.output.model.parent_path());
    save_onnx(graph, config_.output.model.string());
  }

  void end_of_epoch(Trainer& trainer, RunState& state) {
    if (config_.output.select == "last") {
      // The end of the schedule is the model: every epoch's weights are exported over the last ones,
      // so an interrupted run leaves its latest complete epoch and a finished one its final weights.
      nlohmann::json metrics = has_validation() ? validate(trainer) : inherited_;
      if (has_validation()) {
        metrics["epoch"] = state.epoch;
        metrics["step"] = trainer.step_count();
        state.best = metrics.value(config_.output.metric, -1.0);
        state.best_metrics = metrics;
      }
      export_best(trainer, metrics);
      if (!options_.quiet) {
        std::cerr << "epoch " << state.epoch
                  << (has_validation() ? " validation: " + metrics.dump() : std::string(" done (no validation data)"))
                  << " (select: last, exported)\n";
      }
      return;
    }
    nlohmann::json metrics = validate(trainer);
    metrics["epoch"] = state.epoch;
    metrics["step"] = trainer.step_count();
    const double score = metrics.value(config_.output.metric, -1.0);
    const bool improved = std::isfinite(score) && score > state.best;
    if (improved) {
      state.best = score;
      state.bad_epochs = 0;
      state.best_metrics = metrics;
      export_best(trainer, metrics);
    } else {
      ++state.bad_epochs;
    }
    if (!options_.quiet) {
      std::cerr << "epoch " << state.epoch << " validation: " << metrics.dump() << (improved ? " (best, exported)" : "") << '\n';
    }
  }

  void train(Trainer& trainer, RunState& state) {
    geo::LoaderConfig lc;
    lc.batch = config_.optim.batch;
    lc.crop_h = config_.data.crop_h;
    lc.crop_w = config_.data.crop_w;
    lc.augment = config_.data.augment;
    lc.normalisation = normalisation(trainer.graph());
    lc.sources = sources();
    lc.seed = config_.seed;
    geo::BatchLoader loader(epoch_pairs(), lc, state.epoch, state.batch);
    const int64_t total = total_steps();
    auto window_start = std::chrono::steady_clock::now();
    int64_t window_images = 0;
    while (trainer.step_count() < total) {
      geo::Batch batch = loader.next();
      const StepStats stats = trainer.step(batch.images, batch.labels);
      window_images += batch.images.dim(0);
      state.epoch = batch.epoch;
      state.batch = batch.index + 1;
      const bool epoch_done = state.batch >= loader.batches_per_epoch();
      if (epoch_done) {
        end_of_epoch(trainer, state);
        state.epoch += 1;
        state.batch = 0;
      }
      const int64_t step = trainer.step_count();
      if (!options_.quiet && (step % config_.output.log_every == 0 || step == 1)) {
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - window_start).count();
        std::cerr << "step " << step << "/" << total << " epoch " << batch.epoch << " loss " << std::setprecision(4)
                  << stats.loss << " lr " << stats.lr << " grad_norm " << stats.grad_norm << " images/s "
                  << static_cast<double>(window_images) / std::max(seconds, 1e-9) << std::endl;
        window_start = std::chrono::steady_clock::now();
        window_images = 0;
      }
      if (epoch_done || step % config_.output.checkpoint_every == 0 || step == total) save(trainer, state);
      if (epoch_done && config_.output.patience > 0 && state.bad_epochs >= config_.output.patience) {
        if (!options_.quiet) std::cerr << "early stop: no improvement for " << state.bad_epochs << " epochs\n";
        break;
      }
    }
    // optim.max_steps can end the schedule within an epoch: select: last exports those final weights too.
    if (config_.output.select == "last" && state.batch > 0) end_of_epoch(trainer, state);
  }

  const TrainConfig& config_;
  const TrainOptions& options_;
  bool apply_once_ = false;
  std::vector<geo::TrainingPair> train_pairs_;  ///< each once, in source order
  std::vector<int> crops_;                      ///< crops per image per epoch, by source
  std::vector<float> class_weights_;
  std::vector<geo::Sample> val_;
  nlohmann::json inherited_ = nlohmann::json::object();  ///< card.validation_from's figures
};

}  // namespace

TrainResult train_job(const TrainConfig& config, const TrainOptions& options) {
  return TrainJob(config, options).run();
}

}  // namespace terraseg
