// Models for the QGIS Deepness plugin: what a graph gives it (readiness, metadata) and the export that
// makes a terraseg model run there as it runs in terraseg. Deepness's behaviour: docs/deepness.md.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "terraseg/core/deepness.hpp"
#include "terraseg/core/engine.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/input_geometry.hpp"

namespace terraseg {
namespace {

using nlohmann::json;

const std::vector<std::string> kRgb{"red", "green", "blue"};

bool is_rgb_over_255(const ModelCard& card) {
  return card.bands == kRgb && std::abs(card.scale * 255.0 - 1.0) < 1e-6 && card.mean.size() == 3 &&
         card.std.size() == 3;
}

/// Height and width the file states (or, for a graph about to be written, will state) for its input.
std::optional<std::array<int64_t, 2>> stated_hw(const Graph& graph) {
  if (graph.input_dims.size() == 4 && graph.input_dims[2] > 0 && graph.input_dims[3] > 0) {
    return std::array<int64_t, 2>{graph.input_dims[2], graph.input_dims[3]};
  }
  if (graph.declared_hw[0] > 0 && graph.declared_hw[1] > 0) return graph.declared_hw;
  if (const auto fixed = input_geometry(graph).fixed_hw) return std::array<int64_t, 2>{(*fixed)[0], (*fixed)[1]};
  return std::nullopt;
}

/// What save_onnx writes: the input dims when fixed, else the size a size-bound graph runs at.
std::optional<std::array<int64_t, 2>> written_hw(const Graph& graph) {
  if (graph.input_dims.size() == 4 && graph.input_dims[2] > 0 && graph.input_dims[3] > 0) {
    return std::array<int64_t, 2>{graph.input_dims[2], graph.input_dims[3]};
  }
  if (const auto fixed = input_geometry(graph).fixed_hw) return std::array<int64_t, 2>{(*fixed)[0], (*fixed)[1]};
  return std::nullopt;
}

DeepnessOutput output_kind(const Graph& graph) {
  if (graph.outputs.empty()) return DeepnessOutput::logits;
  const Node* producer = graph.producer(graph.outputs.front());
  if (producer == nullptr) return DeepnessOutput::logits;
  if (producer->op == "Softmax") {
    const int64_t axis = producer->attr_int("axis", -1);
    return axis == 1 || axis == -3 ? DeepnessOutput::softmax : DeepnessOutput::logits;
  }
  return producer->op == "Sigmoid" ? DeepnessOutput::sigmoid : DeepnessOutput::logits;
}

std::string bands_text(const ModelCard& card) {
  std::string text;
  for (const std::string& band : card.bands) text += (text.empty() ? "" : ", ") + band;
  return text.empty() ? "the input's first bands" : text;
}

/// Nodes that the first output needs, in order (auxiliary heads dropped).
std::vector<Node> nodes_for(const Graph& graph, const std::string& output) {
  std::set<std::string> needed{output};
  std::vector<bool> keep(graph.nodes.size(), false);
  for (size_t i = graph.nodes.size(); i-- > 0;) {
    const Node& node = graph.nodes[i];
    const bool used = std::any_of(node.outputs.begin(), node.outputs.end(),
                                  [&](const std::string& out) { return needed.contains(out); });
    if (!used) continue;
    keep[i] = true;
    for (const std::string& in : node.inputs) {
      if (!in.empty()) needed.insert(in);
    }
  }
  std::vector<Node> kept;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (keep[i]) kept.push_back(graph.nodes[i]);
  }
  return kept;
}

/// A name no value, weight or node of `graph` uses yet.
std::string fresh_name(const Graph& graph, const std::string& base) {
  std::set<std::string> used{graph.input};
  for (const auto& entry : graph.weights) used.insert(entry.first);
  for (const Node& node : graph.nodes) {
    used.insert(node.name);
    used.insert(node.outputs.begin(), node.outputs.end());
  }
  std::string name = base;
  for (int suffix = 1; used.contains(name); ++suffix) name = base + "_" + std::to_string(suffix);
  return name;
}

Node conv1x1(const std::string& name, const std::string& x, const std::string& weight, const std::string& bias,
             const std::string& y) {
  Node node{name, "Conv", {x, weight, bias}, {y}, {}};
  node.attrs["kernel_shape"] = std::vector<int64_t>{1, 1};
  node.attrs["pads"] = std::vector<int64_t>{0, 0, 0, 0};
  return node;
}

/// x_model[c] = (raw[band c] * scale - mean[c]) / std[c] with raw = 255 * rgb: one 1x1 convolution.
void add_normalisation(Graph& out, const ModelCard& card, const std::string& rgb, const std::string& model_input) {
  Tensor weight({3, 3, 1, 1}, 0.0F);
  Tensor bias({3}, 0.0F);
  for (size_t c = 0; c < 3; ++c) {
    const std::string band = card.bands.empty() ? kRgb[c] : card.bands[c];
    const auto source = std::find(kRgb.begin(), kRgb.end(), band) - kRgb.begin();
    const double mean = c < card.mean.size() ? card.mean[c] : 0.0;
    const double std_dev = c < card.std.size() ? card.std[c] : 1.0;
    weight.data()[c * 3 + static_cast<size_t>(source)] = static_cast<float>(255.0 * card.scale / std_dev);
    bias.data()[c] = static_cast<float>(-mean / std_dev);
  }
  const std::string w = fresh_name(out, "deepness_rgb.weight");
  out.weights[w] = std::move(weight);
  const std::string b = fresh_name(out, "deepness_rgb.bias");
  out.weights[b] = std::move(bias);
  out.nodes.insert(out.nodes.begin(), conv1x1(fresh_name(out, "deepness_rgb"), rgb, w, b, model_input));
}

void check_exportable(const Graph& graph, const std::string& model) {
  const ModelCard& card = graph.card;
  if (graph.input_dims.size() != 4)
    throw Error(model + ": the input is not an NCHW image; Deepness feeds [1, 3, H, W]");
  if (graph.input_dims[1] > 0 && graph.input_dims[1] != 3) {
    throw Error(model + ": the model takes " + std::to_string(graph.input_dims[1]) +
                " bands; terraseg exports RGB models for Deepness (3 bands: red, green, blue)");
  }
  std::vector<std::string> sorted = card.bands;
  std::sort(sorted.begin(), sorted.end());
  if (!card.bands.empty() && sorted != std::vector<std::string>{"blue", "green", "red"}) {
    throw Error(
        model + ": the model takes bands " + bands_text(card) +
        "; Deepness feeds red, green and blue, so only models of those three bands (in any order) export for it");
  }
  if (graph.outputs.empty()) throw Error(model + ": the graph has no outputs");
}

int export_tile(const Graph& graph, int tile, const std::string& model) {
  const InputGeometry geometry = input_geometry(graph);
  int side = tile > 0 ? tile : graph.card.tile ? std::min((*graph.card.tile)[0], (*graph.card.tile)[1]) : 512;
  if (geometry.fixed_hw) {
    const auto [h, w] = *geometry.fixed_hw;
    if (h != w) {
      throw Error(model + ": the network only runs at " + std::to_string(h) + "x" + std::to_string(w) +
                  "; Deepness cuts square tiles, so it cannot run this model");
    }
    if (tile > 0 && tile != h) {
      throw Error(model + ": the network only runs at " + std::to_string(h) + "x" + std::to_string(w) +
                  ", not at --tile " + std::to_string(tile) + "; leave --tile out");
    }
    side = h;
  }
  if (side < 8 || side > 16384) throw Error(model + ": tile " + std::to_string(side) + " must be 8 to 16384 pixels");
  if (side % geometry.multiple != 0) {
    throw Error(model + ": tile " + std::to_string(side) + " is not a multiple of " +
                std::to_string(geometry.multiple) +
                ", the network's total downsampling; give a tile that is (e.g. --tile " +
                std::to_string(side / geometry.multiple * geometry.multiple) + ")");
  }
  return side;
}

}  // namespace

std::string describe(DeepnessOutput output) {
  switch (output) {
    case DeepnessOutput::softmax:
      return "class probabilities (softmax over the classes)";
    case DeepnessOutput::sigmoid:
      return "a probability per channel (sigmoid)";
    case DeepnessOutput::logits:
      break;
  }
  return "raw class scores (logits)";
}

DeepnessReadiness deepness_readiness(const Graph& graph) {
  DeepnessReadiness result;
  const ModelCard& card = graph.card;
  result.rgb_over_255 = is_rgb_over_255(card);
  result.output = output_kind(graph);
  const auto hw = stated_hw(graph);
  if (hw && (*hw)[0] == (*hw)[1]) result.tile = static_cast<int>((*hw)[0]);
  if (!card.present || card.classes.empty()) {
    result.problems.emplace_back("no class names in its card: Deepness names the outputs channel_N");
  }
  if (!result.rgb_over_255) {
    result.problems.push_back("takes " + bands_text(card) +
                              " normalised by its card, while Deepness feeds red, green, blue / 255, "
                              "then (x - standardization_mean) / standardization_std");
  }
  if (!hw) {
    result.problems.emplace_back(
        "declares its input height and width as free sizes; Deepness puts the input width in an "
        "integer box and fails to load the model");
  } else if ((*hw)[0] != (*hw)[1]) {
    result.problems.push_back("declares a " + std::to_string((*hw)[0]) + "x" + std::to_string((*hw)[1]) +
                              " input; Deepness cuts square tiles");
  }
  if (result.output == DeepnessOutput::logits) {
    result.problems.emplace_back(
        "gives raw scores (logits); Deepness compares its threshold with them as probabilities");
  }
  if (graph.outputs.size() > 1) {
    result.problems.push_back("has " + std::to_string(graph.outputs.size()) +
                              " outputs; Deepness makes layers of every one (older versions refuse more than one)");
  }
  const auto dims = graph.outputs.empty() ? graph.output_dims.end() : graph.output_dims.find(graph.outputs.front());
  if (dims == graph.output_dims.end() || dims->second.size() != 4 || dims->second[1] <= 0) {
    result.problems.emplace_back("does not declare its output's class count; Deepness reads it from the output shape");
  }
  return result;
}

std::map<std::string, std::string> deepness_metadata(const Graph& graph) {
  std::map<std::string, std::string> metadata = deepness_metadata(graph.card);
  if (metadata.empty()) return metadata;
  if (const auto hw = written_hw(graph); hw && (*hw)[0] == (*hw)[1]) {
    const int64_t side = (*hw)[0];
    metadata["tiles_size"] = json(side).dump();
    if (graph.card.tile_overlap && int64_t{*graph.card.tile_overlap} * 2 < side) {
      metadata["tiles_overlap"] =
          json(std::lround(100.0 * *graph.card.tile_overlap / static_cast<double>(side))).dump();
    }
  }
  // Deepness's code reads tile_size; its documentation says tiles_size: both, the same.
  if (metadata.contains("tiles_size")) metadata["tile_size"] = metadata["tiles_size"];
  metadata.erase("seg_thresh");
  const size_t classes = graph.card.classes.size();
  switch (output_kind(graph)) {
    case DeepnessOutput::softmax:
      metadata["seg_thresh"] = classes == 2 ? json(graph.card.threshold.value_or(0.5)).dump() : json(0).dump();
      break;
    case DeepnessOutput::sigmoid:
      metadata["seg_thresh"] = json(graph.card.threshold.value_or(0.5)).dump();
      break;
    case DeepnessOutput::logits:
      break;  // a threshold on logits would mean nothing
  }
  metadata["seg_small_segment"] = json(0).dump();
  return metadata;
}

Graph export_for_deepness(const Graph& graph, int tile) {
  const std::string model = graph.source.empty() ? "the model" : graph.source;
  check_exportable(graph, model);
  const int side = export_tile(graph, tile, model);
  const ModelCard& card = graph.card;

  Graph out;
  out.name = graph.name;
  out.source = graph.source;
  out.weights = graph.weights;
  out.nodes = nodes_for(graph, graph.outputs.front());
  for (auto it = out.weights.begin(); it != out.weights.end();) {  // weights of dropped heads
    const bool used = std::any_of(out.nodes.begin(), out.nodes.end(), [&](const Node& node) {
      return std::find(node.inputs.begin(), node.inputs.end(), it->first) != node.inputs.end();
    });
    it = used ? std::next(it) : out.weights.erase(it);
  }
  out.input = fresh_name(out, "image_rgb");
  out.input_dims = {1, 3, side, side};
  out.declared_hw = {side, side};
  add_normalisation(out, card, out.input, graph.input);

  // Classes from the output the network gives at this size.
  std::string scores = graph.outputs.front();
  out.outputs = {scores};
  Dims dims;
  try {
    Engine engine(out, EngineOptions{});
    Tensor probe({1, 3, side, side}, 0.5F), result;
    engine.run(probe, result);
    dims = result.dims();
  } catch (const Error& e) {
    throw Error(model + ": running the network at " + std::to_string(side) + "x" + std::to_string(side) +
                " failed: " + e.what());
  }
  if (dims.size() != 4 || dims[0] != 1 || dims[2] != side || dims[3] != side || dims[1] < 1) {
    throw Error(model + ": the first output is " + to_string(dims) + " at a " + std::to_string(side) + "x" +
                std::to_string(side) + " input; Deepness needs a class map of the input's size ([1, classes, H, W])");
  }
  const int classes = static_cast<int>(dims[1]);

  const DeepnessOutput already = output_kind(graph);
  std::string note;
  if (already == DeepnessOutput::logits) {
    if (classes == 1) {
      const std::string y = fresh_name(out, "probability");
      out.nodes.push_back(Node{fresh_name(out, "deepness_sigmoid"), "Sigmoid", {scores}, {y}, {}});
      scores = y;
    } else {
      if (classes == 2 && card.threshold && *card.threshold > 0.0 && *card.threshold < 1.0 && *card.threshold != 0.5) {
        // predict's rule: class 1 where l1 - l0 > logit(t); as logit(t) added to class 0, exactly.
        Tensor weight({2, 2, 1, 1}, 0.0F);
        weight.data()[0] = 1.0F;
        weight.data()[3] = 1.0F;
        const std::string w = fresh_name(out, "deepness_threshold.weight");
        out.weights[w] = std::move(weight);
        const std::string b = fresh_name(out, "deepness_threshold.bias");
        out.weights[b] = Tensor(
            {2}, std::vector<float>{static_cast<float>(std::log(*card.threshold / (1.0 - *card.threshold))), 0.0F});
        const std::string y = fresh_name(out, "thresholded_scores");
        out.nodes.push_back(conv1x1(fresh_name(out, "deepness_threshold"), scores, w, b, y));
        scores = y;
        std::ostringstream threshold;
        threshold << *card.threshold;
        note = " The card's threshold " + threshold.str() +
               " on the positive class is built in: class 1 where its "
               "probability is above 0.5.";
      }
      const std::string y = fresh_name(out, "probabilities");
      Node softmax{fresh_name(out, "deepness_softmax"), "Softmax", {scores}, {y}, {}};
      softmax.attrs["axis"] = int64_t{1};
      out.nodes.push_back(std::move(softmax));
      scores = y;
    }
  }
  out.outputs = {scores};
  out.output_dims[scores] = {1, classes, side, side};

  ModelCard& exported = out.card;
  exported = card;
  exported.present = true;
  exported.classes = complete_class_table(card.classes, classes);
  exported.bands = kRgb;
  exported.scale = 1.0 / 255.0;
  exported.mean = {0.0F, 0.0F, 0.0F};
  exported.std = {1.0F, 1.0F, 1.0F};
  exported.threshold.reset();
  // Its statistics were measured on the original's normalised bands, raw scores and threshold: this
  // graph takes RGB / 255 and gives thresholded probabilities, so they would not describe it. Deepness
  // does not read them; terraseg's own predict runs the original.
  exported.training_domain.reset();
  exported.tile = std::array<int, 2>{side, side};
  if (exported.tile_overlap && *exported.tile_overlap * 2 >= side) exported.tile_overlap = side / 4;
  const DeepnessOutput given = already != DeepnessOutput::logits ? already
                               : classes == 1                    ? DeepnessOutput::sigmoid
                                                                 : DeepnessOutput::softmax;
  const std::string export_note =
      "Exported for the QGIS Deepness plugin (terraseg export --for deepness): takes red, "
      "green, blue / 255; the original's bands (" +
      bands_text(card) + "), scale, mean and std are a 1x1 convolution at its start; gives " + describe(given) + "." +
      note + " The original's training_domain (terraseg's domain check) is not carried: predict the original for it.";
  exported.notes = card.notes.empty() ? export_note : card.notes + " " + export_note;
  out.validate();
  return out;
}

}  // namespace terraseg
