#pragma once
/// Training data: image/mask pairs from folders matched by file stem (PNG, JPEG, TIFF), masks as class
/// ids, colour palettes or thresholds; seeded crops and augmentation; normalisation to NCHW float; a
/// worker thread that prepares batches ahead of compute. OpenCV stays inside the .cpp files.
#include <array>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "terraseg/core/losses.hpp"
#include "terraseg/core/model_card.hpp"
#include "terraseg/core/tensor.hpp"

namespace terraseg::geo {

enum class MaskKind { ids, palette, threshold };

struct MaskEncoding {
  MaskKind kind = MaskKind::ids;
  /// palette: colour -> class id; colours not listed become the ignore label.
  std::vector<std::pair<std::array<uint8_t, 3>, uint8_t>> palette;
  int threshold = 128;          ///< threshold: value >= threshold -> 1, else 0
  std::vector<int> ignore_ids;  ///< ids: these become the ignore label (e.g. CamVid 11)
  int classes = 0;              ///< ids >= classes also become the ignore label
};

/// "#RRGGBB" -> bytes; throws Error otherwise.
std::array<uint8_t, 3> parse_hex_colour(const std::string& text);

/// How raw 8-bit RGB pixels become network input: x = (raw * scale - mean[c]) / std[c] in `bands` order.
struct Normalisation {
  std::vector<std::string> bands{"red", "green", "blue"};  ///< or {"blue","green","red"} or {"grey"}
  double scale = 1.0 / 255.0;
  std::vector<float> mean;
  std::vector<float> std;
  static Normalisation from_card(const ModelCard& card);
};

struct AugmentConfig {
  bool hflip = false;
  bool vflip = false;
  bool rot90 = false;      ///< only applied to square crops
  double scale_min = 1.0;  ///< random rescale before cropping
  double scale_max = 1.0;
  double brightness = 0.0;  ///< +- fraction
  double contrast = 0.0;
  double saturation = 0.0;
  double grey_probability = 0.0;
  // Appearance the training data does not show (other sensors, seasons, compression). Each is off at
  // 0, and a disabled step draws no random numbers, so older configs reproduce their runs exactly.
  double rotate_deg = 0.0;    ///< random rotation by up to +- this angle (with a crop only; the
                              ///< rescale, rotation and crop are then one warp; labels nearest,
                              ///< pixels from outside the image ignored)
  double channel_gain = 0.0;  ///< per-channel gain 1 +- this (white balance, sensor colour)
  double gamma = 0.0;         ///< gamma drawn log-uniformly in [1/(1+g), 1+g] (histogram shape)
  double equalize = 0.0;      ///< probability of per-channel histogram equalisation (CLAHE)
  double blur = 0.0;          ///< probability of a Gaussian blur, sigma 0.5..1.5 px
  double sharpen = 0.0;       ///< probability of an unsharp mask, amount 0.5..1.5 (not with blur)
  double noise = 0.0;         ///< Gaussian noise, sigma drawn in 0..noise (0..255 units)
  double jpeg = 0.0;          ///< probability of a JPEG round trip at quality 30..90
};

struct DatasetSplit {
  int every = 0;  ///< 0: use all pairs; else keep index % every (== offset for "val")
  int offset = 0;
  bool validation = false;  ///< true: the pairs where index % every == offset; false: the others
};

/// Pairs of (image, mask) paths with equal stems, sorted by stem. `images`/`masks` may be the same
/// glob-free directory list (several dirs, e.g. Dubai tiles). Throws Error when nothing pairs up.
std::vector<std::pair<std::string, std::string>> pair_by_stem(const std::vector<std::string>& image_dirs,
                                                              const std::vector<std::string>& mask_dirs,
                                                              const DatasetSplit& split);

/// One decoded sample: interleaved RGB bytes and per-pixel labels.
struct Sample {
  int height = 0, width = 0;
  std::vector<uint8_t> rgb;     ///< height * width * 3
  std::vector<uint8_t> labels;  ///< height * width, kIgnoreLabel where unlabelled
};

/// Reads a mask alone as class ids (kIgnoreLabel where unlabelled); throws Error naming the file.
std::vector<uint8_t> load_labels(const std::string& mask_path, const MaskEncoding& mask_encoding, int& height,
                                 int& width);

/// Reads one pair; throws Error naming the file when unreadable or when sizes differ.
Sample load_sample(const std::pair<std::string, std::string>& pair, const MaskEncoding& mask_encoding);

/// Random rescale, crop (padding with the ignore label when too small), flips, rotation, colour
/// jitter and grey conversion, all drawn from `seed`. crop 0 keeps the full image.
Sample augment(const Sample& sample, const AugmentConfig& config, int crop_h, int crop_w, uint64_t seed);

/// The sample resized by `factor` (its pixel size / the model's): the image bilinear when enlarging and by
/// pixel area when shrinking (as predict resamples rasters), the labels by nearest neighbour.
Sample rescale(const Sample& sample, double factor);

/// Centre crop to the largest size whose sides are multiples of `multiple` (networks that halve the
/// resolution k times need multiples of 2^k).
Sample centre_crop(const Sample& sample, int multiple);

/// The h x w window of `sample` at row y, column x (clipped to the sample).
Sample crop(const Sample& sample, int y, int x, int h, int w);

/// The rows from fraction `from` to fraction `to` of the sample's height (0 <= from < to <= 1): a strip
/// held out of each image for validation (DataSource::rows).
Sample rows_of(const Sample& sample, double from, double to);

/// Writes sample `index` of a batch into NCHW `images` and N x H x W `labels` (both pre-sized).
void normalise_into(const Sample& sample, const Normalisation& norm, Tensor& images, Labels& labels, int64_t index);

/// Where training pairs come from. Source 0 is the primary data set; further sources (say, the road
/// class of another data set) bring their own mask encoding and pixel size.
struct DataSource {
  MaskEncoding mask;
  double scale = 1.0;    ///< resize factor before augmentation: this source's pixel size / the model's
  bool windows = false;  ///< large rasters: read a random crop-sized window of each (load_window)
  /// The part of each image (fractions of its height) this source trains on: {0, 0.8} keeps the
  /// bottom fifth out for validation (whole images only, not windows).
  std::array<double, 2> rows{0.0, 1.0};
};

/// One training image/mask pair and the DataSource it belongs to.
struct TrainingPair {
  std::string image, mask;
  int source = 0;  ///< index into LoaderConfig::sources
};

/// Large rasters (GeoTIFF or anything GDAL reads; 8-bit, 1 or 3 bands; labels in band 1, or bands 1-3
/// for a palette) are read window by window instead of whole. Image and label rasters must have the
/// same size, and the same geotransform when both have one; throws Error naming the file otherwise.
/// A window of height x width (clipped to the raster) at a position drawn from `seed`:
Sample load_window(const std::pair<std::string, std::string>& pair, const MaskEncoding& mask, int height, int width,
                   uint64_t seed);
/// The centred window of at most height x width (validation).
Sample load_centre_window(const std::pair<std::string, std::string>& pair, const MaskEncoding& mask, int height,
                          int width);

/// Per-class pixel counts and pixel totals of images containing each class (median-frequency input),
/// each pair decoded with its source's mask encoding (window sources: the label raster in strips).
void class_statistics(const std::vector<TrainingPair>& pairs, const std::vector<DataSource>& sources, int classes,
                      std::vector<int64_t>& class_pixels, std::vector<int64_t>& image_pixels);

struct Batch {
  Tensor images;
  Labels labels;
  int64_t epoch = 0;
  int64_t index = 0;  ///< batch number within the epoch
};

struct LoaderConfig {
  int batch = 4;
  int crop_h = 0, crop_w = 0;  ///< 0: full images (then all must share one size)
  AugmentConfig augment;
  Normalisation normalisation;
  std::vector<DataSource> sources{DataSource{}};  ///< TrainingPair::source indexes this
  uint64_t seed = 1;
  bool shuffle = true;
  int queue = 2;  ///< batches prepared ahead
};

/// Deterministic endless stream of training batches: the order of epoch e and the augmentation of
/// each sample depend only on (seed, e, position), so resuming at (epoch, batch) reproduces the run.
class BatchLoader {
 public:
  BatchLoader(std::vector<TrainingPair> pairs, LoaderConfig config, int64_t start_epoch, int64_t start_batch);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;
  BatchLoader(BatchLoader&&) = delete;
  BatchLoader& operator=(BatchLoader&&) = delete;

  /// Blocks until the next batch is ready; rethrows a worker error as Error.
  Batch next();
  int64_t batches_per_epoch() const;

 private:
  void work();
  Batch make_batch(int64_t epoch, int64_t index) const;

  std::vector<TrainingPair> pairs_;
  LoaderConfig config_;
  int64_t epoch_, batch_;
  std::deque<Batch> ready_;
  std::string error_;
  bool stop_ = false;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::thread worker_;
};

}  // namespace terraseg::geo
