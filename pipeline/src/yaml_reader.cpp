#include "yaml_reader.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

namespace terraseg::yaml {
namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string line_prefix(const std::filesystem::path& file, const YAML::Node& at) {
  std::string prefix = file.string();
  if (at && at.Mark().line >= 0) prefix += ":" + std::to_string(at.Mark().line + 1);
  return prefix;
}

}  // namespace

std::string nearest(const std::string& word, const std::set<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::max<size_t>(3, word.size() / 2) + 1;
  for (const std::string& candidate : candidates) {
    const size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

MapReader::MapReader(const YAML::Node& node, std::string key_path, std::filesystem::path file)
    : node_(node), key_path_(std::move(key_path)), file_(std::move(file)) {
  if (!node_.IsMap()) {
    const std::string what = key_path_.empty() ? "the document" : "key '" + key_path_ + "'";
    throw Error(line_prefix(file_, node_) + ": " + what + " must be a mapping of keys to values");
  }
  // YAML allows keys that are lists or mappings, and yaml-cpp keeps the first of a repeated key
  // silently: both are mistakes in a config, refused here for every mapping read.
  std::map<std::string, YAML::Node> seen;
  for (const auto& entry : node_) {
    const std::string where = key_path_.empty() ? "" : " in '" + key_path_ + "'";
    if (!entry.first.IsScalar()) {
      throw Error(line_prefix(file_, entry.first) + ": a key" + where +
                  " is a list or a mapping; keys are plain names (see configs/README.md)");
    }
    const std::string key = entry.first.Scalar();
    const auto [it, inserted] = seen.emplace(key, entry.first);
    if (!inserted) {
      throw Error(line_prefix(file_, entry.first) + ": key '" + key_name(key) + "' is given twice (first at line " +
                  std::to_string(it->second.Mark().line + 1) + "); keep one");
    }
  }
}

std::string MapReader::key_name(const std::string& key) const {
  return key_path_.empty() ? key : key_path_ + "." + key;
}

void MapReader::fail(const std::string& key, const std::string& what, const YAML::Node& at) const {
  throw Error(line_prefix(file_, at) + ": key '" + key_name(key) + "' " + what);
}

YAML::Node MapReader::take(const std::string& key) {
  known_.insert(key);
  return node_[key];
}

void MapReader::path(const std::string& key, std::filesystem::path& member, bool is_required) {
  std::string text;
  if (is_required) {
    required(key, text);
  } else {
    optional(key, text);
  }
  if (text.empty()) return;
  member = resolve_path(text);
}

std::filesystem::path MapReader::resolve_path(const std::string& text) const {
  // GDAL virtual paths are GDAL's to read: normalising "/vsicurl/https://host/x.tif" would drop a
  // slash of the URL, and "/vsizip//tmp/a.zip/b.tif" one of the archive's path.
  if (text.rfind("/vsi", 0) == 0) return text;
  const std::filesystem::path value(text);
  return (value.is_absolute() ? value : file_.parent_path() / value).lexically_normal();
}

std::vector<std::filesystem::path> MapReader::paths(const std::string& key) {
  YAML::Node value = take(key);
  std::vector<std::filesystem::path> result;
  if (!value) return result;
  std::vector<std::string> texts;
  if (value.IsScalar()) {
    texts.push_back(convert<std::string>(value, key));
  } else {
    texts = convert<std::vector<std::string>>(value, key);
  }
  for (const std::string& text : texts) result.push_back(resolve_path(text));
  return result;
}

std::optional<MapReader> MapReader::child(const std::string& key) {
  YAML::Node value = take(key);
  if (!value || value.IsNull()) return std::nullopt;
  return MapReader(value, key_name(key), file_);
}

std::vector<std::string> MapReader::keys() {
  std::vector<std::string> result;
  for (const auto& entry : node_) result.push_back(entry.first.as<std::string>());
  known_.insert(result.begin(), result.end());
  return result;
}

std::vector<MapReader> MapReader::list(const std::string& key) {
  YAML::Node value = take(key);
  std::vector<MapReader> result;
  if (!value || value.IsNull()) return result;
  if (!value.IsSequence()) fail(key, "must be a list", value);
  for (size_t i = 0; i < value.size(); ++i) {
    result.emplace_back(value[i], key_name(key) + "[" + std::to_string(i) + "]", file_);
  }
  return result;
}

void MapReader::finish() const {
  for (const auto& entry : node_) {
    const std::string key = entry.first.as<std::string>();
    if (known_.contains(key)) continue;
    const std::string suggestion = nearest(key, known_);
    std::string message = "is not a known key";
    message += suggestion.empty() ? "; see configs/README.md for the keys" : "; did you mean '" + suggestion + "'?";
    fail(key, message, entry.first);
  }
}

YAML::Node load_text(const std::string& text, const std::filesystem::path& source) {
  try {
    return YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw Error(source.string() + ":" + std::to_string(e.mark.line + 1) + ": malformed YAML: " + e.msg +
                "; fix the syntax at that line");
  }
}

YAML::Node load_file(const std::filesystem::path& file) {
  std::ifstream stream(file);
  if (!std::filesystem::is_regular_file(file) || !stream) {
    throw Error(file.string() + ": config file not found or unreadable; check the path");
  }
  std::ostringstream text;
  text << stream.rdbuf();
  return load_text(text.str(), file);
}

}  // namespace terraseg::yaml
