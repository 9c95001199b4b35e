// The prefetching batch loader: one worker thread fills a bounded queue in deterministic order.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "terraseg/core/error.hpp"
#include "terraseg/geo/dataset.hpp"

namespace terraseg::geo {
namespace {

/// SplitMix64 step: decorrelates (seed, epoch, position) into independent stream seeds.
uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

}  // namespace

BatchLoader::BatchLoader(std::vector<TrainingPair> pairs, LoaderConfig config, int64_t start_epoch, int64_t start_batch)
    : pairs_(std::move(pairs)), config_(std::move(config)), epoch_(start_epoch), batch_(start_batch) {
  for (const TrainingPair& pair : pairs_) {
    if (pair.source < 0 || static_cast<size_t>(pair.source) >= config_.sources.size()) {
      throw Error("training pair " + pair.image + " names data source " + std::to_string(pair.source) + " of " +
                  std::to_string(config_.sources.size()));
    }
  }
  for (const DataSource& source : config_.sources) {
    if (source.windows && (config_.crop_h <= 0 || config_.crop_w <= 0)) {
      throw Error("reading windows of large rasters needs a crop size (data.crop)");
    }
  }
  if (config_.batch <= 0 || static_cast<size_t>(config_.batch) > pairs_.size()) {
    throw Error("batch size " + std::to_string(config_.batch) + " needs at least that many training pairs (have " +
                std::to_string(pairs_.size()) + ")");
  }
  if (epoch_ < 0 || batch_ < 0) throw Error("a batch loader cannot start before epoch 0, batch 0");
  epoch_ += batch_ / batches_per_epoch();  // a start batch past the end of an epoch is in a later one
  batch_ %= batches_per_epoch();
  worker_ = std::thread([this] { work(); });
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  worker_.join();
}

int64_t BatchLoader::batches_per_epoch() const { return static_cast<int64_t>(pairs_.size()) / config_.batch; }

Batch BatchLoader::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] { return !ready_.empty() || !error_.empty(); });
  if (!error_.empty()) throw Error(error_);
  Batch batch = std::move(ready_.front());
  ready_.pop_front();
  changed_.notify_all();
  return batch;
}

void BatchLoader::work() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [this] { return stop_ || static_cast<int>(ready_.size()) < config_.queue; });
      if (stop_) return;
    }
    try {
      Batch batch = make_batch(epoch_, batch_);
      if (++batch_ >= batches_per_epoch()) {
        batch_ = 0;
        ++epoch_;
      }
      std::lock_guard<std::mutex> lock(mutex_);
      ready_.push_back(std::move(batch));
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(mutex_);
      error_ = e.what();
      changed_.notify_all();
      return;
    }
    changed_.notify_all();
  }
}

Batch BatchLoader::make_batch(int64_t epoch, int64_t index) const {
  std::vector<size_t> order(pairs_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  if (config_.shuffle) {
    std::mt19937_64 rng(mix(config_.seed ^ mix(static_cast<uint64_t>(epoch))));
    std::shuffle(order.begin(), order.end(), rng);
  }
  Batch batch;
  batch.epoch = epoch;
  batch.index = index;
  for (int b = 0; b < config_.batch; ++b) {
    const size_t position = static_cast<size_t>(index * config_.batch + b);
    const TrainingPair& pair = pairs_[order[position]];
    const DataSource& source = config_.sources[static_cast<size_t>(pair.source)];
    AugmentConfig augmentation = config_.augment;
    augmentation.scale_min *= source.scale;
    augmentation.scale_max *= source.scale;
    const uint64_t seed = mix(config_.seed ^ mix(static_cast<uint64_t>(epoch) * 1000003ULL + position));
    Sample raw;
    if (source.windows) {  // big enough for the crop at the smallest rescale
      const double smallest = std::min(augmentation.scale_min, augmentation.scale_max);
      const int h = static_cast<int>(std::ceil(config_.crop_h / smallest)) + 1;
      const int w = static_cast<int>(std::ceil(config_.crop_w / smallest)) + 1;
      raw = load_window({pair.image, pair.mask}, source.mask, h, w, mix(seed + 1));
    } else {
      raw = load_sample({pair.image, pair.mask}, source.mask);
      if (source.rows[0] > 0.0 || source.rows[1] < 1.0) raw = rows_of(raw, source.rows[0], source.rows[1]);
    }
    const Sample sample = augment(raw, augmentation, config_.crop_h, config_.crop_w, seed);
    if (b == 0) {
      const auto channels = static_cast<int64_t>(config_.normalisation.bands.size());
      batch.images = Tensor({config_.batch, channels, sample.height, sample.width});
      batch.labels = Labels{config_.batch, sample.height, sample.width, {}};
      batch.labels.ids.resize(static_cast<size_t>(batch.labels.pixels()));
    } else if (sample.height != batch.labels.h || sample.width != batch.labels.w) {
      throw Error("images in a batch differ in size (" + pair.image + "); set a crop size");
    }
    normalise_into(sample, config_.normalisation, batch.images, batch.labels, b);
  }
  return batch;
}

}  // namespace terraseg::geo
