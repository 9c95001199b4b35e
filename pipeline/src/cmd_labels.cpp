#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "command.hpp"
#include "output_plan.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/vector_labels.hpp"

namespace terraseg::cli {
namespace {

/// `terraseg labels --vectors V IMAGE... (-o MASK | --output-dir DIR)`: training labels from vectors.
class LabelsCommand final : public Command {
 public:
  void declare(CLI::App& sub, CommonOptions& common) override {
    common_ = &common;
    sub.add_option("--vectors", vectors_,
                   "Vector file GDAL/OGR reads: GeoPackage, GeoJSON, Shapefile, an OpenStreetMap .osm.pbf extract ...")
        ->required();
    sub.add_option("images", images_, "Georeferenced images to label (their grids: size, geotransform, CRS)")
        ->required();
    auto* output = sub.add_option("-o,--output", output_, "Label raster for one image (.png or .tif)");
    auto* output_dir = sub.add_option("--output-dir", output_dir_,
                                      "Folder for <image stem>.png: a masks folder `terraseg train` pairs by stem");
    output->excludes(output_dir);
    sub.add_option("--layer", layer_, "Layer to read (default: every layer; OSM PBF: 'lines' holds the roads)");
    sub.add_option("--class", classes_,
                   "ID=WHERE: burn class ID from the features an OGR SQL filter passes, e.g. "
                   "\"1=highway IS NOT NULL\" (repeatable, burned in order; default 1= every feature)");
    sub.add_option("--width", width_m_, "Width in metres of a line nothing else gives a width (default 6)")
        ->check(CLI::PositiveNumber);
    sub.add_option("--width-field", width_field_, "Numeric field holding each line's width in metres");
    sub.add_option("--widths-by", widths_by_,
                   "Field whose value picks a line's width from the table (default 'highway': OpenStreetMap's "
                   "road types, motorway 24 m ... footway 2.5 m; see --width-of)");
    sub.add_option("--width-of", width_of_,
                   "VALUE=M: the width of one value of --widths-by, e.g. motorway=30 (repeatable)");
    sub.add_option("--ignore", ignore_m_,
                   "Metres on each side of every edge marked unknown (255): where the real width is uncertain "
                   "(default 1.5; 0: none)")
        ->check(CLI::NonNegativeNumber);
  }

  int run() override {
    if (output_.empty() == output_dir_.empty()) throw Error("labels: give exactly one of -o MASK or --output-dir DIR");
    if (!output_.empty() && images_.size() != 1)
      throw Error("labels: -o takes one image; use --output-dir DIR for several");
    geo::VectorLabelOptions options = geo::osm_road_label_options();
    options.layer = layer_;
    options.width_m = width_m_;
    options.width_field = width_field_;
    options.width_by = widths_by_;
    options.ignore_m = ignore_m_;
    for (const std::string& entry : width_of_) {
      const size_t equals = entry.find('=');
      char* end = nullptr;
      const double metres = equals == std::string::npos ? 0.0 : std::strtod(entry.c_str() + equals + 1, &end);
      if (equals == std::string::npos || equals == 0 || end == nullptr || *end != '\0' || !(metres > 0.0)) {
        throw Error("--width-of '" + entry + "': expected VALUE=METRES, e.g. motorway=30");
      }
      options.widths[entry.substr(0, equals)] = metres;
    }
    if (!classes_.empty()) options.classes.clear();
    for (const std::string& entry : classes_) {
      const size_t equals = entry.find('=');
      const std::string id_text = entry.substr(0, equals);  // `end` points into it: it must outlive the check
      char* end = nullptr;
      const long id = equals == std::string::npos ? -1 : std::strtol(id_text.c_str(), &end, 10);
      if (equals == std::string::npos || equals == 0 || end == nullptr || *end != '\0' || id < 0 || id > 254) {
        throw Error("--class '" + entry + "': expected ID=WHERE with ID in 0..254, e.g. \"1=highway IS NOT NULL\"");
      }
      options.classes.push_back({static_cast<int>(id), entry.substr(equals + 1)});
    }
    // Every output checked before anything is written: never an image, the vectors or another output.
    std::vector<std::string> outputs;
    OutputPlan plan;
    plan.read(vectors_, "the vectors");
    for (const std::string& image : images_) {
      check_utf8(image, "image '" + image + "'");
      plan.read(image, "an image");
      const std::string mask =
          output_.empty()
              ? (std::filesystem::path(output_dir_) / (std::filesystem::path(image).stem().string() + ".png")).string()
              : output_;
      plan.output(mask, (output_.empty() ? "--output-dir for image '" + image + "'" : std::string("-o")));
      plan.output(mask + ".aux.xml", (output_.empty() ? "--output-dir for image '" + image + "'" : std::string("-o")));
      outputs.push_back(mask);
    }
    plan.check();
    if (!output_dir_.empty()) std::filesystem::create_directories(output_dir_);
    for (size_t i = 0; i < images_.size(); ++i) {
      const geo::VectorLabelStats stats = geo::rasterize_labels(images_[i], vectors_, options, outputs[i]);
      long long total = 0;
      for (const auto& [id, count] : stats.pixels) total += count;
      std::string shares;
      for (const auto& [id, count] : stats.pixels) {
        std::ostringstream share;
        share << (shares.empty() ? "" : ", ") << (id == 255 ? "unknown" : "class " + std::to_string(id)) << ' '
              << std::fixed << std::setprecision(1)
              << 100.0 * static_cast<double>(count) / static_cast<double>(std::max(1LL, total)) << " %";
        shares += share.str();
      }
      if (stats.features == 0) {
        std::cerr << "terraseg: warning: no feature of " << vectors_ << " lies on " << images_[i]
                  << ": its labels are all background (check --layer, --class and that both cover one place)\n";
      }
      if (!common_->quiet) {
        std::cerr << "terraseg: " << outputs[i] << ": " << stats.features << " features burned; " << shares << '\n';
      }
    }
    return 0;
  }

 private:
  CommonOptions* common_ = nullptr;
  std::string vectors_;
  std::vector<std::string> images_;
  std::string output_;
  std::string output_dir_;
  std::string layer_;
  std::vector<std::string> classes_;
  double width_m_ = 6.0;
  std::string width_field_;
  std::string widths_by_ = "highway";
  std::vector<std::string> width_of_;
  double ignore_m_ = 1.5;
};

}  // namespace

std::unique_ptr<Command> make_labels_command() { return std::make_unique<LabelsCommand>(); }

}  // namespace terraseg::cli
