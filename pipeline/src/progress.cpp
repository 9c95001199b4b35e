#include "progress.hpp"

#include <algorithm>
#include <cstdio>

namespace terraseg {

void ProgressDisplay::begin(const std::string& label) {
  label_ = label;
  last_percent_ = -1;
  start_ = std::chrono::steady_clock::now();
  update(0.0);
}

void ProgressDisplay::update(double fraction) {
  if (quiet_) return;
  const int percent = static_cast<int>(std::clamp(fraction, 0.0, 1.0) * 100.0);
  if (percent == last_percent_) return;
  last_percent_ = percent;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const int filled = percent / 5;
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(20, '.');
  if (fraction > 0.01) {
    const double eta = elapsed / fraction * (1.0 - fraction);
    std::fprintf(stderr, "\r%-40.40s [%s] %3d%%  ETA %5.0fs", label_.c_str(), bar.c_str(), percent, eta);
  } else {
    std::fprintf(stderr, "\r%-40.40s [%s] %3d%%", label_.c_str(), bar.c_str(), percent);
  }
  std::fflush(stderr);
}

void ProgressDisplay::end() {
  if (quiet_) return;
  update(1.0);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::fprintf(stderr, "  %.1fs\n", elapsed);
}

void ProgressDisplay::warn(const std::string& message) {
  std::fprintf(stderr, "terraseg: warning: %s\n", message.c_str());
}

}  // namespace terraseg
