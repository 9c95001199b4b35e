// `terraseg eval --model M.onnx --images DIR --masks DIR [--json] [--pixel-size M]`: runs the inference
// engine over images paired with masks by file stem and prints segmentation metrics (core/metrics.hpp).
#include <cmath>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "command.hpp"
#include "models.hpp"
#include "terraseg/core/engine.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/metrics.hpp"
#include "terraseg/geo/dataset.hpp"

namespace terraseg::cli {
namespace {

/// "#3C1098=0,#8429F6=1" -> palette entries.
std::vector<std::pair<std::array<uint8_t, 3>, uint8_t>> parse_palette(const std::string& text) {
  std::vector<std::pair<std::array<uint8_t, 3>, uint8_t>> palette;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos) throw Error("--palette entry '" + item + "' must be #RRGGBB=ID");
    const int id = std::stoi(item.substr(eq + 1));
    palette.emplace_back(geo::parse_hex_colour(item.substr(0, eq)), static_cast<uint8_t>(id < 0 ? kIgnoreLabel : id));
  }
  return palette;
}

nlohmann::json number(double value) { return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr); }

class EvalCommand final : public Command {
 public:
  void declare(CLI::App& sub, CommonOptions& common) override {
    common_ = &common;
    sub.add_option("--model", model_path_, "ONNX model with a model card")->required();
    sub.add_option("--images", images_, "Directory of images")->required();
    sub.add_option("--masks", masks_, "Directory of masks (same file stems)")->required();
    sub.add_flag("--json", json_, "Print JSON");
    sub.add_option("--palette", palette_, "Colour-coded masks: '#RRGGBB=ID,...' (ID -1 = ignore)");
    sub.add_option("--threshold-mask", threshold_, "Binary masks: value >= T is the positive class");
    sub.add_option("--ignore-ids", ignore_ids_, "Mask ids to ignore (e.g. 11 for CamVid)");
    sub.add_option("--multiple", multiple_, "Centre-crop images to multiples of this (default 8)");
    sub.add_option("--pixel-size", pixel_size_m_,
                   "Ground pixel size of the images in metres: they and their masks are resized to the model card's "
                   "pixel_size_m before inference and scored there")
        ->check(CLI::PositiveNumber);
    sub.add_option("--precision", precision_, "f32, bf16 or int8 (to measure what reduced precision costs)")
        ->check(CLI::IsMember({"f32", "bf16", "int8"}));
    sub.add_option("--convolution", convolution_, "auto (Winograd 3x3 where it applies) or direct")
        ->check(CLI::IsMember({"auto", "direct"}));
  }

  int run() override {
    std::string warning;
    LoadedModel model = load_model_file(model_path_, &warning);
    if (!warning.empty() && !common_->quiet) std::cerr << "terraseg: warning: " << warning << '\n';
    const ModelCard card = model.graph.card;
    EngineOptions options{common_->threads, parse_precision(precision_)};
    if (convolution_ == "direct") options.convolution = EngineOptions::Convolution::direct;
    Engine engine(model.graph, options);
    geo::MaskEncoding mask = mask_encoding(static_cast<int>(card.classes.size()));
    const auto pairs = geo::pair_by_stem({images_}, {masks_}, geo::DatasetSplit{});
    const geo::Normalisation norm = geo::Normalisation::from_card(card);
    const int classes = std::max<int>(2, static_cast<int>(card.classes.size()));
    geo::AugmentConfig resize;  // no crop, flips or jitter: a fixed rescale (or nothing)
    if (pixel_size_m_ > 0.0) {
      if (!card.pixel_size_m || !(*card.pixel_size_m > 0.0)) {
        throw Error(model_path_ + ": --pixel-size needs a model card stating pixel_size_m; this one states none");
      }
      resize.scale_min = resize.scale_max = pixel_size_m_ / *card.pixel_size_m;
    }
    ConfusionMatrix matrix(classes);
    ThresholdSweep sweep;
    bool binary = false;
    Tensor output;
    std::vector<uint8_t> predicted;
    std::vector<float> positive;
    for (const auto& pair : pairs) {
      const geo::Sample sample = geo::centre_crop(geo::augment(geo::load_sample(pair, mask), resize, 0, 0, 0), multiple_);
      Tensor input({1, static_cast<int64_t>(norm.bands.size()), sample.height, sample.width});
      Labels labels{1, sample.height, sample.width, std::vector<uint8_t>(sample.labels.size())};
      geo::normalise_into(sample, norm, input, labels, 0);
      engine.run(input, output);
      binary = output.dim(1) <= 2;
      decode(output, predicted, positive);
      matrix.add(predicted.data(), labels.ids.data(), static_cast<int64_t>(predicted.size()));
      if (binary) sweep.add(positive.data(), labels.ids.data(), static_cast<int64_t>(predicted.size()));
    }
    nlohmann::json report = make_report(card, matrix, binary ? &sweep : nullptr, pairs.size());
    report["resize_factor"] = resize.scale_min;
    report["precision"] = precision_;
    report["convolution"] = convolution_;
    if (json_) std::cout << report.dump(2) << '\n';
    else print(report);
    return 0;
  }

 private:
  geo::MaskEncoding mask_encoding(int classes) const {
    geo::MaskEncoding mask;
    mask.classes = classes;
    mask.ignore_ids = ignore_ids_;
    if (!palette_.empty()) {
      mask.kind = geo::MaskKind::palette;
      mask.palette = parse_palette(palette_);
    } else if (threshold_ >= 0) {
      mask.kind = geo::MaskKind::threshold;
      mask.threshold = threshold_;
    }
    return mask;
  }

  /// Arg-max ids and the positive-class probability (1 channel: sigmoid; 2: softmax channel 1).
  static void decode(const Tensor& scores, std::vector<uint8_t>& ids, std::vector<float>& positive) {
    const int64_t channels = scores.dim(1), plane = scores.dim(2) * scores.dim(3);
    ids.resize(static_cast<size_t>(plane));
    positive.resize(static_cast<size_t>(plane));
    const float* x = scores.data();
    for (int64_t p = 0; p < plane; ++p) {
      int best = 0;
      for (int64_t c = 1; c < channels; ++c) best = x[c * plane + p] > x[best * plane + p] ? static_cast<int>(c) : best;
      const float z = channels == 1 ? x[p] : channels == 2 ? x[plane + p] - x[p] : 0.0F;
      if (channels == 1) best = z >= 0.0F ? 1 : 0;
      ids[static_cast<size_t>(p)] = static_cast<uint8_t>(best);
      positive[static_cast<size_t>(p)] = 1.0F / (1.0F + std::exp(-z));
    }
  }

  nlohmann::json make_report(const ModelCard& card, const ConfusionMatrix& m, const ThresholdSweep* sweep, size_t images) const {
    nlohmann::json report{{"model", model_path_}, {"images", images}, {"pixels", m.total()},
                          {"global_accuracy", number(m.global_accuracy())}, {"mean_iou", number(m.mean_iou())},
                          {"class_average_accuracy", number(m.class_average_accuracy())}};
    for (int c = 0; c < m.classes(); ++c) {
      report["classes"].push_back({{"id", c}, {"name", card.class_name(c)}, {"iou", number(m.iou(c))},
                                   {"precision", number(m.precision(c))}, {"recall", number(m.recall(c))},
                                   {"f1", number(m.f1(c))}});
    }
    if (sweep != nullptr) {
      for (const BinaryScore& s : sweep->scores()) {
        report["threshold_sweep"].push_back({{"threshold", s.threshold}, {"precision", s.precision}, {"recall", s.recall},
                                             {"f1", s.f1}, {"iou", s.iou}});
      }
      const BinaryScore best = sweep->best();
      report["best_threshold"] = {{"threshold", best.threshold}, {"f1", best.f1}, {"precision", best.precision},
                                  {"recall", best.recall}};
    }
    return report;
  }

  static std::string fmt(const nlohmann::json& v) {
    if (v.is_null()) return "   n/a";
    std::ostringstream out;
    out << std::fixed << std::setprecision(4) << v.get<double>();
    return out.str();
  }

  static void print(const nlohmann::json& r) {
    std::cout << "images: " << r["images"] << "  pixels: " << r["pixels"] << '\n'
              << "global accuracy:        " << fmt(r["global_accuracy"]) << '\n'
              << "mean IoU:               " << fmt(r["mean_iou"]) << '\n'
              << "class-average accuracy: " << fmt(r["class_average_accuracy"]) << "\n\n"
              << std::left << std::setw(20) << "class" << "   IoU    precision recall  F1\n";
    for (const auto& c : r["classes"]) {
      std::cout << std::left << std::setw(20) << c["name"].get<std::string>() << fmt(c["iou"]) << "  " << fmt(c["precision"])
                << "  " << fmt(c["recall"]) << "  " << fmt(c["f1"]) << '\n';
    }
    if (!r.contains("threshold_sweep")) return;
    std::cout << "\nthreshold  precision recall  F1      IoU\n";
    for (const auto& s : r["threshold_sweep"]) {
      std::cout << fmt(s["threshold"]) << "     " << fmt(s["precision"]) << "  " << fmt(s["recall"]) << "  "
                << fmt(s["f1"]) << "  " << fmt(s["iou"]) << '\n';
    }
    std::cout << "best threshold " << fmt(r["best_threshold"]["threshold"]) << " (F1 " << fmt(r["best_threshold"]["f1"]) << ")\n";
  }

  CommonOptions* common_ = nullptr;
  std::string model_path_, images_, masks_, palette_;
  int threshold_ = -1;
  int multiple_ = 8;
  double pixel_size_m_ = 0.0;
  std::string precision_ = "f32";
  std::string convolution_ = "auto";
  std::vector<int> ignore_ids_;
  bool json_ = false;
};

}  // namespace

std::unique_ptr<Command> make_eval_command() { return std::make_unique<EvalCommand>(); }

}  // namespace terraseg::cli
