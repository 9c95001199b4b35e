#include "terraseg/geo/predict.hpp"

#include <algorithm>
#include <cmath>
#include <future>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>

#include "gdal_util.hpp"
#include "palette.hpp"
#include "predict_internal.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/blend.hpp"
#include "terraseg/geo/raster_io.hpp"
#include "terraseg/geo/tiling.hpp"
#include "tile_reader.hpp"

namespace terraseg::geo {
namespace {

std::string format_range(double lo, double hi) {
  std::ostringstream out;
  out << lo << ".." << hi;
  return out.str();
}

WarningHook warning_sink(const WarningHook& hook) {
  if (hook) return hook;
  return [](const std::string& message) { std::clog << "terraseg: warning: " << message << '\n'; };
}

/// The output writers of one prediction and the row buffers they are fed from.
struct Outputs {
  std::unique_ptr<GridWriter> mask;
  std::unique_ptr<GridWriter> scores;
  std::vector<uint8_t> class_rows;
  std::vector<float> score_rows;
};

Outputs open_outputs(const PredictOutputs& paths, GDALDataset& input, int num_classes,
                     const std::vector<ClassInfo>& class_table, const OutputOptions& options) {
  if (paths.mask_path.empty()) throw Error("predict: no output path for the class mask was given");
  Outputs out;
  out.mask = std::make_unique<GridWriter>(paths.mask_path, input, 1, GDT_Byte, "NEAREST", options);
  apply_class_style(*out.mask->dataset().GetRasterBand(1), class_table, num_classes);
  if (!paths.scores_path.empty()) {
    out.scores = std::make_unique<GridWriter>(paths.scores_path, input, num_classes, GDT_Float32, "AVERAGE", options);
    for (int k = 0; k < num_classes; ++k) {
      GDALRasterBand* band = out.scores->dataset().GetRasterBand(k + 1);
      band->SetDescription(class_name(class_table, k).c_str());
      detail::check(band->SetNoDataValue(std::numeric_limits<double>::quiet_NaN()),
                    "setting nodata NaN on the scores' band " + std::to_string(k + 1));
    }
  }
  return out;
}

void check_scores(const Tensor& scores, int num_classes, int height, int width, int row, int col,
                  const std::string& path) {
  const Dims expected{1, num_classes, height, width};
  if (scores.dims() != expected) {
    throw Error("the model returned " + to_string(scores.dims()) + " scores for window (row " + std::to_string(row) +
                ", col " + std::to_string(col) + ") of '" + path + "'; expected " + to_string(expected) +
                ": check num_classes and that the model keeps the input size");
  }
}

/// Scores at valid pixels must be numbers: an argmax over NaN gives class 0 everywhere, a wrong answer
/// that looks like one. Throws Error naming the model, the window and the input.
void check_finite_scores(const Tensor& scores, const std::vector<uint8_t>& valid, int row, int col,
                         const std::string& path, const std::string& model) {
  const size_t plane = valid.size();
  const size_t classes = plane == 0 ? 0 : static_cast<size_t>(scores.size()) / plane;
  int64_t nan = 0, infinite = 0, pixels = 0, valid_pixels = 0;
  for (size_t i = 0; i < plane; ++i) {
    if (valid[i] == 0) continue;
    ++valid_pixels;
    bool bad = false;
    for (size_t k = 0; k < classes; ++k) {
      const float value = scores.data()[k * plane + i];
      if (std::isnan(value)) {
        ++nan, bad = true;
      } else if (std::isinf(value)) {
        ++infinite, bad = true;
      }
    }
    pixels += bad ? 1 : 0;
  }
  if (pixels == 0) return;
  const std::string kind = nan > 0 && infinite > 0 ? "NaN and infinite" : nan > 0 ? "NaN" : "infinite";
  throw Error((model.empty() ? std::string("the model") : "model '" + model + "'") + " gave " + kind + " scores at " +
              std::to_string(pixels) + " of the " + std::to_string(valid_pixels) + " valid pixels of window (row " +
              std::to_string(row) + ", col " + std::to_string(col) + ") of '" + path +
              "': no class can be read from them, so nothing was written. The model is broken (weights that "
              "are NaN or infinite, or that overflow): check it with `terraseg info`, retrain or re-export it");
}

/// Runs the model on window (row, col); rethrows its failure as an Error naming the window.
void run_model(const TileInfer& infer, const Tensor& input, Tensor& scores, int row, int col, const std::string& path) {
  try {
    infer(input, scores);
  } catch (const std::exception& e) {
    throw Error("the model failed on window (row " + std::to_string(row) + ", col " + std::to_string(col) + ") of '" +
                path + "': " + e.what());
  }
}

void emit_rows(StripBlender& blender, int tile_row, Outputs& out, int width, int num_classes) {
  const int count = blender.last_final_row(tile_row) - blender.first_row();
  if (count <= 0) return;
  const size_t pixels = static_cast<size_t>(count) * static_cast<size_t>(width);
  out.class_rows.resize(pixels);
  if (out.scores) out.score_rows.resize(pixels * static_cast<size_t>(num_classes));
  blender.resolve(count, out.class_rows.data(), out.scores ? out.score_rows.data() : nullptr);
  out.mask->append_rows(count, out.class_rows.data());
  if (out.scores) out.scores->append_rows(count, out.score_rows.data());
}

/// One window as read: normalised input, per-pixel validity and the valid-pixel count.
struct Window {
  Tensor input;
  std::vector<uint8_t> valid;
  int64_t valid_pixels = 0;
};

}  // namespace

namespace detail {

namespace {

/// Finite values of the model's bands: their range and how many were NaN or infinite.
struct FiniteRange {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  int64_t non_finite = 0;
};

/// Min/max of band `number` read as the tiles read it (Float32: values beyond its range are infinite),
/// NaN, infinite and nodata values left out: every pixel, or when `approximate` a decimated read of at
/// most 4096 x 4096. Reads blocks of rows, so memory stays small whatever the raster's size.
void add_finite_range(GDALDataset& input, int number, bool approximate, const std::string& path, FiniteRange& range) {
  GDALRasterBand& band = *input.GetRasterBand(number);
  int has_nodata = FALSE;
  const double nodata = band.GetNoDataValue(&has_nodata);
  const int width = input.GetRasterXSize(), height = input.GetRasterYSize();
  const int out_w = approximate ? std::min(width, 4096) : width;
  const int out_h = approximate ? std::min(height, 4096) : height;
  const int rows = std::max(1, static_cast<int>((int64_t{1} << 20) / out_w));
  std::vector<float> values;
  for (int y = 0; y < out_h; y += rows) {
    const int count = std::min(rows, out_h - y);
    values.resize(static_cast<size_t>(count) * static_cast<size_t>(out_w));
    // Source rows of this block of output rows (exact when not decimated).
    const int src_y0 = static_cast<int>(static_cast<int64_t>(y) * height / out_h);
    const int src_y1 = static_cast<int>(static_cast<int64_t>(y + count) * height / out_h);
    if (band.RasterIO(GF_Read, 0, src_y0, width, src_y1 - src_y0, values.data(), out_w, count, GDT_Float32, 0, 0,
                      nullptr) != CE_None) {
      throw Error(path + ": cannot read band " + std::to_string(number) + " to find its value range (" +
                  last_gdal_message() + ")");
    }
    for (float value : values) {
      if (!std::isfinite(value)) {
        ++range.non_finite;
      } else if (has_nodata == FALSE || static_cast<double>(value) != static_cast<double>(static_cast<float>(nodata))) {
        range.lo = std::min(range.lo, static_cast<double>(value));
        range.hi = std::max(range.hi, static_cast<double>(value));
      }
    }
  }
}

}  // namespace

std::optional<ValueStretch> value_stretch(GDALDataset& input, const RasterInfo& info, const BandPlan& bands,
                                          const std::optional<std::array<double, 2>>& range, const WarningHook& warn) {
  if (!range || bands.source_bands.empty()) return std::nullopt;
  const GDALDataType type = input.GetRasterBand(bands.source_bands.front())->GetRasterDataType();
  const bool eight_bit_model = (*range)[0] == 0.0 && (*range)[1] == 255.0;
  if (type == GDT_Byte && eight_bit_model) return std::nullopt;
  // Exact min/max up to 16 Mpx, sampled beyond; unlike statistics neither writes an .aux.xml beside the
  // user's input. Floating-point bands are scanned here so that NaN and infinite values (nodata to the
  // tile reader) stay out of the range; integer bands have none and GDAL finds theirs.
  const bool approximate = static_cast<int64_t>(info.width) * info.height > (int64_t{1} << 24);
  FiniteRange found;
  for (int number : bands.source_bands) {
    GDALRasterBand& band = *input.GetRasterBand(number);
    if (GDALDataTypeIsFloating(band.GetRasterDataType()) != FALSE) {
      add_finite_range(input, number, approximate, info.path, found);
      continue;
    }
    double minmax[2] = {0.0, 0.0};
    if (band.ComputeRasterMinMax(approximate ? TRUE : FALSE, minmax) != CE_None) {
      throw Error(info.path + ": cannot read band " + std::to_string(number) + " to find its value range (" +
                  last_gdal_message() + ")");
    }
    found.lo = std::min(found.lo, minmax[0]);
    found.hi = std::max(found.hi, minmax[1]);
  }
  const double lo = found.lo, hi = found.hi;
  if (found.non_finite > 0) {
    warn(info.path + ": " + std::to_string(found.non_finite) + (approximate ? " sampled" : "") +
         " values of the model's bands are NaN or infinite; those pixels are read as nodata (class 255 in the mask)");
  }
  if (!(lo <= hi)) {
    throw Error(info.path +
                ": the model's bands hold no finite value outside nodata (all NaN, infinite or nodata); "
                "there is no image to segment (check the file and the band selection with --bands)");
  }
  const std::string model_range = format_range((*range)[0], (*range)[1]);
  const std::string kind = GDALGetDataTypeName(type);
  if (lo >= (*range)[0] && hi <= (*range)[1]) {
    warn(info.path + ": " + kind + " values " + format_range(lo, hi) + " lie within the model's input range " +
         model_range + "; used as they are");
    return std::nullopt;
  }
  if (!(hi > lo)) {
    throw Error(info.path + ": the model's bands hold one value only (" + format_range(lo, hi) +
                "); there is no image to segment (check the band selection with --bands)");
  }
  warn(info.path + ": " + kind + " values " + format_range(lo, hi) + " (min/max over the model's bands" +
       (approximate ? ", sampled" : "") + (found.non_finite > 0 ? ", NaN and infinite values left out" : "") +
       ") stretched linearly onto the model's input range " + model_range + " (model card input_range, else 8-bit)");
  return ValueStretch{lo, hi, (*range)[0], (*range)[1]};
}

PredictStats predict_on_grid(GDALDataset& input, const std::string& input_path, const PredictOutputs& outputs,
                             const BandPlan& bands, const TileInfer& infer, int num_classes,
                             const std::vector<ClassInfo>& class_table, const PredictOptions& options,
                             const Progress& progress) {
  const RasterInfo info = describe_raster(input, input_path);
  const AxisTiling cols(info.width, options.tile_width, options.overlap, options.multiple, options.fixed_size);
  const AxisTiling rows(info.height, options.tile_height, options.overlap, options.multiple, options.fixed_size);
  TileReader reader(input, bands, input_path);
  Outputs out = open_outputs(outputs, input, num_classes, class_table, options.output);
  StripBlender blender(num_classes, cols, rows);

  PredictStats stats;
  stats.model_width = info.width;
  stats.model_height = info.height;
  stats.width = info.width;
  stats.height = info.height;
  stats.window_width = cols.window();
  stats.window_height = rows.window();
  stats.tiles = static_cast<int64_t>(cols.count()) * rows.count();
  // Window k + 1 is read on a worker thread while the model runs on window k (the input dataset is
  // touched by one thread at a time: the worker reads, the caller waits for it before flushing).
  const int64_t windows = stats.tiles;
  const auto read_window = [&](int64_t k, Window& window) {
    const int r = static_cast<int>(k / cols.count()), c = static_cast<int>(k % cols.count());
    window.valid_pixels =
        reader.read(cols.origin(c), rows.origin(r), cols.window(), rows.window(), window.input, window.valid);
  };
  Window current, next;
  Tensor tile_scores;
  std::future<void> ahead = std::async(std::launch::async, read_window, int64_t{0}, std::ref(next));
  for (int64_t k = 0; k < windows; ++k) {
    const int r = static_cast<int>(k / cols.count()), c = static_cast<int>(k % cols.count());
    ahead.get();
    std::swap(current, next);
    if (k + 1 < windows) ahead = std::async(std::launch::async, read_window, k + 1, std::ref(next));
    if (current.valid_pixels == 0) {
      ++stats.tiles_skipped;
    } else {
      run_model(infer, current.input, tile_scores, r, c, input_path);
      check_scores(tile_scores, num_classes, rows.window(), cols.window(), r, c, input_path);
      check_finite_scores(tile_scores, current.valid, r, c, input_path, options.model_name);
      if (options.observe) options.observe(current.input, tile_scores, current.valid);
      blender.add(r, c, tile_scores, current.valid);
      ++stats.tiles_inferred;
    }
    if (c + 1 < cols.count()) continue;
    emit_rows(blender, r, out, info.width, num_classes);
    blender.advance(r);
    // Blocks of rows above the next window row are not read again: drop them from GDAL's cache
    // (after the worker's read of the next window, so the dataset is never used by two threads).
    if (ahead.valid()) ahead.wait();
    input.FlushCache(false);
    if (progress) progress(0.9 * (r + 1) / rows.count());
  }
  out.mask->complete();
  if (out.scores) out.scores->complete();
  stats.class_pixels = out.mask->value_counts();
  out.mask->commit();
  if (out.scores) out.scores->commit();
  if (progress) progress(1.0);
  return stats;
}

}  // namespace detail

PredictStats predict_raster(const std::string& input_path, const PredictOutputs& outputs, const InputSpec& spec,
                            const TileInfer& infer, int num_classes, const std::vector<ClassInfo>& class_table,
                            const PredictOptions& options, const Progress& progress) {
  if (num_classes < 1 || num_classes > 255) {
    throw Error("predict: num_classes is " + std::to_string(num_classes) +
                "; class outputs hold 1..255 classes "
                "(255 is nodata)");
  }
  if (!infer) throw Error("predict: no model callback was given");
  const WarningHook warn = warning_sink(options.warn);
  GDALDatasetUniquePtr file = open_raster(input_path);
  // A paletted raster is read through the colours of its table, never as indices.
  GDALDatasetUniquePtr colours = detail::expand_palette(*file, input_path, warn);
  GDALDataset& input = colours ? *colours : *file;
  const RasterInfo info = describe_raster(input, input_path);
  BandPlan bands = resolve_bands(spec, info, warn);
  const std::optional<detail::Grid> native = detail::native_grid(info, options);
  detail::check_strip_memory(info, native, num_classes, options);
  if (const auto stretch = detail::value_stretch(input, info, bands, options.input_range, warn)) {
    apply_stretch(bands, *stretch);
  }
  if (native) {
    return detail::predict_resampled(input, input_path, *native, outputs, bands, infer, num_classes, class_table,
                                     options, progress);
  }
  return detail::predict_on_grid(input, input_path, outputs, bands, infer, num_classes, class_table, options, progress);
}

}  // namespace terraseg::geo
