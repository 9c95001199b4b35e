// Concat: as plain memory copies (in place where the planner allows it), else oneDNN's concat.
#include <algorithm>
#include <cstring>
#include <memory>

#include "engine/ops.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg::engine {
namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

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
  std::vector<int64_t> starts;                          // where each source begins in a slice
  std::vector<int64_t> sizes;                           // elements of each source per slice
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
    offsets.reserve(starts.size());
    for (int64_t s : starts) offsets.push_back(static_cast<size_t>(s) * sizeof(float));
    builder.offer_in_place(dst, srcs, std::move(offsets), elided);
  }
  return dst;
}

}  // namespace

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
  mds.reserve(srcs.size());
  for (int id : srcs) mds.push_back(builder.md(id));
  const dnnl::concat::primitive_desc pd(dst_md, static_cast<int>(axis), mds, builder.engine(),
                                        terraseg::engine::PlanBuilder::attr());
  const int dst = builder.add_value(pd.dst_desc());
  std::vector<std::pair<int, int>> args{{DNNL_ARG_DST, dst}};
  for (size_t i = 0; i < srcs.size(); ++i) args.emplace_back(DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i), srcs[i]);
  builder.add_primitive(node.name, pd, std::move(args));
  builder.bind(node.outputs.at(0), dst);
}

}  // namespace terraseg::engine
