#include "terraseg/geo/predict.hpp"

#include <future>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>

#include "terraseg/core/error.hpp"
#include "terraseg/geo/blend.hpp"
#include "terraseg/geo/raster_io.hpp"
#include "terraseg/geo/tiling.hpp"
#include "predict_internal.hpp"
#include "tile_reader.hpp"

namespace terraseg::geo {
namespace {

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
      band->SetNoDataValue(std::numeric_limits<double>::quiet_NaN());
    }
  }
  return out;
}

void check_scores(const Tensor& scores, int num_classes, int tile, int row, int col, const std::string& path) {
  const Dims expected{1, num_classes, tile, tile};
  if (scores.dims() != expected) {
    throw Error("the model returned " + to_string(scores.dims()) + " scores for window (row " + std::to_string(row) +
                ", col " + std::to_string(col) + ") of '" + path + "'; expected " + to_string(expected) +
                ": check num_classes and that the model keeps the input size");
  }
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

PredictStats predict_on_grid(GDALDataset& input, const std::string& input_path, const PredictOutputs& outputs,
                             const InputSpec& spec, const TileInfer& infer, int num_classes,
                             const std::vector<ClassInfo>& class_table, const PredictOptions& options,
                             const Progress& progress) {
  const RasterInfo info = describe_raster(input, input_path);
  const AxisTiling cols(info.width, options.tile, options.overlap);
  const AxisTiling rows(info.height, options.tile, options.overlap);
  TileReader reader(input, resolve_bands(spec, info, warning_sink(options.warn)), input_path);
  Outputs out = open_outputs(outputs, input, num_classes, class_table, options.output);
  StripBlender blender(num_classes, cols, rows);

  PredictStats stats;
  stats.model_width = info.width;
  stats.model_height = info.height;
  stats.width = info.width;
  stats.height = info.height;
  stats.tiles = static_cast<int64_t>(cols.count()) * rows.count();
  // Window k + 1 is read on a worker thread while the model runs on window k (the input dataset is
  // touched by one thread at a time: the worker reads, the caller waits for it before flushing).
  const int64_t windows = stats.tiles;
  const auto read_window = [&](int64_t k, Window& window) {
    const int r = static_cast<int>(k / cols.count()), c = static_cast<int>(k % cols.count());
    window.valid_pixels = reader.read(cols.origin(c), rows.origin(r), cols.tile(), rows.tile(), window.input, window.valid);
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
      check_scores(tile_scores, num_classes, options.tile, r, c, input_path);
      blender.add(r, c, tile_scores, current.valid);
      ++stats.tiles_inferred;
    }
    if (c + 1 < cols.count()) continue;
    emit_rows(blender, r, out, info.width, num_classes);
    blender.advance();
    // Blocks of rows above the next window row are not read again: drop them from GDAL's cache
    // (after the worker's read of the next window, so the dataset is never used by two threads).
    if (ahead.valid()) ahead.wait();
    input.FlushCache(false);
    if (progress) progress(0.9 * (r + 1) / rows.count());
  }
  out.mask->complete();
  if (out.scores) out.scores->complete();
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
    throw Error("predict: num_classes is " + std::to_string(num_classes) + "; class outputs hold 1..255 classes "
                "(255 is nodata)");
  }
  if (!infer) throw Error("predict: no model callback was given");
  GDALDatasetUniquePtr input = open_raster(input_path);
  if (const auto native = detail::native_grid(describe_raster(*input, input_path), options)) {
    return detail::predict_resampled(*input, input_path, *native, outputs, spec, infer, num_classes, class_table,
                                     options, progress);
  }
  return detail::predict_on_grid(*input, input_path, outputs, spec, infer, num_classes, class_table, options, progress);
}

}  // namespace terraseg::geo
