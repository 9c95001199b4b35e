#pragma once
/// `terraseg adapt` as a job: a shipped (or any terraseg) model fine-tuned on a few labelled tiles of
/// the user's region, within a wall-clock budget, by the training job (train_job.hpp) with defaults
/// chosen for few labels (docs/models.md, "Adapting to a new region"): every layer trains, at a
/// learning rate that keeps the pretrained features; crops at the model's pixel size with flips,
/// rotations, a mild rescale and colour jitter; the bottom fifth of each tile held out to pick the
/// best weights and the threshold and to give the card's figures; the schedule fitted to the budget.
#include <optional>
#include <string>
#include <vector>

namespace terraseg {

struct AdaptRequest {
  std::string model;                   ///< the model to start from
  std::vector<std::string> images;     ///< folders of tiles
  std::vector<std::string> masks;      ///< folders of masks (or labels)
  std::string labels;                  ///< vector labels instead of masks
  std::string layer;                   ///< labels: the layer ("" = all)
  std::optional<double> pixel_size_m;  ///< the tiles' ground pixel size (else their georeference's, else the model's)
  double time_budget_s = 600.0;
  double holdout = 0.2;  ///< fraction of each tile's height held out
  double lr = 5e-4;
  int seed = 1;
  std::string output;  ///< the adapted model
  bool resume = false;
  int threads = 0;
  bool quiet = false;
};

struct AdaptResult {
  int tiles = 0;
  std::string metric;  ///< "val_f1" (binary models) or "val_miou"
  double score = 0.0;  ///< on the held-out strips
  double seconds = 0.0;
};

/// Throws Error naming the flag or file: unknown model, no pairs, masks of another size, an output
/// that exists (without resume) or is an input, tiles whose pixel size is unknown and unstated ...
AdaptResult adapt_job(const AdaptRequest& request);

}  // namespace terraseg
