// ESPNet (../shared/weights/espnet_city.onnx) on real CamVid val images at full size (360x480),
// run by terraseg's Engine and by OpenCV DNN from the same file: the predicted classes must agree.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <iostream>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>

#include "opencv_peer.hpp"
#include "terraseg/core/bench.hpp"
#include "terraseg/core/engine.hpp"
#include "terraseg/core/onnx.hpp"
#include "terraseg/core/threads.hpp"
#include "test_support.hpp"

namespace terraseg {
namespace {

/// ESPNet's preprocessing (sacmehta/ESPNet): BGR order, x = (pixel / 255 - mean) / std with the
/// Cityscapes statistics below (mean in 0..1 units, std as its authors left it, in 0..255 units).
constexpr std::array<float, 3> kMeanBgr{0.28388F, 0.32514F, 0.28690F};
constexpr std::array<float, 3> kStdBgr{45.32F, 46.15F, 44.91F};

/// An 8-bit BGR image as a normalised 1x3xHxW tensor.
Tensor espnet_input(const cv::Mat& bgr) {
  Tensor input({1, 3, bgr.rows, bgr.cols});
  const int64_t plane = static_cast<int64_t>(bgr.rows) * bgr.cols;
  for (int y = 0; y < bgr.rows; ++y) {
    const auto* row = bgr.ptr<cv::Vec3b>(y);
    for (int x = 0; x < bgr.cols; ++x) {
      for (int c = 0; c < 3; ++c) {
        const float pixel = static_cast<float>(row[x][c]) / 255.0F;
        input.data()[c * plane + static_cast<int64_t>(y) * bgr.cols + x] = (pixel - kMeanBgr[c]) / kStdBgr[c];
      }
    }
  }
  return input;
}

/// The first `count` CamVid val images in name order.
std::vector<std::filesystem::path> camvid_val_images(const std::filesystem::path& data, size_t count) {
  std::vector<std::filesystem::path> images;
  for (const auto& entry : std::filesystem::directory_iterator(data / "camvid" / "val")) {
    if (entry.path().extension() == ".png") images.push_back(entry.path());
  }
  std::sort(images.begin(), images.end());
  images.resize(std::min(images.size(), count));
  return images;
}

TEST(EspNetPeers, AgreesWithOpenCvOnCamVidValImages) {
  TERRASEG_REQUIRE_DATA(data);
  const auto weights = test::shared_weights_dir();
  if (!weights || !std::filesystem::exists(*weights / "espnet_city.onnx")) {
    GTEST_SKIP() << "espnet_city.onnx not found: set TERRASEG_WEIGHTS or place ../shared/weights";
  }
  const std::string model = (*weights / "espnet_city.onnx").string();
  const std::vector<std::filesystem::path> images = camvid_val_images(data, 3);
  ASSERT_EQ(images.size(), 3U) << "expected CamVid val images in " << data / "camvid" / "val";
  cv::setNumThreads(1);
  set_thread_count(1);
  Engine engine(load_onnx(model), EngineOptions{});
  cv::dnn::Net net = test::load_opencv_net(model);
  for (const std::filesystem::path& path : images) {
    SCOPED_TRACE(path.filename().string());
    const cv::Mat bgr = cv::imread(path.string(), cv::IMREAD_COLOR);
    ASSERT_EQ(bgr.rows, 360);
    ASSERT_EQ(bgr.cols, 480);
    Tensor input = espnet_input(bgr);
    Tensor ours;
    engine.run(input, ours);
    const Tensor theirs = test::tensor_from_blob(test::forward_opencv(net, input));
    ASSERT_EQ(ours.dims(), (Dims{1, 20, 360, 480}));
    const OutputAgreement agreement = compare_outputs(ours, theirs);
    std::cout << path.filename().string() << ": class agreement " << 100.0 * agreement.class_agreement
              << " %, max abs diff " << agreement.max_abs_diff << '\n';
    EXPECT_GE(agreement.class_agreement, 0.999);
  }
}

}  // namespace
}  // namespace terraseg
