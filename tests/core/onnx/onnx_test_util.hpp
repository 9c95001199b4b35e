#pragma once
// Helpers for the ONNX tests: a small ModelProto builder for hand-made models, TensorProto reading
// for the conformance vectors, and exact comparison of two graphs.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "terraseg/core/graph.hpp"
#include "terraseg/core/tensor.hpp"

namespace terraseg::test {

/// Builds a ModelProto by hand: one float image input, initialisers, nodes and outputs.
class OnnxBuilder {
 public:
  explicit OnnxBuilder(int64_t opset = 13) {
    model.set_ir_version(7);
    auto* entry = model.add_opset_import();
    entry->set_domain("");
    entry->set_version(opset);
    model.mutable_graph()->set_name("hand_made");
  }

  OnnxBuilder& input(const std::string& name, const std::vector<int64_t>& dims,
                     int32_t elem_type = onnx::TensorProto::FLOAT) {
    auto* info = model.mutable_graph()->add_input();
    info->set_name(name);
    auto* tensor = info->mutable_type()->mutable_tensor_type();
    tensor->set_elem_type(elem_type);
    for (int64_t d : dims) tensor->mutable_shape()->add_dim()->set_dim_value(d);
    return *this;
  }

  OnnxBuilder& output(const std::string& name) {
    auto* info = model.mutable_graph()->add_output();
    info->set_name(name);
    info->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    return *this;
  }

  onnx::TensorProto& floats(const std::string& name, const std::vector<int64_t>& dims,
                            const std::vector<float>& values) {
    auto& t = *model.mutable_graph()->add_initializer();
    t.set_name(name);
    t.set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t.add_dims(d);
    for (float v : values) t.add_float_data(v);
    return t;
  }

  onnx::TensorProto& ints(const std::string& name, const std::vector<int64_t>& values) {
    auto& t = *model.mutable_graph()->add_initializer();
    t.set_name(name);
    t.set_data_type(onnx::TensorProto::INT64);
    t.add_dims(static_cast<int64_t>(values.size()));
    for (int64_t v : values) t.add_int64_data(v);
    return t;
  }

  onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs, const std::string& name = "") {
    auto& n = *model.mutable_graph()->add_node();
    n.set_op_type(op);
    n.set_name(name.empty() ? op + std::to_string(model.graph().node_size()) : name);
    for (const auto& in : inputs) n.add_input(in);
    for (const auto& out : outputs) n.add_output(out);
    return n;
  }

  std::string bytes() const { return model.SerializeAsString(); }

  onnx::ModelProto model;
};

inline void set_attr(onnx::NodeProto& node, const std::string& name, int64_t value) {
  auto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}
inline void set_attr(onnx::NodeProto& node, const std::string& name, float value) {
  auto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(value);
}
inline void set_attr(onnx::NodeProto& node, const std::string& name, const std::string& value) {
  auto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(value);
}
inline void set_attr(onnx::NodeProto& node, const std::string& name, const std::vector<int64_t>& value) {
  auto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : value) a->add_ints(v);
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

/// Values of a float / int64 / int32 TensorProto as floats, for comparing with engine outputs.
inline std::vector<float> tensor_values(const onnx::TensorProto& t) {
  int64_t count = 1;
  for (int64_t d : t.dims()) count *= d;
  std::vector<float> values(static_cast<size_t>(count));
  const std::string& raw = t.raw_data();
  if (t.data_type() == onnx::TensorProto::FLOAT) {
    if (!raw.empty()) {
      std::memcpy(values.data(), raw.data(), std::min(raw.size(), values.size() * 4));
    } else {
      values.assign(t.float_data().begin(), t.float_data().end());
    }
  } else if (t.data_type() == onnx::TensorProto::INT64) {
    std::vector<int64_t> ints(static_cast<size_t>(count));
    if (!raw.empty()) {
      std::memcpy(ints.data(), raw.data(), std::min(raw.size(), ints.size() * 8));
    } else {
      ints.assign(t.int64_data().begin(), t.int64_data().end());
    }
    values.assign(ints.begin(), ints.end());
  } else {
    ADD_FAILURE() << "tensor '" << t.name() << "' has dtype " << t.data_type();
  }
  return values;
}

/// A TensorProto file (as written by onnx.numpy_helper) as a float Tensor.
inline Tensor read_tensor_file(const std::string& path) {
  onnx::TensorProto proto;
  if (!proto.ParseFromString(read_bytes(path))) {
    ADD_FAILURE() << path << " is not a TensorProto";
    return {};
  }
  return Tensor(Dims(proto.dims().begin(), proto.dims().end()), tensor_values(proto));
}

/// How far `actual` is from `expected`: largest absolute difference, that difference relative to
/// the largest |expected|, and the share of pixels whose arg-max over channels (axis 1) agrees.
struct Parity {
  double max_abs_diff = 0.0;
  double relative = 0.0;
  double class_agreement = 0.0;
};

inline Parity compare_logits(const Tensor& actual, const Tensor& expected) {
  Parity parity;
  if (actual.dims() != expected.dims() || expected.rank() != 4) {
    ADD_FAILURE() << "dims " << to_string(actual.dims()) << " vs expected " << to_string(expected.dims());
    return parity;
  }
  double largest = 0.0;
  for (int64_t i = 0; i < expected.size(); ++i) {
    parity.max_abs_diff =
        std::max(parity.max_abs_diff, static_cast<double>(std::fabs(actual.data()[i] - expected.data()[i])));
    largest = std::max(largest, static_cast<double>(std::fabs(expected.data()[i])));
  }
  parity.relative = parity.max_abs_diff / std::max(largest, 1e-12);
  const int64_t channels = expected.dim(1);
  const int64_t plane = expected.dim(2) * expected.dim(3);
  int64_t agree = 0;
  for (int64_t n = 0; n < expected.dim(0); ++n) {
    for (int64_t p = 0; p < plane; ++p) {
      int64_t best_a = 0;
      int64_t best_e = 0;
      for (int64_t c = 1; c < channels; ++c) {
        const int64_t at = (n * channels + c) * plane + p;
        if (actual.data()[at] > actual.data()[(n * channels + best_a) * plane + p]) best_a = c;
        if (expected.data()[at] > expected.data()[(n * channels + best_e) * plane + p]) best_e = c;
      }
      agree += best_a == best_e ? 1 : 0;
    }
  }
  parity.class_agreement = static_cast<double>(agree) / static_cast<double>(expected.dim(0) * plane);
  return parity;
}

/// Exact equality of everything the IR holds.
inline void expect_same_graph(const Graph& a, const Graph& b) {
  EXPECT_EQ(a.input, b.input);
  EXPECT_EQ(a.input_dims, b.input_dims);
  EXPECT_EQ(a.outputs, b.outputs);
  ASSERT_EQ(a.nodes.size(), b.nodes.size());
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    SCOPED_TRACE("node " + a.nodes[i].name);
    EXPECT_EQ(a.nodes[i].name, b.nodes[i].name);
    EXPECT_EQ(a.nodes[i].op, b.nodes[i].op);
    EXPECT_EQ(a.nodes[i].inputs, b.nodes[i].inputs);
    EXPECT_EQ(a.nodes[i].outputs, b.nodes[i].outputs);
    EXPECT_TRUE(a.nodes[i].attrs == b.nodes[i].attrs);
  }
  ASSERT_EQ(a.weights.size(), b.weights.size());
  for (const auto& [name, weight] : a.weights) {
    ASSERT_TRUE(b.weights.count(name)) << name;
    EXPECT_EQ(weight.dims(), b.weights.at(name).dims()) << name;
    EXPECT_TRUE(std::equal(weight.values().begin(), weight.values().end(), b.weights.at(name).values().begin()))
        << name;
  }
  EXPECT_EQ(a.card.present, b.card.present);
  EXPECT_EQ(a.card.to_json(), b.card.to_json());
}

}  // namespace terraseg::test
