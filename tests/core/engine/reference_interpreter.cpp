// run_reference: the naive node-by-node interpreter over reference_ops.
#include <cmath>

#include "reference_ops.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg::test {
namespace {

using Values = std::map<std::string, Tensor>;

std::array<int64_t, 2> pair_of(const Node& node, const std::string& key, std::array<int64_t, 2> fallback) {
  if (!node.has(key)) return fallback;
  const auto v = node.attr_ints(key);
  return {v.at(0), v.at(1)};
}

/// Window from ONNX attributes; the kernel comes from `kernel` (weights or kernel_shape).
Window window_of(const Node& node, const Dims& x, std::array<int64_t, 2> kernel) {
  Window win;
  win.kernel = kernel;
  win.stride = pair_of(node, "strides", {1, 1});
  win.dilation = pair_of(node, "dilations", {1, 1});
  if (node.has("pads")) {
    const auto p = node.attr_ints("pads");
    win.pads = {p.at(0), p.at(1), p.at(2), p.at(3)};
  }
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  if (auto_pad == "VALID") win.pads = {0, 0, 0, 0};
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    for (size_t a = 0; a < 2; ++a) {
      const int64_t out = (x[2 + a] + win.stride[a] - 1) / win.stride[a];
      const int64_t ek = (kernel[a] - 1) * win.dilation[a] + 1;
      const int64_t total = std::max<int64_t>(0, (out - 1) * win.stride[a] + ek - x[2 + a]);
      win.pads[a] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      win.pads[a + 2] = total - win.pads[a];
    }
  }
  return win;
}

const Tensor* optional_weight(const Graph& g, const Node& node, size_t i) {
  if (node.inputs.size() <= i || node.inputs[i].empty()) return nullptr;
  return &g.weights.at(node.inputs[i]);
}

Tensor run_conv_transpose(const Graph& g, const Node& node, const Tensor& x) {
  const Tensor& w = g.weights.at(node.inputs.at(1));
  Window win = window_of(node, x.dims(), {w.dim(2), w.dim(3)});
  const auto out_pad = pair_of(node, "output_padding", {0, 0});
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  std::vector<int64_t> target = node.attr_ints("output_shape", {});
  if (target.size() > 2) target.erase(target.begin(), target.end() - 2);
  if (auto_pad != "NOTSET") win.pads = {0, 0, 0, 0};
  if (target.empty() && (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER")) {
    target = {x.dim(2) * win.stride[0], x.dim(3) * win.stride[1]};
  }
  for (size_t a = 0; a < target.size(); ++a) {
    const int64_t ek = (win.kernel[a] - 1) * win.dilation[a] + 1;
    const int64_t total = win.stride[a] * (x.dim(2 + a) - 1) + out_pad[a] + ek - target[a];
    win.pads[a] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
    win.pads[a + 2] = total - win.pads[a];
  }
  return conv_transpose2d(x, w, optional_weight(g, node, 2), win, node.attr_int("group", 1), out_pad);
}

Tensor run_resize(const Node& node, const Tensor& x) {
  const bool upsample = node.op == "Upsample";
  std::string mode = node.attr_string("mode", "nearest");
  if (mode == "bilinear") mode = "linear";
  const std::string transform =
      upsample ? "asymmetric" : node.attr_string("coordinate_transformation_mode", "half_pixel");
  const std::string nearest = upsample ? "floor" : node.attr_string("nearest_mode", "round_prefer_floor");
  std::array<float, 2> scale{}, length{};
  int64_t oh = 0, ow = 0;
  if (node.has("sizes")) {
    const auto sizes = node.attr_ints("sizes");
    oh = sizes.at(2);
    ow = sizes.at(3);
    scale = {static_cast<float>(oh) / static_cast<float>(x.dim(2)),
             static_cast<float>(ow) / static_cast<float>(x.dim(3))};
    length = {static_cast<float>(oh), static_cast<float>(ow)};
  } else {
    const auto scales = node.attr_floats("scales");
    scale = {scales.at(2), scales.at(3)};
    length = {static_cast<float>(x.dim(2)) * scale[0], static_cast<float>(x.dim(3)) * scale[1]};
    oh = static_cast<int64_t>(std::floor(length[0]));
    ow = static_cast<int64_t>(std::floor(length[1]));
  }
  return resize2d(x, oh, ow, scale, length, mode, transform, nearest);
}

/// Unary and binary elementwise ops; false when `node` is neither.
bool run_elementwise(const Graph& g, const Node& node, Values& values) {
  static const std::map<std::string, std::function<float(float, float)>> binaries{
      {"Add", [](float a, float b) { return a + b; }},
      {"Sub", [](float a, float b) { return a - b; }},
      {"Mul", [](float a, float b) { return a * b; }},
      {"Div", [](float a, float b) { return a / b; }}};
  auto value = [&](const std::string& name) -> const Tensor& {
    return g.is_weight(name) ? g.weights.at(name) : values.at(name);
  };
  auto bin = binaries.find(node.op);
  if (bin != binaries.end()) {
    values[node.outputs[0]] = binary(value(node.inputs.at(0)), value(node.inputs.at(1)), bin->second);
    return true;
  }
  const float alpha = node.attr_float("alpha", node.op == "LeakyRelu" ? 0.01F : 1.0F);
  const float lo = node.attr_float("min", -INFINITY), hi = node.attr_float("max", INFINITY);
  std::function<float(float)> fn;
  if (node.op == "Relu") fn = [](float v) { return v > 0.0F ? v : 0.0F; };
  if (node.op == "LeakyRelu") fn = [alpha](float v) { return v > 0.0F ? v : alpha * v; };
  if (node.op == "Sigmoid") fn = [](float v) { return 1.0F / (1.0F + std::exp(-v)); };
  if (node.op == "Tanh") fn = [](float v) { return std::tanh(v); };
  if (node.op == "Elu") fn = [alpha](float v) { return v > 0.0F ? v : alpha * (std::exp(v) - 1.0F); };
  if (node.op == "Clip") fn = [lo, hi](float v) { return std::min(std::max(v, lo), hi); };
  if (node.op == "Identity" || node.op == "Dropout") fn = [](float v) { return v; };
  if (!fn) return false;
  values[node.outputs[0]] = unary(values.at(node.inputs.at(0)), fn);
  return true;
}

void run_pool(const Node& node, Values& values) {
  const Tensor& x = values.at(node.inputs.at(0));
  const Window win = window_of(node, x.dims(), pair_of(node, "kernel_shape", {1, 1}));
  const bool ceil_mode = node.attr_int("ceil_mode", 0) != 0;
  if (node.op == "AveragePool") {
    values[node.outputs[0]] = average_pool2d(x, win, ceil_mode, node.attr_int("count_include_pad", 0) != 0);
    return;
  }
  Tensor indices;
  values[node.outputs[0]] = max_pool2d(x, win, ceil_mode, &indices);
  if (node.outputs.size() > 1 && !node.outputs[1].empty()) values[node.outputs[1]] = std::move(indices);
}

Tensor run_unpool(const Node& node, const Values& values) {
  const Tensor& x = values.at(node.inputs.at(0));
  const auto k = pair_of(node, "kernel_shape", {1, 1});
  const auto s = pair_of(node, "strides", {1, 1});
  std::array<int64_t, 4> p{0, 0, 0, 0};
  if (node.has("pads")) {
    const auto v = node.attr_ints("pads");
    p = {v[0], v[1], v[2], v[3]};
  }
  Dims out{x.dim(0), x.dim(1), (x.dim(2) - 1) * s[0] + k[0] - p[0] - p[2], (x.dim(3) - 1) * s[1] + k[1] - p[1] - p[3]};
  if (node.has("output_shape")) out = node.attr_ints("output_shape");
  return max_unpool2d(x, values.at(node.inputs.at(1)), out);
}

void run_node(const Graph& g, const Node& node, Values& values) {
  if (run_elementwise(g, node, values)) return;
  const Tensor& x = values.at(node.inputs.at(0));
  Tensor& y = values[node.outputs.at(0)];
  if (node.op == "Conv") {
    const Tensor& w = g.weights.at(node.inputs.at(1));
    y = conv2d(x, w, optional_weight(g, node, 2), window_of(node, x.dims(), {w.dim(2), w.dim(3)}),
               node.attr_int("group", 1));
  } else if (node.op == "ConvTranspose") {
    y = run_conv_transpose(g, node, x);
  } else if (node.op == "MaxPool" || node.op == "AveragePool") {
    run_pool(node, values);
  } else if (node.op == "MaxUnpool") {
    y = run_unpool(node, values);
  } else if (node.op == "GlobalAveragePool") {
    y = global_average_pool(x);
  } else if (node.op == "BatchNormalization") {
    y = batch_norm(x, g.weights.at(node.inputs.at(1)), g.weights.at(node.inputs.at(2)), g.weights.at(node.inputs.at(3)),
                   g.weights.at(node.inputs.at(4)), node.attr_float("epsilon", 1e-5F));
  } else if (node.op == "PRelu") {
    y = prelu(x, g.weights.at(node.inputs.at(1)));
  } else if (node.op == "Concat") {
    std::vector<const Tensor*> inputs;
    for (const std::string& in : node.inputs) inputs.push_back(&values.at(in));
    int64_t axis = node.attr_int("axis", 1);
    y = concat(inputs, axis < 0 ? axis + static_cast<int64_t>(x.rank()) : axis);
  } else if (node.op == "Pad") {
    const auto p = node.attr_ints("pads");
    y = pad2d(x, {p.at(2), p.at(3), p.at(6), p.at(7)}, node.attr_string("mode", "constant"),
              node.attr_float("constant_value", 0.0F));
  } else if (node.op == "Resize" || node.op == "Upsample") {
    y = run_resize(node, x);
  } else if (node.op == "Softmax") {
    y = softmax(x, node.attr_int("axis", -1));
  } else if (node.op == "ArgMax") {
    y = argmax_channels(x, node.attr_int("keepdims", 1) != 0);
  } else {
    throw Error("reference interpreter: node '" + node.name + "' has unsupported op " + node.op);
  }
}

}  // namespace

std::map<std::string, Tensor> run_reference(const Graph& graph, const Tensor& input) {
  Values values;
  values[graph.input] = input;
  for (const Node& node : graph.nodes) run_node(graph, node, values);
  return values;
}

}  // namespace terraseg::test
