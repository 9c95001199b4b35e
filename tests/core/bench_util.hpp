#pragma once
/// Small helpers shared by the same-run peer benchmarks (bench_engine_peers.cpp, bench_train_peers.cpp):
/// statistics and the machine description they print with their tables.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

#include "terraseg/core/engine.hpp"

namespace terraseg::bench {

inline double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : 0.5 * (values[mid - 1] + values[mid]);
}

inline double minimum(const std::vector<double>& values) { return *std::min_element(values.begin(), values.end()); }

inline std::string fixed(double value, int digits) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << value;
  return out.str();
}

/// "model name" of /proc/cpuinfo.
inline std::string cpu_model() { return cpu_model_name(); }

/// The 1, 5 and 15 minute load averages, "a / b / c".
inline std::string load_average() {
  double load[3] = {0.0, 0.0, 0.0};
  if (getloadavg(load, 3) != 3) return "unknown";
  return fixed(load[0], 2) + " / " + fixed(load[1], 2) + " / " + fixed(load[2], 2);
}

}  // namespace terraseg::bench
