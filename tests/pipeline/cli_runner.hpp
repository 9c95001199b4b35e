#pragma once
/// Runs the terraseg CLI in-process and captures what it prints.
#include <gtest/gtest.h>

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
  for (std::string& arg : args) argv.push_back(arg.data());
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  CliResult result;
  result.exit_code = run_cli(static_cast<int>(argv.size()), argv.data());
  result.out = testing::internal::GetCapturedStdout();
  result.err = testing::internal::GetCapturedStderr();
  return result;
}

}  // namespace terraseg::test
