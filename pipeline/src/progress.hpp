#pragma once
/// Progress of each step on stderr (silenced by -q). On a terminal: a one-line bar with ETA, redrawn at
/// most every 1 %. Into a file or pipe (a log, a Kubernetes pod): GDAL's format, the label and then
/// "0...10...20...30...40...50...60...70...80...90...100 - done." appended as the step advances, so
/// that a log stays readable and tools that parse GDAL's progress can follow it.
#include <chrono>
#include <cstdio>
#include <string>

namespace terraseg {

class ProgressDisplay {
 public:
  enum class Style { bar, gdal };
  /// The style follows whether stderr is a terminal.
  explicit ProgressDisplay(bool quiet);
  ProgressDisplay(bool quiet, Style style, std::FILE* out) : quiet_(quiet), style_(style), out_(out) {}
  void begin(const std::string& label);
  void update(double fraction);  ///< 0..1
  void end();
  /// Prints a warning on its own line (also when quiet: warnings are never silenced).
  void warn(const std::string& message);

 private:
  /// Writes and flushes; after a failed write (stderr closed or full) nothing more is written: the
  /// display is best effort and never stops the job.
  void write(const std::string& text);

  bool quiet_;
  Style style_;
  std::FILE* out_;
  std::string label_;
  int last_step_ = -1;  ///< bar: percent drawn; gdal: 2.5 % ticks printed
  bool line_open_ = false;
  bool failed_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace terraseg
