#pragma once
/// `terraseg train` as a job, callable without the CLI: lists the training data, computes class
/// weights, resumes from the last checkpoint, runs the epoch loop, validates after every epoch,
/// stops early, checkpoints every N steps and exports the best model (ONNX with its model card), then
/// measures its training imagery into the card (training_domain) so that predict can say when an
/// input is unlike it.
#include <cstdint>
#include <string>

#include "train_config.hpp"

namespace terraseg {

struct TrainOptions {
  bool resume = false;  ///< continue from output.checkpoint_dir/last.ckpt when it exists
  bool quiet = false;   ///< no progress lines on stderr
  int threads = 0;      ///< overrides config.threads when > 0; 0 in both: default_thread_count()
  /// Train nothing: measure output.model's training imagery (its card's training_domain, domain.hpp)
  /// and write it into that file. For models trained before the card carried it.
  bool domain_only = false;
};

struct TrainResult {
  double best = -1.0;  ///< the best validation score (config.output.metric); -1 when none improved
  int64_t steps = 0;   ///< optimiser steps taken in total (resumed ones included)
  int threads = 0;     ///< the thread count that ran
};

/// Runs the training `config` describes. Throws Error naming the config file and key, or the data
/// file, on failure; checkpoints written so far stay, so `resume` continues where it stopped.
TrainResult train_job(const TrainConfig& config, const TrainOptions& options);

}  // namespace terraseg
