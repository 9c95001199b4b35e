// Activations, PRelu, broadcasting binary ops, BatchNormalization (unfolded), Softmax, Concat,
// ArgMax and the pass-through ops. All but ArgMax run on whatever layout their input has.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>

#include "engine/ops.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg::engine {
namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

/// A binary operand: a computed value, or a weight made constant at `rank` (leading 1s added).
int operand(PlanBuilder& builder, const Node& node, size_t index, size_t rank) {
  const std::string& name = node.inputs.at(index);
  if (!builder.graph().is_weight(name)) return builder.lookup(name, node);
  const Tensor& w = builder.weight(node, index);
  if (w.rank() > rank) fail(node, "constant '" + name + "' has more dimensions than the other operand");
  Dims dims(rank - w.rank(), 1);
  dims.insert(dims.end(), w.dims().begin(), w.dims().end());
  const dnnl::memory::desc md(to_dnnl(dims), dt::f32, plain_tag(rank));
  return builder.add_constant(md, w.data(), dims);
}

/// o = PRelu((x [+ r]) * s + t) with slope a over n channels. Branch-free so that it vectorizes:
/// with a compare-and-branch on the sign, real activations (signs at random) mispredict and the
/// loop ran ~4x slower than this.
void affine_prelu_row(const float* __restrict x, const float* __restrict r, float* __restrict o,
                      const float* __restrict s, const float* __restrict t, const float* __restrict a, int64_t n) {
  if (r != nullptr) {
    for (int64_t c = 0; c < n; ++c) {
      const float v = (x[c] + r[c]) * s[c] + t[c];
      o[c] = std::max(v, 0.0F) + a[c] * std::min(v, 0.0F);
    }
  } else {
    for (int64_t c = 0; c < n; ++c) {
      const float v = x[c] * s[c] + t[c];
      o[c] = std::max(v, 0.0F) + a[c] * std::min(v, 0.0F);
    }
  }
}

dnnl::algorithm binary_alg(const Node& node) {
  if (node.op == "Add") return dnnl::algorithm::binary_add;
  if (node.op == "Sub") return dnnl::algorithm::binary_sub;
  if (node.op == "Mul") return dnnl::algorithm::binary_mul;
  if (node.op == "Div") return dnnl::algorithm::binary_div;
  fail(node, "is not a binary op");
}

/// Concat as plain memory copies, when each source is one contiguous range of every outer slice
/// of the output: plain layouts along any axis, and nChw8c / nChw16c along C when every source but
/// the last has whole channel blocks (the sources are already in the output's layout family).
/// With one outer slice (batch 1 along C) the planner may then place sources inside the output,
/// so that their producers write there and the copy skips them (PlanBuilder::offer_in_place).
/// Returns the output value, or -1 where the layout does not allow it.
int concat_by_copy(PlanBuilder& builder, const Node& node, const std::vector<int>& srcs,
                   const dnnl::memory::desc& dst_md, int64_t axis) {
  const Dims out = from_dnnl(dst_md.dims());
  const size_t rank = out.size();
  if (dst_md.data_type() != dt::f32) return -1;
  int64_t block = 0;
  if (dst_md == dnnl::memory::desc(to_dnnl(out), dt::f32, plain_tag(rank))) {
    block = 1;
  } else if (rank == 4 && axis == 1) {
    if (dst_md == dnnl::memory::desc(to_dnnl(out), dt::f32, tag::nChw8c)) block = 8;
    if (dst_md == dnnl::memory::desc(to_dnnl(out), dt::f32, tag::nChw16c)) block = 16;
  }
  if (block == 0) return -1;
  const auto at = static_cast<size_t>(axis);
  auto round_up = [block](int64_t c) { return (c + block - 1) / block * block; };
  int64_t outer = 1;
  for (size_t i = 0; i < at; ++i) outer *= out[i];
  int64_t inner = 1;  // elements per unit of the concatenated axis
  for (size_t i = at + 1; i < rank; ++i) inner *= out[i];
  const int64_t dst_slice = round_up(out[at]) * inner;  // elements per outer slice of the output
  std::vector<int64_t> starts;                        // where each source begins in a slice
  std::vector<int64_t> sizes;                         // elements of each source per slice
  int64_t start = 0;
  for (size_t k = 0; k < srcs.size(); ++k) {
    const dnnl::memory::desc& md = builder.md(srcs[k]);
    const int64_t units = builder.dims(srcs[k])[at];
    if (md != same_layout(dst_md, builder.dims(srcs[k]))) return -1;
    if (k + 1 < srcs.size() && units % block != 0) return -1;
    starts.push_back(start);
    sizes.push_back(round_up(units) * inner);
    if (static_cast<int64_t>(md.get_size() / sizeof(float)) != outer * sizes.back()) return -1;
    start += sizes.back();
  }
  if (start != dst_slice || static_cast<int64_t>(dst_md.get_size() / sizeof(float)) != outer * dst_slice) return -1;
  // Each source's copies, cut into pieces of at most 1 MiB so that both threads share a large one.
  struct Piece {
    size_t from, to, bytes;  // byte offsets in the source and the output
  };
  constexpr int64_t kPiece = (1 << 20) / static_cast<int64_t>(sizeof(float));
  std::vector<std::vector<Piece>> pieces(srcs.size());
  for (size_t k = 0; k < srcs.size(); ++k) {
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t e = 0; e < sizes[k]; e += kPiece) {
        const int64_t count = std::min(kPiece, sizes[k] - e);
        pieces[k].push_back(Piece{static_cast<size_t>(o * sizes[k] + e) * sizeof(float),
                                  static_cast<size_t>(o * dst_slice + starts[k] + e) * sizeof(float),
                                  static_cast<size_t>(count) * sizeof(float)});
      }
    }
  }
  builder.note_concat_block(static_cast<int>(block));
  const int dst = builder.add_value(dst_md);
  auto elided = std::make_shared<std::vector<uint8_t>>(srcs.size(), 0);
  std::vector<int> touched = srcs;
  touched.push_back(dst);
  builder.add_custom(
      node.name,
      [srcs, dst, pieces, elided](const std::vector<PlanValue>& values) {
        auto* result = reinterpret_cast<char*>(data_of(values, dst));
        for (size_t k = 0; k < srcs.size(); ++k) {
          if ((*elided)[k] != 0) continue;  // the source was written in place
          const auto* in = reinterpret_cast<const char*>(data_of(values, srcs[k]));
          const std::vector<Piece>& list = pieces[k];
          const auto count = static_cast<int64_t>(list.size());
#pragma omp parallel for if (count > 1)
          for (int64_t i = 0; i < count; ++i) {
            const Piece& piece = list[static_cast<size_t>(i)];
            std::memcpy(result + piece.to, in + piece.from, piece.bytes);
          }
        }
      },
      std::move(touched));
  if (outer == 1) {
    std::vector<size_t> offsets;
    for (int64_t s : starts) offsets.push_back(static_cast<size_t>(s) * sizeof(float));
    builder.offer_in_place(dst, srcs, std::move(offsets), elided);
  }
  return dst;
}

}  // namespace

int plan_binary(PlanBuilder& builder, const Node& node, dnnl::algorithm alg, int a, int b) {
  Dims da = builder.dims(a);
  Dims db = builder.dims(b);
  if (da.size() != db.size()) fail(node, "operands " + to_string(da) + " and " + to_string(db) + " differ in rank");
  Dims out(da.size());
  for (size_t i = 0; i < da.size(); ++i) {
    if (da[i] != db[i] && da[i] != 1 && db[i] != 1) {
      fail(node, "operands " + to_string(da) + " and " + to_string(db) + " do not broadcast");
    }
    out[i] = std::max(da[i], db[i]);
  }
  const bool commutes = alg == dnnl::algorithm::binary_add || alg == dnnl::algorithm::binary_mul;
  if (da != out && db == out && commutes) {
    std::swap(a, b);
    std::swap(da, db);
  }
  // oneDNN broadcasts only the second source.
  if (da != out) fail(node, "only the second operand may be broadcast for " + node.op);
  b = db == out ? builder.convert(b, builder.md(a)) : builder.to_plain(b);
  const dnnl::binary::desc desc(alg, builder.md(a), builder.md(b), same_layout(builder.md(a), out));
  const dnnl::binary::primitive_desc pd(desc, builder.attr(), builder.engine());
  const int dst = builder.add_value(pd.dst_desc());
  builder.add_primitive(node.name, pd, {{DNNL_ARG_SRC_0, a}, {DNNL_ARG_SRC_1, b}, {DNNL_ARG_DST, dst}});
  return dst;
}

void plan_binary_node(PlanBuilder& builder, const PlanNode& pn) {
  const Node& node = pn.node;
  if (node.inputs.size() != 2) fail(node, "needs exactly two inputs");
  const bool w0 = builder.graph().is_weight(node.inputs[0]);
  const bool w1 = builder.graph().is_weight(node.inputs[1]);
  if (w0 && w1) fail(node, "both operands are constants; fold them in the exporter");
  const size_t rank = builder.dims(builder.lookup(node.inputs[w0 ? 1 : 0], node)).size();
  const int a = operand(builder, node, 0, rank);
  const int b = operand(builder, node, 1, rank);
  builder.bind(node.outputs.at(0), plan_binary(builder, node, binary_alg(node), a, b));
}

void plan_activation(PlanBuilder& builder, const PlanNode& pn) {
  PostOp post;
  if (!activation_of(pn.node, post)) fail(pn.node, "min/max must be constant attributes");
  const int src = builder.lookup(pn.node.inputs.at(0), pn.node);
  builder.bind(pn.node.outputs.at(0), plan_eltwise(builder, pn.node.name, src, post));
}

void plan_prelu(PlanBuilder& builder, const PlanNode& pn) {
  const Node& node = pn.node;
  const int src = builder.lookup(node.inputs.at(0), node);
  require_rank4(builder, node, src);
  const Tensor& slope = builder.weight(node, 1);
  const int64_t channels = builder.dims(src)[1];
  if (slope.size() != 1 && slope.size() != channels) {
    fail(node, "slope " + to_string(slope.dims()) + " must have 1 or " + std::to_string(channels) + " values");
  }
  const Dims slope_dims{1, slope.size(), 1, 1};
  // Slope layout `any`: oneDNN 2.6 runs its jit PReLU only with the slope in the source's layout
  // and falls back to its reference kernel (~10x slower; 3/4 of ESPNet's time) for plain slopes.
  const dnnl::memory::desc any_layout(to_dnnl(slope_dims), dt::f32, tag::any);
  const dnnl::prelu_forward::desc desc(dnnl::prop_kind::forward_inference, builder.md(src), any_layout);
  const dnnl::prelu_forward::primitive_desc pd(desc, builder.attr(), builder.engine());
  const int weights = builder.add_constant(pd.weights_desc(), slope.data(), slope_dims);
  const int dst = builder.add_value(pd.dst_desc());
  builder.add_primitive(node.name, pd, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}});
  builder.bind(node.outputs.at(0), dst);
}

void plan_batch_norm(PlanBuilder& builder, const PlanNode& pn) {
  const Node& node = pn.node;
  if (node.attr_int("training_mode", 0) != 0) fail(node, "training_mode=1 is not an inference graph");
  const int src = builder.lookup(node.inputs.at(0), node);
  require_rank4(builder, node, src);
  const int64_t channels = builder.dims(src)[1];
  std::vector<int> params;
  for (size_t i = 1; i <= 4; ++i) {
    const Tensor& t = builder.weight(node, i);
    if (t.size() != channels) fail(node, "parameter '" + node.inputs[i] + "' needs " + std::to_string(channels) + " values");
    params.push_back(builder.add_constant(dnnl::memory::desc({channels}, dt::f32, tag::a), t.data(), Dims{channels}));
  }
  const auto flags = dnnl::normalization_flags::use_global_stats | dnnl::normalization_flags::use_scale |
                     dnnl::normalization_flags::use_shift;
  const dnnl::batch_normalization_forward::desc desc(dnnl::prop_kind::forward_inference, builder.md(src),
                                                     node.attr_float("epsilon", 1e-5F), flags);
  const dnnl::batch_normalization_forward::primitive_desc pd(desc, builder.attr(), builder.engine());
  const int dst = builder.add_value(pd.dst_desc());
  builder.add_primitive(node.name, pd,
                        {{DNNL_ARG_SRC, src},
                         {DNNL_ARG_SCALE, params[0]},
                         {DNNL_ARG_SHIFT, params[1]},
                         {DNNL_ARG_MEAN, params[2]},
                         {DNNL_ARG_VARIANCE, params[3]},
                         {DNNL_ARG_DST, dst}});
  builder.bind(node.outputs.at(0), dst);
}

void plan_softmax(PlanBuilder& builder, const PlanNode& pn) {
  const Node& node = pn.node;
  const int src = builder.lookup(node.inputs.at(0), node);
  const auto rank = static_cast<int64_t>(builder.dims(src).size());
  int64_t axis = node.attr_int("axis", -1);  // opset 13 default
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) fail(node, "axis is out of range");
  const dnnl::softmax_forward::desc desc(dnnl::prop_kind::forward_inference, builder.md(src), static_cast<int>(axis));
  const dnnl::softmax_forward::primitive_desc pd(desc, builder.attr(), builder.engine());
  const int dst = builder.add_value(pd.dst_desc());
  builder.add_primitive(node.name, pd, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
  builder.bind(node.outputs.at(0), dst);
}

void plan_concat(PlanBuilder& builder, const PlanNode& pn) {
  const Node& node = pn.node;
  if (node.inputs.empty()) fail(node, "needs at least one input");
  const int first = builder.lookup(node.inputs[0], node);
  Dims out = builder.dims(first);
  const auto rank = static_cast<int64_t>(out.size());
  int64_t axis = node.attr_int("axis", 1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) fail(node, "axis is out of range");
  std::vector<int> srcs;
  out[static_cast<size_t>(axis)] = 0;
  for (const std::string& name : node.inputs) {
    const int id = builder.lookup(name, node);
    const Dims d = builder.dims(id);
    out[static_cast<size_t>(axis)] += d.at(static_cast<size_t>(axis));
    srcs.push_back(builder.convert(id, same_layout(builder.md(first), d)));
  }
  const dnnl::memory::desc dst_md = same_layout(builder.md(first), out);
  const int copied = concat_by_copy(builder, node, srcs, dst_md, axis);
  if (copied >= 0) {
    builder.bind(node.outputs.at(0), copied);
    return;
  }
  std::vector<dnnl::memory::desc> mds;
  for (int id : srcs) mds.push_back(builder.md(id));
  const dnnl::concat::primitive_desc pd(dst_md, static_cast<int>(axis), mds, builder.engine(), builder.attr());
  const int dst = builder.add_value(pd.dst_desc());
  std::vector<std::pair<int, int>> args{{DNNL_ARG_DST, dst}};
  for (size_t i = 0; i < srcs.size(); ++i) args.emplace_back(DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i), srcs[i]);
  builder.add_primitive(node.name, pd, std::move(args));
  builder.bind(node.outputs.at(0), dst);
}

void plan_channel_affine(PlanBuilder& builder, const PlanNode& pn) {
  auto lower_parts = [&] {
    for (const Node& part : pn.parts) {
      const PlanNode sub{part, {}, {}};
      if (part.op == "Concat") plan_concat(builder, sub);
      if (part.op == "Add") plan_binary_node(builder, sub);
      if (part.op == "BatchNormalization") plan_batch_norm(builder, sub);
      if (part.op == "PRelu") plan_prelu(builder, sub);
    }
  };
  if (!builder.channels_last()) return lower_parts();
  const Node* concat = nullptr;
  const Node* add = nullptr;
  const Node* bn = nullptr;
  const Node* prelu = nullptr;
  for (const Node& part : pn.parts) {
    if (part.op == "Concat") concat = &part;
    if (part.op == "Add") add = &part;
    if (part.op == "BatchNormalization") bn = &part;
    if (part.op == "PRelu") prelu = &part;
  }
  if (bn == nullptr) return lower_parts();
  // Sources (concatenated along C) and the optional residual added to their concatenation.
  std::vector<int> sources;
  int residual = -1;
  if (concat != nullptr) {
    for (const std::string& name : concat->inputs) sources.push_back(builder.lookup(name, *concat));
    if (add != nullptr) {
      const std::string& other = add->inputs[0] == concat->outputs[0] ? add->inputs[1] : add->inputs[0];
      residual = builder.lookup(other, *add);
    }
  } else if (add != nullptr) {
    sources.push_back(builder.lookup(add->inputs[0], *add));
    residual = builder.lookup(add->inputs[1], *add);
  } else {
    sources.push_back(builder.lookup(bn->inputs[0], *bn));
  }
  Dims out = builder.dims(sources[0]);
  if (out.size() != 4) return lower_parts();
  out[1] = 0;
  std::vector<int64_t> widths;
  for (int id : sources) {
    const Dims d = builder.dims(id);
    if (d.size() != 4 || d[0] != out[0] || d[2] != out[2] || d[3] != out[3]) return lower_parts();
    widths.push_back(d[1]);
    out[1] += d[1];
  }
  if (residual >= 0 && builder.dims(residual) != out) return lower_parts();
  const int64_t channels = out[1];
  for (size_t k = 1; k <= 4; ++k) {
    if (builder.weight(*bn, k).size() != channels) return lower_parts();
  }
  if (prelu != nullptr) {
    const int64_t slopes = builder.weight(*prelu, 1).size();
    if (slopes != 1 && slopes != channels) return lower_parts();
  }
  // y = x * scale + shift, then PRelu; the same algebra as folding BatchNormalization into a conv.
  std::vector<float> scale(static_cast<size_t>(channels));
  std::vector<float> shift(static_cast<size_t>(channels));
  std::vector<float> slope(static_cast<size_t>(channels), 1.0F);
  const float eps = bn->attr_float("epsilon", 1e-5F);
  const float* gamma = builder.weight(*bn, 1).data();
  const float* beta = builder.weight(*bn, 2).data();
  const float* mean = builder.weight(*bn, 3).data();
  const float* var = builder.weight(*bn, 4).data();
  for (size_t c = 0; c < scale.size(); ++c) {
    scale[c] = gamma[c] / std::sqrt(var[c] + eps);
    shift[c] = beta[c] - mean[c] * scale[c];
    if (prelu != nullptr) {
      const Tensor& s = builder.weight(*prelu, 1);
      slope[c] = s.data()[s.size() == 1 ? 0 : c];
    }
  }
  auto nhwc = [](const Dims& d) { return dnnl::memory::desc(to_dnnl(d), dt::f32, tag::nhwc); };
  for (int& id : sources) id = builder.convert(id, nhwc(builder.dims(id)));
  if (residual >= 0) residual = builder.convert(residual, nhwc(out));
  const int dst = builder.add_value(nhwc(out));
  std::vector<int> touched = sources;
  touched.push_back(dst);
  if (residual >= 0) touched.push_back(residual);
  const int64_t pixels = out[0] * out[2] * out[3];
  builder.add_custom(
      pn.node.name,
      [sources, widths, residual, dst, pixels, channels, scale, shift, slope](const std::vector<PlanValue>& values) {
        std::vector<const float*> in;
        for (int id : sources) in.push_back(data_of(values, id));
        const float* res = residual >= 0 ? data_of(values, residual) : nullptr;
        float* result = data_of(values, dst);
        const float* s = scale.data();
        const float* t = shift.data();
        const float* a = slope.data();
#pragma omp parallel for schedule(static)
        for (int64_t p = 0; p < pixels; ++p) {
          int64_t offset = 0;
          for (size_t k = 0; k < in.size(); ++k) {
            const int64_t width = widths[k];
            const float* r = res != nullptr ? res + p * channels + offset : nullptr;
            affine_prelu_row(in[k] + p * width, r, result + p * channels + offset, s + offset, t + offset, a + offset,
                             width);
            offset += width;
          }
        }
      },
      touched);
  builder.bind(pn.node.outputs.at(0), dst);
}

void check_argmax(const Node& node) {
  if (node.attr_int("axis", 0) != 1 && node.attr_int("axis", 0) != -3) {
    fail(node, "only axis=1 (the channel axis of NCHW) is supported");
  }
}

void plan_argmax(PlanBuilder& builder, const PlanNode& pn) {
  const Node& node = pn.node;
  const int src = builder.to_plain(builder.lookup(node.inputs.at(0), node));
  require_rank4(builder, node, src);
  const Dims x = builder.dims(src);
  const bool keep = node.attr_int("keepdims", 1) != 0;
  const bool last = node.attr_int("select_last_index", 0) != 0;
  const Dims out = keep ? Dims{x[0], 1, x[2], x[3]} : Dims{x[0], x[2], x[3]};
  const int dst = builder.add_value(dnnl::memory::desc(to_dnnl(out), dt::f32, plain_tag(out.size())));
  builder.add_custom(
      node.name,
      [src, dst, x, last](const std::vector<PlanValue>& values) {
        const float* in = data_of(values, src);
        float* result = data_of(values, dst);
        const int64_t plane = x[2] * x[3];
        for (int64_t n = 0; n < x[0]; ++n) {
          const float* base = in + n * x[1] * plane;
#pragma omp parallel for
          for (int64_t p = 0; p < plane; ++p) {
            int64_t best = 0;
            for (int64_t c = 1; c < x[1]; ++c) {
              const float v = base[c * plane + p];
              const float b = base[best * plane + p];
              if (v > b || (last && v == b)) best = c;
            }
            result[n * plane + p] = static_cast<float>(best);
          }
        }
      },
      {src, dst});
  builder.bind(node.outputs[0], dst);
}

void check_identity(const Node& node) {
  if (node.op == "Dropout" && node.outputs.size() > 1 && !node.outputs[1].empty()) {
    fail(node, "the mask output of Dropout is not available at inference");
  }
}

void plan_identity(PlanBuilder& builder, const PlanNode& pn) {
  builder.bind(pn.node.outputs.at(0), builder.lookup(pn.node.inputs.at(0), pn.node));
}

}  // namespace terraseg::engine
