#pragma once
/// A one-line progress bar with ETA on stderr (silenced by -q), redrawn at most every 1 %.
#include <chrono>
#include <string>

namespace terraseg {

class ProgressDisplay {
 public:
  explicit ProgressDisplay(bool quiet) : quiet_(quiet) {}
  void begin(const std::string& label);
  void update(double fraction);  ///< 0..1
  void end();
  /// Prints a warning on its own line (also when quiet: warnings are never silenced).
  void warn(const std::string& message);

 private:
  bool quiet_;
  std::string label_;
  int last_percent_ = -1;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace terraseg
