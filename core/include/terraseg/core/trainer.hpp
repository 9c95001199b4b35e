#pragma once
/// One training step (forward, loss, backward, clipping, optimiser update with a scheduled learning
/// rate), inference-mode prediction for validation, and the complete resumable state.
#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "terraseg/core/checkpoint.hpp"
#include "terraseg/core/losses.hpp"
#include "terraseg/core/optim.hpp"
#include "terraseg/core/train_graph.hpp"

namespace terraseg {

struct TrainerConfig {
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  double lr = 0.01;
  double clip_norm = 0.0;  ///< global gradient-norm limit; <= 0 disables
  LossSpec loss;
  std::map<std::string, double> lr_scale;  ///< per parameter (see lr_multipliers in transfer.hpp)
};

struct StepStats {
  double loss = 0.0;
  double lr = 0.0;
  double grad_norm = 0.0;  ///< before clipping
};

class Trainer {
 public:
  /// `graph` must outlive the trainer.
  Trainer(TrainGraph& graph, TrainerConfig config);

  /// Trains on one batch (NCHW images, N x H x W labels).
  StepStats step(const Tensor& images, const Labels& labels);

  /// Inference-mode forward on the current weights, through the inference Engine (the training
  /// executor where the engine lacks an op): arg-max class ids per pixel (N*H*W) and, when `positive`
  /// is given, the positive-class probability (sigmoid for 1 channel, softmax channel 1 for 2 channels).
  void predict(const Tensor& images, std::vector<uint8_t>& ids, std::vector<float>* positive);

  int64_t step_count() const { return step_; }
  /// Stretches or shortens the learning-rate schedule to `total` steps (a run fitted to a time budget).
  void set_total_steps(int64_t total) { config_.schedule.total_steps = std::max<int64_t>(total, 1); }

  TrainGraph& graph() { return graph_; }
  const TrainerConfig& config() const { return config_; }

  /// Weights (with BN statistics), optimiser moments, step counters and the caller's `extra_json`.
  Checkpoint state(const std::string& extra_json) const;
  /// Restores a `state()`; returns its extra_json. Throws Error when the checkpoint does not fit the graph.
  std::string restore(const Checkpoint& checkpoint);
  /// Copies only the weights (and BN statistics) of a checkpoint: initialisation from an earlier run.
  void restore_weights(const Checkpoint& checkpoint);

 private:
  TrainGraph& graph_;
  TrainerConfig config_;
  Optimizer optimizer_;
  int64_t step_ = 0;
  Tensor grad_, scratch_;
};

}  // namespace terraseg
