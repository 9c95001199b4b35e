#include "command.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg::cli {
namespace {

class TrainCommand final : public Command {
 public:
  void declare(CLI::App& /*sub*/, CommonOptions& /*common*/) override {}
  int run() override { throw terraseg::Error("'terraseg train' is not available in this build yet"); }
};

}  // namespace

std::unique_ptr<Command> make_train_command() { return std::make_unique<TrainCommand>(); }

}  // namespace terraseg::cli
