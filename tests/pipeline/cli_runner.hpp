#pragma once
/// Runs the terraseg CLI in-process and captures what it prints.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "terraseg/pipeline/cli.hpp"

namespace terraseg::test {

struct CliResult {
  int exit_code = 0;
  std::string out;
  std::string err;
};

inline CliResult run_terraseg(std::vector<std::string> args) {
  args.insert(args.begin(), "terraseg");
  std::vector<char*> argv;
  argv.reserve(args.size());
  for (std::string& arg : args) argv.push_back(arg.data());
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  CliResult result;
  result.exit_code = run_cli(static_cast<int>(argv.size()), argv.data());
  result.out = testing::internal::GetCapturedStdout();
  result.err = testing::internal::GetCapturedStderr();
  return result;
}

#ifdef TERRASEG_BINARY
/// Starts the real terraseg binary in a child process (for tests that kill it mid-run); its stdout
/// and stderr are appended to `log` when one is given.
inline pid_t spawn_terraseg(const std::vector<std::string>& args, const std::filesystem::path& log = {}) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (!log.empty()) {
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, STDERR_FILENO);
      dup2(fd, STDOUT_FILENO);
    }
    std::vector<char*> argv{const_cast<char*>(TERRASEG_BINARY)};
    for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    execv(TERRASEG_BINARY, argv.data());
    _exit(127);
  }
  return pid;
}
#endif

/// Waits for a child process: its exit code, or -1 when a signal ended it.
inline int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace terraseg::test
