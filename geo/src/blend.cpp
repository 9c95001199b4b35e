#include "terraseg/geo/blend.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

namespace terraseg::geo {

StripBlender::StripBlender(int classes, const AxisTiling& cols, const AxisTiling& rows)
    : classes_(classes),
      cols_(cols),
      rows_(rows),
      width_(cols.length()),
      height_(rows.max_useful()),
      plane_size_(static_cast<size_t>(width_) * static_cast<size_t>(height_)),
      acc_(plane_size_ * static_cast<size_t>(classes), 0.0F),
      valid_(plane_size_, 0) {}

void StripBlender::add(int tile_row, int tile_col, const Tensor& scores, const std::vector<uint8_t>& valid) {
  const int tile_w = cols_.window();
  const size_t tile_plane = static_cast<size_t>(tile_w) * static_cast<size_t>(rows_.window());
  const int x0 = cols_.useful_begin(tile_col);
  const int x1 = cols_.useful_end(tile_col);
  const int y0 = rows_.useful_begin(tile_row);
  const int y1 = rows_.useful_end(tile_row);
  const int ox = cols_.origin(tile_col);
  const int oy = rows_.origin(tile_row);
  col_weights_.resize(static_cast<size_t>(std::max(0, x1 - x0)));
  for (int x = x0; x < x1; ++x) col_weights_[static_cast<size_t>(x - x0)] = cols_.weight(tile_col, x);
  for (int y = y0; y < y1; ++y) {
    const int py = y - oy;
    const float wy = rows_.weight(tile_row, y);
    const size_t src_row = static_cast<size_t>(py) * static_cast<size_t>(tile_w);
    const size_t dst_row = static_cast<size_t>(y - top_) * static_cast<size_t>(width_);
    for (int k = 0; k < classes_; ++k) {
      const float* src = scores.data() + k * tile_plane + src_row;
      float* dst = plane(k) + dst_row;
      for (int x = x0; x < x1; ++x) dst[x] += wy * col_weights_[static_cast<size_t>(x - x0)] * src[x - ox];
    }
    for (int x = x0; x < x1; ++x)
      valid_[dst_row + static_cast<size_t>(x)] = valid[src_row + static_cast<size_t>(x - ox)];
  }
}

int StripBlender::last_final_row(int tile_row) const {
  if (tile_row + 1 >= rows_.count()) return rows_.length();
  return rows_.useful_begin(tile_row + 1);
}

void StripBlender::resolve(int count, uint8_t* classes, float* scores) const {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const size_t out_plane = static_cast<size_t>(count) * static_cast<size_t>(width_);
  for (int r = 0; r < count; ++r) {
    const float row_sum = rows_.weight_sum(top_ + r);
    for (int x = 0; x < width_; ++x) {
      const size_t i = static_cast<size_t>(r) * static_cast<size_t>(width_) + static_cast<size_t>(x);
      if (valid_[i] == 0) {
        classes[i] = kClassNodata;
        if (scores != nullptr) {
          for (int k = 0; k < classes_; ++k) scores[k * out_plane + i] = nan;
        }
        continue;
      }
      const float inv = 1.0F / (row_sum * cols_.weight_sum(x));
      int best = 0;
      float best_score = -std::numeric_limits<float>::infinity();
      for (int k = 0; k < classes_; ++k) {
        const float s = plane(k)[i] * inv;
        if (s > best_score) {
          best_score = s;
          best = k;
        }
        if (scores != nullptr) scores[k * out_plane + i] = s;
      }
      classes[i] = static_cast<uint8_t>(best);
    }
  }
}

void StripBlender::advance(int tile_row) {
  // Rows from the next tile row's first useful row onwards stay; they shift to the top.
  const int keep_from = std::min(height_, last_final_row(tile_row) - top_);
  const int keep = height_ - keep_from;
  const size_t keep_elems = static_cast<size_t>(keep) * static_cast<size_t>(width_);
  const size_t from_elems = static_cast<size_t>(keep_from) * static_cast<size_t>(width_);
  for (int k = 0; k < classes_; ++k) {
    float* p = plane(k);
    std::memmove(p, p + from_elems, keep_elems * sizeof(float));
    std::fill(p + keep_elems, p + plane_size_, 0.0F);
  }
  std::memmove(valid_.data(), valid_.data() + from_elems, keep_elems);
  std::fill(valid_.begin() + static_cast<std::ptrdiff_t>(keep_elems), valid_.end(), uint8_t{0});
  top_ += keep_from;
}

}  // namespace terraseg::geo
