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

/// `width` x `height` scaled so the longest side is at most `max_side` (exactly, when `enlarge`).
PreviewSize preview_size(int width, int height, int max_side, bool enlarge = false) {
  double factor = static_cast<double>(max_side) / std::max(width, height);
  if (!enlarge) factor = std::min(1.0, factor);
  return {std::max(1, static_cast<int>(std::lround(width * factor))),
          std::max(1, static_cast<int>(std::lround(height * factor)))};
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
  for (const float value : cv::Mat_<float>(values)) {  // a typed header over the same pixels
    if (std::isfinite(value)) finite.push_back(value);
  }
  cv::Mat result(values.size(), CV_8U, cv::Scalar(0));
  if (finite.empty()) return result;
  std::sort(finite.begin(), finite.end());
  const float low = finite[finite.size() * 2 / 100];
  const float high = std::max(finite[finite.size() * 98 / 100], low + 1e-6F);
  values.convertTo(result, CV_8U, 255.0 / (high - low), -255.0 * low / (high - low));
  return result;
}

cv::Mat read_imagery(const std::string& path, PreviewSize& size, int max_side, bool enlarge = false) {
  GDALDatasetUniquePtr dataset = open_raster(path);
  size = preview_size(dataset->GetRasterXSize(), dataset->GetRasterYSize(), max_side, enlarge);
  const int bands = dataset->GetRasterCount() >= 3 ? 3 : 1;
  std::vector<cv::Mat> channels;
  for (int band = 1; band <= bands; ++band)
    channels.push_back(stretch(read_band(*dataset, band, size, GRIORA_Average, path)));
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

/// Grids larger than this many cells a side are decimated before drawing.
constexpr int kMaxGridCells = 2048;
/// Without imagery a cell is drawn at most this many pixels wide (one cell is no reason for a big image).
constexpr int kMaxCellPixels = 64;

/// True when both datasets are georeferenced north-up in the same CRS and their extents overlap.
bool co_registered(GDALDataset& a, GDALDataset& b, std::array<double, 6>& gt_a, std::array<double, 6>& gt_b) {
  const OGRSpatialReference* crs_a = a.GetSpatialRef();
  const OGRSpatialReference* crs_b = b.GetSpatialRef();
  if (crs_a == nullptr || crs_b == nullptr || !crs_a->IsSame(crs_b)) return false;
  if (a.GetGeoTransform(gt_a.data()) != CE_None || b.GetGeoTransform(gt_b.data()) != CE_None) return false;
  if (gt_a[2] != 0.0 || gt_a[4] != 0.0 || gt_b[2] != 0.0 || gt_b[4] != 0.0) return false;
  auto extent = [](const std::array<double, 6>& gt, GDALDataset& d) {
    const double x1 = gt[0] + gt[1] * d.GetRasterXSize();
    const double y1 = gt[3] + gt[5] * d.GetRasterYSize();
    return std::array<double, 4>{std::min(gt[0], x1), std::min(gt[3], y1), std::max(gt[0], x1), std::max(gt[3], y1)};
  };
  const auto ea = extent(gt_a, a);
  const auto eb = extent(gt_b, b);
  return ea[0] < eb[2] && eb[0] < ea[2] && ea[1] < eb[3] && eb[1] < ea[3];
}

/// The imagery as the canvas, and in `cell_of` the grid cell (row * cells.width + column, -1 outside)
/// under each canvas pixel's centre. An empty canvas when the two are not co-registered.
cv::Mat imagery_cells(GDALDataset& grid, PreviewSize cells, const std::string& imagery_path, int max_side,
                      cv::Mat& cell_of) {
  std::array<double, 6> grid_gt{};
  std::array<double, 6> image_gt{};
  int image_width = 0;
  int image_height = 0;
  {
    GDALDatasetUniquePtr imagery = open_raster(imagery_path);
    if (!co_registered(grid, *imagery, grid_gt, image_gt)) return {};
    image_width = imagery->GetRasterXSize(), image_height = imagery->GetRasterYSize();
  }
  PreviewSize size;
  cv::Mat canvas = read_imagery(imagery_path, size, max_side, true);
  const double step_x = static_cast<double>(image_width) / size.width;
  const double step_y = static_cast<double>(image_height) / size.height;
  const double cell_w = grid_gt[1] * grid.GetRasterXSize() / cells.width;  // decimated cells are larger
  const double cell_h = grid_gt[5] * grid.GetRasterYSize() / cells.height;
  cell_of = cv::Mat(canvas.size(), CV_32S, cv::Scalar(-1));
  for (int y = 0; y < canvas.rows; ++y) {
    const double north = image_gt[3] + (y + 0.5) * step_y * image_gt[5];
    const auto row = static_cast<int>(std::floor((north - grid_gt[3]) / cell_h));
    if (row < 0 || row >= cells.height) continue;
    for (int x = 0; x < canvas.cols; ++x) {
      const double east = image_gt[0] + (x + 0.5) * step_x * image_gt[1];
      const auto column = static_cast<int>(std::floor((east - grid_gt[0]) / cell_w));
      if (column >= 0 && column < cells.width) cell_of.at<int>(y, x) = row * cells.width + column;
    }
  }
  return canvas;
}

/// Darkens the first pixel of each cell along its top and left edge when cells are at least 8 px wide
/// (measured along the middle row).
void outline_cells(cv::Mat& canvas, const cv::Mat& cell_of) {
  int run = 0;
  int widest = 0;
  for (int x = 0; x < cell_of.cols; ++x) {
    const int cell = cell_of.at<int>(cell_of.rows / 2, x);
    run = cell >= 0 && x > 0 && cell == cell_of.at<int>(cell_of.rows / 2, x - 1) ? run + 1 : 0;
    if (cell >= 0) widest = std::max(widest, run + 1);
  }
  if (widest < 8) return;
  for (int y = 0; y < canvas.rows; ++y) {
    for (int x = 0; x < canvas.cols; ++x) {
      const int cell = cell_of.at<int>(y, x);
      const bool edge = (x > 0 && cell_of.at<int>(y, x - 1) != cell) || (y > 0 && cell_of.at<int>(y - 1, x) != cell);
      if (edge && cell >= 0) canvas.at<cv::Vec3b>(y, x) *= 0.55;
    }
  }
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
        const auto found =
            std::find_if(classes.begin(), classes.end(), [id](const ClassInfo& c) { return c.id == id; });
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

std::array<uint8_t, 3> ramp_colour(double t) {
  static const cv::Mat lut = [] {
    cv::Mat ramp(1, 256, CV_8U);
    for (int i = 0; i < 256; ++i) ramp.at<uchar>(0, i) = static_cast<uchar>(i);
    cv::Mat coloured;
    cv::applyColorMap(ramp, coloured, cv::COLORMAP_VIRIDIS);
    return coloured;
  }();
  const int index = static_cast<int>(std::lround(std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0) * 255.0));
  const cv::Vec3b& bgr = lut.at<cv::Vec3b>(0, index);
  return {bgr[2], bgr[1], bgr[0]};
}

ScalarMapLegend render_scalar_quicklook(const std::string& raster_path, int band, const std::string& png_path,
                                        const ScalarMapOptions& options) {
  GDALDatasetUniquePtr grid = open_raster(raster_path);
  ScalarMapLegend legend;
  legend.grid_width = grid->GetRasterXSize();
  legend.grid_height = grid->GetRasterYSize();
  if (band < 1 || band > grid->GetRasterCount()) throw Error(raster_path + ": has no band " + std::to_string(band));
  legend.description = grid->GetRasterBand(band)->GetDescription();
  const PreviewSize cells = preview_size(legend.grid_width, legend.grid_height, kMaxGridCells);
  cv::Mat values = read_band(*grid, band, cells, GRIORA_NearestNeighbour, raster_path);
  legend.cells = static_cast<int64_t>(values.total());
  int has_nodata = 0;
  const double nodata = grid->GetRasterBand(band)->GetNoDataValue(&has_nodata);
  if (has_nodata != 0) {
    legend.nodata = nodata;
    values.setTo(std::nanf(""), values == static_cast<float>(nodata));
  }
  for (const float value : cv::Mat_<float>(values)) {  // a typed header over the same pixels
    if (!std::isfinite(value)) {
      ++legend.nodata_cells;
      continue;
    }
    legend.min = std::min<double>(legend.min.value_or(value), value);
    legend.max = std::max<double>(legend.max.value_or(value), value);
  }
  if (options.range) {
    legend.low = (*options.range)[0], legend.high = (*options.range)[1];
  } else if (legend.min && options.from_zero && *legend.min >= 0.0) {
    legend.high = *legend.max;
    if (*legend.max > 0.0) {
      const double digit = std::pow(10.0, std::floor(std::log10(*legend.max)));
      legend.high = std::ceil(*legend.max / digit * (1.0 - 1e-12)) * digit;
    }
    if (options.ceiling) legend.high = std::min(legend.high, std::max(*options.ceiling, *legend.max));
  } else if (legend.min) {
    legend.low = *legend.min, legend.high = *legend.max;
  }

  // Which cell each PNG pixel shows: through the georeferencing over imagery, else by enlarging the grid.
  cv::Mat canvas;
  cv::Mat cell_of;  // CV_32S: row * cells.width + column, -1 outside the grid
  if (!options.imagery.empty()) canvas = imagery_cells(*grid, cells, options.imagery, options.max_side, cell_of);
  legend.over_imagery = !canvas.empty();
  if (canvas.empty()) {
    const int scale = std::clamp(options.max_side / std::max(cells.width, cells.height), 1, kMaxCellPixels);
    canvas = cv::Mat(cells.height * scale, cells.width * scale, CV_8UC3, cv::Scalar(255, 255, 255));
    cell_of = cv::Mat(canvas.size(), CV_32S);
    for (int y = 0; y < canvas.rows; ++y) {
      for (int x = 0; x < canvas.cols; ++x) cell_of.at<int>(y, x) = (y / scale) * cells.width + x / scale;
    }
  }
  const double opacity = legend.over_imagery ? std::clamp(options.opacity, 0.0, 1.0) : 1.0;
  const double span = legend.high - legend.low;
  for (int y = 0; y < canvas.rows; ++y) {
    for (int x = 0; x < canvas.cols; ++x) {
      const int cell = cell_of.at<int>(y, x);
      if (cell < 0) continue;
      const float value = values.at<float>(cell / cells.width, cell % cells.width);
      std::array<uint8_t, 3> rgb = kNodataGrey;
      if (std::isfinite(value)) rgb = ramp_colour(span > 0.0 ? (value - legend.low) / span : 0.5);
      cv::Vec3b& pixel = canvas.at<cv::Vec3b>(y, x);
      if (!std::isfinite(value) && legend.over_imagery) {  // nodata: the imagery in grey, no colour
        const double grey = 0.114 * pixel[0] + 0.587 * pixel[1] + 0.299 * pixel[2];
        pixel = cv::Vec3b::all(cv::saturate_cast<uchar>(0.35 * grey + 0.65 * kNodataGrey[0]));
        continue;
      }
      for (int c = 0; c < 3; ++c) {
        pixel[c] = cv::saturate_cast<uchar>((1.0 - opacity) * pixel[c] + opacity * rgb[static_cast<size_t>(2 - c)]);
      }
    }
  }
  outline_cells(canvas, cell_of);
  write_png(canvas, png_path);
  return legend;
}

}  // namespace terraseg::geo
