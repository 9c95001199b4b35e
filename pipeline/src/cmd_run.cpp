#include "command.hpp"
#include "interrupt.hpp"
#include "output_plan.hpp"
#include "terraseg/pipeline/config.hpp"
#include "terraseg/pipeline/run_job.hpp"

namespace terraseg::cli {
namespace {

/// `terraseg run CONFIG.yaml [--shard I/N] [--resume]`.
class RunCommand final : public Command {
 public:
  void declare(CLI::App& sub, CommonOptions& common) override {
    common_ = &common;
    sub.add_option("config", config_path_, "Region config (YAML); see configs/README.md")->required();
    sub.add_option("--shard", shard_, "Process shard I of N (0-based), e.g. 0/4");
    sub.add_flag("--resume", resume_, "Skip units whose outputs are complete; merge when all shards are done");
  }

  int run() override {
    check_utf8(config_path_, "the config path '" + config_path_ + "'");
    const RunConfig config = load_run_config(config_path_);
    RunOptions options;
    options.resume = resume_;
    options.quiet = common_->quiet;
    options.threads = common_->threads;
    apply_shard_environment(options);
    if (!shard_.empty()) parse_shard(shard_, options);
    const InterruptGuard interrupts;  // SIGTERM / SIGINT end the run cleanly (interrupt.hpp)
    run_job(config, options);
    return 0;
  }

 private:
  CommonOptions* common_ = nullptr;
  std::string config_path_;
  std::string shard_;
  bool resume_ = false;
};

}  // namespace

std::unique_ptr<Command> make_run_command() { return std::make_unique<RunCommand>(); }

}  // namespace terraseg::cli
