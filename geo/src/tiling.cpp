#include "terraseg/geo/tiling.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include "terraseg/core/error.hpp"

namespace terraseg::geo {

AxisTiling::AxisTiling(int length, int tile, int overlap)
    : length_(length), tile_(tile), context_(overlap / 4), ramp_(overlap - 2 * (overlap / 4)), count_(1) {
  if (length < 1) throw Error("cannot tile an axis of " + std::to_string(length) + " pixels");
  if (tile < 8) throw Error("tile size " + std::to_string(tile) + " is too small: use at least 8 pixels");
  if (overlap < 0 || overlap > tile / 2) {
    throw Error("tile overlap " + std::to_string(overlap) + " must be between 0 and half the tile size (" +
                std::to_string(tile / 2) + ")");
  }
  // Fewest tiles whose useful parts reach the end of the axis.
  if (length > useful()) count_ = 1 + (length - useful() + stride() - 1) / stride();

  weights_.assign(static_cast<size_t>(tile_), 0.0F);
  for (int p = context_; p < tile_ - context_; ++p) {
    const int from_edge = std::min(p - context_, tile_ - context_ - 1 - p);
    double w = 1.0;
    if (from_edge < ramp_) {
      // sin^2 over the ramp: strictly positive, and w(j) + w(ramp-1-j) == 1 for neighbouring tiles.
      const double s = std::sin(std::numbers::pi / 2.0 * (from_edge + 0.5) / ramp_);
      w = s * s;
    }
    weights_[static_cast<size_t>(p)] = static_cast<float>(w);
  }
  sums_.assign(static_cast<size_t>(length_), 0.0F);
  for (int i = 0; i < count_; ++i) {
    for (int x = useful_begin(i); x < useful_end(i); ++x) sums_[static_cast<size_t>(x)] += weight(x - origin(i));
  }
}

int AxisTiling::useful_end(int i) const { return std::min(length_, i * stride() + useful()); }

int reflect_101(int i, int n) {
  if (n == 1) return 0;
  const int period = 2 * (n - 1);
  int r = i % period;
  if (r < 0) r += period;
  return r < n ? r : period - r;
}

}  // namespace terraseg::geo
