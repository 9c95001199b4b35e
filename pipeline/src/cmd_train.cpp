#include <iostream>

#include "command.hpp"
#include "train_config.hpp"
#include "train_job.hpp"

namespace terraseg::cli {
namespace {

/// `terraseg train CONFIG.yaml [--resume]`: fine-tunes or trains a model, validating every epoch,
/// checkpointing every N steps and exporting the best model (or, with output.select: last, the end of
/// the schedule) as ONNX with its model card.
class TrainCommand final : public Command {
 public:
  void declare(CLI::App& sub, CommonOptions& common) override {
    common_ = &common;
    sub.add_option("config", config_path_, "Training config (YAML); relative paths are relative to it")->required();
    sub.add_flag("--resume", resume_, "Continue from the last checkpoint in output.checkpoint_dir");
    sub.add_flag("--domain-only", domain_only_,
                 "Train nothing: measure the training imagery of output.model as it stands and write it into its card "
                 "(training_domain: what predict compares inputs with to warn when they are unlike it)");
  }

  int run() override {
    const TrainConfig config = load_train_config(config_path_);
    TrainOptions options;
    options.resume = resume_;
    options.quiet = common_->quiet;
    options.threads = common_->threads;
    options.domain_only = domain_only_;
    const TrainResult result = train_job(config, options);
    if (domain_only_) {
      std::cout << "training_domain -> " << config.output.model.string() << '\n';
      return 0;
    }
    if (config.output.select == "last") {
      std::cout << "last epoch";
      if (result.best >= 0.0) std::cout << ' ' << config.output.metric << ' ' << result.best;
      std::cout << " -> " << config.output.model.string() << '\n';
    } else {
      std::cout << "best " << config.output.metric << " " << result.best << " -> " << config.output.model.string()
                << '\n';
    }
    return 0;
  }

 private:
  CommonOptions* common_ = nullptr;
  std::string config_path_;
  bool resume_ = false;
  bool domain_only_ = false;
};

}  // namespace

std::unique_ptr<Command> make_train_command() { return std::make_unique<TrainCommand>(); }

}  // namespace terraseg::cli
