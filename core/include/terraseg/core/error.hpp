#pragma once
/// The one error type of terraseg. Library code throws it; only the CLI and the batch loop catch it.
/// Messages say what failed, where (file / key / op / tile) and what to do.
#include <stdexcept>
#include <string>

namespace terraseg {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace terraseg
