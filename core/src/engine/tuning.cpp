#include "engine/tuning.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <oneapi/dnnl/dnnl.hpp>
#include <sstream>

namespace terraseg::engine {
namespace {

using nlohmann::json;
/// Bump when the meaning of a cached choice changes. 2: entries carry their precision, and timings
/// are taken with denormals flushed (format-1 timings on Intel CPUs were up to 12x off for ESPNet).
constexpr int kFormat = 2;

/// FNV-1a, 64 bits.
struct Hash {
  uint64_t value = 1469598103934665603ULL;
  void add(const std::string& text) {
    for (unsigned char c : text) {
      value ^= c;
      value *= 1099511628211ULL;
    }
    value ^= 0xff;  // separator
    value *= 1099511628211ULL;
  }
  void add(int64_t number) { add(std::to_string(number)); }
};

}  // namespace

std::string PlanChoice::name() const {
  return std::string(channels_last ? "nhwc" : "blocked") + (winograd ? "+winograd" : "+direct") +
         (precision == Precision::bf16 ? "+bf16" : "");
}

std::filesystem::path default_choice_cache() {
  std::filesystem::path dir;
  if (const char* own = std::getenv("TERRASEG_CACHE_DIR"); own != nullptr && *own != '\0') {
    dir = own;
  } else if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
    dir = std::filesystem::path(xdg) / "terraseg";
  } else if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    dir = std::filesystem::path(home) / ".cache" / "terraseg";
  } else {
    return {};
  }
  return dir / "plan-choices.json";
}

std::string cpu_signature() { return cpu_model_name() + " / " + cpu_isa_name(); }

std::string graph_fingerprint(const Graph& graph) {
  Hash hash;
  hash.add(graph.input);
  for (const Node& node : graph.nodes) {
    hash.add(node.op);
    hash.add(node.name);
    for (const auto& input : node.inputs) hash.add(input);
    for (const auto& output : node.outputs) hash.add(output);
    hash.add(static_cast<int64_t>(node.attrs.size()));
  }
  for (const auto& [name, tensor] : graph.weights) {
    hash.add(name);
    for (int64_t d : tensor.dims()) hash.add(d);
  }
  std::ostringstream text;
  text << std::hex << hash.value;
  return text.str();
}

std::string choice_key(const std::string& cpu, int threads, const std::string& fingerprint, const Dims& input,
                       Precision precision) {
  std::ostringstream key;
  key << cpu << " | threads " << threads << " | model " << fingerprint << " | input " << to_string(input) << " | "
      << to_string(precision);
  return key.str();
}

std::optional<PlanChoice> load_choice(const std::filesystem::path& file, const std::string& key, std::string* warning,
                                      Precision precision) {
  std::error_code error;
  if (file.empty() || !std::filesystem::exists(file, error)) return std::nullopt;
  std::ifstream stream(file);
  const json doc = json::parse(stream, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    if (warning) *warning = file.string() + ": not a plan-choice cache (corrupt?); ignored, measuring again";
    return std::nullopt;
  }
  if (doc.value("format", 0) != kFormat || !doc.contains("choices") || !doc["choices"].is_object()) {
    if (warning) *warning = file.string() + ": written by another terraseg version; ignored, measuring again";
    return std::nullopt;
  }
  const auto found = doc["choices"].find(key);
  if (found == doc["choices"].end()) return std::nullopt;
  const json& entry = *found;
  const auto layout = entry.find("layout");
  const auto convolution = entry.find("convolution");
  // The precision: what the key asked for (f32 or bf16), or for Precision::automatic the one measured
  // fastest, which the entry must then name.
  const auto stored = entry.is_object() ? entry.find("precision") : entry.end();
  const bool named = stored != entry.end() && stored->is_string() && (*stored == "f32" || *stored == "bf16");
  const bool precision_ok =
      precision == Precision::automatic ? named : stored == entry.end() || (named && *stored == to_string(precision));
  const bool valid = entry.is_object() && layout != entry.end() && convolution != entry.end() && layout->is_string() &&
                     convolution->is_string() && (*layout == "nhwc" || *layout == "blocked") &&
                     (*convolution == "winograd" || *convolution == "direct") && precision_ok &&
                     !(*convolution == "winograd" && stored != entry.end() && *stored == "bf16");
  if (!valid) {
    if (warning) *warning = file.string() + ": malformed entry for this model and shape; ignored, measuring again";
    return std::nullopt;
  }
  if (precision == Precision::automatic) precision = *stored == "bf16" ? Precision::bf16 : Precision::f32;
  return PlanChoice{*layout == "nhwc", *convolution == "winograd", precision};
}

bool store_choice(const std::filesystem::path& file, const std::string& key, const PlanChoice& choice,
                  const std::map<std::string, double>& candidate_ms, std::string* warning) {
  if (file.empty()) return false;
  json doc;
  {
    std::ifstream stream(file);
    if (stream) doc = json::parse(stream, nullptr, /*allow_exceptions=*/false);
  }
  if (!doc.is_object() || doc.value("format", 0) != kFormat || !doc.contains("choices") ||
      !doc["choices"].is_object()) {
    doc = {{"format", kFormat},
           {"about", "terraseg's measured plan choices (EngineOptions::tuning); safe to delete"},
           {"choices", json::object()}};
  }
  doc["choices"][key] = {{"layout", choice.channels_last ? "nhwc" : "blocked"},
                         {"convolution", choice.winograd ? "winograd" : "direct"},
                         {"precision", to_string(choice.precision)},
                         {"candidate_ms", candidate_ms}};
  std::error_code error;
  std::filesystem::create_directories(file.parent_path(), error);
  const std::filesystem::path temporary = file.string() + ".tmp-" + std::to_string(getpid());
  {
    std::ofstream out(temporary);
    out << doc.dump(1) << '\n';
    if (!out) {
      if (warning) *warning = file.string() + ": cannot write the plan-choice cache; the next run measures again";
      std::filesystem::remove(temporary, error);
      return false;
    }
  }
  std::filesystem::rename(temporary, file, error);
  if (error) {
    if (warning) *warning = file.string() + ": cannot write the plan-choice cache (" + error.message() + ")";
    std::filesystem::remove(temporary, error);
    return false;
  }
  return true;
}

}  // namespace terraseg::engine
