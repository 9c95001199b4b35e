// terraseg_train_peer_bench: one SGD training step of terraseg's TrainGraph/Trainer against PyTorch
// (Debian python3-torch) on the same U-Net, batch and thread count, in one run (docs/benchmarks.md,
// "training step"). Not a test: it prints a markdown table, the command line and the machine state.
//
// PyTorch runs in a child process (tests/reference/bench_train_torch.py --serve) that stays alive for
// the whole run, so both sides are warm. After the warm-up, rounds alternate: terraseg does
// --steps-per-round steps, then PyTorch does as many (the order flips every round), so load from other
// processes hits both alike and neither competes with the other for the cores.
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "bench_util.hpp"
#include "terraseg/core/builders.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/threads.hpp"
#include "terraseg/core/trainer.hpp"
#include "terraseg/core/version.hpp"
#include "test_support.hpp"
#include "train_test_util.hpp"

namespace terraseg {
namespace {

using Clock = std::chrono::steady_clock;
using bench::cpu_model;
using bench::fixed;
using bench::load_average;
using bench::median;
using bench::minimum;

struct Options {
  int threads = 1;
  int rounds = 6;
  int steps_per_round = 2;
  int warmup = 3;
  int batch = 4;
  int size = 192;
  int classes = 2;
  std::string python = "/usr/bin/python3";
  bool no_pytorch = false;
};

/// The PyTorch child: a line protocol over two pipes (see bench_train_torch.py).
class TorchPeer {
 public:
  explicit TorchPeer(const Options& options) {
    const std::string script = (test::source_dir() / "tests" / "reference" / "bench_train_torch.py").string();
    std::vector<std::string> args{options.python,
                                  script,
                                  "--serve",
                                  "--threads",
                                  std::to_string(options.threads),
                                  "--batch",
                                  std::to_string(options.batch),
                                  "--size",
                                  std::to_string(options.size),
                                  "--classes",
                                  std::to_string(options.classes)};
    for (const std::string& arg : args) command_ += (command_.empty() ? "" : " ") + arg;
    int to_child[2], from_child[2];
    if (pipe(to_child) != 0 || pipe(from_child) != 0) throw Error("pipe() failed");
    pid_ = fork();
    if (pid_ < 0) throw Error("fork() failed");
    if (pid_ == 0) {
      dup2(to_child[0], STDIN_FILENO);
      dup2(from_child[1], STDOUT_FILENO);
      for (int fd : {to_child[0], to_child[1], from_child[0], from_child[1]}) close(fd);
      std::vector<char*> argv;
      argv.reserve(args.size());
      for (std::string& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      std::perror("execv");
      _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    in_ = fdopen(to_child[1], "w");
    out_ = fdopen(from_child[0], "r");
    header_ = read_json();
  }

  ~TorchPeer() {
    // Best effort: the child exits on "quit" or on end of input alike, and a destructor cannot report.
    if (in_ != nullptr) {
      (void)std::fputs("quit\n", in_);
      (void)std::fclose(in_);
    }
    if (out_ != nullptr) (void)std::fclose(out_);
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
  }

  TorchPeer(const TorchPeer&) = delete;
  TorchPeer& operator=(const TorchPeer&) = delete;
  TorchPeer(TorchPeer&&) = delete;
  TorchPeer& operator=(TorchPeer&&) = delete;

  std::vector<double> steps(int count) {
    if (std::fprintf(in_, "steps %d\n", count) < 0 || std::fflush(in_) != 0) {
      throw Error("the PyTorch peer (" + command_ + ") stopped reading its input");
    }
    return read_json().at("ms").get<std::vector<double>>();
  }

  const nlohmann::json& header() const { return header_; }
  const std::string& command() const { return command_; }

 private:
  /// The next JSON object line; other lines (e.g. ONEDNN_VERBOSE output of PyTorch's own oneDNN) are skipped.
  nlohmann::json read_json() {
    while (true) {
      std::string line;
      int c = 0;
      while ((c = std::fgetc(out_)) != EOF && c != '\n') line.push_back(static_cast<char>(c));
      if (c == EOF && line.empty()) throw Error("PyTorch peer (" + command_ + ") ended without an answer");
      nlohmann::json doc = nlohmann::json::parse(line, nullptr, false);
      if (!doc.is_discarded() && doc.is_object()) return doc;
    }
  }

  std::string command_;
  pid_t pid_ = -1;
  FILE* in_ = nullptr;
  FILE* out_ = nullptr;
  nlohmann::json header_;
};

int run(const Options& options, const std::string& command_line) {
  set_thread_count(options.threads);
  UNetSpec spec;
  spec.classes = options.classes;
  spec.depth = 4;
  spec.base_width = 16;
  TrainGraph graph(build_unet(spec));
  int64_t parameters = 0;
  for (const std::string& name : graph.parameters()) parameters += graph.weight(name).size();
  TrainerConfig config;
  config.lr = 0.01;
  config.schedule.kind = ScheduleKind::constant;
  Trainer trainer(graph, config);
  const Tensor images = test::random_tensor({options.batch, 3, options.size, options.size}, 1);
  Labels labels{options.batch, options.size, options.size, std::vector<uint8_t>(images.size() / 3)};
  for (size_t i = 0; i < labels.ids.size(); ++i) labels.ids[i] = static_cast<uint8_t>((i / 7) % options.classes);

  std::cout << "    " << command_line << "\n\n";
  const std::string load_start = load_average();
  std::unique_ptr<TorchPeer> torch;
  if (!options.no_pytorch) {
    std::cerr << "starting PyTorch and warming up ...\n";
    torch = std::make_unique<TorchPeer>(options);
    if (torch->header().at("parameters").get<int64_t>() != parameters) {
      std::cerr << "warning: PyTorch's U-Net has " << torch->header().at("parameters") << " parameters, terraseg's "
                << parameters << "\n";
    }
    torch->steps(options.warmup);
  }
  for (int i = 0; i < options.warmup; ++i) trainer.step(images, labels);

  std::vector<double> ours, theirs;
  for (int round = 0; round < options.rounds; ++round) {
    std::cerr << "round " << round + 1 << "/" << options.rounds << '\n';
    auto time_ours = [&] {
      for (int i = 0; i < options.steps_per_round; ++i) {
        const auto start = Clock::now();
        trainer.step(images, labels);
        ours.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      }
    };
    auto time_theirs = [&] {
      if (!torch) return;
      for (double ms : torch->steps(options.steps_per_round)) theirs.push_back(ms);
    };
    if (round % 2 == 0) {
      time_ours();
      time_theirs();
    } else {
      time_theirs();
      time_ours();
    }
  }

  const std::string input =
      std::to_string(options.batch) + "x3x" + std::to_string(options.size) + "x" + std::to_string(options.size);
  const std::string torch_version = torch ? torch->header().at("torch").get<std::string>() : "";
  std::cout << "Machine: " << cpu_model() << ", " << options.threads << " thread(s) for both; oneDNN "
            << onednn_version() << " (terraseg)";
  if (torch) {
    std::cout << ", PyTorch " << torch_version << " (" << torch->header().at("threads") << " thread(s), mkldnn "
              << (torch->header().at("mkldnn").get<bool>() ? "on" : "off") << ")";
  }
  std::cout << "; load average (1/5/15 min) at start " << load_start << ", at end " << load_average() << ".\n"
            << "U-Net depth 4, base width 16, " << options.classes << " classes (" << parameters << " parameters"
            << (torch ? "; PyTorch " + torch->header().at("parameters").dump() : std::string()) << "), batch " << input
            << ", cross-entropy, SGD momentum 0.9. " << options.warmup << " warm-up steps each, then " << options.rounds
            << " interleaved rounds of " << options.steps_per_round << " steps each (" << ours.size()
            << " timed steps per side).\n\n";
  const double our_median = median(ours);
  std::cout << "| implementation | median ms/step | min ms/step | images/s (median) |\n|---|---|---|---|\n"
            << "| terraseg TrainGraph/Trainer | " << fixed(our_median, 1) << " | " << fixed(minimum(ours), 1) << " | "
            << fixed(options.batch * 1e3 / our_median, 2) << " |\n";
  if (!torch) return 0;
  const double their_median = median(theirs);
  std::cout << "| PyTorch " << torch_version << " | " << fixed(their_median, 1) << " | " << fixed(minimum(theirs), 1)
            << " | " << fixed(options.batch * 1e3 / their_median, 2) << " |\n\n"
            << "terraseg / PyTorch (images/s, ratio of medians): " << fixed(their_median / our_median, 2) << "x\n";
  return 0;
}

}  // namespace
}  // namespace terraseg

int main(int argc, char** argv) try {
  terraseg::Options options;
  CLI::App app{"terraseg training step vs PyTorch on the same U-Net, interleaved in one run (markdown table)"};
  app.add_option("--threads", options.threads, "Threads for both")->check(CLI::Range(1, 256));
  app.add_option("--rounds", options.rounds, "Interleaved rounds")->check(CLI::Range(1, 1000));
  app.add_option("--steps-per-round", options.steps_per_round, "Timed steps per side and round")
      ->check(CLI::Range(1, 100));
  app.add_option("--warmup", options.warmup, "Untimed steps per side first (planning, allocation)")
      ->check(CLI::Range(1, 100));
  app.add_option("--batch", options.batch, "Images per step")->check(CLI::Range(1, 256));
  app.add_option("--size", options.size, "Image height and width (a multiple of 16)")->check(CLI::Range(16, 4096));
  app.add_option("--classes", options.classes, "Output classes")->check(CLI::Range(2, 255));
  app.add_option("--python", options.python, "Python with torch");
  app.add_flag("--no-pytorch", options.no_pytorch, "Time terraseg alone (e.g. for an ONEDNN_VERBOSE profile)");
  CLI11_PARSE(app, argc, argv);
  std::string command_line = argv[0];
  for (int i = 1; i < argc; ++i) command_line += std::string(" ") + argv[i];
  return terraseg::run(options, command_line);
} catch (const std::exception& e) {
  std::cerr << "terraseg_train_peer_bench: " << e.what() << '\n';
  return 1;
}
