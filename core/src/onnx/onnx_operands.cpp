// Op-specific normalisation to the IR's opset-13 attribute forms: constant operands (Pad pads,
// Resize scales/sizes, MaxUnpool output_shape, Clip min/max) become attributes, Upsample becomes Resize, Dropout
// becomes Identity, and defaults that changed between opsets are written out explicitly.
#include <algorithm>
#include <cmath>

#include "onnx_detail.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg::onnx_io {
namespace {

bool one_of(const std::string& value, std::initializer_list<const char*> allowed) {
  return std::ranges::any_of(allowed, [&value](const char* candidate) { return value == candidate; });
}

void check_scales(OpContext& op, const std::vector<float>& scales, float minimum) {
  for (float s : scales) {
    if (!std::isfinite(s) || s < minimum || s > 1024.0F) op.fail("scale " + std::to_string(s) + " is out of range");
  }
}

/// Resize before opset 11 (and Upsample) maps output pixel x to input x / scale, nearest rounding down.
void set_legacy_resize(OpContext& op, const std::vector<float>& scales) {
  const std::string mode = op.node.attr_string("mode", "nearest");
  if (!one_of(mode, {"nearest", "linear", "bilinear"}))
    op.fail("mode '" + mode + "' is not supported (nearest, linear)");
  op.node.attrs.clear();
  op.node.attrs["mode"] = std::string(mode == "nearest" ? "nearest" : "linear");
  op.node.attrs["coordinate_transformation_mode"] = std::string("asymmetric");
  op.node.attrs["nearest_mode"] = std::string("floor");
  op.node.attrs["scales"] = scales;
  op.keep_inputs(1);
}

/// Resize-11 and later: scales (float) or sizes (int64), and the coordinate mapping attributes.
void set_resize_operands(OpContext& op) {
  const std::vector<float> scales = op.float_input(2, "scales");
  const std::vector<int64_t> sizes = op.int_input(3, "sizes");
  if (scales.empty() == sizes.empty()) op.fail("needs exactly one of the inputs 'scales' and 'sizes'");
  if (!scales.empty()) {
    check_scales(op, scales, 1.0F / 1024.0F);
    op.node.attrs["scales"] = scales;
  }
  for (int64_t size : sizes) {
    if (size < 1 || size > (int64_t{1} << 24)) op.fail("size " + std::to_string(size) + " is out of range");
  }
  if (!sizes.empty()) op.node.attrs["sizes"] = sizes;
  op.keep_inputs(1);
}

}  // namespace

bool normalise_pad(OpContext& op) {
  std::vector<int64_t> pads;
  float constant_value = 0.0F;
  if (op.ctx.opset < 11) {
    pads = op.node.attr_ints("pads");
    constant_value = op.node.attr_float("value", 0.0F);
  } else {
    if (op.node.has("pads") || op.node.has("value")) op.fail("attributes 'pads'/'value' are inputs from opset 11 on");
    pads = op.int_input(1, "pads");
    const std::vector<float> value = op.float_input(2, "constant_value");
    if (value.size() > 1) op.fail("input 'constant_value' must be a scalar");
    if (!value.empty()) constant_value = value[0];
  }
  if (pads.empty() || pads.size() % 2 != 0) op.fail("pads must list a begin and an end per axis");
  for (int64_t p : pads) {
    if (p < -(int64_t{1} << 16) || p > (int64_t{1} << 16)) op.fail("pad " + std::to_string(p) + " is out of range");
  }
  const std::string mode = op.node.attr_string("mode", "constant");
  if (!one_of(mode, {"constant", "reflect", "edge"})) op.fail("mode '" + mode + "' is not supported");
  op.node.attrs.erase("value");
  op.node.attrs["pads"] = pads;
  op.node.attrs["mode"] = mode;
  op.node.attrs["constant_value"] = constant_value;
  op.keep_inputs(1);
  return true;
}

bool normalise_resize(OpContext& op) {
  if (op.ctx.opset < 11) {
    const std::vector<float> scales = op.float_input(1, "scales");
    if (scales.empty()) op.fail("input 'scales' is required");
    check_scales(op, scales, 1.0F / 1024.0F);
    for (float s : scales) {
      // Resize-10 rounds nearest differently when shrinking; no exporter we know writes that.
      if (s < 1.0F && op.node.attr_string("mode", "nearest") == "nearest") {
        op.fail("opset-10 nearest downsampling is not supported; re-export at opset >= 11");
      }
    }
    set_legacy_resize(op, scales);
    return true;
  }
  const std::string mode = op.node.attr_string("mode", "nearest");
  if (!one_of(mode, {"nearest", "linear"})) op.fail("mode '" + mode + "' is not supported (nearest, linear)");
  const std::string transform = op.node.attr_string("coordinate_transformation_mode", "half_pixel");
  if (!one_of(transform, {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn"})) {
    op.fail("coordinate_transformation_mode '" + transform + "' is not supported");
  }
  const std::string nearest = op.node.attr_string("nearest_mode", "round_prefer_floor");
  if (!one_of(nearest, {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"})) {
    op.fail("nearest_mode '" + nearest + "' is not supported");
  }
  if (op.node.attr_int("exclude_outside", 0) != 0) op.fail("exclude_outside=1 is not supported");
  op.node.attrs.clear();
  op.node.attrs["mode"] = mode;
  op.node.attrs["coordinate_transformation_mode"] = transform;
  op.node.attrs["nearest_mode"] = nearest;
  set_resize_operands(op);
  return true;
}

bool normalise_upsample(OpContext& op) {
  const std::vector<float> scales = op.float_input(1, "scales");
  if (scales.empty()) op.fail("input 'scales' is required");
  check_scales(op, scales, 1.0F);
  op.node.op = "Resize";
  set_legacy_resize(op, scales);
  return true;
}

bool normalise_max_unpool(OpContext& op) {
  const std::vector<int64_t> output_shape = op.int_input(2, "output_shape");
  for (int64_t extent : output_shape) {
    if (extent < 0 || extent > (int64_t{1} << 24))
      op.fail("output_shape extent " + std::to_string(extent) + " is out of range");
  }
  if (!output_shape.empty()) op.node.attrs["output_shape"] = output_shape;
  op.keep_inputs(2);
  return true;
}

bool normalise_softmax(OpContext& op) {
  if (op.ctx.opset >= 13) {
    op.node.attrs["axis"] = op.node.attr_int("axis", -1);
    return true;
  }
  // Before opset 13 Softmax flattens the input from `axis` on: on NCHW with axis=1 that normalises
  // over C*H*W together, not per pixel. Only the last axis means the same in both forms.
  const int64_t axis = op.node.attr_int("axis", 1);
  auto rank = op.ctx.ranks.find(op.node.inputs[0]);
  const int64_t r = rank == op.ctx.ranks.end() ? -1 : rank->second;
  if (axis != -1 && (r < 1 || axis != r - 1)) {
    op.fail("opset-" + std::to_string(op.ctx.opset) + " Softmax with axis=" + std::to_string(axis) +
            " normalises over all axes from " + std::to_string(axis) +
            " on together (on NCHW: over C*H*W, not "
            "per pixel); terraseg supports only the last axis here. Re-export at opset >= 13 or drop the Softmax");
  }
  op.node.attrs["axis"] = int64_t{-1};
  return true;
}

bool normalise_dropout(OpContext& op) {
  if (op.ctx.opset >= 12) {
    const ConstValue* training = op.constant_input(2, "training_mode");
    const bool on =
        training != nullptr && ((training->is_int && !training->ints.empty() && training->ints[0] != 0) ||
                                (!training->is_int && !training->floats.empty() && training->floats[0] != 0.0F));
    if (on) op.fail("training_mode=true (random dropout at inference) is not supported");
  }
  op.drop_outputs(1, "Dropout's mask, which terraseg does not compute at inference");
  op.node.op = "Identity";
  op.node.attrs.clear();
  op.keep_inputs(1);
  return fold_identity(op);
}

bool normalise_batch_norm(OpContext& op) {
  if (op.node.attr_int("training_mode", 0) != 0) op.fail("training_mode=1 is not supported at inference");
  op.node.attrs.erase("training_mode");
  op.drop_outputs(1, "a training-mode output of BatchNormalization (running statistics), not computed at inference");
  return true;
}

bool normalise_clip(OpContext& op) {
  if (op.ctx.opset < 11) return true;
  if (op.node.has("min") || op.node.has("max")) op.fail("attributes 'min'/'max' are inputs from opset 11 on");
  const char* names[] = {"min", "max"};
  for (size_t i = 1; i <= 2; ++i) {
    const std::vector<float> bound = op.float_input(i, names[i - 1]);
    if (bound.size() > 1) op.fail(std::string("input '") + names[i - 1] + "' must be a scalar");
    if (!bound.empty()) op.node.attrs[names[i - 1]] = bound[0];
  }
  op.keep_inputs(1);
  return true;
}

}  // namespace terraseg::onnx_io
