#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "models.hpp"
#include "predict_step.hpp"
#include "terraseg/core/input_geometry.hpp"
#include "terraseg/core/engine.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg::cli {
namespace {

/// `terraseg info MODEL.onnx`: the model card, inputs, outputs, op counts, parameters and FLOPs.
class InfoCommand final : public Command {
 public:
  void declare(CLI::App& sub, CommonOptions& common) override {
    common_ = &common;
    sub.add_option("model", model_path_, "ONNX model file")->required();
    sub.add_option("--height", height_, "Input height for the FLOP count")->check(CLI::PositiveNumber);
    sub.add_option("--width", width_, "Input width for the FLOP count")->check(CLI::PositiveNumber);
    sub.add_flag("--json", json_, "Print JSON instead of text");
  }

  int run() override {
    std::string warning;
    LoadedModel model = load_model_file(model_path_, &warning);
    const Graph& graph = model.graph;
    Engine engine(graph, EngineOptions{common_->threads, Precision::f32});
    Dims dims = graph.input_dims;
    if (dims.size() != 4) throw terraseg::Error(model_path_ + ": input '" + graph.input + "' is not NCHW (dims " + to_string(dims) + ")");
    const InputGeometry geometry = input_geometry(graph);
    const TilingPlan tiling = resolve_tiling(graph.card, geometry, PredictRequest{});
    dims[0] = 1;
    dims[2] = height_ > 0 ? height_ : geometry.fixed_hw ? (*geometry.fixed_hw)[0] : 512;
    dims[3] = width_ > 0 ? width_ : geometry.fixed_hw ? (*geometry.fixed_hw)[1] : 512;
    const PlanStats stats = engine.stats(dims);
    nlohmann::json doc;
    doc["model"] = model_path_;
    doc["card"] = graph.card.present ? nlohmann::json::parse(graph.card.to_json()) : nlohmann::json(nullptr);
    doc["input"] = {{"name", graph.input}, {"dims", graph.input_dims}};
    doc["outputs"] = graph.outputs;
    doc["op_counts"] = stats.op_counts;
    doc["parameters"] = graph.parameter_count();
    doc["flops"] = {{"input", dims}, {"gflops", stats.flops / 1e9}};
    doc["winograd_convolutions"] = stats.winograd_convolutions;
    doc["tiling"] = {{"tile", tiling.tile},         {"tile_from", tiling.tile_from},
                     {"overlap", tiling.overlap},   {"overlap_from", tiling.overlap_from},
                     {"multiple", tiling.multiple}, {"fixed_size", tiling.fixed_size}};
    if (json_) {
      std::cout << doc.dump(2) << '\n';
      return 0;
    }
    if (!warning.empty()) std::cerr << "terraseg: warning: " << warning << '\n';
    print_text(graph, stats, dims, tiling);
    return 0;
  }

 private:
  void print_text(const Graph& graph, const PlanStats& stats, const Dims& dims, const TilingPlan& tiling) const {
    const ModelCard& card = graph.card;
    std::cout << "model:       " << model_path_ << '\n';
    std::cout << "input:       " << graph.input << " " << to_string(graph.input_dims) << " (-1 = any size)\n";
    std::cout << "tiling:      ";
    if (tiling.fixed_size) {
      std::cout << "fixed input size " << tiling.tile[0] << "x" << tiling.tile[1] << ": every window is that size";
    } else {
      std::cout << "images up to " << tiling.tile[0] << "x" << tiling.tile[1] << " (" << tiling.tile_from
                << ") run whole, padded to a multiple of " << tiling.multiple << "; larger ones in windows of that size";
    }
    std::cout << ", overlap " << tiling.overlap << " (" << tiling.overlap_from << ")\n";
    std::cout << "outputs:    ";
    for (const auto& output : graph.outputs) std::cout << ' ' << output;
    std::cout << "\nparameters:  " << graph.parameter_count() << '\n';
    std::cout << "GFLOPs:      " << std::fixed << std::setprecision(2) << stats.flops / 1e9 << " at "
              << to_string(dims) << '\n';
    if (stats.winograd_convolutions > 0) {
      std::cout << "winograd:    " << stats.winograd_convolutions << " 3x3 convolutions run as Winograd F(4x4,3x3)\n";
    }
    std::cout << "ops:        ";
    for (const auto& [op, count] : stats.op_counts) std::cout << ' ' << op << "=" << count;
    std::cout << "\nmodel card:  " << (card.present ? "" : "none (raw band values in, generic classes)") << '\n';
    if (card.present) std::cout << card.to_json() << '\n';
  }

  CommonOptions* common_ = nullptr;
  std::string model_path_;
  int64_t height_ = 0;  ///< 0: the model's fixed size, else 512
  int64_t width_ = 0;
  bool json_ = false;
};

}  // namespace

std::unique_ptr<Command> make_info_command() { return std::make_unique<InfoCommand>(); }

}  // namespace terraseg::cli
