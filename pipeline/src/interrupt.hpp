#pragma once
/// SIGTERM (what Kubernetes sends on eviction) and SIGINT (Ctrl-C) end `run` and `predict` cleanly:
/// the handler only notes the signal; the work stops at its next progress step or unit by throwing
/// Interrupted, so that every temporary and scratch folder is removed while the stack unwinds and no
/// unit record is written for unfinished work. The CLI exits 128 + the signal (143, 130). A second
/// signal ends the process at once (the default action).
#include "terraseg/core/error.hpp"

namespace terraseg {

class Interrupted : public Error {
 public:
  explicit Interrupted(int signal_number);
  int signal_number() const { return signal_; }

 private:
  int signal_;
};

/// Installs the handlers for SIGINT and SIGTERM for the life of the guard (restored after).
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
  InterruptGuard(InterruptGuard&&) = delete;
  InterruptGuard& operator=(InterruptGuard&&) = delete;
};

/// Throws Interrupted when SIGINT or SIGTERM arrived under an InterruptGuard.
void check_interrupted();

}  // namespace terraseg
