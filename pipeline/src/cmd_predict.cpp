#include "command.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg::cli {
namespace {

class PredictCommand final : public Command {
 public:
  void declare(CLI::App& /*sub*/, CommonOptions& /*common*/) override {}
  int run() override { throw terraseg::Error("'terraseg predict' is not available in this build yet"); }
};

}  // namespace

std::unique_ptr<Command> make_predict_command() { return std::make_unique<PredictCommand>(); }

}  // namespace terraseg::cli
