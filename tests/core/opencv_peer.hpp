#pragma once
/// OpenCV DNN as a peer of terraseg's Engine, for the peer benchmark and the ESPNet parity data test:
/// the same ONNX file read by cv::dnn on its own CPU backend, NCHW tensors shared with cv::Mat
/// blobs, and the class (arg-max) agreement of two score maps. Only test targets include this:
/// core itself never sees OpenCV.
#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

#include <algorithm>
#include <cmath>
#include <string>

#include "terraseg/core/error.hpp"
#include "terraseg/core/tensor.hpp"

namespace terraseg::test {

/// `path` read by cv::dnn::readNetFromONNX for DNN_BACKEND_OPENCV on DNN_TARGET_CPU. Throws
/// terraseg::Error with OpenCV's message when it cannot import the file.
inline cv::dnn::Net load_opencv_net(const std::string& path) {
  try {
    cv::dnn::Net net = cv::dnn::readNetFromONNX(path);
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    return net;
  } catch (const cv::Exception& e) {
    throw Error(path + ": OpenCV DNN " + CV_VERSION + " cannot import it: " + e.what());
  }
}

/// A 4-D CV_32F blob viewing `tensor`'s values (no copy): keep the tensor alive while it is used.
inline cv::Mat blob_view(Tensor& tensor) {
  const int sizes[4] = {static_cast<int>(tensor.dim(0)), static_cast<int>(tensor.dim(1)),
                        static_cast<int>(tensor.dim(2)), static_cast<int>(tensor.dim(3))};
  return cv::Mat(4, sizes, CV_32F, tensor.data());
}

/// Runs `net` on `input`: the result is a header on OpenCV's own output blob (no copy), valid until
/// the next forward.
inline cv::Mat forward_opencv(cv::dnn::Net& net, Tensor& input) {
  net.setInput(blob_view(input));
  return net.forward();
}

/// A copy of an N-D CV_32F blob as a Tensor.
inline Tensor tensor_from_blob(const cv::Mat& blob) {
  Dims dims;
  for (int axis = 0; axis < blob.dims; ++axis) dims.push_back(blob.size[axis]);
  Tensor tensor(dims);
  cv::Mat target(blob.dims, blob.size.p, CV_32F, tensor.data());
  blob.copyTo(target);
  return tensor;
}

/// How two NCHW score maps of equal dims compare: the share of pixels whose arg-max over channels
/// agrees (first maximum wins in both), and the largest absolute difference of any score.
struct ScoreAgreement {
  double class_agreement = 0.0;
  double max_abs_diff = 0.0;
};

inline ScoreAgreement compare_scores(const Tensor& a, const Tensor& b) {
  if (a.dims() != b.dims() || a.rank() != 4) {
    throw Error("compare_scores: dims " + to_string(a.dims()) + " and " + to_string(b.dims()) +
                " differ or are not NCHW");
  }
  ScoreAgreement result;
  for (int64_t i = 0; i < a.size(); ++i) {
    result.max_abs_diff = std::max(result.max_abs_diff, static_cast<double>(std::fabs(a.data()[i] - b.data()[i])));
  }
  const int64_t channels = a.dim(1);
  const int64_t plane = a.dim(2) * a.dim(3);
  int64_t agree = 0;
  for (int64_t n = 0; n < a.dim(0); ++n) {
    const float* pa = a.data() + n * channels * plane;
    const float* pb = b.data() + n * channels * plane;
    for (int64_t p = 0; p < plane; ++p) {
      int64_t best_a = 0;
      int64_t best_b = 0;
      for (int64_t c = 1; c < channels; ++c) {
        if (pa[c * plane + p] > pa[best_a * plane + p]) best_a = c;
        if (pb[c * plane + p] > pb[best_b * plane + p]) best_b = c;
      }
      agree += best_a == best_b ? 1 : 0;
    }
  }
  result.class_agreement = static_cast<double>(agree) / static_cast<double>(a.dim(0) * plane);
  return result;
}

}  // namespace terraseg::test
