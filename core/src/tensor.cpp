#include "terraseg/core/tensor.hpp"

#include "terraseg/core/error.hpp"

namespace terraseg {

int64_t element_count(const Dims& dims) {
  int64_t count = 1;
  for (int64_t d : dims) {
    if (d < 0) throw Error("tensor dimension " + to_string(dims) + " has a negative extent");
    count *= d;
  }
  return count;
}

std::string to_string(const Dims& dims) {
  std::string text;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i != 0) text += 'x';
    text += std::to_string(dims[i]);
  }
  return text;
}

Tensor::Tensor(Dims dims, float fill)
    : dims_(std::move(dims)), values_(static_cast<size_t>(element_count(dims_)), fill) {}

Tensor::Tensor(Dims dims, std::vector<float> values) : dims_(std::move(dims)), values_(std::move(values)) {
  if (element_count(dims_) != static_cast<int64_t>(values_.size())) {
    throw Error("tensor of dims " + to_string(dims_) + " given " + std::to_string(values_.size()) + " values");
  }
}

void Tensor::resize(Dims dims) {
  values_.resize(static_cast<size_t>(element_count(dims)));
  dims_ = std::move(dims);
}

void Tensor::reshape(Dims dims) {
  if (element_count(dims) != size()) {
    throw Error("cannot reshape tensor " + to_string(dims_) + " to " + to_string(dims));
  }
  dims_ = std::move(dims);
}

}  // namespace terraseg
