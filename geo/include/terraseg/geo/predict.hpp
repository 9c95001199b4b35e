#pragma once
/// Tiled, streamed prediction over a georeferenced raster of any size.
///
/// Typical use (pipeline):
/// ```
/// geo::PredictOptions opt; opt.tile_height = opt.tile_width = 512; opt.overlap = 64;
/// geo::InputSpec spec = geo::input_spec_from_card(card, geo::parse_band_list(bands_flag));
/// geo::predict_raster(input, geo::PredictOutputs{mask_path, scores_path_or_empty}, spec, infer,
///                     num_classes, card.classes, opt, [](double f) { show(f); });
/// ```
#include <array>
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

/// Runs the model on one window. `input_nchw` is 1 x C x H x W, already normalised (C = number of
/// InputSpec bands; H x W the window, see tiling.hpp); the callback must fill `scores_nchw` as
/// 1 x K x H x W (K = num_classes; resizing it is fine). Scores may be logits or probabilities: they
/// are blended linearly and the class is their argmax. May throw; predict_raster then writes nothing.
using TileInfer = std::function<void(const Tensor& input_nchw, Tensor& scores_nchw)>;

/// Called with the fraction done, 0..1, after each row of tiles and at the end. May be empty.
using Progress = std::function<void(double fraction)>;

struct PredictOptions {
  /// Window (height x width) given to the model when the raster does not fit in one; a raster that
  /// fits runs whole, at its own size rounded up to `multiple` (tiling.hpp). Multiples of `multiple`.
  int tile_height = 512;
  int tile_width = 512;
  /// Pixels shared by neighbouring windows (< tile/2): enough for the model's receptive field. The
  /// outer 7/16 at each inner window edge are context only; the middle eighth is blended.
  int overlap = 64;
  /// The model's stride (InputGeometry::multiple): window sizes and origins are multiples of it.
  int multiple = 1;
  /// The model runs at one size only: every window is exactly tile_height x tile_width.
  bool fixed_size = false;
  OutputOptions output;  ///< COG, overviews, block size
  /// Receives warnings (grey input replicated to RGB, assumed band order, value stretch). Empty:
  /// printed to std::clog.
  WarningHook warn;
  /// The ground pixel size the model was trained at (its card's pixel_size_m). When set and the
  /// input's pixel size in metres differs from it by more than `pixel_size_tolerance` (relative), the
  /// model sees the input warped to this pixel size (bilinear when enlarging, average when shrinking)
  /// and its classes (mode / nearest) and scores (bilinear) are warped back onto the input's grid.
  /// Inputs without a pixel size in metres (no CRS) are predicted as they are, with a warning, unless
  /// `input_pixel_size_m` gives theirs.
  std::optional<double> model_pixel_size_m;
  /// Ground pixel size of inputs without a georeference (predict/eval --pixel-size). Ignored, with a
  /// warning when it disagrees, for inputs whose CRS gives their own.
  std::optional<double> input_pixel_size_m;
  double pixel_size_tolerance = 0.15;
  /// How the input is warped to the model's pixel size (gdalwarp's -r names: near, bilinear, cubic,
  /// cubicspline, lanczos, average, rms, mode, min, max, med, q1, q3, sum). Empty: bilinear when
  /// enlarging, average when shrinking. Classes always come back by mode / nearest.
  std::string input_resampling;
  /// Inputs coarser than the model by more than this factor are refused (Error naming the file and the
  /// remedy) rather than enlarged: the detail is not there, and the pixel count would grow with its square.
  double max_enlargement = 8.0;
  /// Raw value range the model's normalisation expects (e.g. 0..255 for an 8-bit model). When set,
  /// inputs of any other data type whose values (min/max of the model's bands; NaN, infinite and nodata
  /// values left out; sampled beyond 16 Mpx) fall outside it are stretched linearly onto it, saying so
  /// through `warn`. Empty: values as they are.
  std::optional<std::array<double, 2>> input_range;
  /// The model, as messages name it (its file); empty: "the model".
  std::string model_name;
  /// Called after each window the model ran on, with that window's input (as `TileInfer` got it),
  /// the scores it returned and its per-pixel validity (H x W, 1 = a real pixel): statistics of what
  /// the model saw (the domain check). Empty: not called.
  std::function<void(const Tensor& input_nchw, const Tensor& scores_nchw, const std::vector<uint8_t>& valid)> observe;
  /// Bytes the prediction may plan for (physical memory, cgroup limit, TERRASEG_MAX_MEMORY_GB): a
  /// grid whose row of windows would need more is refused before anything is allocated. Empty: no check.
  std::optional<double> memory_limit_bytes;
};
/// Throws terraseg::Error naming `flag` unless `name` is one of PredictOptions::input_resampling's.
void check_resampling(const std::string& name, const std::string& flag);

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
  int64_t tiles = 0;           ///< windows in the grid
  int64_t tiles_inferred = 0;  ///< windows given to the model
  int64_t tiles_skipped = 0;   ///< windows without any valid pixel (never given to the model)
  int model_width = 0;         ///< the grid the model saw: the input's, or the resampled one
  int model_height = 0;
  int window_width = 0;  ///< the window given to the model (the whole padded grid when it fits)
  int window_height = 0;
  /// Input pixel size / model pixel size when the input was resampled (e.g. 2.0: the model saw the
  /// input enlarged twice); nullopt when the model saw the input's own grid.
  std::optional<double> resample_ratio;
  /// Pixels of the written mask per value (class ids; 255 = nodata), counted as it was written.
  std::array<int64_t, 256> class_pixels{};
};

/// Predicts `input_path` window by window and writes the outputs on the input's pixel grid (CRS,
/// geotransform, rotation included, and GCPs copied). Memory is bounded by one row of windows:
/// about (tile - overlap/2) x width x num_classes floats plus the output block rows, whatever the
/// height. Pixels where any selected band is nodata, masked, NaN or infinite get class 255 (and NaN
/// scores); windows without valid pixels are skipped. A paletted raster is read as the colours its
/// colour table gives, not as indices (said through options.warn). Scores that are NaN or infinite
/// at a valid pixel are an Error naming the model and the input. Outputs are written to temporary names and renamed at
/// the end: on any error (model, I/O) no file exists under the final names.
///
/// `num_classes` (1..255) is the model's output channel count; `class_table` (e.g. card.classes) gives
/// names and colours and may be empty. Throws terraseg::Error with the file, window and remedy.
PredictStats predict_raster(const std::string& input_path, const PredictOutputs& outputs, const InputSpec& spec,
                            const TileInfer& infer, int num_classes, const std::vector<ClassInfo>& class_table,
                            const PredictOptions& options = {}, const Progress& progress = {});

}  // namespace terraseg::geo
