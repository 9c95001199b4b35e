// ONNX import: parses the ModelProto, checks the opset, finds the one image input, decodes
// initialisers, normalises every node (onnx_normalise.cpp) and keeps the float constants that the
// remaining nodes read as the graph's weights.
#include <climits>
#include <filesystem>
#include <fstream>
#include <map>

#include "onnx_detail.hpp"
#include "terraseg/core/deepness.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/onnx.hpp"

namespace terraseg {
namespace {

using onnx_io::ImportContext;

int64_t read_opset(const onnx::ModelProto& model, const std::string& source) {
  int64_t opset = -1;
  for (const onnx::OperatorSetIdProto& entry : model.opset_import()) {
    if (entry.domain().empty() || entry.domain() == "ai.onnx") opset = entry.version();
  }
  if (opset < 0)
    throw Error(source + ": the model declares no ONNX opset (opset_import); it is not a valid ONNX model");
  if (opset < onnx_io::kMinOpset || opset > onnx_io::kMaxOpset) {
    throw Error(source + ": ONNX opset " + std::to_string(opset) +
                " is not supported (terraseg reads opsets 9 to 17); re-export with opset_version=13");
  }
  return opset;
}

void read_initializers(const onnx::GraphProto& graph, ImportContext& ctx) {
  if (graph.sparse_initializer_size() != 0) throw Error(ctx.source + ": sparse initializers are not supported");
  for (const onnx::TensorProto& init : graph.initializer()) {
    if (init.name().empty()) throw Error(ctx.source + ": an initializer has no name");
    if (ctx.constants.contains(init.name())) {
      throw Error(ctx.source + ": initializer '" + init.name() + "' is defined twice");
    }
    ctx.constants[init.name()] = onnx_io::decode_tensor(init, ctx.source + ": initializer '" + init.name() + "'");
  }
}

/// Declared dims of the image input (-1 where dynamic).
Dims read_input_dims(const onnx::ValueInfoProto& info, const std::string& source) {
  const std::string where = source + ": graph input '" + info.name() + "'";
  if (!info.type().has_tensor_type()) throw Error(where + " is not a tensor");
  const onnx::TypeProto::Tensor& tensor = info.type().tensor_type();
  if (tensor.elem_type() != onnx::TensorProto::FLOAT) {
    throw Error(where + " has dtype " + std::to_string(tensor.elem_type()) +
                "; terraseg models take a float32 NCHW image");
  }
  Dims dims;
  for (const onnx::TensorShapeProto::Dimension& dim : tensor.shape().dim()) {
    if (dim.has_dim_value() && dim.dim_value() < 0) throw Error(where + " has a negative dimension");
    dims.push_back(dim.has_dim_value() ? dim.dim_value() : -1);
  }
  return dims;
}

void read_input(const onnx::GraphProto& proto, ImportContext& ctx, Graph& graph) {
  std::vector<const onnx::ValueInfoProto*> images;
  std::string names;
  for (const onnx::ValueInfoProto& info : proto.input()) {
    if (ctx.constants.contains(info.name())) continue;  // IR < 4 lists initialisers as inputs too
    images.push_back(&info);
    names += (names.empty() ? "'" : ", '") + info.name() + "'";
  }
  if (images.size() != 1) {
    throw Error(ctx.source + ": terraseg models have exactly one graph input (the image) besides initializers; found " +
                std::to_string(images.size()) + (names.empty() ? "" : ": " + names));
  }
  if (images[0]->name().empty()) throw Error(ctx.source + ": the graph input has no name");
  graph.input = images[0]->name();
  graph.input_dims = read_input_dims(*images[0], ctx.source);
  // H and W (and any further spatial axes) are dynamic in the graph, because tiles come in any size
  // whatever size the exporter traced; the traced size is kept for models that only run at it.
  if (graph.input_dims.size() == 4 && graph.input_dims[2] > 0 && graph.input_dims[3] > 0) {
    graph.declared_hw = {graph.input_dims[2], graph.input_dims[3]};
  }
  for (size_t axis = 2; axis < graph.input_dims.size(); ++axis) graph.input_dims[axis] = -1;
  const bool has_shape = images[0]->type().tensor_type().has_shape();
  ctx.ranks[graph.input] = has_shape ? static_cast<int64_t>(graph.input_dims.size()) : -1;
}

void read_outputs(const onnx::GraphProto& proto, const ImportContext& ctx, Graph& graph) {
  for (const onnx::ValueInfoProto& info : proto.output()) {
    if (ctx.constants.contains(info.name())) {
      throw Error(ctx.source + ": graph output '" + info.name() +
                  "' is a constant; terraseg models compute their outputs");
    }
    auto dropped = ctx.dropped.find(info.name());
    if (dropped != ctx.dropped.end()) {
      throw Error(ctx.source + ": graph output '" + info.name() + "' is " + dropped->second);
    }
    graph.outputs.push_back(info.name());
    if (info.type().has_tensor_type() && info.type().tensor_type().has_shape()) {
      Dims dims;
      for (const onnx::TensorShapeProto::Dimension& dim : info.type().tensor_type().shape().dim()) {
        dims.push_back(dim.has_dim_value() && dim.dim_value() > 0 ? dim.dim_value() : -1);
      }
      graph.output_dims[info.name()] = dims;
    }
  }
  if (graph.outputs.empty()) throw Error(ctx.source + ": the graph has no outputs");
}

/// Float constants that a kept node reads become weights; everything else folded away is dropped.
void collect_weights(const ImportContext& ctx, Graph& graph) {
  for (const Node& node : graph.nodes) {
    for (const std::string& in : node.inputs) {
      auto constant = ctx.constants.find(in);
      if (constant == ctx.constants.end() || graph.weights.contains(in)) continue;
      graph.weights.emplace(in, Tensor(constant->second.dims, constant->second.floats));
    }
  }
}

/// The terraseg card; without one, a card from the QGIS Deepness plugin's metadata when the file has
/// it. Tile keys a terraseg card leaves out are taken from Deepness's tiles_size / tiles_overlap.
void read_card(const onnx::ModelProto& model, const std::string& source, Graph& graph) {
  std::map<std::string, std::string> metadata;
  for (const onnx::StringStringEntryProto& entry : model.metadata_props()) metadata[entry.key()] = entry.value();
  const auto terraseg_card = metadata.find(onnx_io::kCardKey);
  if (terraseg_card == metadata.end() && has_deepness_metadata(metadata)) {
    graph.card = card_from_deepness(metadata, source);
    return;
  }
  if (terraseg_card != metadata.end()) graph.card = ModelCard::from_json(terraseg_card->second, source);
  // Tile keys the terraseg card (or a file without any card) leaves out: Deepness's, when given.
  if (!graph.card.tile && (metadata.contains("tiles_size") || metadata.contains("tile_size"))) {
    const ModelCard deepness = card_from_deepness(metadata, source);
    graph.card.tile = deepness.tile;
    if (!graph.card.tile_overlap) graph.card.tile_overlap = deepness.tile_overlap;
  }
}

Graph import_model(const onnx::ModelProto& model, const std::string& source) {
  ImportContext ctx;
  ctx.source = source;
  ctx.opset = read_opset(model, source);
  const onnx::GraphProto& proto = model.graph();
  Graph graph;
  graph.name = proto.name();
  read_initializers(proto, ctx);
  read_input(proto, ctx, graph);
  for (int i = 0; i < proto.node_size(); ++i) {
    std::optional<Node> node = onnx_io::normalise_node(ctx, proto.node(i), static_cast<size_t>(i));
    if (node) graph.nodes.push_back(std::move(*node));
  }
  read_outputs(proto, ctx, graph);
  collect_weights(ctx, graph);
  read_card(model, source, graph);
  try {
    graph.validate();
  } catch (const Error& e) {
    throw Error(source + ": " + e.what());
  }
  return graph;
}

}  // namespace

Graph load_onnx_bytes(const std::string& bytes, const std::string& source) {
  onnx::ModelProto model;
  if (bytes.size() > static_cast<size_t>(INT_MAX) || !model.ParseFromString(bytes)) {
    throw Error(source +
                ": not an ONNX model (it does not parse as an ONNX protobuf); pass an .onnx file, "
                "e.g. one written by torch.onnx.export or `terraseg train`");
  }
  if (!model.has_graph()) throw Error(source + ": not an ONNX model (it has no graph)");
  Graph graph = import_model(model, source);
  graph.source = source;
  return graph;
}

Graph load_onnx(const std::string& path) {
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::status(path, error);
  if (!std::filesystem::exists(status)) {
    throw Error(path +
                ": model file not found; check the path (an .onnx file, e.g. exported with "
                "torch.onnx.export or written by `terraseg train`)");
  }
  if (std::filesystem::is_directory(status)) throw Error(path + ": is a directory; pass the .onnx model file");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  const std::streamoff size = in ? static_cast<std::streamoff>(in.tellg()) : -1;
  if (size < 0) throw Error(path + ": cannot read the model file; check its permissions");
  std::string bytes(static_cast<size_t>(size), '\0');
  in.seekg(0);
  if (!in.read(bytes.data(), size)) throw Error(path + ": cannot read the model file; check its permissions");
  return load_onnx_bytes(bytes, path);
}

}  // namespace terraseg
