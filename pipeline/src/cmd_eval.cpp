#include "command.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg::cli {
namespace {

class EvalCommand final : public Command {
 public:
  void declare(CLI::App& /*sub*/, CommonOptions& /*common*/) override {}
  int run() override { throw terraseg::Error("'terraseg eval' is not available in this build yet"); }
};

}  // namespace

std::unique_ptr<Command> make_eval_command() { return std::make_unique<EvalCommand>(); }

}  // namespace terraseg::cli
