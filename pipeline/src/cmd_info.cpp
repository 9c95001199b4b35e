#include "command.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg::cli {
namespace {

class InfoCommand final : public Command {
 public:
  void declare(CLI::App& /*sub*/, CommonOptions& /*common*/) override {}
  int run() override { throw Error("'terraseg info' is not available in this build yet"); }
};

}  // namespace

std::unique_ptr<Command> make_info_command() { return std::make_unique<InfoCommand>(); }

}  // namespace terraseg::cli
