// `terraseg eval --model M.onnx --images DIR --masks DIR [--json] [--pixel-size M]`: predicts every image
// through predict_file (the path of predict and run) and scores the class maps against the masks paired
// by file stem (core/metrics.hpp). --walkability also compares each photo's street-view indicators
// (Zhou et al. 2019: greenery, crowdedness, enclosure, pavement) with those of its mask.
#include <cpl_vsi.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "command.hpp"
#include "models.hpp"
#include "predict_step.hpp"
#include "terraseg/core/engine.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/metrics.hpp"
#include "terraseg/geo/blend.hpp"
#include "terraseg/geo/dataset.hpp"
#include "terraseg/geo/raster_io.hpp"
#include "terraseg/geo/threads.hpp"
#include "terraseg/geo/walkability.hpp"

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

/// geo::compare_indicators' order: G, C, S, D.
constexpr std::array<const char*, 4> kIndicatorNames{"greenery", "crowdedness", "enclosure", "pavement"};

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
    sub.add_option("--multiple", multiple_, "Ignored (kept for old scripts): images run whole, as predict runs them");
    sub.add_option("--pixel-size", pixel_size_m_,
                   "Ground pixel size of the images in metres (for images without a georeference): predict resamples "
                   "them to the model card's pixel_size_m and brings the classes back, scored on the images' grid")
        ->check(CLI::PositiveNumber);
    sub.add_option("--predictions", predictions_dir_,
                   "Also keep each image's class map, as predict writes it, as DIR/<image stem>.tif (new files only)");
    sub.add_option("--precision", precision_, "f32, bf16 or int8 (to measure what reduced precision costs)")
        ->check(CLI::IsMember({"f32", "bf16", "int8", "auto"}));
    sub.add_option("--convolution", convolution_, "auto (Winograd 3x3 where it applies) or direct")
        ->check(CLI::IsMember({"auto", "direct"}));
    sub.add_flag("--walkability", walkability_,
                 "Street-view models: also compare each photo's greenery, crowdedness, enclosure and pavement "
                 "(predicted, over all pixels as run reports them) with its mask's (over labelled pixels)");
    add_pass_options(sub, scales_, flip_);
  }

  int run() override {
    std::string warning;
    LoadedModel model = load_model_file(model_path_, &warning);
    if (!warning.empty() && !common_->quiet) std::cerr << "terraseg: warning: " << warning << '\n';
    if (multiple_ > 0 && !common_->quiet) {
      std::cerr << "terraseg: warning: --multiple is ignored: images run whole, padded to the model's stride and "
                   "cropped back, as predict runs them\n";
    }
    const ModelCard card = model.graph.card;
    geo::set_thread_count(common_->threads);
    EngineOptions options = engine_options(parse_precision(precision_));
    if (convolution_ == "direct") options.convolution = EngineOptions::Convolution::direct;
    Engine engine(model.graph, options);
    const int classes = std::max<int>(2, static_cast<int>(card.classes.size()));
    const geo::MaskEncoding mask = mask_encoding(classes);
    const auto pairs = geo::pair_by_stem({images_}, {masks_}, geo::DatasetSplit{});
    if (pixel_size_m_ > 0.0 && (!card.pixel_size_m || !(*card.pixel_size_m > 0.0))) {
      throw Error(model_path_ + ": --pixel-size needs a model card stating pixel_size_m; this one states none");
    }
    ConfusionMatrix matrix(classes);
    ThresholdSweep sweep;
    const bool binary = classes == 2;
    const float shift = threshold_logit_shift(card, classes);
    // Every prediction is made by predict_file, the path of predict and run, into memory: what eval
    // measures is what users get.
    const std::string scratch = "/vsimem/terraseg-eval-" + std::to_string(getpid());
    std::vector<float> positive;
    if (!predictions_dir_.empty()) check_predictions_dir(pairs);
    std::optional<geo::StreetRoleMap> roles;
    if (walkability_) {
      try {
        roles = geo::role_map_for_model(card.classes, card.ignore_ids, classes);
      } catch (const Error& e) {
        throw Error("--walkability: " + model_path_ + ": " + e.what());
      }
    }
    std::vector<geo::StreetIndicators> reference_indicators, predicted_indicators;
    for (size_t i = 0; i < pairs.size(); ++i) {
      PredictRequest request;
      request.input = pairs[i].first;
      request.mask_path =
          predictions_dir_.empty() ? scratch + "/" + std::to_string(i) + ".tif" : prediction_path(pairs[i].first);
      if (binary) request.logits_path = scratch + "/" + std::to_string(i) + "-scores.tif";
      request.overviews = false;
      if (pixel_size_m_ > 0.0) request.pixel_size_m = pixel_size_m_;
      apply_pass_options(scales_, flip_, request);
      const PredictReport report = predict_file(engine, card, request, {});
      passes_ = report.passes;
      if (report.domain)
        domain_shifts_[std::filesystem::path(pairs[i].first).filename().string()] = report.domain->shift;
      if (!common_->quiet) {
        for (const std::string& message : std::set<std::string>(report.warnings.begin(), report.warnings.end())) {
          if (reported_.insert(message).second) std::cerr << "terraseg: warning: " << message << '\n';
        }
      }
      int height = 0, width = 0, mask_h = 0, mask_w = 0;
      const std::vector<float> predicted = geo::read_band_floats(request.mask_path, 1, width, height);
      std::vector<uint8_t> labels = geo::load_labels(pairs[i].second, mask, mask_h, mask_w);
      if (mask_h != height || mask_w != width) {
        throw Error("mask '" + pairs[i].second + "' is " + std::to_string(mask_w) + "x" + std::to_string(mask_h) +
                    " but its image '" + pairs[i].first + "' is " + std::to_string(width) + "x" +
                    std::to_string(height));
      }
      std::vector<uint8_t> ids(predicted.size());
      for (size_t p = 0; p < ids.size(); ++p) {
        ids[p] = static_cast<uint8_t>(predicted[p]);
        if (ids[p] == geo::kClassNodata) labels[p] = kIgnoreLabel;  // no input data: nothing to score
      }
      matrix.add(ids.data(), labels.data(), static_cast<int64_t>(ids.size()));
      if (roles) {
        geo::RoleCounts from_prediction, from_mask;
        from_prediction.add_image(ids, *roles);
        from_mask.add_image(labels, *roles);
        predicted_indicators.push_back(geo::street_indicators(from_prediction));
        reference_indicators.push_back(geo::street_indicators(from_mask));
      }
      if (binary) {
        positive_probability(request.logits_path, shift, positive);
        sweep.add(positive.data(), labels.data(), static_cast<int64_t>(positive.size()));
      }
      if (predictions_dir_.empty()) VSIUnlink(request.mask_path.c_str());
      if (binary) VSIUnlink(request.logits_path.c_str());
    }
    nlohmann::json report = make_report(card, matrix, binary ? &sweep : nullptr, pairs.size());
    report["pixel_size_m"] = pixel_size_m_ > 0.0 ? nlohmann::json(pixel_size_m_) : nlohmann::json(nullptr);
    // How much the images were scaled for the model (predict resamples them, and scores on their grid).
    report["resize_factor"] = pixel_size_m_ > 0.0 ? pixel_size_m_ / *card.pixel_size_m : 1.0;
    report["precision"] = precision_;
    report["convolution"] = convolution_;
    report["passes"] = passes_;
    if (roles) report["walkability"] = walkability_report(*roles, reference_indicators, predicted_indicators);
    report["domain_shift"] = domain_report();
    if (card.threshold && binary) {
      report["threshold"] = *card.threshold;
      report["threshold_flatness"] = flatness(sweep, *card.threshold);
    }
    if (json_)
      std::cout << report.dump(2) << '\n';
    else
      print(report);
    return 0;
  }

 private:
  std::string prediction_path(const std::string& image) const {
    return (std::filesystem::path(predictions_dir_) / (std::filesystem::path(image).stem().string() + ".tif")).string();
  }

  /// --predictions writes new files only: refuses, before predicting anything, to replace one.
  void check_predictions_dir(const std::vector<std::pair<std::string, std::string>>& pairs) const {
    for (const auto& pair : pairs) {
      const std::string path = prediction_path(pair.first);
      if (std::filesystem::exists(path)) {
        throw Error("--predictions: '" + path +
                    "' already exists; eval never replaces files: give an empty or new "
                    "directory");
      }
    }
    std::error_code error;
    std::filesystem::create_directories(predictions_dir_, error);
    if (error) {
      throw Error("--predictions: cannot create the folder '" + predictions_dir_ + "' (" + error.message() +
                  "): a file may be in its way, or it is not writable");
    }
  }

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

  /// P(class 1) of a binary model from predict's blended scores, whose class-0 band carries the card
  /// threshold's shift (threshold_logit_shift): the sweep wants the model's own probability.
  static void positive_probability(const std::string& scores_path, float shift, std::vector<float>& positive) {
    int width = 0, height = 0;
    const std::vector<float> class0 = geo::read_band_floats(scores_path, 1, width, height);
    const std::vector<float> class1 = geo::read_band_floats(scores_path, 2, width, height);
    positive.resize(class0.size());
    for (size_t p = 0; p < class0.size(); ++p) {
      const float z = class1[p] - (class0[p] - shift);
      positive[p] = std::isfinite(z) ? 1.0F / (1.0F + std::exp(-z)) : 0.0F;
    }
  }

  nlohmann::json make_report(const ModelCard& card, const ConfusionMatrix& m, const ThresholdSweep* sweep,
                             size_t images) const {
    nlohmann::json report{{"model", model_path_},
                          {"images", images},
                          {"pixels", m.total()},
                          {"global_accuracy", number(m.global_accuracy())},
                          {"mean_iou", number(m.mean_iou())},
                          {"class_average_accuracy", number(m.class_average_accuracy())}};
    for (int c = 0; c < m.classes(); ++c) {
      report["classes"].push_back({{"id", c},
                                   {"name", card.class_name(c)},
                                   {"iou", number(m.iou(c))},
                                   {"precision", number(m.precision(c))},
                                   {"recall", number(m.recall(c))},
                                   {"f1", number(m.f1(c))}});
    }
    if (sweep != nullptr) {
      for (const BinaryScore& s : sweep->scores()) {
        report["threshold_sweep"].push_back({{"threshold", s.threshold},
                                             {"precision", s.precision},
                                             {"recall", s.recall},
                                             {"f1", s.f1},
                                             {"iou", s.iou}});
      }
      const BinaryScore best = sweep->best();
      report["best_threshold"] = {
          {"threshold", best.threshold}, {"f1", best.f1}, {"precision", best.precision}, {"recall", best.recall}};
    }
    return report;
  }

  /// How flat F1 is around the card's threshold: the lowest and highest F1 of the sweep's thresholds
  /// within +-kFlatnessReach of it, so a user sees what a slightly different threshold would cost.
  static nlohmann::json flatness(const ThresholdSweep& sweep, double threshold) {
    double lo = 1.0, hi = 0.0;
    for (const BinaryScore& s : sweep.scores()) {
      if (std::abs(s.threshold - threshold) > kFlatnessReach + 1e-9) continue;
      lo = std::min(lo, s.f1);
      hi = std::max(hi, s.f1);
    }
    if (hi < lo) return nullptr;
    return {{"reach", kFlatnessReach}, {"f1_min", lo}, {"f1_max", hi}};
  }
  static constexpr double kFlatnessReach = 0.1;

  /// Per indicator, how the predicted photos' values compare with their masks' (geo::compare_indicators).
  static nlohmann::json walkability_report(const geo::StreetRoleMap& roles,
                                           const std::vector<geo::StreetIndicators>& reference,
                                           const std::vector<geo::StreetIndicators>& predicted) {
    const auto agreement = geo::compare_indicators(reference, predicted);
    nlohmann::json report{{"role_scheme", roles.scheme}};
    for (size_t k = 0; k < kIndicatorNames.size(); ++k) {
      const geo::IndicatorAgreement& a = agreement[k];
      const auto defined = [&a](double value) { return number(a.images > 0 ? value : NAN); };
      report[kIndicatorNames[k]] = {{"images", a.images},
                                    {"mean_reference", defined(a.mean_reference)},
                                    {"mean_predicted", defined(a.mean_predicted)},
                                    {"mean_absolute_error", defined(a.mean_absolute_error)},
                                    {"bias", defined(a.bias)},
                                    {"max_absolute_error", defined(a.max_absolute_error)}};
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
    std::cout << "images: " << r["images"] << "  pixels: " << r["pixels"]
              << "  scales: " << r["passes"].get<std::string>() << '\n'
              << "global accuracy:        " << fmt(r["global_accuracy"]) << '\n'
              << "mean IoU:               " << fmt(r["mean_iou"]) << '\n'
              << "class-average accuracy: " << fmt(r["class_average_accuracy"]) << '\n';
    if (r["domain_shift"].is_object()) {
      const auto& d = r["domain_shift"];
      std::cout << "domain shift:           median " << fmt(d["median"]) << ", max " << fmt(d["max"]) << "; "
                << d["above_warning"].get<int>() << " of " << d["images"].get<int>() << " images above the warning at "
                << d["warning"].get<double>() << '\n';
    }
    std::cout << '\n'
              << std::left << std::setw(20) << "class"
              << "   IoU    precision recall  F1\n";
    for (const auto& c : r["classes"]) {
      std::cout << std::left << std::setw(20) << c["name"].get<std::string>() << fmt(c["iou"]) << "  "
                << fmt(c["precision"]) << "  " << fmt(c["recall"]) << "  " << fmt(c["f1"]) << '\n';
    }
    if (r.contains("walkability")) {
      std::cout << "\nwalkability (per photo, predicted vs mask; roles: "
                << r["walkability"]["role_scheme"].get<std::string>()
                << ")\nindicator     photos  mask mean  predicted  mean |error|  bias     max |error|\n";
      for (const char* name : kIndicatorNames) {
        const auto& w = r["walkability"][name];
        std::cout << std::left << std::setw(14) << name << std::right << std::setw(6) << w["images"].get<int>() << "  "
                  << fmt(w["mean_reference"]) << "     " << fmt(w["mean_predicted"]) << "     "
                  << fmt(w["mean_absolute_error"]) << "        " << fmt(w["bias"]) << "  "
                  << fmt(w["max_absolute_error"]) << '\n';
      }
      std::cout << std::left;
    }
    if (!r.contains("threshold_sweep")) return;
    std::cout << "\nthreshold  precision recall  F1      IoU\n";
    for (const auto& s : r["threshold_sweep"]) {
      std::cout << fmt(s["threshold"]) << "     " << fmt(s["precision"]) << "  " << fmt(s["recall"]) << "  "
                << fmt(s["f1"]) << "  " << fmt(s["iou"]) << '\n';
    }
    std::cout << "best threshold " << fmt(r["best_threshold"]["threshold"]) << " (F1 " << fmt(r["best_threshold"]["f1"])
              << ")\n";
    if (r.contains("threshold_flatness") && !r["threshold_flatness"].is_null()) {
      const auto& f = r["threshold_flatness"];
      std::cout << "F1 within +-" << f["reach"].get<double>() << " of the card's threshold " << fmt(r["threshold"])
                << ": " << fmt(f["f1_min"]) << " .. " << fmt(f["f1_max"]) << '\n';
    }
  }

  CommonOptions* common_ = nullptr;
  std::string model_path_, images_, masks_, palette_, predictions_dir_;
  int threshold_ = -1;
  int multiple_ = 0;
  std::set<std::string> reported_;               ///< warnings already printed (one per distinct message)
  std::map<std::string, double> domain_shifts_;  ///< image file name -> domain_shift (cards with training_domain)

  /// The images' domain_shift: how many are above the warning, the largest and the median, each image's.
  nlohmann::json domain_report() const {
    if (domain_shifts_.empty()) return nullptr;
    std::vector<double> values;
    for (const auto& [name, value] : domain_shifts_) values.push_back(value);
    const DomainShiftSummary summary = summarise_domain_shifts(values);
    return {{"images", summary.inputs}, {"above_warning", summary.above}, {"warning", kDomainShiftWarning},
            {"max", summary.max},       {"median", summary.median},       {"per_image", domain_shifts_}};
  }
  double pixel_size_m_ = 0.0;
  std::string precision_ = "f32";
  std::string convolution_ = "auto";
  std::vector<int> ignore_ids_;
  bool json_ = false;
  bool walkability_ = false;
  std::string scales_;
  std::string flip_;
  std::string passes_;  ///< what predict_file ran each image at (PredictReport::passes)
};

}  // namespace

std::unique_ptr<Command> make_eval_command() { return std::make_unique<EvalCommand>(); }

}  // namespace terraseg::cli
