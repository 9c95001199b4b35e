#include "run_log.hpp"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <iomanip>
#include <sstream>

#include "run_layout.hpp"

namespace terraseg {
namespace {

std::string now_iso_millis() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  std::ostringstream text;
  text << std::put_time(&utc, "%Y-%m-%dT%H:%M:%S") << '.' << std::setw(3) << std::setfill('0') << millis << 'Z';
  return text.str();
}

}  // namespace

RunLog::RunLog(const std::filesystem::path& output_dir, std::string shard)
    : path_(run_log_path(output_dir)), shard_(std::move(shard)), stream_(path_, std::ios::app) {}

void RunLog::event(const std::string& name, const nlohmann::json& fields) {
  if (!stream_) return;  // logging never fails a run; the run's own errors still reach stderr
  nlohmann::json line{
      {"time", now_iso_millis()}, {"pid", static_cast<int>(getpid())}, {"shard", shard_}, {"event", name}};
  line.update(fields);
  stream_ << line.dump() << '\n';
  stream_.flush();
}

}  // namespace terraseg
