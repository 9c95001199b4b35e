#pragma once
/// Tiled, streamed prediction over a georeferenced raster of any size.
///
/// Typical use (pipeline):
/// ```
/// geo::PredictOptions opt; opt.tile = 512; opt.overlap = 64;
/// geo::InputSpec spec = geo::input_spec_from_card(card, geo::parse_band_list(bands_flag));
/// geo::predict_raster(input, geo::PredictOutputs{mask_path, scores_path_or_empty}, spec, infer,
///                     num_classes, card.classes, opt, [](double f) { show(f); });
/// ```
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "terraseg/core/model_card.hpp"
#include "terraseg/core/tensor.hpp"
#include "terraseg/geo/bands.hpp"
#include "terraseg/geo/writer.hpp"

namespace terraseg::geo {

/// Runs the model on one tile. `input_nchw` is 1 x C x tile x tile, already normalised (C = number of
/// InputSpec bands); the callback must fill `scores_nchw` as 1 x K x tile x tile (K = num_classes;
/// resizing it is fine). Scores may be logits or probabilities: they are blended linearly and the
/// class is their argmax. May throw; predict_raster then writes nothing.
using TileInfer = std::function<void(const Tensor& input_nchw, Tensor& scores_nchw)>;

/// Called with the fraction done, 0..1, after each row of tiles and at the end. May be empty.
using Progress = std::function<void(double fraction)>;

struct PredictOptions {
  int tile = 512;      ///< side of the square window given to the model, pixels
  /// Pixels shared by neighbouring windows (<= tile/2). The outer overlap/4 at each window edge is
  /// context only; the middle overlap/2 is blended with a raised-cosine ramp (see tiling.hpp).
  int overlap = 64;
  OutputOptions output;  ///< COG, overviews, block size
  /// Receives warnings (grey input replicated to RGB, assumed band order). Empty: printed to std::clog.
  WarningHook warn;
  /// The ground pixel size the model was trained at (its card's pixel_size_m). When set and the
  /// input's pixel size in metres differs from it by more than `pixel_size_tolerance` (relative), the
  /// model sees the input warped to this pixel size (bilinear when enlarging, average when shrinking)
  /// and its classes (mode / nearest) and scores (bilinear) are warped back onto the input's grid.
  /// Inputs without a pixel size in metres (no CRS) are predicted as they are, with a warning.
  std::optional<double> model_pixel_size_m;
  double pixel_size_tolerance = 0.15;
  /// Inputs coarser than the model by more than this factor are refused (Error naming the file and the
  /// remedy) rather than enlarged: the detail is not there, and the pixel count would grow with its square.
  double max_enlargement = 8.0;
};

struct PredictOutputs {
  /// Class ids: single-band Byte GeoTIFF, nodata 255, colour table and class names. Required.
  std::string mask_path;
  /// Blended scores: Float32, one band per class (described by class name), NaN where nodata.
  /// Empty: not written.
  std::string scores_path;
};

struct PredictStats {
  int width = 0;
  int height = 0;
  int64_t tiles = 0;          ///< windows in the grid
  int64_t tiles_inferred = 0; ///< windows given to the model
  int64_t tiles_skipped = 0;  ///< windows without any valid pixel (never given to the model)
  int model_width = 0;        ///< the grid the model saw: the input's, or the resampled one
  int model_height = 0;
  /// Input pixel size / model pixel size when the input was resampled (e.g. 2.0: the model saw the
  /// input enlarged twice); nullopt when the model saw the input's own grid.
  std::optional<double> resample_ratio;
};

/// Predicts `input_path` window by window and writes the outputs on the input's pixel grid (CRS,
/// geotransform, rotation included, and GCPs copied). Memory is bounded by one row of windows:
/// about (tile - overlap/2) x width x num_classes floats plus the output block rows, whatever the
/// height. Pixels where any selected band is nodata or masked get class 255; windows without valid
/// pixels are skipped. Outputs are written to temporary names and renamed at the end: on any error
/// (model, I/O) no file exists under the final names.
///
/// `num_classes` (1..255) is the model's output channel count; `class_table` (e.g. card.classes) gives
/// names and colours and may be empty. Throws terraseg::Error with the file, window and remedy.
PredictStats predict_raster(const std::string& input_path, const PredictOutputs& outputs, const InputSpec& spec,
                            const TileInfer& infer, int num_classes, const std::vector<ClassInfo>& class_table,
                            const PredictOptions& options = {}, const Progress& progress = {});

}  // namespace terraseg::geo
