// terraseg_engine_peer_bench: terraseg's Engine against OpenCV DNN on the same ONNX files and the
// same input, in one run (docs/benchmarks.md, "inference against peers"). Not a test: it prints a
// markdown table, the command line and the machine state.
//
// The native U-Nets (base 64 and 32, depth 4) and SegNet (VGG16 encoder) are exported with
// save_onnx (opset 13, f32) into a temporary directory; ESPNet is ../shared/weights/espnet_city.onnx.
// For each model both runtimes are warmed up (terraseg plans, OpenCV allocates and fuses), then the
// timed repetitions alternate between them, so load from other processes hits both alike.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <opencv2/core/utility.hpp>
#include <random>
#include <sstream>

#include "bench_util.hpp"
#include "opencv_peer.hpp"
#include "terraseg/core/bench.hpp"
#include "terraseg/core/builders.hpp"
#include "terraseg/core/engine.hpp"
#include "terraseg/core/onnx.hpp"
#include "terraseg/core/threads.hpp"
#include "terraseg/core/version.hpp"
#include "test_support.hpp"

namespace terraseg {
namespace {

using Clock = std::chrono::steady_clock;
using bench::cpu_model;
using bench::fixed;
using bench::load_average;

struct Options {
  int threads = 2;
  int reps = 10;
  int warmup = 2;
  int classes = 2;
  bool pytorch = false;
  std::string layout = "auto";                  ///< EngineOptions::layout: auto | blocked | nhwc
  std::string tuning = "measure";               ///< EngineOptions::tuning: measure | rules
  std::vector<int64_t> espnet_size{512, 1024};  ///< ESPNet's input height, width
  bool bf16 = false;                            ///< also time terraseg in bf16 against its own f32, interleaved
  std::vector<std::string> models{"unet64", "unet32", "segnet", "espnet"};
  /// Further ONNX files, each "PATH:HxW" (e.g. a shipped model at its card's window size).
  std::vector<std::string> onnx;
};

/// "PATH:HxW" -> file and 1x3xHxW input; throws Error naming the flag otherwise.
std::pair<std::filesystem::path, Dims> parse_onnx_arg(const std::string& arg) {
  const size_t colon = arg.rfind(':');
  const size_t x = colon == std::string::npos ? colon : arg.find('x', colon);
  int64_t h = 0;
  int64_t w = 0;
  try {
    if (x != std::string::npos) {
      h = std::stoll(arg.substr(colon + 1, x - colon - 1));
      w = std::stoll(arg.substr(x + 1));
    }
  } catch (const std::exception&) {
    h = w = 0;
  }
  if (h <= 0 || w <= 0)
    throw Error("--onnx '" + arg + "': expected PATH:HxW, e.g. samples/models/roads-aerial.onnx:1536x1536");
  const std::filesystem::path file = arg.substr(0, colon);
  if (!std::filesystem::exists(file)) throw Error("--onnx '" + arg + "': no such file '" + file.string() + "'");
  return {file, Dims{1, 3, h, w}};
}

struct PeerModel {
  std::string key;   ///< as in --models
  std::string name;  ///< row label
  std::filesystem::path file;
  Dims input;
  /// What OpenCV reads: `file`, or a copy with the input size fixed (OpenCV 4.6's importer infers
  /// shapes once, at import, and fails on models whose height and width are free).
  std::filesystem::path opencv_file{};
};

/// The native U-Nets and SegNet, which PyTorch can time too (not ESPNet, not --onnx files).
bool is_native(const PeerModel& model) { return model.key != "espnet" && model.key != "onnx"; }

struct Timings {
  std::vector<double> ms;
  double median() const {
    std::vector<double> sorted = ms;
    std::sort(sorted.begin(), sorted.end());
    const size_t mid = sorted.size() / 2;
    return sorted.size() % 2 == 1 ? sorted[mid] : 0.5 * (sorted[mid - 1] + sorted[mid]);
  }
  double min() const { return *std::min_element(ms.begin(), ms.end()); }
};

struct Row {
  PeerModel model;
  double gflop = 0.0;
  Timings terraseg, opencv, bf16;
  OutputAgreement agreement;
  OutputAgreement bf16_agreement;  ///< bf16 against terraseg's own f32
  std::string bf16_plan;
  int bf16_emulated = 0;
  std::string opencv_error;  ///< non-empty when OpenCV could not import or run the file
};

template <typename Fn>
double time_ms(Fn&& fn) {
  const auto start = Clock::now();
  fn();
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::vector<PeerModel> export_models(const Options& options, const std::filesystem::path& dir) {
  std::vector<PeerModel> models;
  auto wanted = [&](const std::string& name) {
    return std::find(options.models.begin(), options.models.end(), name) != options.models.end();
  };
  for (const int base : {64, 32}) {
    const std::string name = "unet" + std::to_string(base);
    if (!wanted(name)) continue;
    UNetSpec spec;
    spec.base_width = base;
    spec.depth = 4;
    spec.classes = options.classes;
    save_onnx(build_unet(spec), (dir / (name + ".onnx")).string());
    models.push_back(
        {name,
         "U-Net base " + std::to_string(base) + ", depth 4, " + std::to_string(options.classes) + " classes (native)",
         dir / (name + ".onnx"),
         {1, 3, 512, 512}});
  }
  if (wanted("segnet")) {
    SegNetSpec spec;
    spec.classes = options.classes;
    save_onnx(build_segnet(spec), (dir / "segnet.onnx").string());
    models.push_back({"segnet",
                      "SegNet VGG16, " + std::to_string(options.classes) + " classes (native)",
                      dir / "segnet.onnx",
                      {1, 3, 512, 512}});
  }
  if (wanted("espnet")) {
    const auto weights = test::shared_weights_dir();
    if (weights && std::filesystem::exists(*weights / "espnet_city.onnx")) {
      models.push_back({"espnet",
                        "ESPNet Cityscapes (espnet_city.onnx)",
                        *weights / "espnet_city.onnx",
                        {1, 3, options.espnet_size[0], options.espnet_size[1]}});
    } else {
      std::cerr << "espnet_city.onnx not found (set TERRASEG_WEIGHTS or place ../shared/weights): ESPNet skipped\n";
    }
  }
  for (const std::string& arg : options.onnx) {
    const auto [file, input] = parse_onnx_arg(arg);
    Graph graph = load_onnx(file.string());
    graph.input_dims = input;
    const std::filesystem::path fixed =
        dir / (file.stem().string() + "-" + std::to_string(input[2]) + "x" + std::to_string(input[3]) + ".onnx");
    save_onnx(graph, fixed.string());
    models.push_back({"onnx", file.filename().string(), file, input, fixed});
  }
  return models;
}

Row bench_model(const PeerModel& model, const Options& options) {
  Row row;
  row.model = model;
  Tensor input = bench_input(model.input);
  EngineOptions engine_options;
  if (options.layout == "blocked") engine_options.layout = EngineOptions::Layout::blocked;
  if (options.layout == "nhwc") engine_options.layout = EngineOptions::Layout::nhwc;
  if (options.tuning == "measure") engine_options.tuning = EngineOptions::Tuning::measure;
  Engine engine(load_onnx(model.file.string()), engine_options);
  const PlanStats stats = engine.stats(model.input);
  row.gflop = stats.flops / 1e9;
  std::cerr << model.name << ": plan " << stats.plan_choice << " (" << stats.plan_choice_from << ")";
  for (const auto& [candidate, ms] : stats.candidate_ms) std::cerr << "; " << candidate << " " << ms << " ms";
  std::cerr << '\n';
  Tensor ours;
  cv::Mat theirs;
  cv::dnn::Net net;
  try {
    net = test::load_opencv_net((model.opencv_file.empty() ? model.file : model.opencv_file).string());
    for (int i = 0; i < options.warmup; ++i) theirs = test::forward_opencv(net, input);
  } catch (const std::exception& e) {
    row.opencv_error = e.what();
  }
  for (int i = 0; i < options.warmup; ++i) engine.run(input, ours);
  std::unique_ptr<Engine> bf16;
  Tensor reduced;
  if (options.bf16) {
    EngineOptions bf16_options = engine_options;
    bf16_options.precision = Precision::bf16;
    bf16 = std::make_unique<Engine>(load_onnx(model.file.string()), bf16_options);
    const PlanStats bf16_stats = bf16->stats(model.input);
    row.bf16_plan = bf16_stats.plan_choice;
    row.bf16_emulated = bf16_stats.emulated_bf16_convolutions;
    for (int i = 0; i < options.warmup; ++i) bf16->run(input, reduced);
  }
  for (int rep = 0; rep < options.reps; ++rep) {
    if (bf16) row.bf16.ms.push_back(time_ms([&] { bf16->run(input, reduced); }));
    // Alternate which runtime goes first, so neither always follows the other's cache state.
    const bool ours_first = rep % 2 == 0;
    if (ours_first) row.terraseg.ms.push_back(time_ms([&] { engine.run(input, ours); }));
    if (row.opencv_error.empty()) row.opencv.ms.push_back(time_ms([&] { theirs = test::forward_opencv(net, input); }));
    if (!ours_first) row.terraseg.ms.push_back(time_ms([&] { engine.run(input, ours); }));
  }
  if (row.opencv_error.empty()) row.agreement = compare_outputs(ours, test::tensor_from_blob(theirs));
  if (bf16) row.bf16_agreement = compare_outputs(reduced, ours);
  return row;
}

struct TorchTiming {
  double median_ms = 0.0;
  double min_ms = 0.0;
  std::string label;  ///< "PyTorch <version> (<mode>)"
};

/// Runs tests/reference/bench_peers_torch.py (same threads, reps, warm-up and classes) for the
/// native models among `rows` and reads its JSON lines: model key -> timing.
std::map<std::string, TorchTiming> run_pytorch(const Options& options, const std::vector<Row>& rows) {
  const std::filesystem::path script = test::source_dir() / "tests" / "reference" / "bench_peers_torch.py";
  std::string command = "/usr/bin/python3 " + script.string() + " --threads " + std::to_string(options.threads) +
                        " --reps " + std::to_string(options.reps) + " --warmup " + std::to_string(options.warmup) +
                        " --classes " + std::to_string(options.classes);
  for (const Row& row : rows) {
    if (is_native(row.model)) command += " " + row.model.key;
  }
  struct Close {
    void operator()(FILE* pipe) const { pclose(pipe); }
  };
  std::cerr << "timing PyTorch: " << command << '\n';
  // NOLINTNEXTLINE(cert-env33-c): runs the benchmark's own PyTorch peer script
  std::unique_ptr<FILE, Close> pipe(popen(command.c_str(), "r"));
  if (!pipe) throw Error("cannot run '" + command + "'");
  std::map<std::string, TorchTiming> timings;
  char line[4096];
  while (std::fgets(line, sizeof line, pipe.get()) != nullptr) {
    const nlohmann::json doc = nlohmann::json::parse(line, nullptr, false);
    if (doc.is_discarded() || !doc.contains("model")) continue;
    timings[doc.at("model").get<std::string>()] =
        TorchTiming{doc.at("median_ms").get<double>(), doc.at("min_ms").get<double>(),
                    "PyTorch " + doc.at("torch").get<std::string>() + " (" + doc.at("mode").get<std::string>() + ")"};
  }
  return timings;
}

void print_pytorch_table(const std::vector<Row>& rows, const std::map<std::string, TorchTiming>& timings,
                         double ceiling) {
  if (timings.empty()) {
    std::cout << "\nPyTorch: no timings (see the messages above).\n";
    return;
  }
  std::cout << "\n| model | " << timings.begin()->second.label
            << " ms median (min) | PyTorch / terraseg | PyTorch GFLOP/s (% ceiling) |\n|---|---|---|---|\n";
  for (const Row& row : rows) {
    auto found = timings.find(row.model.key);
    if (found == timings.end()) continue;
    const double rate = row.gflop / (found->second.median_ms / 1e3);
    std::cout << "| " << row.model.name << " | " << fixed(found->second.median_ms, 1) << " ("
              << fixed(found->second.min_ms, 1) << ") | " << fixed(found->second.median_ms / row.terraseg.median(), 2)
              << "x | " << fixed(rate, 1) << " (" << fixed(100.0 * rate / ceiling, 1) << " %) |\n";
  }
  std::cout << "\nPyTorch runs after the table above in its own process (not interleaved), on the same "
               "architectures with their own random weights (tests/reference/bench_peers_torch.py), so its "
               "outputs are not compared.\n";
}

/// OpenCV's thread pool as its build information names it (Debian's 4.6: TBB).
std::string opencv_parallel_framework() {
  std::istringstream info(cv::getBuildInformation());
  for (std::string line; std::getline(info, line);) {
    const size_t key = line.find("Parallel framework:");
    if (key != std::string::npos) return line.substr(line.find_first_not_of(' ', key + 19));
  }
  return "unknown";
}

/// OpenMP's wait policy as set in the environment (terraseg/oneDNN threads spin at barriers unless
/// it is "passive"; on an oversubscribed machine spinning threads lose whole time slices).
std::string omp_wait_policy() {
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  return policy != nullptr ? policy : "unset (libgomp default: spin, then sleep)";
}

void print_table(const std::vector<Row>& rows, double ceiling) {
  std::cout << "| model | input | GFLOP | terraseg ms median (min) | OpenCV ms median (min) | OpenCV / terraseg "
               "| terraseg GFLOP/s (% ceiling) | OpenCV GFLOP/s (% ceiling) | class agreement | max abs diff |\n"
               "|---|---|---|---|---|---|---|---|---|---|\n";
  for (const Row& row : rows) {
    const double ours = row.terraseg.median();
    const double ours_rate = row.gflop / (ours / 1e3);
    std::cout << "| " << row.model.name << " | " << to_string(row.model.input) << " | " << fixed(row.gflop, 1) << " | "
              << fixed(ours, 1) << " (" << fixed(row.terraseg.min(), 1) << ") | ";
    if (!row.opencv_error.empty()) {
      std::cout << "fails (below) | | " << fixed(ours_rate, 1) << " (" << fixed(100.0 * ours_rate / ceiling, 1)
                << " %) | | | |\n";
      continue;
    }
    const double theirs = row.opencv.median();
    const double theirs_rate = row.gflop / (theirs / 1e3);
    std::cout << fixed(theirs, 1) << " (" << fixed(row.opencv.min(), 1) << ") | " << fixed(theirs / ours, 2) << "x | "
              << fixed(ours_rate, 1) << " (" << fixed(100.0 * ours_rate / ceiling, 1) << " %) | "
              << fixed(theirs_rate, 1) << " (" << fixed(100.0 * theirs_rate / ceiling, 1) << " %) | "
              << fixed(100.0 * row.agreement.class_agreement, 3) << " % | " << std::setprecision(2) << std::scientific
              << row.agreement.max_abs_diff << std::defaultfloat << " |\n";
  }
  std::cout << "\nGFLOP: 2 x multiply-adds of the convolutions as the engine counts them; GFLOP/s: that over the "
               "median; OpenCV / terraseg: ratio of the medians (> 1: terraseg is faster); class agreement: share of "
               "output pixels whose arg-max class is the same; max abs diff: over all output scores.\n";
  for (const Row& row : rows) {
    if (!row.opencv_error.empty()) std::cout << "\nOpenCV on " << row.model.name << ": " << row.opencv_error << '\n';
  }
}

int run(const Options& options, const std::string& command_line) {
  set_thread_count(options.threads);
  cv::setNumThreads(options.threads);
  std::cout << "    " << command_line << "\n\n"
            << "Machine: " << cpu_model() << ", " << options.threads << " thread(s) for both runtimes; oneDNN "
            << onednn_version() << ", OpenCV " << CV_VERSION << " (DNN_BACKEND_OPENCV, DNN_TARGET_CPU, parallel "
            << "framework " << opencv_parallel_framework() << "); " << options.reps << " timed runs each, "
            << "interleaved, after " << options.warmup << " warm-up runs; terraseg layout " << options.layout
            << ", plan tuning " << options.tuning << "; OMP_WAIT_POLICY " << omp_wait_policy()
            << "; load average (1/5/15 min) at start " << load_average() << ".\n";
  const double ceiling_before = matmul_ceiling_gflops();
  test::TempDir dir;
  std::vector<Row> rows;
  for (const PeerModel& model : export_models(options, dir.path())) {
    std::cerr << "timing " << model.name << " ...\n";
    rows.push_back(bench_model(model, options));
  }
  const double ceiling_after = matmul_ceiling_gflops();
  const double ceiling = std::max(ceiling_before, ceiling_after);
  std::cout << "oneDNN f32 matmul ceiling (2048^3, same run): " << fixed(ceiling_before, 1) << " GFLOP/s before, "
            << fixed(ceiling_after, 1) << " after; the higher is used. Load average at end " << load_average()
            << ".\n\n";
  print_table(rows, ceiling);
  if (options.bf16) {
    std::cout << "\n| model | input | f32 ms median (min) | bf16 ms median (min) | bf16 speed-up | bf16 plan | "
                 "convolutions without a native bf16 kernel | class agreement with f32 | max abs diff |\n"
                 "|---|---|---|---|---|---|---|---|---|\n";
    for (const Row& row : rows) {
      std::cout << "| " << row.model.name << " | " << to_string(row.model.input) << " | "
                << fixed(row.terraseg.median(), 1) << " (" << fixed(row.terraseg.min(), 1) << ") | "
                << fixed(row.bf16.median(), 1) << " (" << fixed(row.bf16.min(), 1) << ") | **"
                << fixed(row.terraseg.median() / row.bf16.median(), 2) << "x** | " << row.bf16_plan << " | "
                << row.bf16_emulated << " | " << fixed(row.bf16_agreement.class_agreement * 100.0, 3) << " % | "
                << std::scientific << std::setprecision(2) << row.bf16_agreement.max_abs_diff << std::defaultfloat
                << " |\n";
    }
  }
  const bool native = std::any_of(rows.begin(), rows.end(), [](const Row& row) { return is_native(row.model); });
  if (options.pytorch && native) print_pytorch_table(rows, run_pytorch(options, rows), ceiling);
  if (options.pytorch && !native) std::cout << "\n--pytorch times the native models only (--models); none ran.\n";
  return 0;
}

}  // namespace
}  // namespace terraseg

int main(int argc, char** argv) try {
  terraseg::Options options;
  CLI::App app{"terraseg Engine vs OpenCV DNN on the same ONNX files (prints a markdown table)"};
  app.add_option("--threads", options.threads, "Threads for both runtimes")->check(CLI::Range(1, 256));
  app.add_option("--reps", options.reps, "Timed runs per runtime and model (median reported)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--warmup", options.warmup, "Untimed runs first (planning, allocation)")->check(CLI::Range(1, 100));
  app.add_option("--classes", options.classes, "Output classes of the native U-Nets and SegNet")
      ->check(CLI::Range(2, 256));
  app.add_flag("--pytorch", options.pytorch, "Also time the native models in PyTorch (/usr/bin/python3)");
  app.add_option("--layout", options.layout, "terraseg activation layout (EngineOptions::layout)")
      ->check(CLI::IsMember({"auto", "blocked", "nhwc"}));
  app.add_option("--tuning", options.tuning, "terraseg plan choice (EngineOptions::tuning): measure or rules")
      ->check(CLI::IsMember({"measure", "rules"}));
  app.add_option("--espnet-size", options.espnet_size, "ESPNet's input height and width, e.g. 360 480")->expected(2);
  app.add_flag("--bf16", options.bf16, "Also time terraseg in bf16 against its own f32 (interleaved)");
  app.add_option("--models", options.models, "Subset of: unet64 unet32 segnet espnet")
      ->delimiter(',')
      ->check(CLI::IsMember({"unet64", "unet32", "segnet", "espnet"}));
  app.add_option("--onnx", options.onnx,
                 "Also time this ONNX file, as PATH:HxW (repeatable; alone, without --models, only these)");
  CLI11_PARSE(app, argc, argv);
  if (!options.onnx.empty() && app.count("--models") == 0) options.models.clear();
  std::string command_line = argv[0];
  for (int i = 1; i < argc; ++i) command_line += std::string(" ") + argv[i];
  return terraseg::run(options, command_line);
} catch (const std::exception& e) {
  std::cerr << "terraseg_engine_peer_bench: " << e.what() << '\n';
  return 1;
}
