#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "command.hpp"
#include "deepness_report.hpp"
#include "inference_passes.hpp"
#include "models.hpp"
#include "predict_step.hpp"
#include "terraseg/core/domain.hpp"
#include "terraseg/core/engine.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/input_geometry.hpp"
#include "terraseg/geo/threads.hpp"

namespace terraseg::cli {
namespace {

/// `terraseg info MODEL.onnx`: the model card, inputs, outputs, op counts, parameters and FLOPs, and
/// what the QGIS Deepness plugin would make of the model.
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
    geo::set_thread_count(common_->threads);
    Engine engine(graph, EngineOptions{});  // the plan's statistics only: fixed rules, nothing measured
    Dims dims = graph.input_dims;
    if (dims.size() != 4)
      throw terraseg::Error(model_path_ + ": input '" + graph.input + "' is not NCHW (dims " + to_string(dims) + ")");
    const InputGeometry geometry = input_geometry(graph);
    const TilingPlan tiling = resolve_tiling(graph.card, geometry, PredictRequest{});
    const InferencePasses passes = resolve_passes(graph.card, nullptr, nullptr, tiling.fixed_size, "");
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
    if (graph.card.present) {
      nlohmann::json mean = nlohmann::json::array(), std_dev = nlohmann::json::array();
      for (float m : graph.card.mean) mean.push_back(m / graph.card.scale);
      for (float d : graph.card.std) std_dev.push_back(d / graph.card.scale);
      doc["normalisation_raw"] = {{"formula", "x = (raw - mean) / std"}, {"mean", mean}, {"std", std_dev}};
    }
    doc["tiling"] = {{"tile", tiling.tile},         {"tile_from", tiling.tile_from},
                     {"overlap", tiling.overlap},   {"overlap_from", tiling.overlap_from},
                     {"multiple", tiling.multiple}, {"fixed_size", tiling.fixed_size},
                     {"scales", passes.scales},     {"flip", passes.flip}};
    doc["deepness"] = deepness_json(graph, model_path_);
    if (json_) {
      std::cout << doc.dump(2) << '\n';
      return 0;
    }
    if (!warning.empty()) std::cerr << "terraseg: warning: " << warning << '\n';
    print_text(graph, stats, dims, tiling, passes);
    return 0;
  }

 private:
  /// The card's normalisation in one convention, raw band values: x = (raw - mean) / std.
  static std::string normalisation_text(const ModelCard& card) {
    std::ostringstream text;
    text << std::setprecision(6);
    text << "x = (raw - mean) / std, in raw band values: mean";
    for (size_t c = 0; c < std::max<size_t>(card.mean.size(), 1); ++c) {
      text << ' ' << (c < card.mean.size() ? card.mean[c] / card.scale : 0.0);
    }
    text << ", std";
    for (size_t c = 0; c < std::max<size_t>(card.std.size(), 1); ++c) {
      text << ' ' << (c < card.std.size() ? card.std[c] / card.scale : 1.0 / card.scale);
    }
    return text.str();
  }

  static std::string hex_colour(const ClassInfo& info) { return "#" + hex_rgb(info.rgb); }

  void print_text(const Graph& graph, const PlanStats& stats, const Dims& dims, const TilingPlan& tiling,
                  const InferencePasses& passes) const {
    const ModelCard& card = graph.card;
    const auto row = [](const std::string& key, const std::string& value) {
      std::cout << std::left << std::setw(14) << key << value << '\n';
    };
    const auto any = [](int64_t d) { return d > 0 ? std::to_string(d) : std::string("any"); };
    row("model", model_path_ + (card.present && !card.name.empty() ? "  (" + card.name + ")" : ""));
    if (!card.architecture.empty()) row("architecture", card.architecture);
    const Dims& in = graph.input_dims;
    row("input", "'" + graph.input + "': " + std::to_string(in.size() > 1 ? in[1] : 0) + " bands, height " +
                     any(in.size() > 2 ? in[2] : -1) + ", width " + any(in.size() > 3 ? in[3] : -1) + ", float32");
    for (const auto& output : graph.outputs) {
      row(output == graph.outputs.front() ? "output" : "",
          "'" + output +
              "': " + (output == graph.outputs.front() ? "class scores, one channel per class" : "auxiliary"));
    }
    if (!card.present) {
      row("model card", "none: raw band values go in unscaled (predict --scale/--mean/--std), classes are 'class N'");
    } else {
      std::string bands;
      for (const auto& band : card.bands) bands += (bands.empty() ? "" : ", ") + band;
      row("bands", bands.empty() ? "as the input's first bands" : bands);
      row("normalise", normalisation_text(card));
      const auto range = card.input_range;
      if (range) row("input range", std::to_string((*range)[0]) + " .. " + std::to_string((*range)[1]));
      std::ostringstream size;
      if (card.pixel_size_m) {
        size << std::setprecision(3) << *card.pixel_size_m << " m (inputs at other pixel sizes are warped to it)";
      }
      row("pixel size", card.pixel_size_m ? size.str() : "not stated (photos: used at their own size)");
      if (card.threshold) {
        std::ostringstream threshold;
        threshold << std::fixed << std::setprecision(2) << *card.threshold << " on the positive class's score";
        row("threshold", threshold.str());
      }
    }
    std::ostringstream tiles;
    if (tiling.fixed_size) {
      tiles << "fixed input size " << tiling.tile[0] << "x" << tiling.tile[1] << ": every window is that size";
    } else {
      tiles << "images up to " << tiling.tile[0] << "x" << tiling.tile[1] << " (" << tiling.tile_from
            << ") run whole, padded to a multiple of " << tiling.multiple << "; larger ones in windows of that size";
    }
    tiles << ", overlap " << tiling.overlap << " (" << tiling.overlap_from << ")";
    row("tiling", tiles.str());
    if (passes.count() > 1) {
      row("passes", "each window at scales " + passes.describe() + " (card), scores averaged: " +
                        std::to_string(passes.count()) + " runs of the model; --scales 1 --flip off runs it once");
    }
    if (!card.classes.empty()) {
      std::cout << "classes       id  colour   name\n";
      for (const ClassInfo& info : card.classes) {
        std::cout << "              " << std::right << std::setw(2) << info.id << "  " << hex_colour(info) << "  "
                  << std::left << info.name << '\n';
      }
      if (!card.ignore_ids.empty()) {
        std::string ignored;
        for (int id : card.ignore_ids) ignored += (ignored.empty() ? "" : ", ") + std::to_string(id);
        row("ignored ids", ignored + " (in training labels; never predicted)");
      }
    }
    if (!card.metrics.empty()) {
      std::ostringstream metrics;
      metrics << std::fixed << std::setprecision(3);
      for (const auto& [name, value] : card.metrics) {
        metrics << (metrics.tellp() > 0 ? ", " : "") << name << " ";
        if (value == std::floor(value) && std::abs(value) < 1e9) {
          metrics << static_cast<int64_t>(value);  // epochs and steps
        } else {
          metrics << value;
        }
      }
      row("validation", metrics.str());
    }
    if (!card.training_data.empty()) row("trained on", card.training_data);
    if (!card.initial_weights.empty()) {
      row("transfer from", card.initial_weights +
                               (card.initial_weights_licence.empty() ? "" : " (" + card.initial_weights_licence + ")"));
    }
    if (!card.licence.empty()) row("licence", card.licence);
    if (!card.notes.empty()) row("notes", card.notes);
    if (card.training_domain) {
      const DomainProfile& domain = *card.training_domain;
      std::ostringstream text;
      text << domain.source << "; predict warns when an input's domain_shift is above " << kDomainShiftWarning;
      if (domain.validation_max)
        text << " (its validation images: up to " << std::setprecision(3) << *domain.validation_max << ")";
      row("domain", text.str());
    } else {
      row("domain",
          "no training_domain in the card: predict cannot say when an input is unlike the training imagery "
          "(terraseg train CONFIG --domain-only adds it)");
    }
    std::ostringstream size;
    size << graph.parameter_count() << " parameters, " << std::fixed << std::setprecision(2) << stats.flops / 1e9
         << " GFLOPs at " << to_string(dims);
    row("size", size.str());
    if (stats.winograd_convolutions > 0) {
      row("winograd", std::to_string(stats.winograd_convolutions) + " 3x3 convolutions run as Winograd F(4x4,3x3)");
    }
    std::string ops;
    for (const auto& [op, count] : stats.op_counts) ops += (ops.empty() ? "" : " ") + op + "=" + std::to_string(count);
    row("ops", ops);
    print_deepness(std::cout, graph, model_path_);
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
