// Seeded augmentation of one sample: rescale, rotation, crop, flips, 90-degree rotation, colour
// jitter, grey, then the appearance of other sensors (channel gains, gamma, equalisation, blur or
// sharpening, JPEG, noise).
#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <vector>

#include "terraseg/geo/dataset.hpp"

namespace terraseg::geo {
namespace {

cv::Mat image_of(const Sample& s) {
  return cv::Mat(s.height, s.width, CV_8UC3, const_cast<uint8_t*>(s.rgb.data())).clone();
}
cv::Mat labels_of(const Sample& s) {
  return cv::Mat(s.height, s.width, CV_8UC1, const_cast<uint8_t*>(s.labels.data())).clone();
}
Sample sample_of(const cv::Mat& image, const cv::Mat& labels) {
  Sample out;
  out.height = image.rows;
  out.width = image.cols;
  out.rgb.assign(image.data, image.data + image.total() * 3);
  out.labels.assign(labels.data, labels.data + labels.total());
  return out;
}
/// width x height scaled by `factor`, rounded, at least 1 x 1.
cv::Size scaled_size(int width, int height, double factor) {
  return {std::max(1, static_cast<int>(std::lround(width * factor))),
          std::max(1, static_cast<int>(std::lround(height * factor)))};
}

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

/// Rescale, rotation and crop in one affine warp straight into the h x w output (rotation needs a crop):
/// nothing larger than the crop is ever resampled, however large the image or the enlargement. The
/// crop's centre is drawn where the unrotated crop would fit (anywhere along a side shorter than it);
/// pixels from outside the image are black with the ignore label.
void warp_crop(cv::Mat& image, cv::Mat& labels, const AugmentConfig& config, int h, int w, std::mt19937_64& rng) {
  const double factor = std::uniform_real_distribution<double>(config.scale_min, config.scale_max)(rng);
  const double angle = std::uniform_real_distribution<double>(-config.rotate_deg, config.rotate_deg)(rng);
  const auto centre_along = [&](int extent, int crop) {
    const double half = crop / (2.0 * factor);
    if (extent <= 2.0 * half) return extent / 2.0;
    return std::uniform_real_distribution<double>(half, extent - half)(rng);
  };
  const double cx = centre_along(image.cols, w), cy = centre_along(image.rows, h);
  // Source -> output: scale and rotate about the chosen centre, which lands on the output's centre.
  cv::Mat transform =
      cv::getRotationMatrix2D(cv::Point2f(static_cast<float>(cx), static_cast<float>(cy)), angle, factor);
  transform.at<double>(0, 2) += w / 2.0 - cx;
  transform.at<double>(1, 2) += h / 2.0 - cy;
  cv::Mat warped_image, warped_labels;
  cv::warpAffine(image, warped_image, transform, cv::Size(w, h), cv::INTER_LINEAR, cv::BORDER_CONSTANT,
                 cv::Scalar(0, 0, 0));
  cv::warpAffine(labels, warped_labels, transform, cv::Size(w, h), cv::INTER_NEAREST, cv::BORDER_CONSTANT,
                 cv::Scalar(kIgnoreLabel));
  image = warped_image;
  labels = warped_labels;
}

/// Per-channel gains, then one gamma curve for all channels (a lookup table on the 8-bit values).
void gains_and_gamma(cv::Mat& image, const AugmentConfig& config, std::mt19937_64& rng) {
  if (config.channel_gain > 0.0) {
    std::uniform_real_distribution<double> gain(1.0 - config.channel_gain, 1.0 + config.channel_gain);
    const double g0 = gain(rng), g1 = gain(rng), g2 = gain(rng);
    cv::multiply(image, cv::Scalar(g0, g1, g2), image);
  }
  if (config.gamma > 0.0) {
    const double log_max = std::log1p(config.gamma);
    const double gamma = std::exp(std::uniform_real_distribution<double>(-log_max, log_max)(rng));
    cv::Mat table(1, 256, CV_8U);
    for (int v = 0; v < 256; ++v) table.at<uint8_t>(v) = cv::saturate_cast<uint8_t>(255.0 * std::pow(v / 255.0, gamma));
    cv::LUT(image, table, image);
  }
}

bool chance(double probability, std::mt19937_64& rng) {
  return probability > 0.0 && std::uniform_real_distribution<double>(0.0, 1.0)(rng) < probability;
}

/// Contrast-limited equalisation per channel: the histogram of another sensor's processing.
void equalise(cv::Mat& image) {
  std::vector<cv::Mat> channels;
  cv::split(image, channels);
  const cv::Ptr<cv::CLAHE> clahe = cv::createCLAHE(2.0, cv::Size(8, 8));
  for (cv::Mat& channel : channels) clahe->apply(channel, channel);
  cv::merge(channels, image);
}

/// Blur or sharpening (never both), a JPEG round trip, then noise: the optics and the pipeline of
/// another camera.
void sensor_artefacts(cv::Mat& image, const AugmentConfig& config, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  if (chance(config.blur, rng)) {
    const double sigma = 0.5 + unit(rng);
    cv::GaussianBlur(image, image, cv::Size(0, 0), sigma);
  } else if (chance(config.sharpen, rng)) {
    const double amount = 0.5 + unit(rng);
    cv::Mat smooth;
    cv::GaussianBlur(image, smooth, cv::Size(0, 0), 1.0);
    cv::addWeighted(image, 1.0 + amount, smooth, -amount, 0.0, image);
  }
  if (chance(config.jpeg, rng)) {
    const int quality = std::uniform_int_distribution<int>(30, 90)(rng);
    std::vector<uint8_t> bytes;
    cv::imencode(".jpg", image, bytes, {cv::IMWRITE_JPEG_QUALITY, quality});
    image = cv::imdecode(bytes, cv::IMREAD_COLOR);  // the channel order round-trips unchanged
  }
  if (config.noise > 0.0) {
    const double sigma = config.noise * unit(rng);
    cv::Mat noise(image.size(), CV_32FC3);
    cv::RNG noise_rng(rng());  // seeded from ours (not cv::theRNG()), so the run stays reproducible
    noise_rng.fill(noise, cv::RNG::NORMAL, cv::Scalar::all(0.0), cv::Scalar::all(sigma));
    cv::Mat value;
    image.convertTo(value, CV_32FC3);
    value += noise;
    value.convertTo(image, CV_8UC3);
  }
}

}  // namespace

Sample augment(const Sample& sample, const AugmentConfig& config, int crop_h, int crop_w, uint64_t seed) {
  std::mt19937_64 rng(seed);
  cv::Mat image = image_of(sample);
  cv::Mat labels = labels_of(sample);
  const bool crop = crop_h > 0 && crop_w > 0;
  if (config.rotate_deg > 0.0 && crop) {
    warp_crop(image, labels, config, crop_h, crop_w, rng);
  } else {
    if (config.scale_max > config.scale_min || config.scale_min != 1.0) {
      const double factor = std::uniform_real_distribution<double>(config.scale_min, config.scale_max)(rng);
      const cv::Size size = scaled_size(image.cols, image.rows, factor);
      cv::resize(image, image, size, 0, 0, cv::INTER_LINEAR);
      cv::resize(labels, labels, size, 0, 0, cv::INTER_NEAREST);
    }
    if (crop) random_crop(image, labels, crop_h, crop_w, rng);
  }
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
  gains_and_gamma(image, config, rng);
  if (chance(config.equalize, rng)) equalise(image);
  sensor_artefacts(image, config, rng);
  return sample_of(image, labels);
}

Sample rescale(const Sample& sample, double factor) {
  if (factor == 1.0) return sample;
  const cv::Size size = scaled_size(sample.width, sample.height, factor);
  cv::Mat image, labels;
  cv::resize(image_of(sample), image, size, 0, 0, factor > 1.0 ? cv::INTER_LINEAR : cv::INTER_AREA);
  cv::resize(labels_of(sample), labels, size, 0, 0, cv::INTER_NEAREST);
  return sample_of(image, labels);
}

}  // namespace terraseg::geo
