// The thread setting: affinity, OMP_NUM_THREADS and cgroup CPU quotas (see threads.hpp).
#include "terraseg/core/threads.hpp"

#include <omp.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

namespace terraseg {
namespace {

/// First line of a small file; empty when it cannot be read.
std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

/// quota / period rounded up, or 0 for no quota (v2 "max", v1 -1) or unreadable values.
int whole_cpus(const std::string& quota, const std::string& period) {
  if (quota.empty() || period.empty() || quota == "max") return 0;
  char* end = nullptr;
  const double q = std::strtod(quota.c_str(), &end);
  if (end == quota.c_str()) return 0;
  const double p = std::strtod(period.c_str(), &end);
  if (end == period.c_str() || q <= 0.0 || p <= 0.0) return 0;
  return static_cast<int>(std::ceil(q / p - 1e-9));
}

}  // namespace

int cgroup_cpu_limit(const std::string& proc_self_cgroup, const std::string& cgroup_root) {
  // Lines are "id:controllers:path"; v2 has id 0 and no controllers.
  std::istringstream lines(proc_self_cgroup);
  int limit = 0;
  auto take = [&limit](int cpus) {
    if (cpus > 0) limit = limit > 0 ? std::min(limit, cpus) : cpus;
  };
  for (std::string line; std::getline(lines, line);) {
    const size_t a = line.find(':');
    const size_t b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1);
    std::string path = line.substr(b + 1);
    if (path == "/") path.clear();
    if (controllers.empty()) {
      // cgroup v2 (unified at the root, or under unified/ on hybrid hosts); inside a container's
      // cgroup namespace the path is "/" and the root itself holds cpu.max.
      for (const std::string& dir : {cgroup_root + path, cgroup_root + "/unified" + path, cgroup_root}) {
        std::istringstream max(first_line(dir + "/cpu.max"));
        std::string quota;
        std::string period;
        max >> quota >> period;
        take(whole_cpus(quota, period));
      }
      continue;
    }
    std::istringstream names(controllers);
    for (std::string name; std::getline(names, name, ',');) {
      if (name != "cpu") continue;
      for (const std::string& mount : {cgroup_root + "/cpu", cgroup_root + "/cpu,cpuacct"}) {
        for (const std::string& dir : {mount + path, mount}) {
          take(whole_cpus(first_line(dir + "/cpu.cfs_quota_us"), first_line(dir + "/cpu.cfs_period_us")));
        }
      }
    }
  }
  return limit;
}

int max_thread_count() { return 4 * std::max(1, omp_get_num_procs()); }

int default_thread_count() {
  if (const char* env = std::getenv("OMP_NUM_THREADS"); env != nullptr) {
    // The first number (OMP_NUM_THREADS may list one per nesting level: "4,2").
    int requested = 0;
    const std::string_view text(env);
    if (std::from_chars(text.data(), text.data() + text.size(), requested).ec == std::errc() && requested > 0) {
      return requested;
    }
  }
  int threads = std::max(1, omp_get_num_procs());  // respects the affinity mask
  std::ifstream in("/proc/self/cgroup");
  std::stringstream text;
  text << in.rdbuf();
  const int quota = cgroup_cpu_limit(text.str(), "/sys/fs/cgroup");
  if (quota > 0) threads = std::min(threads, quota);
  return threads;
}

int resolve_thread_count(int requested) { return requested > 0 ? requested : default_thread_count(); }

int set_thread_count(int threads) {
  const int resolved = resolve_thread_count(threads);
  omp_set_num_threads(resolved);
  return resolved;
}

int thread_count() { return std::max(1, omp_get_max_threads()); }

}  // namespace terraseg
