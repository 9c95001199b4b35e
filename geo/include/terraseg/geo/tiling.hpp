#pragma once
/// How one image axis is cut into the windows a model sees, and the blend weights between them.
///
/// The axis is first padded (by reflection, see reflect_101) to a multiple of the model's stride, as
/// a whole-image run would be. If that fits in one window the model sees the whole axis at once:
/// one window of exactly the padded length (or of the model's fixed size). Otherwise windows of
/// `tile` pixels start at multiples of the stride (so each sees the same pooling grid as a
/// whole-image run), the first at 0 and the last flush with the padded end (so the image edges see
/// what a whole-image run sees there), neighbours sharing at least `overlap` pixels. In each shared
/// band the outer 7/16 on either side is context only (weight 0: a window's inner edge lacks the
/// context the whole image has) and the middle eighth is blended with complementary raised-cosine
/// weights. A model whose receptive-field radius is at most 7/16 of the overlap therefore gives the
/// whole-image result (up to float rounding); models that see further (ESPNet's dilated
/// convolutions reach hundreds of pixels) need the overlap their card states.
#include <cstddef>
#include <vector>

namespace terraseg::geo {

class AxisTiling {
 public:
  /// `length` image pixels; windows of `tile` pixels when the axis does not fit in one; neighbours
  /// share at least `overlap` pixels; window origins and sizes are multiples of `multiple` (the
  /// model's stride); `fixed`: every window is exactly `tile` pixels, even for a shorter axis.
  /// Throws terraseg::Error unless length >= 1, tile >= 8, multiple >= 1, 0 <= overlap < tile/2
  /// (<= tile/2 when overlap is 0) and, unless fixed, tile is a multiple of `multiple`.
  AxisTiling(int length, int tile, int overlap, int multiple = 1, bool fixed = false);

  int length() const { return length_; }
  /// Pixels of every window along this axis (the same for all of them).
  int window() const { return window_; }
  int count() const { return static_cast<int>(origins_.size()); }

  /// Image coordinate of window i's first pixel (>= 0; the window may reach past the image end).
  int origin(int i) const { return origins_[static_cast<std::size_t>(i)]; }
  /// Image range [begin, end) where window i has positive weight, clipped to the image.
  int useful_begin(int i) const;
  int useful_end(int i) const;
  /// Longest useful range of any window.
  int max_useful() const;

  /// Blend weight of window i at image coordinate x: 0 outside its useful range, in (0, 1] inside.
  float weight(int i, int x) const;
  /// Sum over all windows of their weight at image coordinate x (> 0 for every x in [0, length)).
  float weight_sum(int x) const { return sums_[static_cast<std::size_t>(x)]; }

 private:
  int length_;
  int window_ = 0;
  std::vector<int> origins_;
  /// Blend band between windows i and i + 1: image range [band_begin_[i], band_end_[i]).
  std::vector<int> band_begin_;
  std::vector<int> band_end_;
  std::vector<float> sums_;
};

/// Mirror index for reflection padding without repeating the edge pixel (OpenCV's BORDER_REFLECT_101:
/// -1 -> 1, n -> n-2), folded as often as needed so any i maps into [0, n). n must be >= 1.
int reflect_101(int i, int n);

}  // namespace terraseg::geo
