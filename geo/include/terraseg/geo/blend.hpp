#pragma once
/// Weighted blending of overlapping tile scores for one row-strip of tiles at a time.
#include <cstdint>
#include <vector>

#include "terraseg/core/tensor.hpp"
#include "terraseg/geo/tiling.hpp"

namespace terraseg::geo {

/// Nodata value of class-id outputs.
inline constexpr uint8_t kClassNodata = 255;

/// Holds the blended scores of the image rows that the current tile row can still touch:
/// `rows.max_useful()` rows x full width x classes floats (plus one validity byte per pixel), so
/// memory depends on width, tile size and class count, never on image height.
///
/// Use: for tile row j = 0..rows.count()-1: add() each tile of the row, then resolve() the rows that are
/// final ([first_row(), last_final_row(j))), then advance(j). Rows are image rows, 0-based.
class StripBlender {
 public:
  StripBlender(int classes, const AxisTiling& cols, const AxisTiling& rows);

  /// Adds tile (tile_row, tile_col). `scores` is 1 x classes x rows.window() x cols.window();
  /// `valid` holds rows.window() x cols.window() bytes, non-zero where the input pixel had data.
  void add(int tile_row, int tile_col, const Tensor& scores, const std::vector<uint8_t>& valid);

  /// Image rows [first, last) that are final once tile row `tile_row` has been added.
  int first_row() const { return top_; }
  int last_final_row(int tile_row) const;

  /// Writes `count` final rows starting at first_row(): class ids (argmax; kClassNodata where no valid
  /// data) into classes[count * width], and when `scores` is non-null the blended scores
  /// (band-sequential: classes x count x width; NaN where no valid data).
  void resolve(int count, uint8_t* classes, float* scores) const;

  /// Moves past tile row `tile_row` (whose final rows were resolved), keeping the blended rows the
  /// next row overlaps.
  void advance(int tile_row);

 private:
  float* plane(int k) { return acc_.data() + static_cast<size_t>(k) * plane_size_; }
  const float* plane(int k) const { return acc_.data() + static_cast<size_t>(k) * plane_size_; }

  int classes_;
  const AxisTiling& cols_;
  const AxisTiling& rows_;
  int width_;
  int height_;   ///< buffer rows
  int top_ = 0;  ///< image row of buffer row 0
  size_t plane_size_;
  std::vector<float> acc_;          ///< classes x height_ x width_ weighted sums
  std::vector<uint8_t> valid_;      ///< height_ x width_
  std::vector<float> col_weights_;  ///< scratch: the weights of one tile's columns
};

}  // namespace terraseg::geo
