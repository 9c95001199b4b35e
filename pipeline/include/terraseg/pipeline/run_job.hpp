#pragma once
/// `terraseg run`: the batch job over a region config.
///
/// The work is a deterministic list of units (region x input x task), each writing its outputs under
/// temporary names renamed into place, then a small record in <output_dir>/.terraseg/units/. A unit
/// whose record and outputs exist is complete: `--resume` skips it, so a run killed at any moment
/// finishes without redoing completed work. `--shard I/N` processes the units whose index mod N is I;
/// run-summary.json is written once every unit's record exists (by the last shard, or by a later
/// `--resume` that finds nothing left to compute).
#include <filesystem>

#include "terraseg/pipeline/config.hpp"

namespace terraseg {

struct RunOptions {
  bool resume = false;
  int shard_index = 0;  ///< 0-based
  int shard_count = 1;
  bool quiet = false;
  int threads = 0;  ///< overrides the config when > 0
};

/// Parses "I/N" (0 <= I < N); Error naming the flag otherwise.
void parse_shard(const std::string& text, RunOptions& options);
/// Applies JOB_COMPLETION_INDEX and TERRASEG_SHARD_COUNT (Kubernetes Indexed Jobs) when set.
void apply_shard_environment(RunOptions& options);

/// Runs the job; returns the number of units computed by this process. Throws Error on failure.
int run_job(const RunConfig& config, const RunOptions& options);

}  // namespace terraseg
