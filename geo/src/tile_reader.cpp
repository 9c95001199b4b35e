#include "tile_reader.hpp"

#include <algorithm>
#include <cmath>

#include "gdal_util.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/tiling.hpp"

namespace terraseg::geo::detail {

TileReader::TileReader(GDALDataset& dataset, BandPlan plan, std::string path)
    : dataset_(dataset), plan_(std::move(plan)), path_(std::move(path)) {
  for (int band : plan_.source_bands) {
    auto it = std::find(distinct_bands_.begin(), distinct_bands_.end(), band);
    if (it == distinct_bands_.end()) it = distinct_bands_.insert(distinct_bands_.end(), band);
    channel_slot_.push_back(static_cast<size_t>(it - distinct_bands_.begin()));
  }
  bool per_dataset_added = false;
  for (int number : distinct_bands_) {
    GDALRasterBand* band = dataset_.GetRasterBand(number);
    const int flags = band->GetMaskFlags();
    if ((flags & GMF_ALL_VALID) != 0) continue;
    // A per-dataset mask (alpha band, GDAL mask file) is the same for every band: read it once.
    if ((flags & GMF_PER_DATASET) != 0) {
      if (per_dataset_added) continue;
      per_dataset_added = true;
    }
    masks_.push_back(band->GetMaskBand());
  }
}

void TileReader::read_box(const Box& box) {
  const size_t box_size = static_cast<size_t>(box.w) * static_cast<size_t>(box.h);
  raw_.resize(box_size * distinct_bands_.size());
  for (size_t slot = 0; slot < distinct_bands_.size(); ++slot) {
    GDALRasterBand* band = dataset_.GetRasterBand(distinct_bands_[slot]);
    const CPLErr err = band->RasterIO(GF_Read, box.x, box.y, box.w, box.h, raw_.data() + slot * box_size, box.w, box.h,
                                      GDT_Float32, 0, 0, nullptr);
    check(err, "reading band " + std::to_string(distinct_bands_[slot]) + " pixels (" + std::to_string(box.x) + ", " +
                   std::to_string(box.y) + ") + " + std::to_string(box.w) + "x" + std::to_string(box.h) + " of '" +
                   path_ + "' failed (the file may be truncated or corrupt)");
  }
}

void TileReader::read_masks(const Box& box) {
  const size_t box_size = static_cast<size_t>(box.w) * static_cast<size_t>(box.h);
  box_valid_.assign(box_size, 1);
  for (size_t slot = 0; slot < distinct_bands_.size(); ++slot) {
    const float* values = raw_.data() + slot * box_size;
    for (size_t i = 0; i < box_size; ++i) {
      if (!std::isfinite(values[i])) box_valid_[i] = 0;  // NaN, infinite (or beyond float): nodata
    }
  }
  mask_buf_.resize(box_size);
  for (GDALRasterBand* mask : masks_) {
    const CPLErr err =
        mask->RasterIO(GF_Read, box.x, box.y, box.w, box.h, mask_buf_.data(), box.w, box.h, GDT_Byte, 0, 0, nullptr);
    check(err, "reading the nodata/mask band at pixels (" + std::to_string(box.x) + ", " + std::to_string(box.y) +
                   ") of '" + path_ + "' failed (the file or its mask may be corrupt)");
    for (size_t i = 0; i < box_size; ++i) {
      if (mask_buf_[i] == 0) box_valid_[i] = 0;
    }
  }
}

int64_t TileReader::read(int x0, int y0, int w, int h, Tensor& input, std::vector<uint8_t>& valid) {
  const int width = dataset_.GetRasterXSize();
  const int height = dataset_.GetRasterYSize();
  map_x_.resize(static_cast<size_t>(w));
  map_y_.resize(static_cast<size_t>(h));
  for (int i = 0; i < w; ++i) map_x_[static_cast<size_t>(i)] = reflect_101(x0 + i, width);
  for (int i = 0; i < h; ++i) map_y_[static_cast<size_t>(i)] = reflect_101(y0 + i, height);
  const auto [min_x, max_x] = std::minmax_element(map_x_.begin(), map_x_.end());
  const auto [min_y, max_y] = std::minmax_element(map_y_.begin(), map_y_.end());
  const Box box{*min_x, *min_y, *max_x - *min_x + 1, *max_y - *min_y + 1};
  read_box(box);
  read_masks(box);

  const int channels = plan_.channels();
  input.resize({1, channels, h, w});
  valid.resize(static_cast<size_t>(w) * static_cast<size_t>(h));
  const size_t box_size = static_cast<size_t>(box.w) * static_cast<size_t>(box.h);
  const size_t plane = valid.size();
  int64_t valid_count = 0;
  for (int py = 0; py < h; ++py) {
    const size_t src_row = static_cast<size_t>(map_y_[static_cast<size_t>(py)] - box.y) * static_cast<size_t>(box.w);
    for (int px = 0; px < w; ++px) {
      const size_t src = src_row + static_cast<size_t>(map_x_[static_cast<size_t>(px)] - box.x);
      const size_t dst = static_cast<size_t>(py) * static_cast<size_t>(w) + static_cast<size_t>(px);
      const bool ok = box_valid_[src] != 0;
      valid[dst] = ok ? 1 : 0;
      valid_count += ok ? 1 : 0;
      for (int c = 0; c < channels; ++c) {
        const size_t slot = channel_slot_[static_cast<size_t>(c)];
        const float raw = raw_[slot * box_size + src];
        input.data()[static_cast<size_t>(c) * plane + dst] =
            ok ? raw * plan_.gain[static_cast<size_t>(c)] + plan_.offset[static_cast<size_t>(c)] : 0.0F;
      }
    }
  }
  return valid_count;
}

}  // namespace terraseg::geo::detail
