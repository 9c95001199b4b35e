#include "reference_ops.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "terraseg/core/error.hpp"

namespace terraseg::test {
namespace {

/// Element (n, c, h, w) of an NCHW tensor.
float at(const Tensor& t, int64_t n, int64_t c, int64_t h, int64_t w) {
  return t.data()[((n * t.dim(1) + c) * t.dim(2) + h) * t.dim(3) + w];
}

float& at(Tensor& t, int64_t n, int64_t c, int64_t h, int64_t w) {
  return t.data()[((n * t.dim(1) + c) * t.dim(2) + h) * t.dim(3) + w];
}

int64_t effective(int64_t kernel, int64_t dilation) { return (kernel - 1) * dilation + 1; }

/// Pooled extent of one axis, with the ceil-mode rule that the last window starts inside.
int64_t pooled(int64_t in, int64_t pad_begin, int64_t pad_end, int64_t ek, int64_t stride, bool ceil_mode) {
  const int64_t span = in + pad_begin + pad_end - ek;
  int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad_begin) --out;
  return out;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, const Window& win, int64_t group) {
  const int64_t n_ = x.dim(0), ci = x.dim(1), h = x.dim(2), wd = x.dim(3);
  const int64_t co = w.dim(0), cig = w.dim(1), kh = w.dim(2), kw = w.dim(3);
  const int64_t oh = (h + win.pads[0] + win.pads[2] - effective(kh, win.dilation[0])) / win.stride[0] + 1;
  const int64_t ow = (wd + win.pads[1] + win.pads[3] - effective(kw, win.dilation[1])) / win.stride[1] + 1;
  if (cig * group != ci) throw Error("reference conv2d: channel mismatch");
  Tensor y({n_, co, oh, ow});
  const int64_t cog = co / group;
  for (int64_t n = 0; n < n_; ++n)
    for (int64_t o = 0; o < co; ++o)
      for (int64_t y0 = 0; y0 < oh; ++y0)
        for (int64_t x0 = 0; x0 < ow; ++x0) {
          double sum = bias ? bias->data()[o] : 0.0;
          const int64_t g = o / cog;
          for (int64_t i = 0; i < cig; ++i)
            for (int64_t ky = 0; ky < kh; ++ky)
              for (int64_t kx = 0; kx < kw; ++kx) {
                const int64_t iy = y0 * win.stride[0] - win.pads[0] + ky * win.dilation[0];
                const int64_t ix = x0 * win.stride[1] - win.pads[1] + kx * win.dilation[1];
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                sum += static_cast<double>(at(x, n, g * cig + i, iy, ix)) * at(w, o, i, ky, kx);
              }
          at(y, n, o, y0, x0) = static_cast<float>(sum);
        }
  return y;
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor* bias, const Window& win, int64_t group,
                        std::array<int64_t, 2> output_padding) {
  const int64_t n_ = x.dim(0), ci = x.dim(1), h = x.dim(2), wd = x.dim(3);
  const int64_t cog = w.dim(1), kh = w.dim(2), kw = w.dim(3);
  const int64_t co = cog * group, cig = ci / group;
  const int64_t oh =
      win.stride[0] * (h - 1) + output_padding[0] + effective(kh, win.dilation[0]) - win.pads[0] - win.pads[2];
  const int64_t ow =
      win.stride[1] * (wd - 1) + output_padding[1] + effective(kw, win.dilation[1]) - win.pads[1] - win.pads[3];
  Tensor y({n_, co, oh, ow});
  for (int64_t n = 0; n < n_; ++n)
    for (int64_t o = 0; o < co; ++o)
      for (int64_t y0 = 0; y0 < oh; ++y0)
        for (int64_t x0 = 0; x0 < ow; ++x0) at(y, n, o, y0, x0) = bias ? bias->data()[o] : 0.0F;
  // Scatter form: every input pixel adds its kernel footprint to the output.
  for (int64_t n = 0; n < n_; ++n)
    for (int64_t i = 0; i < ci; ++i)
      for (int64_t iy = 0; iy < h; ++iy)
        for (int64_t ix = 0; ix < wd; ++ix) {
          const int64_t g = i / cig;
          for (int64_t ol = 0; ol < cog; ++ol)
            for (int64_t ky = 0; ky < kh; ++ky)
              for (int64_t kx = 0; kx < kw; ++kx) {
                const int64_t y0 = iy * win.stride[0] - win.pads[0] + ky * win.dilation[0];
                const int64_t x0 = ix * win.stride[1] - win.pads[1] + kx * win.dilation[1];
                if (y0 < 0 || y0 >= oh || x0 < 0 || x0 >= ow) continue;
                at(y, n, g * cog + ol, y0, x0) += at(x, n, i, iy, ix) * at(w, i, ol, ky, kx);
              }
        }
  return y;
}

Tensor max_pool2d(const Tensor& x, const Window& win, bool ceil_mode, Tensor* indices) {
  const int64_t h = x.dim(2), wd = x.dim(3);
  const int64_t oh =
      pooled(h, win.pads[0], win.pads[2], effective(win.kernel[0], win.dilation[0]), win.stride[0], ceil_mode);
  const int64_t ow =
      pooled(wd, win.pads[1], win.pads[3], effective(win.kernel[1], win.dilation[1]), win.stride[1], ceil_mode);
  Tensor y({x.dim(0), x.dim(1), oh, ow});
  if (indices) *indices = Tensor({x.dim(0), x.dim(1), oh, ow});
  for (int64_t n = 0; n < x.dim(0); ++n)
    for (int64_t c = 0; c < x.dim(1); ++c)
      for (int64_t y0 = 0; y0 < oh; ++y0)
        for (int64_t x0 = 0; x0 < ow; ++x0) {
          float best = -std::numeric_limits<float>::infinity();
          int64_t best_index = 0;
          for (int64_t ky = 0; ky < win.kernel[0]; ++ky)
            for (int64_t kx = 0; kx < win.kernel[1]; ++kx) {
              const int64_t iy = y0 * win.stride[0] - win.pads[0] + ky * win.dilation[0];
              const int64_t ix = x0 * win.stride[1] - win.pads[1] + kx * win.dilation[1];
              if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
              if (at(x, n, c, iy, ix) > best) {
                best = at(x, n, c, iy, ix);
                best_index = ((n * x.dim(1) + c) * h + iy) * wd + ix;
              }
            }
          at(y, n, c, y0, x0) = best;
          if (indices) at(*indices, n, c, y0, x0) = static_cast<float>(best_index);
        }
  return y;
}

Tensor average_pool2d(const Tensor& x, const Window& win, bool ceil_mode, bool count_include_pad) {
  const int64_t h = x.dim(2), wd = x.dim(3);
  const int64_t oh = pooled(h, win.pads[0], win.pads[2], win.kernel[0], win.stride[0], ceil_mode);
  const int64_t ow = pooled(wd, win.pads[1], win.pads[3], win.kernel[1], win.stride[1], ceil_mode);
  Tensor y({x.dim(0), x.dim(1), oh, ow});
  for (int64_t n = 0; n < x.dim(0); ++n)
    for (int64_t c = 0; c < x.dim(1); ++c)
      for (int64_t y0 = 0; y0 < oh; ++y0)
        for (int64_t x0 = 0; x0 < ow; ++x0) {
          const int64_t hs = y0 * win.stride[0] - win.pads[0], ws = x0 * win.stride[1] - win.pads[1];
          const int64_t he = std::min(hs + win.kernel[0], h + win.pads[2]);
          const int64_t we = std::min(ws + win.kernel[1], wd + win.pads[3]);
          double sum = 0.0;
          int64_t valid = 0;
          for (int64_t iy = std::max<int64_t>(hs, 0); iy < std::min(he, h); ++iy)
            for (int64_t ix = std::max<int64_t>(ws, 0); ix < std::min(we, wd); ++ix) {
              sum += at(x, n, c, iy, ix);
              ++valid;
            }
          const int64_t divisor = count_include_pad ? (he - hs) * (we - ws) : valid;
          at(y, n, c, y0, x0) = static_cast<float>(sum / static_cast<double>(divisor));
        }
  return y;
}

Tensor max_unpool2d(const Tensor& x, const Tensor& indices, const Dims& out) {
  Tensor y(out);
  for (int64_t i = 0; i < x.size(); ++i) y.data()[static_cast<int64_t>(indices.data()[i])] = x.data()[i];
  return y;
}

Tensor global_average_pool(const Tensor& x) {
  Window win;
  win.kernel = {x.dim(2), x.dim(3)};
  return average_pool2d(x, win, false, false);
}

Tensor batch_norm(const Tensor& x, const Tensor& scale, const Tensor& bias, const Tensor& mean, const Tensor& var,
                  float epsilon) {
  Tensor y(x.dims());
  for (int64_t n = 0; n < x.dim(0); ++n)
    for (int64_t c = 0; c < x.dim(1); ++c)
      for (int64_t h = 0; h < x.dim(2); ++h)
        for (int64_t w = 0; w < x.dim(3); ++w) {
          const float norm = (at(x, n, c, h, w) - mean.data()[c]) / std::sqrt(var.data()[c] + epsilon);
          at(y, n, c, h, w) = norm * scale.data()[c] + bias.data()[c];
        }
  return y;
}

Tensor unary(const Tensor& x, const std::function<float(float)>& fn) {
  Tensor y(x.dims());
  for (int64_t i = 0; i < x.size(); ++i) y.data()[i] = fn(x.data()[i]);
  return y;
}

Tensor prelu(const Tensor& x, const Tensor& slope) {
  Tensor y(x.dims());
  for (int64_t n = 0; n < x.dim(0); ++n)
    for (int64_t c = 0; c < x.dim(1); ++c)
      for (int64_t h = 0; h < x.dim(2); ++h)
        for (int64_t w = 0; w < x.dim(3); ++w) {
          const float v = at(x, n, c, h, w);
          const float s = slope.size() == 1 ? slope.data()[0] : slope.data()[c];
          at(y, n, c, h, w) = v >= 0.0F ? v : v * s;
        }
  return y;
}

Tensor binary(const Tensor& a, const Tensor& b, const std::function<float(float, float)>& fn) {
  const size_t rank = std::max(a.rank(), b.rank());
  Dims da(rank - a.rank(), 1), db(rank - b.rank(), 1), out(rank);
  da.insert(da.end(), a.dims().begin(), a.dims().end());
  db.insert(db.end(), b.dims().begin(), b.dims().end());
  for (size_t i = 0; i < rank; ++i) out[i] = std::max(da[i], db[i]);
  Tensor y(out);
  std::vector<int64_t> index(rank, 0);
  for (int64_t flat = 0; flat < y.size(); ++flat) {
    int64_t rest = flat, ia = 0, ib = 0;
    for (size_t d = rank; d-- > 0;) {
      index[d] = rest % out[d];
      rest /= out[d];
    }
    for (size_t d = 0; d < rank; ++d) {
      ia = ia * da[d] + (da[d] == 1 ? 0 : index[d]);
      ib = ib * db[d] + (db[d] == 1 ? 0 : index[d]);
    }
    y.data()[flat] = fn(a.data()[ia], b.data()[ib]);
  }
  return y;
}

Tensor concat(const std::vector<const Tensor*>& inputs, int64_t axis) {
  Dims out = inputs.at(0)->dims();
  const auto ax = static_cast<size_t>(axis);
  out[ax] = 0;
  for (const Tensor* t : inputs) out[ax] += t->dim(ax);
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < ax; ++d) outer *= out[d];
  for (size_t d = ax + 1; d < out.size(); ++d) inner *= out[d];
  Tensor y(out);
  float* dst = y.data();
  for (int64_t o = 0; o < outer; ++o)
    for (const Tensor* t : inputs) {
      const int64_t block = t->dim(ax) * inner;
      std::copy_n(t->data() + o * block, block, dst);
      dst += block;
    }
  return y;
}

Tensor pad2d(const Tensor& x, std::array<int64_t, 4> pads, const std::string& mode, float value) {
  const int64_t h = x.dim(2), w = x.dim(3);
  Tensor y({x.dim(0), x.dim(1), h + pads[0] + pads[2], w + pads[1] + pads[3]});
  auto source = [&](int64_t i, int64_t size) -> int64_t {
    if (i >= 0 && i < size) return i;
    if (mode == "constant") return -1;
    if (mode == "edge") return i < 0 ? 0 : size - 1;
    return i < 0 ? -i : 2 * (size - 1) - i;  // reflect
  };
  for (int64_t n = 0; n < y.dim(0); ++n)
    for (int64_t c = 0; c < y.dim(1); ++c)
      for (int64_t oy = 0; oy < y.dim(2); ++oy)
        for (int64_t ox = 0; ox < y.dim(3); ++ox) {
          const int64_t iy = source(oy - pads[0], h), ix = source(ox - pads[1], w);
          at(y, n, c, oy, ox) = iy < 0 || ix < 0 ? value : at(x, n, c, iy, ix);
        }
  return y;
}

Tensor resize2d(const Tensor& x, int64_t out_h, int64_t out_w, std::array<float, 2> scale, std::array<float, 2> length,
                const std::string& mode, const std::string& transform, const std::string& nearest_mode) {
  const std::array<int64_t, 2> in{x.dim(2), x.dim(3)};
  auto coordinate = [&](int64_t o, size_t a) -> float {
    const auto v = static_cast<float>(o);
    if (transform == "align_corners") {
      return length[a] == 1.0F ? 0.0F : v * static_cast<float>(in[a] - 1) / (length[a] - 1.0F);
    }
    if (transform == "asymmetric") return v / scale[a];
    if (transform == "pytorch_half_pixel" && length[a] == 1.0F) return 0.0F;
    return (v + 0.5F) / scale[a] - 0.5F;
  };
  auto nearest = [&](float v, int64_t size) -> int64_t {
    float r = 0.0F;
    if (nearest_mode == "floor")
      r = std::floor(v);
    else if (nearest_mode == "ceil")
      r = std::ceil(v);
    else if (v - std::floor(v) == 0.5F)
      r = nearest_mode == "round_prefer_ceil" ? std::ceil(v) : std::floor(v);
    else
      r = std::round(v);
    return std::clamp<int64_t>(static_cast<int64_t>(r), 0, size - 1);
  };
  Tensor y({x.dim(0), x.dim(1), out_h, out_w});
  for (int64_t n = 0; n < x.dim(0); ++n)
    for (int64_t c = 0; c < x.dim(1); ++c)
      for (int64_t oy = 0; oy < out_h; ++oy)
        for (int64_t ox = 0; ox < out_w; ++ox) {
          const float fy = coordinate(oy, 0), fx = coordinate(ox, 1);
          if (mode == "nearest") {
            at(y, n, c, oy, ox) = at(x, n, c, nearest(fy, in[0]), nearest(fx, in[1]));
            continue;
          }
          const float cy = std::clamp(fy, 0.0F, static_cast<float>(in[0] - 1));
          const float cx = std::clamp(fx, 0.0F, static_cast<float>(in[1] - 1));
          const auto y0 = static_cast<int64_t>(std::floor(cy)), x0 = static_cast<int64_t>(std::floor(cx));
          const int64_t y1 = std::min(y0 + 1, in[0] - 1), x1 = std::min(x0 + 1, in[1] - 1);
          const float wy = cy - static_cast<float>(y0), wx = cx - static_cast<float>(x0);
          at(y, n, c, oy, ox) = (1 - wy) * ((1 - wx) * at(x, n, c, y0, x0) + wx * at(x, n, c, y0, x1)) +
                                wy * ((1 - wx) * at(x, n, c, y1, x0) + wx * at(x, n, c, y1, x1));
        }
  return y;
}

Tensor softmax(const Tensor& x, int64_t axis) {
  const auto ax = static_cast<size_t>(axis < 0 ? axis + static_cast<int64_t>(x.rank()) : axis);
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < ax; ++d) outer *= x.dim(d);
  for (size_t d = ax + 1; d < x.rank(); ++d) inner *= x.dim(d);
  const int64_t len = x.dim(ax);
  Tensor y(x.dims());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const float* src = x.data() + o * len * inner + i;
      float* dst = y.data() + o * len * inner + i;
      float top = -std::numeric_limits<float>::infinity();
      for (int64_t k = 0; k < len; ++k) top = std::max(top, src[k * inner]);
      double sum = 0.0;
      for (int64_t k = 0; k < len; ++k) sum += std::exp(static_cast<double>(src[k * inner] - top));
      for (int64_t k = 0; k < len; ++k)
        dst[k * inner] = static_cast<float>(std::exp(static_cast<double>(src[k * inner] - top)) / sum);
    }
  return y;
}

Tensor argmax_channels(const Tensor& x, bool keepdims) {
  Tensor y(keepdims ? Dims{x.dim(0), 1, x.dim(2), x.dim(3)} : Dims{x.dim(0), x.dim(2), x.dim(3)});
  int64_t flat = 0;
  for (int64_t n = 0; n < x.dim(0); ++n)
    for (int64_t h = 0; h < x.dim(2); ++h)
      for (int64_t w = 0; w < x.dim(3); ++w) {
        int64_t best = 0;
        for (int64_t c = 1; c < x.dim(1); ++c) {
          if (at(x, n, c, h, w) > at(x, n, best, h, w)) best = c;
        }
        y.data()[flat++] = static_cast<float>(best);
      }
  return y;
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  if (a.dims() != b.dims()) return std::numeric_limits<float>::infinity();
  float worst = 0.0F;
  for (int64_t i = 0; i < a.size(); ++i) {
    const float d = std::fabs(a.data()[i] - b.data()[i]);
    if (std::isnan(d)) return std::numeric_limits<float>::infinity();
    worst = std::max(worst, d);
  }
  return worst;
}

Tensor random_tensor(const Dims& dims, uint64_t seed, float lo, float hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  Tensor t(dims);
  for (float& v : t.values()) v = dist(rng);
  return t;
}

}  // namespace terraseg::test
