#include "interrupt.hpp"

#include <atomic>
#include <csignal>
#include <cstring>
#include <string>

namespace terraseg {
namespace {

// NOLINTBEGIN(cppcoreguidelines-avoid-non-const-global-variables): a signal handler reaches only globals
std::atomic<int> g_signal{0};
struct sigaction g_previous_int {};
struct sigaction g_previous_term {};
// NOLINTEND(cppcoreguidelines-avoid-non-const-global-variables)

extern "C" void note_signal(int signal_number) {
  g_signal.store(signal_number);
  // A second signal takes the default action: a user pressing Ctrl-C twice means "now".
  struct sigaction fallback {};
  fallback.sa_handler = SIG_DFL;
  sigemptyset(&fallback.sa_mask);
  sigaction(signal_number, &fallback, nullptr);
}

}  // namespace

Interrupted::Interrupted(int signal_number)
    : Error(std::string("interrupted by ") +
            (signal_number == SIGTERM  ? "SIGTERM"
             : signal_number == SIGINT ? "SIGINT"
                                       : strsignal(signal_number)) +
            ": unfinished outputs removed; finished work is kept (terraseg run --resume goes on from there)"),
      signal_(signal_number) {}

InterruptGuard::InterruptGuard() {
  g_signal.store(0);
  struct sigaction action {};
  action.sa_handler = note_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // file I/O in GDAL and the C library is not retried on EINTR
  sigaction(SIGINT, &action, &g_previous_int);
  sigaction(SIGTERM, &action, &g_previous_term);
}

InterruptGuard::~InterruptGuard() {
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGTERM, &g_previous_term, nullptr);
}

void check_interrupted() {
  const int signal_number = g_signal.load();
  if (signal_number != 0) throw Interrupted(signal_number);
}

}  // namespace terraseg
