#pragma once
/// Tile layout along one image axis and the blend weights within a tile.
///
/// A tile is `tile` pixels long; neighbours share `overlap` pixels. Of each shared band, the outer
/// context = overlap/4 pixels at either tile edge are context only (weight 0: networks are least
/// reliable at their input's border), the middle ramp = overlap - 2*context pixels are blended with a
/// raised-cosine weight that is strictly positive there and complementary between neighbours.
/// Tile i starts at image coordinate i*stride - context (stride = tile - overlap), so its useful part
/// starts exactly at i*stride and the image's first pixel is in the first tile's useful part; pixels
/// outside the image are filled by reflection. A model whose receptive-field radius is at most
/// `context` therefore gives exactly the whole-image result (up to float rounding).
#include <cstddef>
#include <vector>

namespace terraseg::geo {

class AxisTiling {
 public:
  /// Throws terraseg::Error unless length >= 1, tile >= 8 and 0 <= overlap <= tile/2.
  AxisTiling(int length, int tile, int overlap);

  int length() const { return length_; }
  int tile() const { return tile_; }
  int context() const { return context_; }
  int ramp() const { return ramp_; }
  int stride() const { return tile_ - 2 * context_ - ramp_; }
  /// Pixels of a tile that carry weight: tile - 2*context (= stride + ramp).
  int useful() const { return tile_ - 2 * context_; }
  int count() const { return count_; }

  /// Image coordinate of tile i's first pixel (negative for the first tile when context > 0).
  int origin(int i) const { return i * stride() - context_; }
  /// Image range [begin, end) where tile i has positive weight, clipped to the image.
  int useful_begin(int i) const { return i * stride(); }
  int useful_end(int i) const;

  /// Blend weight at position p (0-based) within a tile; 0 in the context margins, in (0, 1] elsewhere.
  float weight(int p) const { return weights_[static_cast<std::size_t>(p)]; }
  /// Sum over all tiles of their weight at image coordinate x (> 0 for every x in [0, length)).
  float weight_sum(int x) const { return sums_[static_cast<std::size_t>(x)]; }

 private:
  int length_;
  int tile_;
  int context_;
  int ramp_;
  int count_;
  std::vector<float> weights_;
  std::vector<float> sums_;
};

/// Mirror index for reflection padding without repeating the edge pixel (OpenCV's BORDER_REFLECT_101:
/// -1 -> 1, n -> n-2), folded as often as needed so any i maps into [0, n). n must be >= 1.
int reflect_101(int i, int n);

}  // namespace terraseg::geo
