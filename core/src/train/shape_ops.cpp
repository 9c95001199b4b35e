// Data-movement ops: Add (numpy broadcasting; plain or nChw8c), Concat (gradient = split; plain or nChw8c), Pad
// (constant, reflect, edge; gradient scatters back), Resize (oneDNN resampling), Identity/Dropout (inference no-ops).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "terraseg/core/error.hpp"
#include "train_op.hpp"

namespace terraseg::train {
namespace {

/// Strides of `dims` aligned right onto `out`, 0 along broadcast axes.
std::vector<int64_t> broadcast_strides(const Dims& dims, const Dims& out) {
  std::vector<int64_t> strides(out.size(), 0);
  int64_t stride = 1;
  for (size_t i = 0; i < dims.size(); ++i) {
    const size_t axis = out.size() - 1 - i;
    const int64_t extent = dims[dims.size() - 1 - i];
    strides[axis] = extent == 1 ? 0 : stride;
    stride *= extent;
  }
  return strides;
}

/// Calls fn(out_index, a_index, b_index) for every output element, in order.
template <typename Fn>
void for_each_broadcast(const Dims& out, const std::vector<int64_t>& sa, const std::vector<int64_t>& sb, Fn fn) {
  std::vector<int64_t> pos(out.size(), 0);
  const int64_t total = element_count(out);
  int64_t ia = 0, ib = 0;
  for (int64_t i = 0; i < total; ++i) {
    fn(i, ia, ib);
    for (size_t axis = out.size(); axis-- > 0;) {
      ia += sa[axis];
      ib += sb[axis];
      if (++pos[axis] < out[axis]) break;
      ia -= sa[axis] * out[axis];
      ib -= sb[axis] * out[axis];
      pos[axis] = 0;
    }
  }
}

/// Without broadcasting Add works in any layout: the output is blocked when its consumers accept it,
/// and an input in the other layout is staged through a reorder. Broadcasting runs on plain buffers.
class AddOp final : public TrainOp {
 public:
  explicit AddOp(const Node& node) : node_(node) {}

  std::vector<Dims> plan(const PlanInput& input) override {
    a_ = input.in_dims.at(0);
    b_ = input.in_dims.at(1);
    const size_t rank = std::max(a_.size(), b_.size());
    out_.assign(rank, 1);
    for (size_t i = 0; i < rank; ++i) {
      const int64_t da = i < a_.size() ? a_[a_.size() - 1 - i] : 1;
      const int64_t db = i < b_.size() ? b_[b_.size() - 1 - i] : 1;
      if (da != db && da != 1 && db != 1)
        throw Error(where(node_) + to_string(a_) + " and " + to_string(b_) + " do not broadcast");
      out_[rank - 1 - i] = std::max(da, db);
    }
    const bool same = a_ == b_;
    layout_ = blocked_md(out_, same && input.may_block.at(0));
    const bool blocked = is_blocked(layout_);
    for (size_t k = 0; k < 2; ++k) {
      const Dims& dims = k == 0 ? a_ : b_;
      const auto inner = blocked ? layout_ : blocked_md(dims, false);
      in_stage_[k].plan(input.in_md.at(k), inner, true);
      if (input.training) grad_stage_[k].plan(input.in_md.at(k), inner, false);
    }
    return {out_};
  }

  std::vector<dnnl::memory::desc> out_layouts() const override { return {layout_}; }

  void forward(OpIO& io) override {
    const float* a = in_stage_[0].in(io.in[0]->data());
    const float* b = in_stage_[1].in(io.in[1]->data());
    float* y = io.out[0]->data();
    if (a_ == b_) {
      const int64_t n = io.out[0]->size();
#pragma omp parallel for
      for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
      return;
    }
    for_each_broadcast(out_, broadcast_strides(a_, out_), broadcast_strides(b_, out_),
                       [&](int64_t i, int64_t ia, int64_t ib) { y[i] = a[ia] + b[ib]; });
  }

  void backward(OpIO& io) override {
    for (size_t k = 0; k < 2; ++k) {
      Tensor* grad = io.in_grad[k];
      if (grad == nullptr) continue;
      reduce_into(grad_stage_[k].target(grad->data()), k == 0 ? a_ : b_, *io.out_grad[0]);
      grad_stage_[k].out(grad->data());
    }
  }

 private:
  void reduce_into(float* g, const Dims& dims, const Tensor& dy) const {
    if (dims == out_) {
      std::memcpy(g, dy.data(), static_cast<size_t>(dy.size()) * sizeof(float));
      return;
    }
    std::fill(g, g + element_count(dims), 0.0F);
    const std::vector<int64_t> none(out_.size(), 0);
    for_each_broadcast(out_, broadcast_strides(dims, out_), none,
                       [&](int64_t i, int64_t ig, int64_t) { g[ig] += dy.data()[i]; });
  }

  const Node& node_;
  Dims a_, b_, out_;
  dnnl::memory::desc layout_;
  Staged in_stage_[2], grad_stage_[2];
};

/// Copies per outer index (everything before the axis) one contiguous chunk of each input. With the
/// channel axis this also holds for nChw8c when every input's channels are a multiple of 8 (per image,
/// the blocks of input 0, then those of input 1, ...), so the output is blocked exactly then; an input
/// in the other layout is staged through a reorder.
class ConcatOp final : public TrainOp {
 public:
  explicit ConcatOp(const Node& node) : node_(node) {}

  std::vector<Dims> plan(const PlanInput& input) override {
    Dims out = input.in_dims.at(0);
    int64_t axis = node_.attr_int("axis", 1);
    if (axis < 0) axis += static_cast<int64_t>(out.size());
    if (axis < 0 || axis >= static_cast<int64_t>(out.size())) throw Error(where(node_) + "axis out of range");
    const auto ax = static_cast<size_t>(axis);
    outer_ = 1;
    for (size_t i = 0; i < ax; ++i) outer_ *= out[i];
    chunks_.clear();
    out[ax] = 0;
    bool blocked = input.may_block.at(0) && ax == 1 && out.size() == 4;
    for (const Dims& dims : input.in_dims) {
      for (size_t i = 0; i < dims.size(); ++i) {
        if (dims.size() != out.size() || (i != ax && dims[i] != out[i])) {
          throw Error(where(node_) + "inputs " + to_string(input.in_dims[0]) + " and " + to_string(dims) +
                      " differ off the axis");
        }
      }
      out[ax] += dims[ax];
      chunks_.push_back(element_count(dims) / outer_);
      blocked = blocked && dims[1] % 8 == 0;
    }
    row_ = element_count(out) / outer_;
    layout_ = blocked_md(out, blocked);
    in_stage_.assign(input.in_dims.size(), Staged{});
    grad_stage_.assign(input.in_dims.size(), Staged{});
    for (size_t k = 0; k < input.in_dims.size(); ++k) {
      const auto inner = blocked_md(input.in_dims[k], blocked);
      in_stage_[k].plan(input.in_md.at(k), inner, true);
      if (input.training) grad_stage_[k].plan(input.in_md.at(k), inner, false);
    }
    return {out};
  }

  std::vector<dnnl::memory::desc> out_layouts() const override { return {layout_}; }

  void forward(OpIO& io) override {
    std::vector<const float*> src(chunks_.size());
    for (size_t k = 0; k < chunks_.size(); ++k) src[k] = in_stage_[k].in(io.in[k]->data());
    float* dst = io.out[0]->data();
#pragma omp parallel for
    for (int64_t o = 0; o < outer_; ++o) {
      int64_t offset = o * row_;
      for (size_t k = 0; k < chunks_.size(); ++k) {
        const size_t bytes = static_cast<size_t>(chunks_[k]) * sizeof(float);
        std::memcpy(dst + offset, src[k] + o * chunks_[k], bytes);
        offset += chunks_[k];
      }
    }
  }

  void backward(OpIO& io) override {
    std::vector<float*> dst(chunks_.size(), nullptr);
    for (size_t k = 0; k < chunks_.size(); ++k) {
      if (io.in_grad[k] != nullptr) dst[k] = grad_stage_[k].target(io.in_grad[k]->data());
    }
    const float* dy = io.out_grad[0]->data();
#pragma omp parallel for
    for (int64_t o = 0; o < outer_; ++o) {
      int64_t offset = o * row_;
      for (size_t k = 0; k < chunks_.size(); ++k) {
        const size_t bytes = static_cast<size_t>(chunks_[k]) * sizeof(float);
        if (dst[k] != nullptr) std::memcpy(dst[k] + o * chunks_[k], dy + offset, bytes);
        offset += chunks_[k];
      }
    }
    for (size_t k = 0; k < chunks_.size(); ++k) {
      if (io.in_grad[k] != nullptr) grad_stage_[k].out(io.in_grad[k]->data());
    }
  }

 private:
  const Node& node_;
  int64_t outer_ = 1, row_ = 0;
  std::vector<int64_t> chunks_;
  dnnl::memory::desc layout_;
  std::vector<Staged> in_stage_, grad_stage_;
};

}  // namespace

std::unique_ptr<TrainOp> make_add(const Node& node) { return std::make_unique<AddOp>(node); }
std::unique_ptr<TrainOp> make_concat(const Node& node) { return std::make_unique<ConcatOp>(node); }

}  // namespace terraseg::train
