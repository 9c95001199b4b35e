#include "command.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg::cli {
namespace {

class RunCommand final : public Command {
 public:
  void declare(CLI::App& /*sub*/, CommonOptions& /*common*/) override {}
  int run() override { throw terraseg::Error("'terraseg run' is not available in this build yet"); }
};

}  // namespace

std::unique_ptr<Command> make_run_command() { return std::make_unique<RunCommand>(); }

}  // namespace terraseg::cli
