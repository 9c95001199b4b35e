#pragma once
/// A terraseg subcommand: declares its flags on a CLI11 subcommand, then runs after parsing.
/// Every command is listed once, explicitly, in commands.cpp (no static self-registration).
#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

namespace terraseg {
struct PredictRequest;
}

namespace terraseg::cli {

/// Flags every command accepts (contract: -q and --threads T).
struct CommonOptions {
  bool quiet = false;
  int threads = 0;  ///< 0 = default_thread_count() (all the CPUs this process may use)
  /// --config KEY VALUE pairs (GDAL's), flattened: set with CPLSetConfigOption before the command runs.
  std::vector<std::string> gdal_config;
  std::string tuning;  ///< --tuning; empty: $TERRASEG_TUNING, else "measure"
};

class Command {
 public:
  Command() = default;
  virtual ~Command() = default;
  /// Held by pointer to the base: copying or moving one would slice it.
  Command(const Command&) = delete;
  Command& operator=(const Command&) = delete;
  Command(Command&&) = delete;
  Command& operator=(Command&&) = delete;
  /// Binds this command's flags to members. `common` outlives the command.
  virtual void declare(CLI::App& sub, CommonOptions& common) = 0;
  /// Runs after a successful parse; returns the exit code. Throws terraseg::Error on failure.
  virtual int run() = 0;
};

struct CommandEntry {
  std::string name;
  std::string help;
  std::unique_ptr<Command> (*make)();
};

/// --scales and --flip, the passes each window runs (inference_passes.hpp), for predict and eval.
void add_pass_options(CLI::App& sub, std::string& scales, std::string& flip);
/// Puts --scales / --flip into `request` where they were given; throws Error naming the flag when invalid.
void apply_pass_options(const std::string& scales, const std::string& flip, PredictRequest& request);

/// The one list of commands.
std::vector<CommandEntry> all_commands();

std::unique_ptr<Command> make_run_command();
std::unique_ptr<Command> make_predict_command();
std::unique_ptr<Command> make_info_command();
std::unique_ptr<Command> make_export_command();
std::unique_ptr<Command> make_bench_command();
std::unique_ptr<Command> make_train_command();
std::unique_ptr<Command> make_eval_command();
std::unique_ptr<Command> make_labels_command();
std::unique_ptr<Command> make_adapt_command();

}  // namespace terraseg::cli
