#pragma once
/// The terraseg command line: parses argv, runs one command, returns the process exit code.
/// Every terraseg::Error becomes one message on stderr and exit code 1.
namespace terraseg {

int run_cli(int argc, char** argv);

}  // namespace terraseg
