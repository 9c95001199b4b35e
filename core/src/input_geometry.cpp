#include "terraseg/core/input_geometry.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

namespace terraseg {
namespace {

/// Largest of the node's spatial strides (attribute "strides"; 1 when absent).
double largest_stride(const Node& node) {
  const std::vector<int64_t> strides = node.attr_ints("strides", {1});
  return static_cast<double>(*std::max_element(strides.begin(), strides.end()));
}

/// How far the node's output grid is coarser than its input's (2: half the resolution).
double downsampling(const Node& node) {
  if (node.op == "Conv" || node.op == "MaxPool" || node.op == "AveragePool") return largest_stride(node);
  if (node.op == "ConvTranspose" || node.op == "MaxUnpool") return 1.0 / largest_stride(node);
  if (node.op == "Resize") {
    const std::vector<float> scales = node.attr_floats("scales");
    if (scales.size() < 4) return 1.0;
    const float largest = std::max(scales[2], scales[3]);
    return largest > 0.0F ? 1.0 / largest : 1.0;
  }
  return 1.0;
}

}  // namespace

InputGeometry input_geometry(const Graph& graph) {
  // Coarseness of every value relative to the input; 0 marks values with no spatial grid of their own
  // (weights, global pooling results) that do not constrain the input size.
  std::map<std::string, double> coarseness{{graph.input, 1.0}};
  double coarsest = 1.0;
  bool size_bound = false;
  for (const Node& node : graph.nodes) {
    double in = 0.0;
    for (const std::string& value : node.inputs) {
      auto it = coarseness.find(value);
      if (it != coarseness.end()) in = std::max(in, it->second);
    }
    const bool global = node.op == "GlobalAveragePool" || node.op == "GlobalMaxPool";
    size_bound = size_bound || (node.op == "Resize" && node.has("sizes"));
    const double out = global ? 0.0 : in * downsampling(node);
    coarsest = std::max(coarsest, out);
    for (const std::string& value : node.outputs) coarseness[value] = out;
  }
  InputGeometry geometry;
  while (geometry.multiple < 1024 && geometry.multiple < coarsest - 1e-6) geometry.multiple *= 2;
  if (size_bound && graph.declared_hw[0] > 0 && graph.declared_hw[1] > 0) {
    geometry.fixed_hw =
        std::array<int, 2>{static_cast<int>(graph.declared_hw[0]), static_cast<int>(graph.declared_hw[1])};
  }
  return geometry;
}

}  // namespace terraseg
