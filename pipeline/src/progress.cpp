#include "progress.hpp"

#include <unistd.h>

#include <algorithm>

#include "interrupt.hpp"

namespace terraseg {

ProgressDisplay::ProgressDisplay(bool quiet)
    : ProgressDisplay(quiet, isatty(fileno(stderr)) ? Style::bar : Style::gdal, stderr) {}

void ProgressDisplay::begin(const std::string& label) {
  label_ = label;
  last_step_ = -1;
  start_ = std::chrono::steady_clock::now();
  if (!quiet_ && style_ == Style::gdal) {
    std::fprintf(out_, "%s: ", label_.c_str());
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
      if (tick % 4 == 0) {
        std::fprintf(out_, "%d", tick / 4 * 10);
      } else {
        std::fputc('.', out_);
      }
    }
    last_step_ = std::max(last_step_, ticks);
    std::fflush(out_);
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
    std::fprintf(out_, "\r%-40.40s [%s] %3d%%  ETA %5.0fs", label_.c_str(), bar.c_str(), percent, eta);
  } else {
    std::fprintf(out_, "\r%-40.40s [%s] %3d%%", label_.c_str(), bar.c_str(), percent);
  }
  std::fflush(out_);
}

void ProgressDisplay::end() {
  if (quiet_) return;
  update(1.0);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (style_ == Style::gdal) {
    std::fprintf(out_, " - done in %.1f s.\n", elapsed);
  } else {
    std::fprintf(out_, "  %.1fs\n", elapsed);
  }
  line_open_ = false;
  std::fflush(out_);
}

void ProgressDisplay::warn(const std::string& message) {
  if (line_open_) std::fputc('\n', out_);  // never glue a warning to a progress line
  if (line_open_ && style_ == Style::gdal) {
    std::fprintf(out_, "terraseg: warning: %s\n%s: ", message.c_str(), label_.c_str());
  } else {
    std::fprintf(out_, "terraseg: warning: %s\n", message.c_str());
    line_open_ = false;
  }
  std::fflush(out_);
}

}  // namespace terraseg
