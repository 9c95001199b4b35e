// ONNX export: the IR written back as an opset-13 model. Attributes that opset 13 takes as inputs
// (Pad pads, Resize scales/sizes, MaxUnpool output_shape, Clip min/max) become initialisers again, so that any
// ONNX runtime reads the file; load_onnx turns them back into the same attributes.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "onnx_detail.hpp"
#include "terraseg/core/deepness.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/input_geometry.hpp"
#include "terraseg/core/onnx.hpp"

namespace terraseg {
namespace {

using onnx_io::encode_float_tensor;
using onnx_io::encode_float_values;
using onnx_io::encode_int64_tensor;

/// Names in use, so that generated initialisers and Cast nodes never collide with the graph's own.
struct ExportState {
  onnx::GraphProto& proto;
  std::set<std::string> values;
  std::set<std::string> nodes;

  static std::string fresh(std::set<std::string>& used, const std::string& base) {
    std::string name = base;
    for (int suffix = 1; used.contains(name); ++suffix) name = base + "_" + std::to_string(suffix);
    used.insert(name);
    return name;
  }
};

void add_attribute(onnx::NodeProto& proto, const std::string& key, const AttrValue& value) {
  onnx::AttributeProto& attr = *proto.add_attribute();
  attr.set_name(key);
  if (const auto* i = std::get_if<int64_t>(&value)) {
    attr.set_type(onnx::AttributeProto::INT);
    attr.set_i(*i);
  } else if (const auto* f = std::get_if<float>(&value)) {
    attr.set_type(onnx::AttributeProto::FLOAT);
    attr.set_f(*f);
  } else if (const auto* s = std::get_if<std::string>(&value)) {
    attr.set_type(onnx::AttributeProto::STRING);
    attr.set_s(*s);
  } else if (const auto* ints = std::get_if<std::vector<int64_t>>(&value)) {
    attr.set_type(onnx::AttributeProto::INTS);
    for (int64_t v : *ints) attr.add_ints(v);
  } else {
    attr.set_type(onnx::AttributeProto::FLOATS);
    for (float v : std::get<std::vector<float>>(value)) attr.add_floats(v);
  }
}

std::string add_int64_operand(ExportState& state, const Node& node, const std::string& key) {
  std::string name = terraseg::ExportState::fresh(state.values, node.name + "/" + key);
  encode_int64_tensor(name, node.attr_ints(key), *state.proto.add_initializer());
  return name;
}

/// Opset-13 operand inputs for the attributes the IR keeps instead; returns the attributes used.
std::set<std::string> add_operands(ExportState& state, const Node& node, onnx::NodeProto& proto) {
  if (node.op == "Pad") {
    proto.add_input(add_int64_operand(state, node, "pads"));
    const std::string value = terraseg::ExportState::fresh(state.values, node.name + "/constant_value");
    encode_float_values(value, {node.attr_float("constant_value", 0.0F)}, true, *state.proto.add_initializer());
    proto.add_input(value);
    return {"pads", "constant_value"};
  }
  if (node.op == "Resize") {
    proto.add_input("");  // roi: only tf_crop_and_resize reads it
    if (node.has("scales")) {
      const std::string scales = terraseg::ExportState::fresh(state.values, node.name + "/scales");
      encode_float_values(scales, node.attr_floats("scales"), false, *state.proto.add_initializer());
      proto.add_input(scales);
    } else {
      proto.add_input("");
      proto.add_input(add_int64_operand(state, node, "sizes"));
    }
    return {"scales", "sizes"};
  }
  if (node.op == "Clip") {
    for (const char* key : {"min", "max"}) {
      std::string bound;
      if (node.has(key)) {
        bound = terraseg::ExportState::fresh(state.values, node.name + "/" + key);
        encode_float_values(bound, {node.attr_float(key, 0.0F)}, true, *state.proto.add_initializer());
      }
      proto.add_input(bound);
    }
    return {"min", "max"};
  }
  if (node.op == "MaxUnpool" && node.has("output_shape")) {
    proto.add_input(add_int64_operand(state, node, "output_shape"));
    return {"output_shape"};
  }
  return {};
}

void write_node(ExportState& state, const Node& node) {
  onnx::NodeProto& proto = *state.proto.add_node();
  proto.set_name(node.name);
  proto.set_op_type(node.op);
  for (const std::string& in : node.inputs) proto.add_input(in);
  for (const std::string& out : node.outputs) proto.add_output(out);
  const std::set<std::string> as_inputs = add_operands(state, node, proto);
  for (const auto& [key, value] : node.attrs) {
    if (!as_inputs.contains(key)) add_attribute(proto, key, value);
  }
}

void check_fp16_range(const std::string& name, const Tensor& weight) {
  for (float v : weight.values()) {
    if (std::isfinite(v) && std::fabs(v) > 65504.0F) {
      throw Error("weight '" + name + "' holds " + std::to_string(v) +
                  ", beyond the float16 range; save without fp16_weights");
    }
  }
}

/// fp16 weights are an fp16 initialiser plus a Cast to float under the weight's own name.
void write_weights(ExportState& state, const Graph& graph, bool fp16) {
  for (const auto& [name, weight] : graph.weights) {
    if (!fp16) {
      encode_float_tensor(name, weight, false, *state.proto.add_initializer());
      continue;
    }
    check_fp16_range(name, weight);
    const std::string stored = terraseg::ExportState::fresh(state.values, name + "_fp16");
    encode_float_tensor(stored, weight, true, *state.proto.add_initializer());
    onnx::NodeProto& cast = *state.proto.add_node();
    cast.set_name(terraseg::ExportState::fresh(state.nodes, "Cast_" + name));
    cast.set_op_type("Cast");
    cast.add_input(stored);
    cast.add_output(name);
    add_attribute(cast, "to", int64_t{onnx::TensorProto::FLOAT});
  }
}

void write_input(const Graph& graph, onnx::GraphProto& proto) {
  onnx::ValueInfoProto& input = *proto.add_input();
  input.set_name(graph.input);
  onnx::TypeProto::Tensor& tensor = *input.mutable_type()->mutable_tensor_type();
  tensor.set_elem_type(onnx::TensorProto::FLOAT);
  onnx::TensorShapeProto& shape = *tensor.mutable_shape();
  const char* symbolic[] = {"batch", "channels", "height", "width"};
  // A graph that only runs at one size says so, as its source file did; others stay dynamic.
  Dims dims = graph.input_dims;
  if (const auto fixed = input_geometry(graph).fixed_hw; fixed && dims.size() == 4) {
    dims[2] = (*fixed)[0];
    dims[3] = (*fixed)[1];
  }
  for (size_t axis = 0; axis < dims.size(); ++axis) {
    onnx::TensorShapeProto::Dimension& dim = *shape.add_dim();
    if (dims[axis] >= 0) {
      dim.set_dim_value(dims[axis]);
    } else {
      dim.set_dim_param(axis < 4 ? symbolic[axis] : "dim" + std::to_string(axis));
    }
  }
}

/// Ranks of every value (-1 when unknown): each op keeps the rank of its widest input, except
/// ArgMax without keepdims. ONNX requires graph outputs to declare a shape, so they get one of
/// this rank with unnamed extents; an image without declared dims is taken as NCHW.
std::map<std::string, int64_t> value_ranks(const Graph& graph) {
  std::map<std::string, int64_t> ranks;
  ranks[graph.input] = graph.input_dims.empty() ? 4 : static_cast<int64_t>(graph.input_dims.size());
  for (const auto& [name, weight] : graph.weights) ranks[name] = static_cast<int64_t>(weight.rank());
  for (const Node& node : graph.nodes) {
    int64_t rank = 0;
    for (const std::string& in : node.inputs) {
      if (in.empty()) continue;
      auto found = ranks.find(in);
      rank = (found == ranks.end() || found->second < 0 || rank < 0) ? -1 : std::max(rank, found->second);
    }
    if (node.op == "ArgMax" && node.attr_int("keepdims", 1) == 0 && rank > 0) --rank;
    for (const std::string& out : node.outputs) ranks[out] = rank;
  }
  return ranks;
}

/// Outputs are int64 for ArgMax and MaxPool indices, float otherwise.
void write_outputs(const Graph& graph, onnx::GraphProto& proto) {
  const std::map<std::string, int64_t> ranks = value_ranks(graph);
  for (const std::string& name : graph.outputs) {
    const Node* producer = graph.producer(name);
    const bool indices = producer != nullptr &&
                         (producer->op == "ArgMax" ||
                          (producer->op == "MaxPool" && producer->outputs.size() > 1 && producer->outputs[1] == name));
    onnx::ValueInfoProto& output = *proto.add_output();
    output.set_name(name);
    onnx::TypeProto::Tensor& tensor = *output.mutable_type()->mutable_tensor_type();
    tensor.set_elem_type(indices ? onnx::TensorProto::INT64 : onnx::TensorProto::FLOAT);
    auto rank = ranks.find(name);
    if (rank == ranks.end() || rank->second < 0) continue;
    onnx::TensorShapeProto& shape = *tensor.mutable_shape();
    // A fixed-size graph (a Deepness export) states its output's extents too; others stay unnamed.
    const auto declared = graph.output_dims.find(name);
    const bool fixed_input = !graph.input_dims.empty() && std::all_of(graph.input_dims.begin(), graph.input_dims.end(),
                                                                      [](int64_t d) { return d > 0; });
    const bool stated = fixed_input && declared != graph.output_dims.end() &&
                        static_cast<int64_t>(declared->second.size()) == rank->second;
    for (int64_t axis = 0; axis < rank->second; ++axis) {
      onnx::TensorShapeProto::Dimension& dim = *shape.add_dim();
      if (stated && declared->second[static_cast<size_t>(axis)] > 0)
        dim.set_dim_value(declared->second[static_cast<size_t>(axis)]);
    }
  }
}

onnx::ModelProto build_model(const Graph& graph, const OnnxSaveOptions& options) {
  onnx::ModelProto model;
  model.set_ir_version(7);  // the IR version that goes with opset 13
  model.set_producer_name("terraseg");
  onnx::OperatorSetIdProto& opset = *model.add_opset_import();
  opset.set_domain("");
  opset.set_version(onnx_io::kExportOpset);
  // A card with any content is written: saving it is what makes it present in the file.
  if (graph.card.present || graph.card.to_json() != ModelCard{}.to_json()) {
    onnx::StringStringEntryProto& entry = *model.add_metadata_props();
    entry.set_key(onnx_io::kCardKey);
    entry.set_value(graph.card.to_json());
    // The same card in the QGIS Deepness plugin's keys, so the model loads there too.
    for (const auto& [key, value] : deepness_metadata(graph)) {
      onnx::StringStringEntryProto& deepness = *model.add_metadata_props();
      deepness.set_key(key);
      deepness.set_value(value);
    }
  }
  onnx::GraphProto& proto = *model.mutable_graph();
  proto.set_name(graph.name.empty() ? "terraseg" : graph.name);
  ExportState state{proto, {graph.input}, {}};
  for (const auto& entry : graph.weights) state.values.insert(entry.first);
  for (const Node& node : graph.nodes) {
    state.nodes.insert(node.name);
    state.values.insert(node.outputs.begin(), node.outputs.end());
  }
  write_input(graph, proto);
  write_weights(state, graph, options.fp16_weights);
  for (const Node& node : graph.nodes) write_node(state, node);
  write_outputs(graph, proto);
  return model;
}

void write_atomically(const std::string& bytes, const std::string& path) {
  const std::string temporary = path + ".tmp";
  std::error_code ignored;
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out)
      throw Error(path + ": cannot create '" + temporary + "'; check that the directory exists and is writable");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      std::filesystem::remove(temporary, ignored);
      throw Error(path + ": writing the model failed (disk full?)");
    }
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::filesystem::remove(temporary, ignored);
    throw Error(path + ": cannot move the written model into place: " + error.message());
  }
}

}  // namespace

void save_onnx(const Graph& graph, const std::string& path) { save_onnx(graph, path, OnnxSaveOptions{}); }

void save_onnx(const Graph& graph, const std::string& path, const OnnxSaveOptions& options) {
  try {
    graph.validate();
  } catch (const Error& e) {
    throw Error(path + ": not saving an invalid graph: " + e.what());
  }
  std::string bytes;
  try {
    if (!build_model(graph, options).SerializeToString(&bytes))
      throw Error("protobuf serialisation failed (model over 2 GB?)");
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  write_atomically(bytes, path);
}

}  // namespace terraseg
