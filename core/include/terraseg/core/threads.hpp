#pragma once
/// The process's one thread setting: how many threads "all cores" (`--threads 0`, the default)
/// means, and the call that sets the OpenMP pool oneDNN, the training ops and the Winograd kernels
/// share. The CLI sets it once per command (geo::set_thread_count also sets OpenCV's pool); nothing
/// below the CLI resets it.
#include <string>

namespace terraseg {

/// `requested` when > 0, else default_thread_count(): what a count of 0 in a flag or config means.
int resolve_thread_count(int requested);

/// Sets the process's OpenMP thread count to resolve_thread_count(threads) and returns that count.
int set_thread_count(int threads);

/// The count set (OpenMP's current maximum): what plans are measured at and run summaries record.
int thread_count();

/// OMP_NUM_THREADS when it is set; otherwise the CPUs this process may run on (its affinity mask),
/// capped by the CPU quota of its cgroup rounded up (a Kubernetes or Docker CPU limit). Spinning
/// OpenMP barriers on more threads than the quota lets run degrade by an order of magnitude.
int default_thread_count();

/// The most threads a command accepts: 4 x the CPUs this process may run on (at least 4). More only
/// oversubscribes the machine, and OpenMP runtimes crash when asked for very many.
int max_thread_count();

/// The CPU quota of the cgroup described by `proc_self_cgroup` (the text of /proc/self/cgroup),
/// looked up under `cgroup_root` (normally /sys/fs/cgroup): cgroup v2 `cpu.max` or v1
/// `cpu.cfs_quota_us` / `cpu.cfs_period_us`, rounded up to whole CPUs. 0 when there is no quota or
/// the files cannot be read.
int cgroup_cpu_limit(const std::string& proc_self_cgroup, const std::string& cgroup_root);

}  // namespace terraseg
