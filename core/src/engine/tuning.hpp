#pragma once
/// Plan choices made by measuring on the CPU at hand (EngineOptions::tuning): the activation layout
/// (oneDNN's blocked choice or channels-last) and whether eligible 3x3 convolutions run as Winograd
/// are timed once per (CPU, ISA, threads, model, input shape, precision), the fastest kept, and the
/// choice cached in a JSON file that is safe to delete. A corrupt or foreign cache is ignored with a
/// warning, never trusted; a cache that cannot be written only costs the measurement next time.
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "terraseg/core/engine.hpp"
#include "terraseg/core/graph.hpp"

namespace terraseg::engine {

struct PlanChoice {
  bool channels_last = false;
  bool winograd = false;
  Precision precision = Precision::f32;  ///< f32 or bf16
  std::string name() const;              ///< "blocked+winograd", "nhwc+direct", "nhwc+direct+bf16", ...
};

/// "$TERRASEG_CACHE_DIR", else "$XDG_CACHE_HOME/terraseg", else "$HOME/.cache/terraseg" (XDG base
/// directory spec), then "plan-choices.json". Empty when none of them is set.
std::filesystem::path default_choice_cache();

/// CPU model name (/proc/cpuinfo) and the ISA oneDNN uses on it (ONEDNN_MAX_CPU_ISA caps it).
std::string cpu_signature();

/// A stable hash of the graph's structure and weight shapes (names, ops, attributes, dims).
std::string graph_fingerprint(const Graph& graph);

/// The cache key of one measurement.
std::string choice_key(const std::string& cpu, int threads, const std::string& fingerprint, const Dims& input,
                       Precision precision);

/// The cached choice for `key` in `file`, if the file holds a valid one. `warning` receives why a
/// file that exists was not trusted (corrupt, another format version, or an entry that does not fit
/// `precision`, the one its key was measured for: f32 and bf16 entries may omit it and must not
/// contradict it; Precision::automatic entries must name the precision that won).
std::optional<PlanChoice> load_choice(const std::filesystem::path& file, const std::string& key, std::string* warning,
                                      Precision precision = Precision::f32);

/// Adds (or replaces) `key` in `file` with the choice and every candidate's time (ms), written to a
/// temporary name and renamed. Returns false (and says why in `warning`) when it cannot be written.
bool store_choice(const std::filesystem::path& file, const std::string& key, const PlanChoice& choice,
                  const std::map<std::string, double>& candidate_ms, std::string* warning);

}  // namespace terraseg::engine
