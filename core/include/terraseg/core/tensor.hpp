#pragma once
/// Dense float32 host tensors in row-major (for images: NCHW) layout.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace terraseg {

using Dims = std::vector<int64_t>;

/// Product of all dimensions (1 for a scalar). Throws Error on a negative dimension.
int64_t element_count(const Dims& dims);
/// "1x3x512x512" — for messages.
std::string to_string(const Dims& dims);

/// Owns its values; copying copies them. Layout is plain row-major, never blocked.
class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Dims dims, float fill = 0.0F);
  Tensor(Dims dims, std::vector<float> values);

  const Dims& dims() const { return dims_; }
  int64_t dim(size_t axis) const { return dims_.at(axis); }
  size_t rank() const { return dims_.size(); }
  int64_t size() const { return static_cast<int64_t>(values_.size()); }
  bool empty() const { return values_.empty(); }

  float* data() { return values_.data(); }
  const float* data() const { return values_.data(); }
  std::span<float> values() { return values_; }
  std::span<const float> values() const { return values_; }
  std::vector<float>& storage() { return values_; }

  /// Changes the dimensions; keeps the allocation when the element count fits (no shrink).
  void resize(Dims dims);
  /// Reinterprets the same values with new dimensions of equal element count.
  void reshape(Dims dims);

 private:
  Dims dims_;
  std::vector<float> values_;
};

}  // namespace terraseg
