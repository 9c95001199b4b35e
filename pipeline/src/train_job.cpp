// The training job (train_job.hpp): one TrainJob per run holds the data lists, the class weights and
// the validation samples; the loop, validation, early stop, checkpoints and export are its methods.
#include "train_job.hpp"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "domain_profile.hpp"
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
  int64_t batch = 0;  ///< next batch within the epoch
  double best = -1.0;
  int64_t bad_epochs = 0;
  nlohmann::json best_metrics = nlohmann::json::object();
  int64_t fitted_total = 0;  ///< optim.time_budget: the schedule's length fitted to it (0: not yet)
  double elapsed_s = 0.0;    ///< optim.time_budget: seconds spent by earlier runs of a resumed job
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

/// optim.time_budget: measures the speed of steps and validation and says how many steps fit.
class Budget {
 public:
  Budget(double seconds, double spent_before, int64_t first_step)
      : seconds_(seconds), before_(spent_before), first_step_(first_step), start_(std::chrono::steady_clock::now()) {}
  bool on() const { return seconds_ > 0.0; }
  double elapsed() const { return before_ + since(start_); }
  /// Keeps a reserve for the last validation, the export and the domain measurement.
  bool spent() const { return elapsed() >= seconds_ - reserve(); }
  void stepped(int64_t step) {
    if (step == first_step_ + 1) steps_start_ = std::chrono::steady_clock::now();  // the first step plans: not timed
  }
  void validated(double seconds) {
    validation_s_ = seconds;
    validation_total_ += seconds;
    ++validations_;
  }
  /// The total step count that fits, when it is time to (re)fit: after 10 timed steps, and after the
  /// first validation of this run.
  std::optional<int64_t> fit(int64_t step, int64_t steps_per_epoch) {
    const int64_t timed = step - first_step_ - 1;
    const bool first = !fitted_once_ && timed >= 10;
    const bool after_validation = validations_ == 1 && !fitted_after_validation_;
    if (!first && !after_validation) return std::nullopt;
    if (timed < 1) return std::nullopt;
    fitted_once_ = true;
    if (after_validation) fitted_after_validation_ = true;
    step_s_ = (since(steps_start_) - validation_total_) / static_cast<double>(timed);
    const double per_step = step_s_ + validation_s_ / static_cast<double>(std::max<int64_t>(steps_per_epoch, 1));
    const double left = std::max(0.0, seconds_ - reserve() - elapsed());
    return step + static_cast<int64_t>(left / std::max(per_step, 1e-6));
  }
  std::string describe(int64_t total) const {
    std::ostringstream out;
    out.precision(3);
    out << "time budget: " << seconds_ << " s; " << step_s_ << " s per step, " << validation_s_
        << " s per validation: the schedule ends at step " << total;
    return out.str();
  }

 private:
  static double since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  }
  double reserve() const { return std::min(60.0, 0.05 * seconds_) + validation_s_; }

  double seconds_, before_;
  int64_t first_step_;
  std::chrono::steady_clock::time_point start_, steps_start_;
  double step_s_ = 0.0, validation_s_ = 0.0, validation_total_ = 0.0;
  int validations_ = 0;
  bool fitted_once_ = false, fitted_after_validation_ = false;
};

class TrainJob {
 public:
  TrainJob(const TrainConfig& config, const TrainOptions& options) : config_(config), options_(options) {}

  TrainResult run() {
    TrainResult result;
    result.threads = geo::set_thread_count(options_.threads > 0 ? options_.threads : config_.threads);
    if (options_.domain_only) {
      list_training_pairs();
      load_validation();
      attach_domain_profile();
      return result;
    }
    TrainGraph graph(prepare_graph(config_));
    Trainer trainer(graph, trainer_config(graph));
    RunState state = options_.resume ? restore(trainer) : RunState{};
    if (!config_.model.checkpoint.empty() && !options_.resume) {
      trainer.restore_weights(load_checkpoint(config_.model.checkpoint.string()));
    }
    load_inherited_validation();
    load_validation();
    train(trainer, state);
    attach_domain_profile();
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
      std::vector<int64_t> class_pixels, image_pixels;
      geo::class_statistics(train_pairs_, sources(), classes(graph), class_pixels, image_pixels);
      class_weights_ = median_frequency_weights(class_pixels, image_pixels);
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
    auto add = [&](const std::vector<std::string>& images, const std::vector<std::string>& masks, int split_every,
                   int crops) {
      const int source = static_cast<int>(crops_.size());
      for (auto& [image, mask] : geo::pair_by_stem(images, masks, geo::DatasetSplit{split_every, 0, false})) {
        train_pairs_.push_back({std::move(image), std::move(mask), source});
      }
      crops_.push_back(crops);
    };
    const TrainDataConfig& data = config_.data;
    add(data.train_images, data.train_masks, data.split_every, data.crops_per_image);
    for (const TrainSourceConfig& extra : data.extra_sources)
      add(extra.images, extra.masks, extra.split_every, extra.crops_per_image);
  }

  std::vector<geo::DataSource> sources() const {
    std::vector<geo::DataSource> list{geo::DataSource{config_.data.mask, config_.data.scale, config_.data.windows}};
    if (config_.data.holdout_rows > 0.0) list[0].rows = {0.0, 1.0 - config_.data.holdout_rows};
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
    state.fitted_total = extra.value("fitted_total", int64_t{0});
    state.elapsed_s = extra.value("elapsed_s", 0.0);
    if (!options_.quiet) std::cerr << "resumed at step " << trainer.step_count() << " (epoch " << state.epoch << ")\n";
    return state;
  }

  void save(Trainer& trainer, const RunState& state) const {
    nlohmann::json extra{{"epoch", state.epoch},
                         {"batch", state.batch},
                         {"best", state.best},
                         {"bad_epochs", state.bad_epochs},
                         {"best_metrics", state.best_metrics},
                         {"fitted_total", state.fitted_total},
                         {"elapsed_s", state.elapsed_s},
                         {"seed", config_.seed},
                         {"config", fs::absolute(config_.source).string()}};
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
      throw Error(
          config_.source.string() + ": card.validation_from: " + from.string() +
          " has no validation figures in its model card; point at a model exported by terraseg train with validation");
    }
    inherited_ = nlohmann::json::object();
    for (const auto& [key, value] : card.metrics) inherited_[key] = value;
    if (card.threshold) inherited_["threshold"] = *card.threshold;
  }

  bool has_validation() const { return has_validation_data(config_.data); }

  void load_validation() {
    if (!has_validation()) return;
    if (config_.data.holdout_rows > 0.0) {  // the bottom strip of every training image
      for (const auto& pair :
           geo::pair_by_stem(config_.data.train_images, config_.data.train_masks, geo::DatasetSplit{})) {
        const geo::Sample strip =
            geo::rescale(geo::rows_of(geo::load_sample(pair, config_.data.mask), 1.0 - config_.data.holdout_rows, 1.0),
                         config_.data.scale);
        if (strip.height < config_.data.val_multiple || strip.width < config_.data.val_multiple) {
          throw Error(pair.first + ": its held-out strip (the bottom " +
                      std::to_string(static_cast<int>(config_.data.holdout_rows * 100)) + " %) is " +
                      std::to_string(strip.height) + " rows at the model's pixel size, fewer than the " +
                      std::to_string(config_.data.val_multiple) +
                      " the model needs; use larger tiles (or a larger holdout)");
        }
        val_.push_back(geo::centre_crop(strip, config_.data.val_multiple));
      }
      if (!options_.quiet) {
        std::cerr << "validation: the bottom " << config_.data.holdout_rows * 100.0 << " % of each of " << val_.size()
                  << " images (the rest trains)\n";
      }
      return;
    }
    const bool split = config_.data.val_images.empty();
    const auto pairs = split ? geo::pair_by_stem(config_.data.train_images, config_.data.train_masks,
                                                 geo::DatasetSplit{config_.data.split_every, 0, true})
                             : geo::pair_by_stem(config_.data.val_images, config_.data.val_masks, geo::DatasetSplit{});
    const int window = config_.data.val_window;
    for (const auto& pair : pairs) {  // at the model's pixel size, as predict would see them
      val_.push_back(geo::centre_crop(
          geo::rescale(config_.data.windows ? geo::load_centre_window(pair, config_.data.mask, window, window)
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
      throw Error(config_.source.string() +
                  ": the initial model has no model card; give model.normalisation (bands, scale, mean, std)");
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
    std::vector<float> all_positive;  // binary: every validation pixel, to score at the chosen threshold
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
    nlohmann::json m{{"val_miou", matrix.mean_iou()},
                     {"val_global_accuracy", matrix.global_accuracy()},
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
      card.notes += std::string(card.notes.empty() ? "" : " ") +
                    "Trained to the end of its schedule without held-out data " +
                    "(output.select: last); its validation figures are those of " +
                    c.validation_from.filename().string() + ", the same recipe trained without the validation data.";
    }
    // The dataset's own ignored label ids (e.g. CamVid's 11 Unlabelled); kIgnoreLabel otherwise.
    card.ignore_ids =
        config_.data.mask.ignore_ids.empty() ? std::vector<int>{kIgnoreLabel} : config_.data.mask.ignore_ids;
    card.metrics.clear();
    for (const auto& [key, value] : metrics.items()) {
      if (key == "threshold")
        card.threshold = value.get<double>();
      else if (value.is_number() && std::isfinite(value.get<double>()))
        card.metrics[key] = value.get<double>();
    }
    fs::create_directories(config_.output.model.parent_path());
    save_onnx(graph, config_.output.model.string());
  }

  /// The exported model's view of its training imagery (at most 128 images per source, evenly spread;
  /// up to 4 blocks of each large image, so that a few large tiles still show their variety) and of
  /// the validation images, written into its card (training_domain).
  void attach_domain_profile() const {
    const fs::path& path = config_.output.model;
    if (!fs::exists(path)) {
      if (options_.domain_only)
        throw Error(config_.source.string() + ": output.model " + path.string() + " does not exist; train it first");
      return;
    }
    std::string warning;
    LoadedModel model = load_model_file(path.string(), &warning);
    const std::vector<geo::DataSource> data_sources = sources();
    std::vector<geo::Sample> training;
    for (size_t source = 0; source < crops_.size(); ++source) {
      std::vector<const geo::TrainingPair*> pairs;
      for (const geo::TrainingPair& pair : train_pairs_) {
        if (pair.source == static_cast<int>(source)) pairs.push_back(&pair);
      }
      const size_t step = (pairs.size() + 127) / 128;
      const geo::DataSource& ds = data_sources[source];
      for (size_t i = 0; i < pairs.size(); i += step) {
        const std::pair<std::string, std::string> files{pairs[i]->image, pairs[i]->mask};
        const int side = static_cast<int>(kDomainSampleSide / std::max(ds.scale, 1e-3)) + 1;
        const geo::Sample sample = geo::rescale(
            ds.windows ? geo::load_centre_window(files, ds.mask, side * 2, side * 2) : geo::load_sample(files, ds.mask),
            ds.scale);
        for (geo::Sample& block : domain_blocks(sample)) training.push_back(std::move(block));
      }
    }
    const auto start = std::chrono::steady_clock::now();
    const DomainProfileResult measured =
        measure_domain_profile(model.graph, training, val_,
                               std::to_string(training.size()) + " blocks of up to " +
                                   std::to_string(kDomainSampleSide) + " px of the training images");
    model.graph.card.training_domain = measured.profile;
    save_onnx(model.graph, path.string());
    if (!options_.quiet) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::cerr << "training_domain: " << training.size() << " blocks of training images measured in "
                << std::setprecision(3) << seconds << " s; spread " << measured.profile.spread;
      if (measured.profile.validation_max) {
        const auto above = std::count_if(measured.validation_shifts.begin(), measured.validation_shifts.end(),
                                         [](double shift) { return shift > kDomainShiftWarning; });
        std::cerr << "; validation images' domain_shift up to " << *measured.profile.validation_max << " (" << above
                  << " of " << measured.validation_shifts.size() << " above the warning at " << kDomainShiftWarning
                  << ")";
      }
      std::cerr << '\n';
    }
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
      std::cerr << "epoch " << state.epoch << " validation: " << metrics.dump() << (improved ? " (best, exported)" : "")
                << '\n';
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
    int64_t total = total_steps();
    Budget budget(config_.optim.time_budget_s, state.elapsed_s, trainer.step_count());
    if (budget.on() && state.fitted_total > 0) total = std::min(total, state.fitted_total);
    trainer.set_total_steps(total);
    auto window_start = std::chrono::steady_clock::now();
    int64_t window_images = 0;
    while (trainer.step_count() < total) {
      geo::Batch batch = loader.next();
      const StepStats stats = trainer.step(batch.images, batch.labels);
      budget.stepped(trainer.step_count());
      window_images += batch.images.dim(0);
      state.epoch = batch.epoch;
      state.batch = batch.index + 1;
      const bool epoch_done = state.batch >= loader.batches_per_epoch();
      if (epoch_done) {
        const auto validation_start = std::chrono::steady_clock::now();
        end_of_epoch(trainer, state);
        budget.validated(std::chrono::duration<double>(std::chrono::steady_clock::now() - validation_start).count());
        state.epoch += 1;
        state.batch = 0;
      }
      if (budget.on()) {
        // Fitted after 10 steps of this run, and again after its first validation: the schedule ends
        // (learning rate decayed) when the budget does.
        const std::optional<int64_t> fitted = budget.fit(trainer.step_count(), loader.batches_per_epoch());
        if (fitted) {
          total = std::min(total_steps(), *fitted);
          trainer.set_total_steps(total);
          state.fitted_total = total;
          if (!options_.quiet) std::cerr << budget.describe(total) << '\n';
        }
        state.elapsed_s = budget.elapsed();
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
      if (budget.on() && budget.spent()) {
        // A budget that ends before the first validation still leaves a model: its weights now.
        if (state.best < 0.0 && !epoch_done && has_validation()) end_of_epoch(trainer, state);
        save(trainer, state);
        if (!options_.quiet) std::cerr << "time budget spent at step " << step << " of " << total << '\n';
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
