#pragma once
/// Resolves the models a config or a command line names into graphs with model cards.
#include <string>

#include "terraseg/core/engine.hpp"
#include "terraseg/core/graph.hpp"
#include "terraseg/pipeline/config.hpp"

namespace terraseg {

struct LoadedModel {
  Graph graph;
  std::string source;    ///< ONNX path, or "builder:unet" etc.
  bool trained = false;  ///< false for builder models with random weights
};

/// Loads an ONNX file or builds a native network. A model without a card gets one saying so
/// (raw band values in, generic class names) and `warning` is set for the caller to print.
/// How every Engine this process makes chooses its plans (EngineOptions::tuning), set once at the CLI
/// edge: `--tuning`, else $TERRASEG_TUNING, else measure.
void set_engine_tuning(EngineOptions::Tuning tuning);
/// EngineOptions for `precision` with the process's tuning (engines run on the process's thread
/// count, set once at the command's edge).
EngineOptions engine_options(Precision precision);
/// "measure" | "rules"; throws Error naming `source` otherwise.
EngineOptions::Tuning parse_tuning(const std::string& text, const std::string& source);

LoadedModel load_model(const ModelRef& ref, std::string* warning = nullptr);
LoadedModel load_model_file(const std::string& path, std::string* warning = nullptr);

}  // namespace terraseg
