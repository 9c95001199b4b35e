#include "terraseg/geo/indicators.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <opencv2/core.hpp>

#include "gdal_util.hpp"
#include "indicators_lines.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/qgis_style.hpp"

namespace terraseg::geo {
namespace {

/// Pixel rows of one strip: the core whose cells it completes, and the rows read for thinning.
struct Strip {
  int cell_row_begin = 0;
  int cell_row_end = 0;
  int row_begin = 0;   ///< first core pixel row
  int row_end = 0;     ///< one past the last core pixel row
  int read_begin = 0;  ///< first row read (core minus halo)
  int read_end = 0;    ///< one past the last row read
  bool in_core(int row) const { return row >= row_begin && row < row_end; }
};

/// Per-cell sums for the cell rows of the current strip, then whole-raster totals.
struct Sums {
  int width = 0;
  int rows = 0;
  std::vector<int64_t> road_valid, road, landcover_valid, vegetation, ndvi_valid, ndvi_green, rgb_valid, rgb_green,
      junctions;
  std::vector<double> road_length_m;

  void reset(int grid_width, int cell_rows) {
    width = grid_width;
    rows = cell_rows;
    const size_t n = static_cast<size_t>(grid_width) * static_cast<size_t>(cell_rows);
    for (auto* v : {&road_valid, &road, &landcover_valid, &vegetation, &ndvi_valid, &ndvi_green, &rgb_valid, &rgb_green,
                    &junctions}) {
      v->assign(n, 0);
    }
    road_length_m.assign(n, 0.0);
  }
};

struct Totals {
  int64_t road_valid = 0, road = 0, landcover_valid = 0, vegetation = 0, ndvi_valid = 0, ndvi_green = 0, rgb_valid = 0,
          rgb_green = 0;
  double road_length_m = 0.0;
  int junctions = 0;
  int ends = 0;
};

/// An open class raster with a lookup of the class ids that count.
struct ClassSource {
  std::string path;
  GDALDatasetUniquePtr dataset;
  std::optional<double> nodata;
  std::array<bool, 256> wanted{};
};

ClassSource open_class_source(const std::string& path, const std::vector<int>& classes, const char* what) {
  ClassSource source;
  source.path = path;
  source.dataset = open_raster(path);
  int has_nodata = 0;
  const double nodata = source.dataset->GetRasterBand(1)->GetNoDataValue(&has_nodata);
  if (has_nodata != 0) source.nodata = nodata;
  for (int id : classes) {
    if (id < 0 || id > 255) throw Error(path + ": " + what + " class id " + std::to_string(id) + " is outside 0..255");
    source.wanted[static_cast<size_t>(id)] = true;
  }
  return source;
}

std::vector<uint8_t> read_rows(GDALDataset& dataset, int band, int row, int rows, const std::string& path) {
  const int width = dataset.GetRasterXSize();
  std::vector<uint8_t> values(static_cast<size_t>(width) * static_cast<size_t>(rows));
  detail::check(dataset.GetRasterBand(band)->RasterIO(GF_Read, 0, row, width, rows, values.data(), width, rows,
                                                      GDT_Byte, 0, 0, nullptr),
                path + ": reading rows " + std::to_string(row) + ".." + std::to_string(row + rows - 1));
  return values;
}

std::vector<float> read_float_rows(GDALDataset& dataset, int band, int row, int rows, const std::string& path) {
  const int width = dataset.GetRasterXSize();
  std::vector<float> values(static_cast<size_t>(width) * static_cast<size_t>(rows));
  detail::check(dataset.GetRasterBand(band)->RasterIO(GF_Read, 0, row, width, rows, values.data(), width, rows,
                                                      GDT_Float32, 0, 0, nullptr),
                path + ": reading band " + std::to_string(band) + " rows " + std::to_string(row));
  return values;
}

/// Index of the cell of pixel (col, row) within the strip's sums.
size_t cell_index(const CellGrid& grid, const Strip& strip, const Sums& sums, int col, int row) {
  const int cell_row =
      std::clamp(grid.cell_row(row), strip.cell_row_begin, strip.cell_row_end - 1) - strip.cell_row_begin;
  const int cell_col = std::clamp(grid.cell_col(col), 0, sums.width - 1);
  return static_cast<size_t>(cell_row) * static_cast<size_t>(sums.width) + static_cast<size_t>(cell_col);
}

/// Counts road / valid pixels of the core and returns the strip's binary road image (halo included).
cv::Mat road_image(ClassSource& roads, const Strip& strip, const CellGrid& grid, Sums& sums) {
  const int width = roads.dataset->GetRasterXSize();
  const int rows = strip.read_end - strip.read_begin;
  const std::vector<uint8_t> ids = read_rows(*roads.dataset, 1, strip.read_begin, rows, roads.path);
  cv::Mat road(rows, width, CV_8U, cv::Scalar(0));
  for (int r = 0; r < rows; ++r) {
    const int row = strip.read_begin + r;
    for (int col = 0; col < width; ++col) {
      const uint8_t id = ids[static_cast<size_t>(r) * static_cast<size_t>(width) + static_cast<size_t>(col)];
      if (roads.nodata && id == *roads.nodata) continue;
      const bool is_road = roads.wanted[id];
      if (is_road) road.at<uint8_t>(r, col) = 255;
      if (!strip.in_core(row)) continue;
      const size_t cell = cell_index(grid, strip, sums, col, row);
      sums.road_valid[cell] += 1;
      sums.road[cell] += is_road ? 1 : 0;
    }
  }
  return road;
}

/// Adds the edge's segments owned by this strip (midpoint row in the core) to the cells and writes
/// each maximal run of owned segments as one line.
void add_edge(const RoadEdge& edge, const Strip& strip, const CellGrid& grid, const PixelSizeM& pixel, Sums& sums,
              Totals& totals, detail::CentrelineWriter* lines) {
  std::vector<cv::Point2d> run;
  double run_length = 0.0;
  const auto flush = [&] {
    if (lines != nullptr && run.size() >= 2) lines->add_line(run, run_length);
    run.clear();
    run_length = 0.0;
  };
  const cv::Point2d offset(0.0, strip.read_begin);
  for (size_t i = 1; i < edge.points.size(); ++i) {
    const cv::Point2d a = edge.points[i - 1] + offset;
    const cv::Point2d b = edge.points[i] + offset;
    const cv::Point2d mid = (a + b) * 0.5;
    const int row = static_cast<int>(std::floor(mid.y));
    if (!strip.in_core(row)) {
      flush();
      continue;
    }
    const double length = segment_length_m(a, b, pixel);
    sums.road_length_m[cell_index(grid, strip, sums, static_cast<int>(std::floor(mid.x)), row)] += length;
    totals.road_length_m += length;
    if (run.empty()) run.push_back(a);
    run.push_back(b);
    run_length += length;
  }
  flush();
}

void add_roads(ClassSource& roads, const Strip& strip, const CellGrid& grid, const PixelSizeM& pixel,
               const AerialOptions& options, Sums& sums, Totals& totals, detail::CentrelineWriter* lines) {
  const cv::Mat road = road_image(roads, strip, grid, sums);
  // Where the strip cuts the raster, its edge row is repeated for `pad` rows so roads run on past the
  // cut: thinning does not round them off there, and their ends in the padding are cut, not dead ends.
  const int height = roads.dataset->GetRasterYSize();
  const int pad = options.strip_halo_px;
  RoadGraphOptions graph_options = options.graph;
  graph_options.cut_rows_top = strip.read_begin > 0 ? pad : 0;
  graph_options.cut_rows_bottom = strip.read_end < height ? pad : 0;
  cv::Mat padded = road;
  if (graph_options.cut_rows_top + graph_options.cut_rows_bottom > 0) {
    cv::copyMakeBorder(road, padded, graph_options.cut_rows_top, graph_options.cut_rows_bottom, 0, 0,
                       cv::BORDER_REPLICATE);
  }
  const RoadGraph graph = road_graph_from_mask(padded, pixel, graph_options);
  Strip shifted = strip;  // edge and node rows are in the padded image
  shifted.read_begin = strip.read_begin - graph_options.cut_rows_top;
  for (const RoadEdge& edge : graph.edges) add_edge(edge, shifted, grid, pixel, sums, totals, lines);
  for (const RoadNode& node : graph.nodes) {
    const int row = static_cast<int>(std::floor(node.y)) + shifted.read_begin;
    if (!strip.in_core(row) || !(node.is_junction() || node.is_end())) continue;
    if (node.is_junction()) {
      sums.junctions[cell_index(grid, strip, sums, static_cast<int>(std::floor(node.x)), row)] += 1;
      totals.junctions += 1;
    } else {
      totals.ends += 1;
    }
    if (lines != nullptr) {
      lines->add_node({node.x, node.y + shifted.read_begin}, node.is_junction() ? "junction" : "end", node.degree);
    }
  }
}

void add_landcover(ClassSource& landcover, const Strip& strip, const CellGrid& grid, Sums& sums) {
  const int width = landcover.dataset->GetRasterXSize();
  const int rows = strip.row_end - strip.row_begin;
  const std::vector<uint8_t> ids = read_rows(*landcover.dataset, 1, strip.row_begin, rows, landcover.path);
  for (int r = 0; r < rows; ++r) {
    for (int col = 0; col < width; ++col) {
      const uint8_t id = ids[static_cast<size_t>(r) * static_cast<size_t>(width) + static_cast<size_t>(col)];
      if (landcover.nodata && id == *landcover.nodata) continue;
      const size_t cell = cell_index(grid, strip, sums, col, strip.row_begin + r);
      sums.landcover_valid[cell] += 1;
      sums.vegetation[cell] += landcover.wanted[id] ? 1 : 0;
    }
  }
}

struct SpectralSource {
  std::string path;
  GDALDatasetUniquePtr dataset;
  int red = 0;
  int nir = 0;
  std::optional<double> red_nodata;
  std::optional<double> nir_nodata;
};

std::optional<double> band_nodata(GDALDataset& dataset, int band) {
  int has = 0;
  const double value = dataset.GetRasterBand(band)->GetNoDataValue(&has);
  return has != 0 ? std::optional<double>(value) : std::nullopt;
}

SpectralSource open_spectral(const AerialInputs& inputs) {
  SpectralSource source;
  source.path = inputs.spectral;
  source.dataset = open_raster(inputs.spectral);
  const RasterInfo info = describe_raster(*source.dataset, inputs.spectral);
  source.red = inputs.red_band > 0 ? inputs.red_band : find_spectral_band(info, "red");
  source.nir = inputs.nir_band > 0 ? inputs.nir_band : find_spectral_band(info, "nir");
  if (source.red == 0 || source.nir == 0) {
    throw Error(inputs.spectral +
                ": cannot tell which bands are red and near-infrared (no colour or description "
                "says so); give their band numbers, e.g. red 3 and NIR 4 for Landsat 7 ETM+");
  }
  for (int band : {source.red, source.nir}) {
    if (band > info.band_count()) {
      throw Error(inputs.spectral + ": band " + std::to_string(band) + " requested for NDVI, but the raster has " +
                  std::to_string(info.band_count()) + " band(s)");
    }
  }
  source.red_nodata = band_nodata(*source.dataset, source.red);
  source.nir_nodata = band_nodata(*source.dataset, source.nir);
  return source;
}

void add_ndvi(SpectralSource& spectral, const Strip& strip, const CellGrid& grid, double threshold, Sums& sums) {
  const int width = spectral.dataset->GetRasterXSize();
  const int rows = strip.row_end - strip.row_begin;
  const std::vector<float> red = read_float_rows(*spectral.dataset, spectral.red, strip.row_begin, rows, spectral.path);
  const std::vector<float> nir = read_float_rows(*spectral.dataset, spectral.nir, strip.row_begin, rows, spectral.path);
  for (int r = 0; r < rows; ++r) {
    for (int col = 0; col < width; ++col) {
      const size_t at = static_cast<size_t>(r) * static_cast<size_t>(width) + static_cast<size_t>(col);
      const double red_value = red[at];
      const double nir_value = nir[at];
      if ((spectral.red_nodata && red_value == *spectral.red_nodata) ||
          (spectral.nir_nodata && nir_value == *spectral.nir_nodata)) {
        continue;
      }
      const double sum = nir_value + red_value;
      if (!std::isfinite(sum) || sum == 0.0) continue;  // NDVI undefined: not counted as observed
      const size_t cell = cell_index(grid, strip, sums, col, strip.row_begin + r);
      sums.ndvi_valid[cell] += 1;
      sums.ndvi_green[cell] += (nir_value - red_value) / sum > threshold ? 1 : 0;
    }
  }
}

/// Brightness (mean of R, G, B) below this fraction of the image's brightest value is too dark for the
/// RGB vegetation index to judge.
constexpr double kDarkFraction = 0.12;

/// The red, green and blue bands of an image, for the RGB vegetation index.
struct RgbSource {
  std::string path;
  GDALDatasetUniquePtr dataset;
  std::array<int, 3> bands{0, 0, 0};
  std::array<std::optional<double>, 3> nodata{};
  double dark_sum = 0.0;  ///< R + G + B below this: too dark to judge by colour (water, deep shadow)
};

RgbSource open_rgb(const AerialInputs& inputs) {
  RgbSource source;
  source.path = inputs.rgb;
  source.dataset = open_raster(inputs.rgb);
  const RasterInfo info = describe_raster(*source.dataset, inputs.rgb);
  const std::array<const char*, 3> names{"red", "green", "blue"};
  for (size_t i = 0; i < 3; ++i) {
    source.bands[i] = inputs.rgb_bands[i] > 0 ? inputs.rgb_bands[i] : find_spectral_band(info, names[i]);
    if (source.bands[i] <= 0 || source.bands[i] > info.band_count()) {
      throw Error(inputs.rgb + ": no " + names[i] + " band for the RGB vegetation index (the raster has " +
                  std::to_string(info.band_count()) + " band(s) and none is tagged " + names[i] + ")");
    }
    source.nodata[i] = band_nodata(*source.dataset, source.bands[i]);
  }
  // The brightest value of the three bands (approximate: overviews or a sample), so that "dark" means
  // the same for 8-bit, 11-bit and float imagery.
  double top = 0.0;
  for (const int band : source.bands) {
    double range[2] = {0.0, 0.0};
    if (GDALComputeRasterMinMax(source.dataset->GetRasterBand(band), TRUE, range) == CE_None)
      top = std::max(top, range[1]);
  }
  source.dark_sum = 3.0 * kDarkFraction * top;
  return source;
}

/// Green vegetation by colour: ExG - ExR > 0 on chromatic coordinates (r = R / (R + G + B), ...), with
/// ExG = 2g - r - b and ExR = 1.4r - g (Meyer and Neto 2008, "Verification of color vegetation indices
/// for automated crop imaging applications"), and green above blue (chlorophyll absorbs blue): no
/// model. Pixels darker than kDarkFraction of the image's brightest value count as not green: their
/// chromaticity is noise, and dark water reads as green by ExG - ExR alone (the Bremen lake: 97 %).
void add_rgb_index(RgbSource& rgb, const Strip& strip, const CellGrid& grid, Sums& sums) {
  const int width = rgb.dataset->GetRasterXSize();
  const int rows = strip.row_end - strip.row_begin;
  std::array<std::vector<float>, 3> bands;
  for (size_t i = 0; i < 3; ++i)
    bands[i] = read_float_rows(*rgb.dataset, rgb.bands[i], strip.row_begin, rows, rgb.path);
  for (int r = 0; r < rows; ++r) {
    for (int col = 0; col < width; ++col) {
      const size_t at = static_cast<size_t>(r) * static_cast<size_t>(width) + static_cast<size_t>(col);
      bool valid = true;
      for (size_t i = 0; i < 3; ++i) valid = valid && !(rgb.nodata[i] && bands[i][at] == *rgb.nodata[i]);
      const double sum = static_cast<double>(bands[0][at]) + bands[1][at] + bands[2][at];
      if (!valid || !std::isfinite(sum) || !(sum > 0.0)) continue;  // black or nodata: no colour to judge
      const double red = bands[0][at] / sum, green = bands[1][at] / sum, blue = bands[2][at] / sum;
      const double excess_green = 2.0 * green - red - blue;
      const double excess_red = 1.4 * red - green;
      const size_t cell = cell_index(grid, strip, sums, col, strip.row_begin + r);
      sums.rgb_valid[cell] += 1;
      sums.rgb_green[cell] +=
          sum >= rgb.dark_sum && bands[1][at] > bands[2][at] && excess_green - excess_red > 0.0 ? 1 : 0;
    }
  }
}

/// Rows of halo that let a strip prune, merge and smooth its core as the whole mask would: a spur or a
/// chain of merged junctions reaching into the core lies within these rows of it.
int halo_for_graph(const RoadGraphOptions& graph, const PixelSizeM& pixel) {
  const double metres = graph.min_spur_m + graph.merge_junctions_m + 2.0 * graph.smooth_mask_m;
  return static_cast<int>(std::ceil(metres / pixel.y)) + 8;
}

std::vector<Strip> plan_strips(const CellGrid& grid, int width, int height, const AerialOptions& options) {
  if (static_cast<int64_t>(width) * height <= options.whole_mask_max_pixels) {
    return {Strip{0, grid.height, 0, height, 0, height}};
  }
  const double rows_per_cell_row = grid.cell_px_y;
  const int cell_rows = std::max(1, static_cast<int>(static_cast<double>(options.whole_mask_max_pixels) /
                                                     (static_cast<double>(width) * rows_per_cell_row)));
  std::vector<Strip> strips;
  for (int begin = 0; begin < grid.height; begin += cell_rows) {
    Strip strip;
    strip.cell_row_begin = begin;
    strip.cell_row_end = std::min(grid.height, begin + cell_rows);
    strip.row_begin = std::min(height, grid.first_pixel_row(begin));
    strip.row_end =
        strip.cell_row_end == grid.height ? height : std::min(height, grid.first_pixel_row(strip.cell_row_end));
    strip.read_begin = std::max(0, strip.row_begin - options.strip_halo_px);
    strip.read_end = std::min(height, strip.row_end + options.strip_halo_px);
    strips.push_back(strip);
  }
  return strips;
}

struct Sources {
  std::optional<ClassSource> roads;
  std::optional<ClassSource> landcover;
  std::optional<SpectralSource> spectral;
  std::optional<RgbSource> rgb;
};

std::vector<std::string> band_names(const Sources& sources) {
  std::vector<std::string> names;
  if (sources.landcover) names.emplace_back(kBandGreeneryLandcover);
  if (sources.spectral) names.emplace_back(kBandGreeneryNdvi);
  if (sources.rgb) names.emplace_back(kBandGreeneryRgbIndex);
  if (sources.roads) {
    names.insert(names.end(), {kBandRoadAreaRatio, kBandRoadLengthDensity, kBandIntersectionDensity});
  }
  return names;
}

/// numerator / denominator for a cell that `valid` pixels of the image cover, of `cell_pixels`; nodata
/// when the image covers less than half of the cell: a cell mostly past the image's edge (or its
/// nodata) would describe a sliver as if it were the whole cell.
/// A pixel count as a real number (counts stay far below 2^53, so exactly).
double real(int64_t count) { return static_cast<double>(count); }

float ratio(double numerator, double denominator, double valid, double cell_pixels) {
  if (!(denominator > 0.0) || valid < 0.5 * cell_pixels) return static_cast<float>(kIndicatorNodata);
  return static_cast<float>(numerator / denominator);
}

/// The strip's cell rows, band-sequential in the order of band_names().
std::vector<float> strip_values(const Sources& sources, const Sums& sums, const PixelSizeM& pixel,
                                const CellGrid& grid) {
  const size_t cells = static_cast<size_t>(sums.width) * static_cast<size_t>(sums.rows);
  std::vector<float> values;
  values.reserve(cells * 5);
  const double pixel_km2 = pixel.x * pixel.y / 1e6;
  const double area = grid.cell_px_x * grid.cell_px_y;  // a whole cell, in image pixels
  for (size_t c = 0; sources.landcover && c < cells; ++c) {
    values.push_back(
        ratio(real(sums.vegetation[c]), real(sums.landcover_valid[c]), real(sums.landcover_valid[c]), area));
  }
  for (size_t c = 0; sources.spectral && c < cells; ++c) {
    values.push_back(ratio(real(sums.ndvi_green[c]), real(sums.ndvi_valid[c]), real(sums.ndvi_valid[c]), area));
  }
  for (size_t c = 0; sources.rgb && c < cells; ++c) {
    values.push_back(ratio(real(sums.rgb_green[c]), real(sums.rgb_valid[c]), real(sums.rgb_valid[c]), area));
  }
  if (sources.roads) {
    for (size_t c = 0; c < cells; ++c)
      values.push_back(ratio(real(sums.road[c]), real(sums.road_valid[c]), real(sums.road_valid[c]), area));
    for (size_t c = 0; c < cells; ++c) {
      values.push_back(
          ratio(sums.road_length_m[c] / 1000.0, real(sums.road_valid[c]) * pixel_km2, real(sums.road_valid[c]), area));
    }
    for (size_t c = 0; c < cells; ++c) {
      values.push_back(
          ratio(real(sums.junctions[c]), real(sums.road_valid[c]) * pixel_km2, real(sums.road_valid[c]), area));
    }
  }
  return values;
}

void add_to_totals(const Sums& sums, Totals& totals) {
  const auto total = [](const std::vector<int64_t>& v) {
    int64_t sum = 0;
    for (int64_t x : v) sum += x;
    return sum;
  };
  totals.road_valid += total(sums.road_valid);
  totals.road += total(sums.road);
  totals.landcover_valid += total(sums.landcover_valid);
  totals.vegetation += total(sums.vegetation);
  totals.ndvi_valid += total(sums.ndvi_valid);
  totals.ndvi_green += total(sums.ndvi_green);
  totals.rgb_valid += total(sums.rgb_valid);
  totals.rgb_green += total(sums.rgb_green);
}

std::optional<double> fraction(int64_t part, int64_t whole) {
  return whole > 0 ? std::optional<double>(static_cast<double>(part) / static_cast<double>(whole)) : std::nullopt;
}

AerialSummary summarise(const Sources& sources, const Totals& totals, const PixelSizeM& pixel) {
  AerialSummary summary;
  if (sources.landcover) summary.greenery_landcover = fraction(totals.vegetation, totals.landcover_valid);
  if (sources.spectral) summary.greenery_ndvi = fraction(totals.ndvi_green, totals.ndvi_valid);
  if (sources.rgb) summary.greenery_rgb_index = fraction(totals.rgb_green, totals.rgb_valid);
  if (!sources.roads) return summary;
  summary.road_area_ratio = fraction(totals.road, totals.road_valid);
  summary.road_length_km = totals.road_length_m / 1000.0;
  summary.intersections = totals.junctions;
  summary.dead_ends = totals.ends;
  summary.road_area_km2 = static_cast<double>(totals.road_valid) * pixel.x * pixel.y / 1e6;
  if (summary.road_area_km2 > 0.0) {
    summary.road_length_density = summary.road_length_km / summary.road_area_km2;
    summary.intersection_density = totals.junctions / summary.road_area_km2;
  }
  return summary;
}

Sources open_sources(const AerialInputs& inputs, const RasterInfo& reference) {
  Sources sources;
  if (!inputs.roads_mask.empty()) sources.roads = open_class_source(inputs.roads_mask, inputs.road_classes, "road");
  if (!inputs.landcover_mask.empty()) {
    sources.landcover = open_class_source(inputs.landcover_mask, inputs.vegetation_classes, "vegetation");
  }
  if (!inputs.spectral.empty()) sources.spectral = open_spectral(inputs);
  if (!inputs.rgb.empty()) sources.rgb = open_rgb(inputs);
  for (GDALDataset* dataset : {sources.roads ? sources.roads->dataset.get() : nullptr,
                               sources.landcover ? sources.landcover->dataset.get() : nullptr,
                               sources.spectral ? sources.spectral->dataset.get() : nullptr,
                               sources.rgb ? sources.rgb->dataset.get() : nullptr}) {
    if (dataset != nullptr &&
        (dataset->GetRasterXSize() != reference.width || dataset->GetRasterYSize() != reference.height)) {
      throw Error(std::string(dataset->GetDescription()) + ": is " + std::to_string(dataset->GetRasterXSize()) + "x" +
                  std::to_string(dataset->GetRasterYSize()) + " pixels but '" + reference.path + "' is " +
                  std::to_string(reference.width) + "x" + std::to_string(reference.height) +
                  "; indicator inputs must share one grid");
    }
  }
  return sources;
}

}  // namespace

AerialSummary compute_aerial_indicators(const AerialInputs& inputs, const std::string& grid_path,
                                        const std::string& centrelines_path, const AerialOptions& options) {
  const std::string& reference_path = !inputs.roads_mask.empty()       ? inputs.roads_mask
                                      : !inputs.landcover_mask.empty() ? inputs.landcover_mask
                                      : !inputs.spectral.empty()       ? inputs.spectral
                                                                       : inputs.rgb;
  if (reference_path.empty())
    throw Error(grid_path + ": no roads mask, land-cover mask or spectral image to compute indicators from");
  const RasterInfo reference = read_raster_info(reference_path);
  const CellGrid grid = cell_grid_for_raster(reference, options.cell_size_m);
  const PixelSizeM pixel = *reference.pixel_size_m;
  Sources sources = open_sources(inputs, reference);
  const std::vector<std::string> names = band_names(sources);
  auto writer =
      create_indicator_grid(grid_path, grid.width, grid.height, grid.geotransform, grid.crs_wkt, names, options.output);
  std::unique_ptr<detail::CentrelineWriter> lines;
  if (sources.roads && !centrelines_path.empty()) {
    lines = std::make_unique<detail::CentrelineWriter>(centrelines_path, reference.crs_wkt, *reference.geotransform);
  }
  AerialOptions strip_options = options;
  strip_options.strip_halo_px = std::max(options.strip_halo_px, halo_for_graph(options.graph, pixel));
  const std::vector<Strip> strips = plan_strips(grid, reference.width, reference.height, strip_options);
  Totals totals;
  Sums sums;
  for (const Strip& strip : strips) {
    sums.reset(grid.width, strip.cell_row_end - strip.cell_row_begin);
    if (sources.roads) add_roads(*sources.roads, strip, grid, pixel, strip_options, sums, totals, lines.get());
    if (sources.landcover) add_landcover(*sources.landcover, strip, grid, sums);
    if (sources.spectral) add_ndvi(*sources.spectral, strip, grid, options.ndvi_threshold, sums);
    if (sources.rgb) add_rgb_index(*sources.rgb, strip, grid, sums);
    add_to_totals(sums, totals);
    writer->append_rows(sums.rows, strip_values(sources, sums, pixel, grid).data());
  }
  writer->complete();
  if (lines) lines->commit();
  writer->commit();
  write_indicator_style(grid_path);
  AerialSummary summary = summarise(sources, totals, pixel);
  summary.grid_width = grid.width;
  summary.grid_height = grid.height;
  summary.bands = names;
  summary.strips = static_cast<int>(strips.size());
  return summary;
}

}  // namespace terraseg::geo
