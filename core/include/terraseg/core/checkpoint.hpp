#pragma once
/// Training checkpoints: named float tensors plus a JSON metadata string, written atomically
/// (temporary file, flush, rename) so a kill at any moment leaves the previous checkpoint intact.
#include <map>
#include <string>

#include "terraseg/core/tensor.hpp"

namespace terraseg {

struct Checkpoint {
  std::string meta_json;                  ///< step, epoch, RNG state, config fingerprint, ...
  std::map<std::string, Tensor> tensors;  ///< weights, BN statistics, optimiser moments
};

/// Throws Error naming the path when writing fails.
void save_checkpoint(const Checkpoint& checkpoint, const std::string& path);
/// Throws Error naming the path when the file is missing, truncated or not a checkpoint.
Checkpoint load_checkpoint(const std::string& path);

}  // namespace terraseg
