#include "progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>

#include "interrupt.hpp"

namespace terraseg {
namespace {

/// printf into a std::string, for progress lines (short by construction; longer text is cut).
template <typename... Args>
std::string format(const char* pattern, Args... args) {
  std::array<char, 160> buffer{};
  const int written = std::snprintf(buffer.data(), buffer.size(), pattern, args...);
  return written < 0 ? std::string() : std::string(buffer.data());
}

}  // namespace

ProgressDisplay::ProgressDisplay(bool quiet)
    : ProgressDisplay(quiet, isatty(fileno(stderr)) ? Style::bar : Style::gdal, stderr) {}

void ProgressDisplay::begin(const std::string& label) {
  label_ = label;
  last_step_ = -1;
  start_ = std::chrono::steady_clock::now();
  if (!quiet_ && style_ == Style::gdal) {
    write(label_ + ": ");
    line_open_ = true;
  }
  update(0.0);
}

void ProgressDisplay::update(double fraction) {
  check_interrupted();  // every step of run and predict reports progress: where a SIGTERM takes effect
  if (quiet_) return;
  fraction = std::clamp(fraction, 0.0, 1.0);
  if (style_ == Style::gdal) {
    // As GDALTermProgress: a number every 10 %, a dot every 2.5 % between.
    const int ticks = static_cast<int>(fraction * 40.0 + 1e-9);
    if (!line_open_) return;
    for (int tick = last_step_ + 1; tick <= ticks; ++tick) {
      write(tick % 4 == 0 ? std::to_string(tick / 4 * 10) : ".");
    }
    last_step_ = std::max(last_step_, ticks);
    return;
  }
  const int percent = static_cast<int>(fraction * 100.0);
  if (percent == last_step_) return;
  last_step_ = percent;
  line_open_ = true;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string bar(static_cast<size_t>(percent / 5), '#');
  bar.resize(20, '.');
  if (fraction > 0.01) {
    const double eta = elapsed / fraction * (1.0 - fraction);
    write(format("\r%-40.40s [%s] %3d%%  ETA %5.0fs", label_.c_str(), bar.c_str(), percent, eta));
  } else {
    write(format("\r%-40.40s [%s] %3d%%", label_.c_str(), bar.c_str(), percent));
  }
}

void ProgressDisplay::end() {
  if (quiet_) return;
  update(1.0);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (style_ == Style::gdal) {
    write(format(" - done in %.1f s.\n", elapsed));
  } else {
    write(format("  %.1fs\n", elapsed));
  }
  line_open_ = false;
}

void ProgressDisplay::warn(const std::string& message) {
  std::string text = line_open_ ? "\n" : "";  // never glue a warning to a progress line
  text += "terraseg: warning: " + message + "\n";
  if (line_open_ && style_ == Style::gdal) {
    text += label_ + ": ";
  } else {
    line_open_ = false;
  }
  write(text);
}

void ProgressDisplay::write(const std::string& text) {
  if (failed_) return;
  if (std::fputs(text.c_str(), out_) == EOF || std::fflush(out_) != 0) failed_ = true;
}

}  // namespace terraseg
