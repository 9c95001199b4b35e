#pragma once
/// Reads one YAML mapping into plain struct members, so that every error names the file, the full
/// key path and the line, and unknown keys are rejected with the nearest valid key suggested.
/// yaml-cpp types stay inside the config code (this header is private to pipeline/src).
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "output_plan.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg::yaml {

/// Levenshtein-nearest of `candidates` to `word`, or "" when nothing is reasonably close.
std::string nearest(const std::string& word, const std::set<std::string>& candidates);

class MapReader {
 public:
  /// `node` must be a mapping (else Error); `key_path` is how messages name it ("" for the root).
  MapReader(const YAML::Node& node, std::string key_path, std::filesystem::path file);

  /// Reads `key` into `member` when present (keeps the default otherwise).
  template <typename T>
  void optional(const std::string& key, T& member) {
    YAML::Node value = take(key);
    if (value) member = convert<T>(value, key);
  }
  template <typename T>
  void optional(const std::string& key, std::optional<T>& member) {
    YAML::Node value = take(key);
    if (value && !value.IsNull()) member = convert<T>(value, key);
  }
  /// Reads `key` into `member`; Error when it is missing.
  template <typename T>
  void required(const std::string& key, T& member) {
    YAML::Node value = take(key);
    if (!value) fail(key, "is required but missing", node_);
    member = convert<T>(value, key);
  }
  /// A relative path is resolved against the config file's directory; GDAL virtual paths (/vsi...)
  /// are kept exactly as written.
  std::filesystem::path resolve_path(const std::string& text) const;
  /// A relative path is resolved against the config file's directory (see resolve_path).
  void path(const std::string& key, std::filesystem::path& member, bool is_required = false);
  std::vector<std::filesystem::path> paths(const std::string& key);

  bool has(const std::string& key) const { return static_cast<bool>(node_[key]); }
  /// Nested mapping (nullopt when absent).
  std::optional<MapReader> child(const std::string& key);
  /// Every key of this mapping (for maps keyed by user-chosen names); marks them known.
  std::vector<std::string> keys();
  /// A sequence of mappings (empty when absent).
  std::vector<MapReader> list(const std::string& key);
  /// The raw node of `key` for special shapes (marks the key as known).
  YAML::Node raw(const std::string& key) { return take(key); }

  /// Rejects keys never asked for. Call after reading everything.
  void finish() const;

  [[noreturn]] void fail(const std::string& key, const std::string& what, const YAML::Node& at) const;
  std::string key_name(const std::string& key) const;
  const std::filesystem::path& file() const { return file_; }

 private:
  YAML::Node take(const std::string& key);

  template <typename T>
  T convert(const YAML::Node& value, const std::string& key) const {
    T result{};
    try {
      result = value.as<T>();
    } catch (const YAML::Exception&) {
      fail(key, "has the wrong type (expected " + type_name<T>() + ")", value);
    }
    validate(result, key, value);
    return result;
  }
  /// Every number a config gives is finite (.inf and .nan would reach geotransforms and sizes), and
  /// every text is UTF-8 (it reaches JSON, STAC and HTML): checked here, once, for every key.
  template <typename T>
  void validate(const T& value, const std::string& key, const YAML::Node& at) const {
    if constexpr (std::is_floating_point_v<T>) {
      if (!std::isfinite(value)) fail(key, "must be a finite number (not .inf or .nan)", at);
    } else if constexpr (std::is_same_v<T, std::string>) {
      if (!is_utf8(value))
        fail(key, "is not valid UTF-8; terraseg writes it into JSON, STAC and HTML: fix the text", at);
    } else if constexpr (is_vector<T>::value) {
      for (const auto& item : value) validate(item, key, at);
    } else if constexpr (is_map<T>::value) {
      for (const auto& [name, item] : value) {
        validate(name, key, at);
        validate(item, key, at);
      }
    }
  }
  template <typename T>
  struct is_vector : std::false_type {};
  template <typename T>
  struct is_vector<std::vector<T>> : std::true_type {};
  template <typename T>
  struct is_map : std::false_type {};
  template <typename K, typename V>
  struct is_map<std::map<K, V>> : std::true_type {};
  template <typename T>
  static std::string type_name() {
    if constexpr (std::is_same_v<T, bool>)
      return "true or false";
    else if constexpr (std::is_integral_v<T>)
      return "an integer";
    else if constexpr (std::is_floating_point_v<T>)
      return "a number";
    else if constexpr (std::is_same_v<T, std::string>)
      return "a string";
    else
      return "a list";
  }

  YAML::Node node_;
  std::string key_path_;
  std::filesystem::path file_;
  std::set<std::string> known_;
};

/// Loads a YAML file; Error naming the file when it is missing or malformed.
YAML::Node load_file(const std::filesystem::path& file);
/// Parses YAML text; Error naming `source` and the line when malformed.
YAML::Node load_text(const std::string& text, const std::filesystem::path& source);

}  // namespace terraseg::yaml
