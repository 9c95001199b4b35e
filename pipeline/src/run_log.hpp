#pragma once
/// The structured log of `terraseg run`: one JSON object per line in <output_dir>/terraseg-log.jsonl,
/// appended across runs, resumes and shards (each line names its process and shard), flushed per line
/// so that it survives kill -9 up to the last event.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace terraseg {

class RunLog {
 public:
  /// Opens (appending) the log in `output_dir`; `shard` is e.g. "0/1".
  RunLog(const std::filesystem::path& output_dir, std::string shard);

  /// Writes {"time", "pid", "shard", "event", ...fields}.
  void event(const std::string& name, const nlohmann::json& fields = nlohmann::json::object());

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::string shard_;
  std::ofstream stream_;
};

}  // namespace terraseg
