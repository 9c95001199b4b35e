#pragma once
/// The QGIS Deepness plugin's ONNX metadata, so that a model moves between the two tools: Deepness
/// keeps one JSON-encoded value per metadata key (model_type "Segmentor", class_names {"0": "name"},
/// resolution in cm/px, tiles_size / tile_size in pixels, tiles_overlap in percent, seg_thresh,
/// standardization_mean / _std applied to pixel / 255 of RGB input). What Deepness does with a model,
/// read from its source, is in docs/deepness.md.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "terraseg/core/graph.hpp"
#include "terraseg/core/model_card.hpp"

namespace terraseg {

/// True when `metadata` carries Deepness keys (model_type or class_names).
bool has_deepness_metadata(const std::map<std::string, std::string>& metadata);

/// A card from Deepness metadata: classes (colours generated), pixel size, tile (tiles_size, else
/// tile_size) and overlap, threshold (two classes), RGB input scaled by 1/255 with the
/// standardisation as mean / std. Values that do not parse are skipped. Throws Error naming `source`
/// for a model type other than Segmentor (terraseg segments; detectors and regressors are other
/// tools' work).
ModelCard card_from_deepness(const std::map<std::string, std::string>& metadata, const std::string& source);

/// The card as Deepness metadata, for the keys it can say (none without classes); standardisation
/// only when the card's normalisation is Deepness's form (RGB, scale 1/255, three means and stds).
std::map<std::string, std::string> deepness_metadata(const ModelCard& card);

/// What the graph's first output gives Deepness, which thresholds and arg-maxes it as probabilities.
enum class DeepnessOutput { logits, softmax, sigmoid };

/// What a Deepness user gets from a graph, and what stops it working there.
struct DeepnessReadiness {
  /// The one square input size the file declares (Deepness's tile), when it declares one.
  std::optional<int> tile;
  /// The card takes RGB / 255 with three means and stds: Deepness's own preprocessing.
  bool rgb_over_255 = false;
  DeepnessOutput output = DeepnessOutput::logits;
  /// One line per thing Deepness would get wrong; empty when the model is ready for it.
  std::vector<std::string> problems;
  bool ready() const { return problems.empty(); }
};

/// Reads the graph as loaded (its declared input size, the op giving its first output, its card).
DeepnessReadiness deepness_readiness(const Graph& graph);

/// The metadata save_onnx writes beside the card: deepness_metadata(card), with tiles_size and
/// tile_size from the declared input size when the input is fixed, and seg_thresh only where the
/// output is probabilities (0.5 for two softmax classes, 0 (off: plain arg-max) for more; the
/// card's threshold for a sigmoid), plus seg_small_segment 0 (terraseg does not smooth masks).
std::map<std::string, std::string> deepness_metadata(const Graph& graph);

/// The graph as a model that Deepness runs exactly as terraseg runs `graph`:
/// - input RGB in 0..1 ([1, 3, tile, tile], float): the card's band order, scale, mean and std are
///   a 1x1 convolution in front of the network (exact; a fold into a padded first convolution would
///   change border values); its card says RGB, scale 1/255, mean 0, std 1, as its Deepness metadata;
/// - output class probabilities: a softmax over the classes; a binary card's threshold t is added to
///   the class-0 score as logit(t) first (what predict does), so that class 1 is where its
///   probability is at least 0.5 and the card needs no threshold; only the first output is kept;
/// - the card's tile, or `tile` when above 0, is the declared input size (and tiles_size/tile_size);
///   the network runs once at it, to check that it plans and to declare the output's dims
///   ([1, classes, tile, tile]).
/// Throws Error naming the model for bands other than red, green and blue, an input other than 3
/// channels, a tile the network cannot take (a fixed-size network's other size, not square), or an
/// output that is not a per-pixel class map at the input's size.
Graph export_for_deepness(const Graph& graph, int tile);

/// "class probabilities (softmax)" etc., for messages.
std::string describe(DeepnessOutput output);

}  // namespace terraseg
