#include "op_geometry.hpp"

#include <algorithm>
#include <cmath>

#include "terraseg/core/error.hpp"

namespace terraseg {

ResizeGeometry resize_geometry(const Node& node, const Dims& x) {
  if (x.size() != 4) fail_node(node, "only N,C,H,W inputs are supported, not " + to_string(x));
  ResizeGeometry p;
  const bool upsample = node.op == "Upsample";
  p.mode = node.attr_string("mode", "nearest");
  if (p.mode == "bilinear") p.mode = "linear";
  // Upsample (opset 7-9) is Resize with asymmetric coordinates and floor rounding.
  p.transform = upsample ? "asymmetric" : node.attr_string("coordinate_transformation_mode", "half_pixel");
  p.nearest = upsample ? "floor" : node.attr_string("nearest_mode", "round_prefer_floor");
  p.out = x;
  if (node.has("sizes")) {
    const std::vector<int64_t> sizes = node.attr_ints("sizes");
    if (sizes.size() != 4 || sizes[0] != x[0] || sizes[1] != x[1])
      fail_node(node, "'sizes' must be N,C,H,W with N and C unchanged");
    p.out = sizes;
    p.scale = {static_cast<float>(sizes[2]) / static_cast<float>(x[2]),
               static_cast<float>(sizes[3]) / static_cast<float>(x[3])};
    p.length = {static_cast<float>(sizes[2]), static_cast<float>(sizes[3])};
  } else if (node.has("scales")) {
    const std::vector<float> scales = node.attr_floats("scales");
    if (scales.size() != 4 || scales[0] != 1.0F || scales[1] != 1.0F) fail_node(node, "'scales' must be 1,1,sH,sW");
    p.scale = {scales[2], scales[3]};
    for (size_t a = 0; a < 2; ++a) {
      p.length[a] = static_cast<float>(x[2 + a]) * p.scale[a];
      p.out[2 + a] = static_cast<int64_t>(std::floor(p.length[a]));
    }
  } else {
    fail_node(node, "needs a 'scales' or 'sizes' attribute (constant inputs folded by the importer)");
  }
  if (p.out[2] <= 0 || p.out[3] <= 0) fail_node(node, "output " + to_string(p.out) + " is empty");
  return p;
}

float source_coordinate(int64_t o, int64_t in, float length, float scale, const std::string& transform) {
  const auto x = static_cast<float>(o);
  if (transform == "align_corners") {
    return length == 1.0F ? 0.0F : x * static_cast<float>(in - 1) / (length - 1.0F);
  }
  if (transform == "asymmetric") return x / scale;
  if (transform == "pytorch_half_pixel" && length == 1.0F) return 0.0F;
  return (x + 0.5F) / scale - 0.5F;
}

int64_t nearest_index(float x, const std::string& mode) {
  if (mode == "floor") return static_cast<int64_t>(std::floor(x));
  if (mode == "ceil") return static_cast<int64_t>(std::ceil(x));
  const float f = std::floor(x);
  if (x - f == 0.5F) return static_cast<int64_t>(mode == "round_prefer_ceil" ? f + 1.0F : f);
  return static_cast<int64_t>(std::round(x));
}

std::vector<int64_t> nearest_table(const ResizeGeometry& g, int64_t in, size_t axis) {
  std::vector<int64_t> table(static_cast<size_t>(g.out.at(2 + axis)));
  for (size_t o = 0; o < table.size(); ++o) {
    const float x = source_coordinate(static_cast<int64_t>(o), in, g.length.at(axis), g.scale.at(axis), g.transform);
    table[o] = std::clamp<int64_t>(nearest_index(x, g.nearest), 0, in - 1);
  }
  return table;
}

LinearTable linear_table(const ResizeGeometry& g, int64_t in, size_t axis) {
  LinearTable t;
  const int64_t out = g.out.at(2 + axis);
  for (int64_t o = 0; o < out; ++o) {
    const float x = source_coordinate(o, in, g.length.at(axis), g.scale.at(axis), g.transform);
    const float c = std::clamp(x, 0.0F, static_cast<float>(in - 1));
    const auto lo = static_cast<int64_t>(std::floor(c));
    t.i0.push_back(lo);
    t.i1.push_back(std::min(lo + 1, in - 1));
    t.w1.push_back(c - static_cast<float>(lo));
  }
  return t;
}

LinearTable resize_table(const ResizeGeometry& g, int64_t in, size_t axis) {
  if (g.mode != "nearest") return linear_table(g, in, axis);
  LinearTable t;
  t.i0 = nearest_table(g, in, axis);
  t.i1 = t.i0;
  t.w1.assign(t.i0.size(), 0.0F);
  return t;
}

void resize_planes(const float* x, const Dims& x_dims, const LinearTable& rows, const LinearTable& cols, float* y) {
  const int64_t width = x_dims[3], in_plane = x_dims[2] * x_dims[3];
  const auto out_plane = static_cast<int64_t>(rows.i0.size() * cols.i0.size());
#pragma omp parallel for
  for (int64_t plane = 0; plane < x_dims[0] * x_dims[1]; ++plane) {
    const float* src = x + plane * in_plane;
    float* dst = y + plane * out_plane;
    for (size_t oh = 0; oh < rows.i0.size(); ++oh) {
      const float* r0 = src + rows.i0[oh] * width;
      const float* r1 = src + rows.i1[oh] * width;
      const float wr = rows.w1[oh];
      for (size_t ow = 0; ow < cols.i0.size(); ++ow) {
        const int64_t c0 = cols.i0[ow], c1 = cols.i1[ow];
        const float wc = cols.w1[ow];
        const float top = r0[c0] + wc * (r0[c1] - r0[c0]);
        const float bottom = r1[c0] + wc * (r1[c1] - r1[c0]);
        *dst++ = top + wr * (bottom - top);
      }
    }
  }
}

std::array<int64_t, 4> transposed_conv_pads(const Node& node, const Dims& x, std::array<int64_t, 2> stride,
                                            std::array<int64_t, 2> output_padding, std::array<int64_t, 2> extent) {
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  std::array<int64_t, 4> pads{0, 0, 0, 0};
  if (auto_pad == "NOTSET" && node.has("pads")) {
    const std::vector<int64_t> given = node.attr_ints("pads");
    if (given.size() != 4)
      fail_node(node, "attribute 'pads' needs 4 values for a 2-D operator, got " + std::to_string(given.size()));
    std::copy(given.begin(), given.end(), pads.begin());
    if (*std::min_element(pads.begin(), pads.end()) < 0) fail_node(node, "negative 'pads' are not supported");
  } else if (auto_pad != "NOTSET" && auto_pad != "VALID" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER") {
    fail_node(node, "auto_pad " + auto_pad + " is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER");
  }
  std::vector<int64_t> target = node.attr_ints("output_shape", {});
  if (target.size() > 2) target.erase(target.begin(), target.end() - 2);
  if (!target.empty() && target.size() != 2) fail_node(node, "output_shape needs the two spatial sizes");
  if (target.empty() && (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER"))
    target = {x.at(2) * stride[0], x.at(3) * stride[1]};
  for (size_t axis = 0; axis < target.size(); ++axis) {
    const int64_t total = stride[axis] * (x.at(2 + axis) - 1) + output_padding[axis] + extent[axis] - target[axis];
    if (total < 0) fail_node(node, "output_shape is larger than the transposed convolution can produce");
    pads[axis] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
    pads[axis + 2] = total - pads[axis];
  }
  return pads;
}

}  // namespace terraseg
