// Native U-Net and SegNet graphs with He-initialised weights. Node names are "<block>.<layer>"
// (enc1.conv1, dec2.up, head.conv) so the trainer can select layers by prefix, e.g. freeze "enc*".
#include "terraseg/core/builders.hpp"

#include <cmath>
#include <random>

#include "terraseg/core/error.hpp"

namespace terraseg {
namespace {

/// Appends nodes and weights to a graph; every helper returns the name of the value it produced.
class GraphWriter {
 public:
  GraphWriter(std::string name, int in_channels, uint64_t seed) : rng_(seed) {
    graph_.name = std::move(name);
    graph_.input = "input";
    graph_.input_dims = {1, in_channels, -1, -1};
  }

  std::string conv(const std::string& name, const std::string& x, int in, int out, int k, bool bias) {
    const int64_t pad = k / 2;
    add_weight(name + ".weight", {out, in, k, k}, std::sqrt(2.0F / static_cast<float>(in * k * k)));
    std::vector<std::string> inputs{x, name + ".weight"};
    if (bias) {
      graph_.weights[name + ".bias"] = Tensor({out}, 0.0F);
      inputs.push_back(name + ".bias");
    }
    return add(name, "Conv", inputs,
               {{"kernel_shape", std::vector<int64_t>{k, k}}, {"pads", std::vector<int64_t>{pad, pad, pad, pad}}});
  }

  std::string up_conv(const std::string& name, const std::string& x, int in, int out) {
    // Each output pixel of a 2x2 stride-2 transposed conv sees `in` inputs: that is its fan-in.
    add_weight(name + ".weight", {in, out, 2, 2}, std::sqrt(2.0F / static_cast<float>(in)));
    graph_.weights[name + ".bias"] = Tensor({out}, 0.0F);
    return add(name, "ConvTranspose", {x, name + ".weight", name + ".bias"},
               {{"kernel_shape", std::vector<int64_t>{2, 2}}, {"strides", std::vector<int64_t>{2, 2}}});
  }

  std::string batch_norm(const std::string& name, const std::string& x, int channels) {
    graph_.weights[name + ".scale"] = Tensor({channels}, 1.0F);
    graph_.weights[name + ".B"] = Tensor({channels}, 0.0F);
    graph_.weights[name + ".mean"] = Tensor({channels}, 0.0F);
    graph_.weights[name + ".var"] = Tensor({channels}, 1.0F);
    return add(name, "BatchNormalization", {x, name + ".scale", name + ".B", name + ".mean", name + ".var"},
               {{"epsilon", 1e-5F}});
  }

  std::string relu(const std::string& name, const std::string& x) { return add(name, "Relu", {x}, {}); }

  /// MaxPool 2x2 stride 2; with `indices` also writes "<name>.indices" for MaxUnpool.
  std::string max_pool(const std::string& name, const std::string& x, bool indices) {
    Node node{name, "MaxPool", {x}, {name}, {}};
    node.attrs["kernel_shape"] = std::vector<int64_t>{2, 2};
    node.attrs["strides"] = std::vector<int64_t>{2, 2};
    if (indices) node.outputs.push_back(name + ".indices");
    graph_.nodes.push_back(std::move(node));
    return name;
  }

  std::string max_unpool(const std::string& name, const std::string& x, const std::string& indices) {
    return add(name, "MaxUnpool", {x, indices},
               {{"kernel_shape", std::vector<int64_t>{2, 2}}, {"strides", std::vector<int64_t>{2, 2}}});
  }

  std::string add(const std::string& name, const std::string& op, std::vector<std::string> inputs,
                  std::map<std::string, AttrValue> attrs) {
    graph_.nodes.push_back(Node{name, op, std::move(inputs), {name}, std::move(attrs)});
    return name;
  }

  Graph finish(const std::string& output, const std::string& architecture, int classes) {
    graph_.outputs = {output};
    graph_.card.name = graph_.name;
    graph_.card.architecture = architecture;
    for (int c = 0; c < classes; ++c)
      graph_.card.classes.push_back(ClassInfo{c, "class " + std::to_string(c), {0, 0, 0}});
    graph_.card.notes = "untrained: random weights";
    graph_.validate();
    return std::move(graph_);
  }

 private:
  void add_weight(const std::string& name, Dims dims, float stddev) {
    std::normal_distribution<float> normal(0.0F, stddev);
    Tensor w(std::move(dims));
    for (float& v : w.values()) v = normal(rng_);
    graph_.weights[name] = std::move(w);
  }

  Graph graph_;
  std::mt19937_64 rng_;
};

/// conv3x3 (+BN) + ReLU, twice: the U-Net level block.
std::string double_conv(GraphWriter& w, const std::string& block, std::string x, int in, int out, bool bn) {
  for (int i = 1; i <= 2; ++i) {
    const std::string n = std::to_string(i);
    x = w.conv(block + ".conv" + n, x, i == 1 ? in : out, out, 3, !bn);
    if (bn) x = w.batch_norm(block + ".bn" + n, x, out);
    x = w.relu(block + ".relu" + n, x);
  }
  return x;
}

void check_positive(const std::string& what, int value) {
  if (value < 1) throw Error("model builder: " + what + " must be positive, got " + std::to_string(value));
}

}  // namespace

Graph build_unet(const UNetSpec& spec) {
  check_positive("in_channels", spec.in_channels);
  check_positive("classes", spec.classes);
  check_positive("depth", spec.depth);
  check_positive("base_width", spec.base_width);
  GraphWriter w("unet", spec.in_channels, spec.seed);
  auto width = [&](int level) { return spec.base_width << (level - 1); };
  std::vector<std::string> skips;
  std::string x = "input";
  int channels = spec.in_channels;
  for (int level = 1; level <= spec.depth; ++level) {
    const std::string block = "enc" + std::to_string(level);
    x = double_conv(w, block, x, channels, width(level), spec.batch_norm);
    skips.push_back(x);
    x = w.max_pool(block + ".pool", x, false);
    channels = width(level);
  }
  x = double_conv(w, "bottleneck", x, channels, width(spec.depth + 1), spec.batch_norm);
  for (int level = spec.depth; level >= 1; --level) {
    const std::string block = "dec" + std::to_string(level);
    if (spec.transposed_conv) {
      x = w.up_conv(block + ".up", x, width(level + 1), width(level));
    } else {
      x = w.add(block + ".up", "Resize", {x},
                {{"mode", std::string("linear")},
                 {"coordinate_transformation_mode", std::string("half_pixel")},
                 {"scales", std::vector<float>{1.0F, 1.0F, 2.0F, 2.0F}}});
      x = w.conv(block + ".upconv", x, width(level + 1), width(level), 1, true);
    }
    x = w.add(block + ".concat", "Concat", {skips[static_cast<size_t>(level - 1)], x}, {{"axis", int64_t{1}}});
    x = double_conv(w, block, x, 2 * width(level), width(level), spec.batch_norm);
  }
  x = w.conv("head.conv", x, width(1), spec.classes, 1, true);
  return w.finish(x, "unet", spec.classes);
}

Graph build_segnet(const SegNetSpec& spec) {
  check_positive("in_channels", spec.in_channels);
  check_positive("classes", spec.classes);
  check_positive("base_width", spec.base_width);
  GraphWriter w(spec.basic ? "segnet_basic" : "segnet", spec.in_channels, spec.seed);
  // VGG16: 2-2-3-3-3 convs at 64..512; SegNet-Basic: 4 levels of one 7x7 conv at 64 (scaled).
  const std::vector<int> convs = spec.basic ? std::vector<int>{1, 1, 1, 1} : std::vector<int>{2, 2, 3, 3, 3};
  const std::vector<int> widths64 =
      spec.basic ? std::vector<int>{64, 64, 64, 64} : std::vector<int>{64, 128, 256, 512, 512};
  const int kernel = spec.basic ? 7 : 3;
  std::vector<int> widths;
  widths.reserve(widths64.size());
  for (int v : widths64) widths.push_back(std::max(1, v * spec.base_width / 64));
  std::string x = "input";
  int channels = spec.in_channels;
  const int levels = static_cast<int>(convs.size());
  for (int level = 1; level <= levels; ++level) {
    const std::string block = "enc" + std::to_string(level);
    for (int i = 1; i <= convs[static_cast<size_t>(level - 1)]; ++i) {
      const std::string n = std::to_string(i);
      x = w.conv(block + ".conv" + n, x, channels, widths[static_cast<size_t>(level - 1)], kernel, false);
      channels = widths[static_cast<size_t>(level - 1)];
      x = w.batch_norm(block + ".bn" + n, x, channels);
      x = w.relu(block + ".relu" + n, x);
    }
    x = w.max_pool(block + ".pool", x, true);
  }
  for (int level = levels; level >= 1; --level) {
    const std::string block = "dec" + std::to_string(level);
    x = w.max_unpool(block + ".unpool", x, "enc" + std::to_string(level) + ".pool.indices");
    const int count = convs[static_cast<size_t>(level - 1)];
    for (int i = 1; i <= count; ++i) {
      const std::string n = std::to_string(i);
      // The last conv of a level narrows to the next level's width, as in the paper.
      const bool last = i == count && level > 1;
      const int out = last ? widths[static_cast<size_t>(level - 2)] : widths[static_cast<size_t>(level - 1)];
      x = w.conv(block + ".conv" + n, x, channels, out, kernel, false);
      channels = out;
      x = w.batch_norm(block + ".bn" + n, x, channels);
      if (!spec.basic) x = w.relu(block + ".relu" + n, x);  // SegNet-Basic's decoder has no ReLU
    }
  }
  x = w.conv("head.conv", x, channels, spec.classes, 1, true);
  return w.finish(x, "segnet", spec.classes);
}

}  // namespace terraseg
