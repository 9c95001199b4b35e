#pragma once
/// OpenCV DNN as a peer of terraseg's Engine, for the peer benchmark and the ESPNet parity data test:
/// the same ONNX file read by cv::dnn on its own CPU backend, NCHW tensors shared with cv::Mat
/// blobs, and the class (arg-max) agreement of two score maps. Only test targets include this:
/// core itself never sees OpenCV.
#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
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

}  // namespace terraseg::test
