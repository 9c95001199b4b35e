// Seeded augmentation of one sample: rescale, crop, flips, 90-degree rotation, colour jitter, grey.
#include <algorithm>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <random>

#include "terraseg/geo/dataset.hpp"

namespace terraseg::geo {
namespace {

cv::Mat image_of(const Sample& s) { return cv::Mat(s.height, s.width, CV_8UC3, const_cast<uint8_t*>(s.rgb.data())).clone(); }
cv::Mat labels_of(const Sample& s) { return cv::Mat(s.height, s.width, CV_8UC1, const_cast<uint8_t*>(s.labels.data())).clone(); }

/// Crops (or pads with zeros / the ignore label) to h x w at a random offset.
void random_crop(cv::Mat& image, cv::Mat& labels, int h, int w, std::mt19937_64& rng) {
  if (image.rows < h || image.cols < w) {
    const int bottom = std::max(0, h - image.rows), right = std::max(0, w - image.cols);
    cv::copyMakeBorder(image, image, 0, bottom, 0, right, cv::BORDER_CONSTANT, cv::Scalar(0, 0, 0));
    cv::copyMakeBorder(labels, labels, 0, bottom, 0, right, cv::BORDER_CONSTANT, cv::Scalar(kIgnoreLabel));
  }
  const int y = std::uniform_int_distribution<int>(0, image.rows - h)(rng);
  const int x = std::uniform_int_distribution<int>(0, image.cols - w)(rng);
  image = image(cv::Rect(x, y, w, h)).clone();
  labels = labels(cv::Rect(x, y, w, h)).clone();
}

void colour_jitter(cv::Mat& image, const AugmentConfig& config, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  const double brightness = 1.0 + config.brightness * unit(rng);
  const double contrast = 1.0 + config.contrast * unit(rng);
  const double saturation = 1.0 + config.saturation * unit(rng);
  const bool grey = std::uniform_real_distribution<double>(0.0, 1.0)(rng) < config.grey_probability;
  if (brightness == 1.0 && contrast == 1.0 && saturation == 1.0 && !grey) return;
  cv::Mat value;
  image.convertTo(value, CV_32FC3, brightness);
  cv::Mat grey_image;
  cv::cvtColor(value, grey_image, cv::COLOR_RGB2GRAY);
  const double mean = cv::mean(grey_image)[0];
  value = (value - cv::Scalar::all(mean)) * contrast + cv::Scalar::all(mean);
  cv::cvtColor(value, grey_image, cv::COLOR_RGB2GRAY);
  cv::Mat grey3;
  cv::cvtColor(grey_image, grey3, cv::COLOR_GRAY2RGB);
  value = grey ? grey3 : grey3 + (value - grey3) * saturation;
  value.convertTo(image, CV_8UC3);
}

}  // namespace

Sample augment(const Sample& sample, const AugmentConfig& config, int crop_h, int crop_w, uint64_t seed) {
  std::mt19937_64 rng(seed);
  cv::Mat image = image_of(sample);
  cv::Mat labels = labels_of(sample);
  if (config.scale_max > config.scale_min || config.scale_min != 1.0) {
    const double factor = std::uniform_real_distribution<double>(config.scale_min, config.scale_max)(rng);
    const cv::Size size(std::max(1, static_cast<int>(image.cols * factor + 0.5)), std::max(1, static_cast<int>(image.rows * factor + 0.5)));
    cv::resize(image, image, size, 0, 0, cv::INTER_LINEAR);
    cv::resize(labels, labels, size, 0, 0, cv::INTER_NEAREST);
  }
  if (crop_h > 0 && crop_w > 0) random_crop(image, labels, crop_h, crop_w, rng);
  std::uniform_int_distribution<int> coin(0, 1);
  if (config.hflip && coin(rng) == 1) {
    cv::flip(image, image, 1);
    cv::flip(labels, labels, 1);
  }
  if (config.vflip && coin(rng) == 1) {
    cv::flip(image, image, 0);
    cv::flip(labels, labels, 0);
  }
  if (config.rot90 && image.rows == image.cols) {
    const int turns = std::uniform_int_distribution<int>(0, 3)(rng);
    for (int t = 0; t < turns; ++t) {
      cv::rotate(image, image, cv::ROTATE_90_CLOCKWISE);
      cv::rotate(labels, labels, cv::ROTATE_90_CLOCKWISE);
    }
  }
  colour_jitter(image, config, rng);
  Sample out;
  out.height = image.rows;
  out.width = image.cols;
  out.rgb.assign(image.data, image.data + image.total() * 3);
  out.labels.assign(labels.data, labels.data + labels.total());
  return out;
}

}  // namespace terraseg::geo
