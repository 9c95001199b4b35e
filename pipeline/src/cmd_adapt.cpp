#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <set>

#include "adapt_job.hpp"
#include "command.hpp"
#include "terraseg/core/error.hpp"
#include "train_config.hpp"

namespace terraseg::cli {
namespace {

/// `terraseg adapt --model M.onnx --images DIR (--masks DIR | --labels VECTORS) -o OUT.onnx`: fine-tunes
/// a model on a few labelled tiles of the user's region within a time budget (adapt_job.hpp).
class AdaptCommand final : public Command {
 public:
  void declare(CLI::App& sub, CommonOptions& common) override {
    common_ = &common;
    sub.description(
        "Fine-tune a model on a few labelled tiles of your region, within a time budget. The bottom fifth of every "
        "tile is held out: it picks the best weights and the binary threshold, and gives the figures written into "
        "the new model's card. Example:\n"
        "  terraseg adapt --model samples/models/roads-aerial.onnx --images tiles/ --masks masks/ --time-budget 20m -o "
        "roads-here.onnx");
    sub.add_option("--model", request_.model, "The model to start from (ONNX with a terraseg model card)")->required();
    sub.add_option("--images", request_.images,
                   "Folder(s) of image tiles: PNG, JPEG or GeoTIFF, 8-bit RGB; paired with masks by file stem")
        ->required();
    auto* masks =
        sub.add_option("--masks", request_.masks,
                       "Folder(s) of masks, one per tile with the same stem: class ids (255 = unlabelled), or for a "
                       "binary model 0/255 images where >= 128 is the positive class");
    auto* labels =
        sub.add_option("--labels", request_.labels,
                       "Vector labels instead of masks (GeoPackage, GeoJSON, Shapefile, OSM .osm.pbf), burned onto "
                       "each georeferenced tile as `terraseg labels` does: lines buffered by OSM highway type "
                       "(motorway 24 m ... footway 2.5 m), an unknown band of 1.5 m along every edge");
    masks->excludes(labels);
    sub.add_option("--layer", request_.layer, "With --labels: the layer to read (OSM PBF: 'lines')");
    sub.add_option(
           "--pixel-size", request_.pixel_size_m,
           "Ground pixel size of the tiles in metres, for tiles without a georeference (default: the georeference's, "
           "else the model's)")
        ->check(CLI::PositiveNumber);
    sub.add_option("--time-budget", budget_text_,
                   "Wall-clock time for the whole adaptation, e.g. 20m, 90s, 1h (default 10m): the learning-rate "
                   "schedule is fitted to it");
    sub.add_option("--holdout", request_.holdout,
                   "Fraction of each tile's height held out for validation (default 0.2)")
        ->check(CLI::Range(0.05, 0.5));
    sub.add_option("--lr", request_.lr, "Learning rate (default 0.0005, Adam)")->check(CLI::Range(1e-6, 1.0));
    sub.add_option("--seed", request_.seed, "Random seed for crops and augmentation (default 1)");
    sub.add_option("-o,--output", request_.output, "The adapted model to write (ONNX with its card); must not exist")
        ->required();
    sub.add_flag(
        "--resume", request_.resume,
        "Continue an interrupted adaptation of the same -o from its checkpoint (-o is written only once it completes)");
  }

  int run() override {
    if (request_.masks.empty() == request_.labels.empty()) {
      throw Error("adapt: give the tiles' labels as --masks DIR or as --labels VECTORS (one of them)");
    }
    request_.time_budget_s = parse_duration(budget_text_, "--time-budget");
    request_.threads = common_->threads;
    request_.quiet = common_->quiet;
    const AdaptResult result = adapt_job(request_);
    std::cout << "adapted on " << result.tiles << " tiles in " << std::lround(result.seconds) << " s: " << result.metric
              << ' ' << result.score << " on their held-out strips -> " << request_.output << '\n';
    return 0;
  }

 private:
  CommonOptions* common_ = nullptr;
  AdaptRequest request_;
  std::string budget_text_ = "10m";
};

}  // namespace

std::unique_ptr<Command> make_adapt_command() { return std::make_unique<AdaptCommand>(); }

}  // namespace terraseg::cli
