// The default thread count: cgroup CPU quotas (Kubernetes / Docker CPU limits).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "terraseg/core/threads.hpp"
#include "test_support.hpp"

namespace {

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text << '\n';
}

}  // namespace

TEST(Threads, CgroupV2QuotaRoundsUp) {
  terraseg::test::TempDir root;
  write_file(root / "kubepods/pod1/cpu.max", "150000 100000");
  EXPECT_EQ(terraseg::cgroup_cpu_limit("0::/kubepods/pod1\n", root.path().string()), 2);
  write_file(root / "kubepods/pod1/cpu.max", "max 100000");
  EXPECT_EQ(terraseg::cgroup_cpu_limit("0::/kubepods/pod1\n", root.path().string()), 0);
  // Inside a container's cgroup namespace the path is "/" and the root holds cpu.max.
  write_file(root / "cpu.max", "400000 100000");
  EXPECT_EQ(terraseg::cgroup_cpu_limit("0::/\n", root.path().string()), 4);
}

TEST(Threads, CgroupV1QuotaAndNoQuota) {
  terraseg::test::TempDir root;
  write_file(root / "cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "300000");
  write_file(root / "cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000");
  const std::string v1 = "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n";
  EXPECT_EQ(terraseg::cgroup_cpu_limit(v1, root.path().string()), 3);
  write_file(root / "cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1");
  EXPECT_EQ(terraseg::cgroup_cpu_limit(v1, root.path().string()), 0);
  // Nothing readable: no quota, never an error.
  EXPECT_EQ(terraseg::cgroup_cpu_limit(v1, (root / "missing").string()), 0);
  EXPECT_EQ(terraseg::cgroup_cpu_limit("garbage\n", root.path().string()), 0);
  EXPECT_GE(terraseg::default_thread_count(), 1);
}
