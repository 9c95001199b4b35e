#include "terraseg/geo/quicklook.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "terraseg/core/error.hpp"
#include "terraseg/geo/raster_io.hpp"
#include "terraseg/geo/writer.hpp"

namespace terraseg::geo {
namespace {

struct PreviewSize {
  int width = 0;
  int height = 0;
};

PreviewSize preview_size(int width, int height, int max_side) {
  const double factor = std::min(1.0, static_cast<double>(max_side) / std::max(width, height));
  return {std::max(1, static_cast<int>(std::lround(width * factor))), std::max(1, static_cast<int>(std::lround(height * factor)))};
}

/// Band `band` decimated to `size` as float (GDAL picks overviews where present).
cv::Mat read_band(GDALDataset& dataset, int band, PreviewSize size, GDALRIOResampleAlg resampling,
                  const std::string& path) {
  cv::Mat values(size.height, size.width, CV_32F);
  GDALRasterIOExtraArg extra;
  INIT_RASTERIO_EXTRA_ARG(extra);
  extra.eResampleAlg = resampling;
  if (dataset.GetRasterBand(band)->RasterIO(GF_Read, 0, 0, dataset.GetRasterXSize(), dataset.GetRasterYSize(),
                                            values.ptr<float>(), size.width, size.height, GDT_Float32, 0, 0,
                                            &extra) != CE_None) {
    throw Error(path + ": cannot read band " + std::to_string(band) + " for the quicklook");
  }
  return values;
}

/// Linear 2-98 % stretch of finite values to 0..255.
cv::Mat stretch(const cv::Mat& values) {
  std::vector<float> finite;
  finite.reserve(values.total());
  for (auto it = values.begin<float>(); it != values.end<float>(); ++it) {
    if (std::isfinite(*it)) finite.push_back(*it);
  }
  cv::Mat result(values.size(), CV_8U, cv::Scalar(0));
  if (finite.empty()) return result;
  std::sort(finite.begin(), finite.end());
  const float low = finite[finite.size() * 2 / 100];
  const float high = std::max(finite[finite.size() * 98 / 100], low + 1e-6F);
  values.convertTo(result, CV_8U, 255.0 / (high - low), -255.0 * low / (high - low));
  return result;
}

cv::Mat read_imagery(const std::string& path, PreviewSize& size, int max_side) {
  GDALDatasetUniquePtr dataset = open_raster(path);
  size = preview_size(dataset->GetRasterXSize(), dataset->GetRasterYSize(), max_side);
  const int bands = dataset->GetRasterCount() >= 3 ? 3 : 1;
  std::vector<cv::Mat> channels;
  for (int band = 1; band <= bands; ++band) channels.push_back(stretch(read_band(*dataset, band, size, GRIORA_Average, path)));
  while (channels.size() < 3) channels.push_back(channels.front());
  std::swap(channels[0], channels[2]);  // OpenCV stores BGR
  cv::Mat bgr;
  cv::merge(channels, bgr);
  return bgr;
}

void write_png(const cv::Mat& image, const std::string& png_path) {
  TempPath temporary(png_path);
  std::vector<uchar> bytes;
  if (!cv::imencode(".png", image, bytes)) throw Error(png_path + ": cannot encode the quicklook PNG");
  VSILFILE* file = VSIFOpenL(temporary.temp().c_str(), "wb");
  if (file == nullptr) throw Error(png_path + ": cannot write the quicklook; check the directory is writable");
  const size_t written = VSIFWriteL(bytes.data(), 1, bytes.size(), file);
  VSIFCloseL(file);
  if (written != bytes.size()) throw Error(png_path + ": short write (disk full?)");
  temporary.commit();
}

}  // namespace

void render_quicklook(const std::string& image_path, const std::string& mask_path,
                      const std::vector<ClassInfo>& classes, const std::string& png_path,
                      const QuicklookOptions& options) {
  PreviewSize size;
  cv::Mat canvas;
  if (!image_path.empty()) canvas = read_imagery(image_path, size, options.max_side);
  if (!mask_path.empty()) {
    GDALDatasetUniquePtr mask = open_raster(mask_path);
    if (canvas.empty()) {
      size = preview_size(mask->GetRasterXSize(), mask->GetRasterYSize(), options.max_side);
      canvas = cv::Mat(size.height, size.width, CV_8UC3, cv::Scalar(40, 40, 40));
    }
    const cv::Mat ids = read_band(*mask, 1, size, GRIORA_NearestNeighbour, mask_path);
    for (int y = 0; y < canvas.rows; ++y) {
      for (int x = 0; x < canvas.cols; ++x) {
        const int id = static_cast<int>(ids.at<float>(y, x));
        if (id == 255) continue;
        const auto found = std::find_if(classes.begin(), classes.end(), [id](const ClassInfo& c) { return c.id == id; });
        if (found == classes.end() || found->name == "background") continue;  // keep the imagery visible
        cv::Vec3b& pixel = canvas.at<cv::Vec3b>(y, x);
        for (int c = 0; c < 3; ++c) {
          const double colour = found->rgb[static_cast<size_t>(2 - c)];
          pixel[c] = cv::saturate_cast<uchar>((1.0 - options.opacity) * pixel[c] + options.opacity * colour);
        }
      }
    }
  }
  if (canvas.empty()) throw Error(png_path + ": quicklook needs an image or a mask");
  write_png(canvas, png_path);
}

void render_scalar_quicklook(const std::string& raster_path, int band, const std::string& png_path,
                             const QuicklookOptions& options) {
  GDALDatasetUniquePtr dataset = open_raster(raster_path);
  const PreviewSize size = preview_size(dataset->GetRasterXSize(), dataset->GetRasterYSize(), options.max_side);
  cv::Mat values = read_band(*dataset, band, size, GRIORA_NearestNeighbour, raster_path);
  int has_nodata = 0;
  const double nodata = dataset->GetRasterBand(band)->GetNoDataValue(&has_nodata);
  if (has_nodata != 0) values.setTo(std::nanf(""), values == static_cast<float>(nodata));
  cv::Mat coloured;
  cv::applyColorMap(stretch(values), coloured, cv::COLORMAP_VIRIDIS);
  coloured.setTo(cv::Scalar(255, 255, 255), values != values);  // NaN compares unequal: nodata white
  cv::Mat scaled;
  const int scale = std::max(1, options.max_side / std::max(size.width, size.height));
  cv::resize(coloured, scaled, cv::Size(), scale, scale, cv::INTER_NEAREST);
  write_png(scaled, png_path);
}

}  // namespace terraseg::geo
