// Folder datasets: pairing by stem, mask decoding, windows of large rasters (GDAL), normalisation.
#include "terraseg/geo/dataset.hpp"

#include <gdal_priv.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <set>

#include "terraseg/core/error.hpp"

namespace terraseg::geo {
namespace fs = std::filesystem;
namespace {

const std::set<std::string> kImageExtensions{".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"};

std::map<std::string, std::string> files_by_stem(const std::vector<std::string>& dirs) {
  std::map<std::string, std::string> files;
  for (const std::string& dir : dirs) {
    if (!fs::is_directory(dir)) throw Error("data directory '" + dir + "' does not exist");
    for (const auto& entry : fs::directory_iterator(dir)) {
      std::string ext = entry.path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (!entry.is_regular_file() || !kImageExtensions.contains(ext)) continue;
      // Several directories (e.g. tiles) may reuse stems: qualify by the directory's parent name.
      const std::string key = dirs.size() > 1
                                  ? fs::path(dir).parent_path().filename().string() + "/" + entry.path().stem().string()
                                  : entry.path().stem().string();
      files[key] = entry.path().string();
    }
  }
  return files;
}

/// 24-bit RGB key of a palette colour.
uint32_t rgb_key(uint8_t r, uint8_t g, uint8_t b) { return (uint32_t{r} << 16) | (uint32_t{g} << 8) | b; }

std::vector<uint8_t> decode_mask(const cv::Mat& mask, const MaskEncoding& enc, const std::string& path) {
  std::vector<uint8_t> labels(static_cast<size_t>(mask.rows) * static_cast<size_t>(mask.cols));
  if (enc.kind == MaskKind::palette) {
    if (mask.type() != CV_8UC3) throw Error("mask '" + path + "' must be 8-bit RGB for a palette");
    std::map<uint32_t, uint8_t> lookup;
    for (const auto& [rgb, id] : enc.palette) lookup[rgb_key(rgb[0], rgb[1], rgb[2])] = id;
    size_t i = 0;
    for (int y = 0; y < mask.rows; ++y) {
      for (int x = 0; x < mask.cols; ++x, ++i) {
        const auto& bgr = mask.at<cv::Vec3b>(y, x);
        auto it = lookup.find(rgb_key(bgr[2], bgr[1], bgr[0]));
        labels[i] = it == lookup.end() ? kIgnoreLabel : it->second;
      }
    }
    return labels;
  }
  if (mask.type() != CV_8UC1) throw Error("mask '" + path + "' must be single-band 8-bit for ids or a threshold");
  const std::set<int> ignored(enc.ignore_ids.begin(), enc.ignore_ids.end());
  for (size_t i = 0; i < labels.size(); ++i) {
    const int v = mask.data[i];
    if (enc.kind == MaskKind::threshold)
      labels[i] = v >= enc.threshold ? 1 : 0;
    else
      labels[i] = ignored.contains(v) || (enc.classes > 0 && v >= enc.classes) ? kIgnoreLabel : static_cast<uint8_t>(v);
  }
  return labels;
}

/// A GDAL raster of a training pair, checked for what window reading supports.
struct PairRaster {
  GDALDatasetUniquePtr data;
  std::string path;
};

PairRaster open_raster(const std::string& path, bool image, const MaskEncoding& mask) {
  PairRaster r{GDALDatasetUniquePtr(GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY)), path};
  if (!r.data) throw Error("cannot open raster '" + path + "' with GDAL");
  const int bands = r.data->GetRasterCount();
  const int needed = image || mask.kind == MaskKind::palette ? 3 : 1;
  if (bands < 1 || (needed == 3 && bands != 3 && !(image && bands == 1))) {
    throw Error("raster '" + path + "' has " + std::to_string(bands) + " bands; " +
                (image ? "training images need 3 (RGB) or 1 (grey)" : "a palette mask needs 3 (RGB)"));
  }
  for (int b = 1; b <= std::min(bands, 3); ++b) {
    if (r.data->GetRasterBand(b)->GetRasterDataType() != GDT_Byte) {
      throw Error("raster '" + path + "' band " + std::to_string(b) +
                  " is not 8-bit; convert it, e.g. gdal_translate -ot Byte -scale");
    }
  }
  return r;
}

struct RasterPair {
  PairRaster image, mask;
  int width = 0, height = 0;
};

RasterPair open_pair(const std::pair<std::string, std::string>& pair, const MaskEncoding& encoding) {
  GDALAllRegister();
  RasterPair rp{open_raster(pair.first, true, encoding), open_raster(pair.second, false, encoding)};
  rp.width = rp.image.data->GetRasterXSize();
  rp.height = rp.image.data->GetRasterYSize();
  if (rp.mask.data->GetRasterXSize() != rp.width || rp.mask.data->GetRasterYSize() != rp.height) {
    throw Error("label raster '" + pair.second + "' is " + std::to_string(rp.mask.data->GetRasterXSize()) + "x" +
                std::to_string(rp.mask.data->GetRasterYSize()) + " but its image is " + std::to_string(rp.width) + "x" +
                std::to_string(rp.height) + "; warp it onto the image's grid (gdalwarp -te ... -ts ...)");
  }
  std::array<double, 6> a{}, b{};
  if (rp.image.data->GetGeoTransform(a.data()) == CE_None && rp.mask.data->GetGeoTransform(b.data()) == CE_None) {
    for (size_t i = 0; i < a.size(); ++i) {
      if (std::abs(a[i] - b[i]) > 1e-6 * std::max(1.0, std::abs(a[i]))) {
        throw Error("label raster '" + pair.second +
                    "' is not on its image's grid (different geotransform); warp it onto the image's grid");
      }
    }
  }
  return rp;
}

/// Bands 1..n of a window as an interleaved cv::Mat in the given band order (n = 1 or 3).
cv::Mat read_bands(const PairRaster& r, int x, int y, int w, int h, const std::vector<int>& order) {
  cv::Mat out(h, w, order.size() == 3 ? CV_8UC3 : CV_8UC1);
  const int n = static_cast<int>(order.size());
  std::vector<int> bands(order);
  if (r.data->RasterIO(GF_Read, x, y, w, h, out.data, w, h, GDT_Byte, n, bands.data(), n, static_cast<GSpacing>(w) * n,
                       1, nullptr) != CE_None) {
    throw Error("cannot read a window of raster '" + r.path + "'");
  }
  return out;
}

std::vector<uint8_t> read_labels(const RasterPair& rp, const MaskEncoding& encoding, int x, int y, int w, int h) {
  // decode_mask takes palette masks in OpenCV's BGR order.
  const cv::Mat mask = read_bands(rp.mask, x, y, w, h,
                                  encoding.kind == MaskKind::palette ? std::vector<int>{3, 2, 1} : std::vector<int>{1});
  return decode_mask(mask, encoding, rp.mask.path);
}

Sample read_window(const RasterPair& rp, const MaskEncoding& encoding, int x, int y, int w, int h) {
  Sample sample;
  sample.width = w;
  sample.height = h;
  const bool grey = rp.image.data->GetRasterCount() == 1;
  const cv::Mat rgb = read_bands(rp.image, x, y, w, h, grey ? std::vector<int>{1, 1, 1} : std::vector<int>{1, 2, 3});
  sample.rgb.assign(rgb.data, rgb.data + rgb.total() * 3);
  sample.labels = read_labels(rp, encoding, x, y, w, h);
  return sample;
}

}  // namespace

Sample load_window(const std::pair<std::string, std::string>& pair, const MaskEncoding& mask, int height, int width,
                   uint64_t seed) {
  const RasterPair rp = open_pair(pair, mask);
  const int w = std::min(width, rp.width), h = std::min(height, rp.height);
  std::mt19937_64 rng(seed);
  const int x = std::uniform_int_distribution<int>(0, rp.width - w)(rng);
  const int y = std::uniform_int_distribution<int>(0, rp.height - h)(rng);
  return read_window(rp, mask, x, y, w, h);
}

Sample load_centre_window(const std::pair<std::string, std::string>& pair, const MaskEncoding& mask, int height,
                          int width) {
  const RasterPair rp = open_pair(pair, mask);
  const int w = std::min(width, rp.width), h = std::min(height, rp.height);
  return read_window(rp, mask, (rp.width - w) / 2, (rp.height - h) / 2, w, h);
}

std::array<uint8_t, 3> parse_hex_colour(const std::string& text) {
  if (text.size() != 7 || text[0] != '#' || text.find_first_not_of("0123456789abcdefABCDEF", 1) != std::string::npos) {
    throw Error("colour '" + text + "' is not of the form #RRGGBB");
  }
  const auto value = static_cast<uint32_t>(std::stoul(text.substr(1), nullptr, 16));
  return {static_cast<uint8_t>(value >> 16), static_cast<uint8_t>(value >> 8), static_cast<uint8_t>(value)};
}

Normalisation Normalisation::from_card(const ModelCard& card) {
  Normalisation norm;
  if (!card.bands.empty()) norm.bands = card.bands;
  norm.scale = card.scale;
  norm.mean = card.mean;
  norm.std = card.std;
  return norm;
}

std::vector<std::pair<std::string, std::string>> pair_by_stem(const std::vector<std::string>& image_dirs,
                                                              const std::vector<std::string>& mask_dirs,
                                                              const DatasetSplit& split) {
  const auto images = files_by_stem(image_dirs);
  const auto masks = files_by_stem(mask_dirs);
  std::vector<std::pair<std::string, std::string>> pairs;
  int index = 0;
  for (const auto& [stem, image] : images) {
    auto mask = masks.find(stem);
    if (mask == masks.end()) continue;
    const bool in_val = split.every > 0 && index % split.every == split.offset;
    ++index;
    if (split.every > 0 && in_val != split.validation) continue;
    pairs.emplace_back(image, mask->second);
  }
  if (pairs.empty())
    throw Error("no image/mask pairs with matching file stems under '" + image_dirs.at(0) + "' and '" +
                mask_dirs.at(0) + "'");
  return pairs;
}

std::vector<uint8_t> load_labels(const std::string& mask_path, const MaskEncoding& mask_encoding, int& height,
                                 int& width) {
  const int flags = mask_encoding.kind == MaskKind::palette ? cv::IMREAD_COLOR : cv::IMREAD_GRAYSCALE;
  const cv::Mat mask = cv::imread(mask_path, flags);
  if (mask.empty()) throw Error("cannot read mask '" + mask_path + "'");
  height = mask.rows;
  width = mask.cols;
  return decode_mask(mask, mask_encoding, mask_path);
}

Sample load_sample(const std::pair<std::string, std::string>& pair, const MaskEncoding& mask_encoding) {
  const cv::Mat image = cv::imread(pair.first, cv::IMREAD_COLOR);
  if (image.empty()) throw Error("cannot read image '" + pair.first + "'");
  const int flags = mask_encoding.kind == MaskKind::palette ? cv::IMREAD_COLOR : cv::IMREAD_GRAYSCALE;
  const cv::Mat mask = cv::imread(pair.second, flags);
  if (mask.empty()) throw Error("cannot read mask '" + pair.second + "'");
  if (mask.rows != image.rows || mask.cols != image.cols) {
    throw Error("mask '" + pair.second + "' is " + std::to_string(mask.cols) + "x" + std::to_string(mask.rows) +
                " but its image is " + std::to_string(image.cols) + "x" + std::to_string(image.rows));
  }
  Sample sample;
  sample.height = image.rows;
  sample.width = image.cols;
  cv::Mat rgb;
  cv::cvtColor(image, rgb, cv::COLOR_BGR2RGB);
  sample.rgb.assign(rgb.data, rgb.data + rgb.total() * 3);
  sample.labels = decode_mask(mask, mask_encoding, pair.second);
  return sample;
}

void class_statistics(const std::vector<TrainingPair>& pairs, const std::vector<DataSource>& sources, int classes,
                      std::vector<int64_t>& class_pixels, std::vector<int64_t>& image_pixels) {
  class_pixels.assign(static_cast<size_t>(classes), 0);
  image_pixels.assign(static_cast<size_t>(classes), 0);
  auto count = [&](const std::vector<uint8_t>& labels, std::vector<int64_t>& counts) {
    for (uint8_t id : labels) {
      if (id < classes) ++counts[id];
    }
  };
  for (const TrainingPair& pair : pairs) {
    const DataSource& source = sources.at(static_cast<size_t>(pair.source));
    std::vector<int64_t> counts(static_cast<size_t>(classes), 0);
    int64_t pixels = 0;
    if (source.windows) {  // the whole label raster, 256 rows at a time
      const RasterPair rp = open_pair({pair.image, pair.mask}, source.mask);
      for (int y = 0; y < rp.height; y += 256) {
        const int rows = std::min(256, rp.height - y);
        count(read_labels(rp, source.mask, 0, y, rp.width, rows), counts);
      }
      pixels = static_cast<int64_t>(rp.width) * rp.height;
    } else {
      const Sample sample = load_sample({pair.image, pair.mask}, source.mask);
      count(sample.labels, counts);
      pixels = static_cast<int64_t>(sample.labels.size());
    }
    for (size_t c = 0; c < counts.size(); ++c) {
      class_pixels[c] += counts[c];
      if (counts[c] > 0) image_pixels[c] += pixels;
    }
  }
}

Sample centre_crop(const Sample& sample, int multiple) {
  const int h = sample.height / multiple * multiple, w = sample.width / multiple * multiple;
  if (h == sample.height && w == sample.width) return sample;
  return crop(sample, (sample.height - h) / 2, (sample.width - w) / 2, h, w);
}

Sample crop(const Sample& sample, int y, int x, int h, int w) {
  y = std::clamp(y, 0, sample.height);
  x = std::clamp(x, 0, sample.width);
  h = std::clamp(h, 0, sample.height - y);
  w = std::clamp(w, 0, sample.width - x);
  Sample out;
  out.height = h;
  out.width = w;
  out.rgb.reserve(static_cast<size_t>(h) * static_cast<size_t>(w) * 3);
  out.labels.reserve(static_cast<size_t>(h) * static_cast<size_t>(w));
  for (int row = y; row < y + h; ++row) {
    const size_t first = static_cast<size_t>(row) * static_cast<size_t>(sample.width) + static_cast<size_t>(x);
    out.rgb.insert(out.rgb.end(), sample.rgb.begin() + static_cast<std::ptrdiff_t>(first * 3),
                   sample.rgb.begin() + static_cast<std::ptrdiff_t>((first + static_cast<size_t>(w)) * 3));
    out.labels.insert(out.labels.end(), sample.labels.begin() + static_cast<std::ptrdiff_t>(first),
                      sample.labels.begin() + static_cast<std::ptrdiff_t>(first + static_cast<size_t>(w)));
  }
  return out;
}

Sample rows_of(const Sample& sample, double from, double to) {
  if (!(from >= 0.0 && from < to && to <= 1.0)) {
    throw Error("rows_of: the strip " + std::to_string(from) + ".." + std::to_string(to) + " is not within 0..1");
  }
  const int first = static_cast<int>(std::lround(from * sample.height));
  const int last = static_cast<int>(std::lround(to * sample.height));
  return crop(sample, first, 0, std::max(1, last - first), sample.width);
}

void normalise_into(const Sample& sample, const Normalisation& norm, Tensor& images, Labels& labels, int64_t index) {
  const int64_t channels = images.dim(1), plane = int64_t{sample.height} * sample.width;
  if (static_cast<int64_t>(norm.bands.size()) != channels) {
    throw Error("normalisation names " + std::to_string(norm.bands.size()) + " bands but the model takes " +
                std::to_string(channels));
  }
  for (int64_t c = 0; c < channels; ++c) {
    const std::string& band = norm.bands[static_cast<size_t>(c)];
    const int source = band == "red" ? 0 : band == "green" ? 1 : band == "blue" ? 2 : band == "grey" ? -1 : -2;
    if (source == -2) throw Error("band '" + band + "' cannot be read from RGB images (red, green, blue, grey)");
    const float mean = norm.mean.empty() ? 0.0F : norm.mean.at(static_cast<size_t>(c));
    const float stdev = norm.std.empty() ? 1.0F : norm.std.at(static_cast<size_t>(c));
    float* dst = images.data() + (index * channels + c) * plane;
    for (int64_t p = 0; p < plane; ++p) {
      const uint8_t* px = &sample.rgb[static_cast<size_t>(p * 3)];
      const double raw = source >= 0 ? px[source] : 0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2];
      dst[p] = static_cast<float>((raw * norm.scale - mean) / stdev);
    }
  }
  std::copy(sample.labels.begin(), sample.labels.end(), labels.ids.begin() + index * plane);
}

}  // namespace terraseg::geo
