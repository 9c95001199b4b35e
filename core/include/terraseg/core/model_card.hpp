#pragma once
/// The model card: what a model predicts and how to feed it. Travels inside the ONNX file as
/// metadata_props key "terraseg.model_card" (JSON). See ../shared/docs/contract.md.
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace terraseg {

struct ClassInfo {
  int id = 0;
  std::string name;
  std::array<uint8_t, 3> rgb{0, 0, 0};
};

/// The one palette for classes a model does not colour (colour tables, QGIS styles, quicklooks): 12
/// distinct, readable colours for ids 0-11, then hues spread by the golden ratio.
std::array<uint8_t, 3> default_class_colour(int id);

/// The one name rule: the name of class `id` in `classes` (matched by ClassInfo::id), or
/// "class <id>" when the class is missing or unnamed.
std::string class_name(const std::vector<ClassInfo>& classes, int id);

/// "RRGGBB": a class colour in hexadecimal (STAC's color_hint; with a '#', HTML's and QGIS's).
std::string hex_rgb(const std::array<uint8_t, 3>& rgb, bool upper_case = true);

/// The class table every output of a model with `count` output channels carries, completed once
/// before anything writes it: `classes` in id order with ids 0..count-1 each present once (missing
/// ones added with default_class_colour), unnamed ones named by class_name(). Classes at or beyond
/// `count` are kept (a card may name more classes than a head predicts).
std::vector<ClassInfo> complete_class_table(const std::vector<ClassInfo>& classes, int count);

/// Throws Error unless `scales` is a non-empty list of factors in 0.25..4 (ModelCard::inference_scales).
void check_inference_scales(const std::vector<double>& scales);

/// What the imagery a model was trained on looked like to it (domain.hpp): one descriptor per training
/// image, the spread of each feature over them, and how far apart neighbouring images lie. JSON
/// "training_domain": {"features": [...], "scale": [...], "reference": [[...], ...], "spread": s,
/// "images": n, "source": "...", "validation_max": v}.
struct DomainProfile {
  std::vector<std::string> features;          ///< domain_feature_names()
  std::vector<float> scale;                   ///< per feature: its spread over the reference images
  std::vector<std::vector<float>> reference;  ///< descriptors (at most 256)
  double spread = 1.0;                        ///< 90th percentile of each image's scaled distance to its nearest other
  int images = 0;                             ///< training images measured (before thinning)
  std::string source;                         ///< what they were
  std::optional<double> validation_max;       ///< the largest domain_shift among the validation images
};

struct ModelCard;

/// Throws Error("key 'K' is V: what it must be") for the first card value that would give a wrong
/// answer rather than an error: pixel_size_m outside 0.001..100000 m, scale not finite and above 0,
/// a mean that is not finite, a std that is not finite and above 0, class ids outside 0..254 or
/// repeated, class colours outside 0..255, input_range not finite with lo < hi, tile sides outside
/// 8..16384, tile_overlap outside 0..4096 (or not below half the tile), a threshold outside (0, 1).
/// ModelCard::from_json and the Deepness reader call it, naming the file.
void check_card_ranges(const ModelCard& card);

struct ModelCard {
  std::string name;
  std::string architecture;        ///< e.g. "unet", "segnet", "espnet"
  std::vector<ClassInfo> classes;  ///< ids are 0-based output channels
  std::vector<int> ignore_ids;     ///< label ids excluded from loss and metrics (may be >= classes)
  /// Input bands in network channel order, e.g. {"red","green","blue"}, {"blue","green","red"},
  /// {"grey"} or named multispectral bands ("nir").
  std::vector<std::string> bands;
  double scale = 1.0;                  ///< x = (raw * scale - mean[c]) / std[c]
  std::vector<float> mean;             ///< per band, after scaling; empty = 0
  std::vector<float> std;              ///< per band, after scaling; empty = 1
  std::optional<double> pixel_size_m;  ///< native ground sampling distance in metres, if any
  std::string training_data;           ///< data set(s) and their licence
  std::string licence;                 ///< licence of these weights
  std::string initial_weights;         ///< what the weights were transfer-learned from
  std::string initial_weights_licence;
  std::map<std::string, double> metrics;  ///< validation metrics, e.g. "val_miou"
  std::optional<double> threshold;        ///< binary models: score threshold for the positive class
  /// Window (height, width) the model should see when a raster is cut into tiles; images that fit run
  /// whole. JSON "tile": N or [H, W]. Empty: the config's or the command line's, else 512.
  std::optional<std::array<int, 2>> tile;
  /// Pixels neighbouring tiles share (enough for the model's receptive field). JSON "tile_overlap".
  std::optional<int> tile_overlap;
  /// Raw value range the normalisation above expects (JSON "input_range": [lo, hi]); inputs of another
  /// data type are stretched onto it. Empty: [0, 255] when scale is about 1/255 or 1 (8-bit models).
  std::optional<std::array<double, 2>> input_range;
  /// How `predict` runs the model on each window: at each of these scales of the window (resized to a
  /// multiple of the network's stride, the scores resized back) and, with inference_flip, on its
  /// mirror image too, averaging the scores of all passes. JSON "inference_scales": [s, ...] (each in
  /// 0.25..4) and "inference_flip": bool. Empty / false: one pass at scale 1.
  std::vector<double> inference_scales;
  bool inference_flip = false;
  std::string notes;  ///< free text, e.g. "untrained: random weights"
  /// Statistics of the training imagery; empty for models trained before 2026-12-07 (no shift check).
  std::optional<DomainProfile> training_domain;

  /// True when the card was read from a file (a model without one runs on raw values, with a warning).
  bool present = false;

  std::string to_json() const;
  /// Throws Error naming `source` when the JSON is malformed.
  static ModelCard from_json(const std::string& text, const std::string& source);

  /// class_name(classes, id): "class <id>" when unknown or unnamed.
  std::string class_name(int id) const;
};

}  // namespace terraseg
