#include "terraseg/geo/tiling.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include "terraseg/core/error.hpp"

namespace terraseg::geo {
namespace {

int round_up(int value, int multiple) { return (value + multiple - 1) / multiple * multiple; }

}  // namespace

AxisTiling::AxisTiling(int length, int tile, int overlap, int multiple, bool fixed) : length_(length) {
  if (length < 1) throw Error("cannot tile an axis of " + std::to_string(length) + " pixels");
  if (tile < 8) throw Error("tile size " + std::to_string(tile) + " is too small: use at least 8 pixels");
  if (multiple < 1) throw Error("the model's stride multiple must be at least 1");
  if (overlap < 0 || 2 * overlap > tile || (overlap > 0 && 2 * overlap == tile)) {
    throw Error("tile overlap " + std::to_string(overlap) + " must be at least 0 and less than half the tile size (" +
                std::to_string(tile) + ")");
  }
  if (!fixed && tile % multiple != 0) {
    throw Error("tile size " + std::to_string(tile) + " is not a multiple of the model's stride " +
                std::to_string(multiple));
  }
  const int padded = round_up(length, multiple);
  window_ = fixed ? tile : std::min(padded, tile);
  if (padded <= window_) {
    origins_.push_back(0);
  } else {
    const int step = std::max(multiple, (tile - overlap) / multiple * multiple);
    const int last = padded - window_;
    for (int origin = 0; origin < last; origin += step) origins_.push_back(origin);
    origins_.push_back(last);
  }
  // Blend bands: the middle eighth of each shared range, never before the previous band's end.
  for (size_t i = 0; i + 1 < origins_.size(); ++i) {
    const int shared = origins_[i] + window_ - origins_[i + 1];
    const int ramp = shared > 0 ? std::max(1, shared / 8) : 0;
    int begin = origins_[i + 1] + (shared - ramp) / 2;
    if (!band_end_.empty()) begin = std::max(begin, band_end_.back());
    const int end = std::min(begin + ramp, origins_[i] + window_);
    band_begin_.push_back(begin);
    band_end_.push_back(std::max(begin, end));
  }
  sums_.assign(static_cast<size_t>(length_), 0.0F);
  for (int i = 0; i < count(); ++i) {
    for (int x = useful_begin(i); x < useful_end(i); ++x) sums_[static_cast<size_t>(x)] += weight(i, x);
  }
}

int AxisTiling::useful_begin(int i) const {
  return i == 0 ? 0 : std::min(length_, band_begin_[static_cast<size_t>(i - 1)]);
}

int AxisTiling::useful_end(int i) const {
  return i + 1 == count() ? length_ : std::min(length_, band_end_[static_cast<size_t>(i)]);
}

int AxisTiling::max_useful() const {
  int longest = 0;
  for (int i = 0; i < count(); ++i) longest = std::max(longest, useful_end(i) - useful_begin(i));
  return longest;
}

float AxisTiling::weight(int i, int x) const {
  if (x < useful_begin(i) || x >= useful_end(i)) return 0.0F;
  double w = 1.0;
  // sin^2 rising over the band shared with the previous window, cos^2 falling over the next one's:
  // the two add up to 1 at every pixel of a band.
  const auto rise = [x](int begin, int end) {
    const double s = std::sin(std::numbers::pi / 2.0 * (x - begin + 0.5) / (end - begin));
    return s * s;
  };
  if (i > 0) {
    const int begin = band_begin_[static_cast<size_t>(i - 1)], end = band_end_[static_cast<size_t>(i - 1)];
    if (x < end) w *= rise(begin, end);
  }
  if (i + 1 < count()) {
    const int begin = band_begin_[static_cast<size_t>(i)], end = band_end_[static_cast<size_t>(i)];
    if (x >= begin) w *= 1.0 - rise(begin, end);
  }
  return static_cast<float>(w);
}

int reflect_101(int i, int n) {
  if (n == 1) return 0;
  const int period = 2 * (n - 1);
  int r = i % period;
  if (r < 0) r += period;
  return r < n ? r : period - r;
}

}  // namespace terraseg::geo
