#pragma once
/// The one place where the engine (core) meets raster streaming (geo): segment one raster file.
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "terraseg/core/domain.hpp"
#include "terraseg/core/engine.hpp"
#include "terraseg/core/input_geometry.hpp"
#include "terraseg/core/model_card.hpp"

namespace terraseg {

struct PredictRequest {
  std::string input;      ///< anything GDAL opens
  std::string mask_path;  ///< class-id GeoTIFF to write
  /// Float scores GeoTIFF (model logits, blended); empty = none. For a binary model whose card has a
  /// threshold t, the class-0 band is shifted by logit(t) so that argmax applies the threshold.
  std::string logits_path;
  std::string vectors_path;  ///< GeoPackage polygons; empty = none
  /// Window (height, width) for rasters that do not fit in one, and the overlap between windows, as the
  /// config or the command line gave them; unset: the model card's, else 512 and 64 (resolve_tiling).
  std::optional<std::array<int, 2>> tile;
  std::optional<int> overlap;
  /// Where tile / overlap came from, for errors: "--tile", "configs/x.yaml: key 'tiling.tile'".
  std::string tile_source = "--tile";
  std::string overlap_source = "--overlap";
  /// Ground pixel size of an input without a georeference (--pixel-size); unset: unknown.
  std::optional<double> pixel_size_m;
  bool cog = false;
  bool overviews = true;                      ///< internal overviews in the outputs
  std::vector<std::string> creation_options;  ///< GDAL -co NAME=VALUE for the rasters written
  std::string resampling;                     ///< -r: input warp to the model's pixel size; "" = automatic
  std::vector<std::string> band_override;     ///< replaces the card's bands (e.g. {"3","2","1"})
  /// Run the model at its card's pixel_size_m (warping in and back) when the input's differs.
  bool resample = true;
  /// Passes per window (inference_passes.hpp): replace the card's inference_scales / inference_flip.
  std::optional<std::vector<double>> scales;
  std::optional<bool> flip;
  std::string scales_source = "--scales";  ///< for errors, as tile_source
};

struct PredictReport {
  int width = 0;
  int height = 0;
  std::string crs_wkt;
  bool georeferenced = false;
  double seconds = 0.0;
  std::map<int, int64_t> class_pixels;  ///< class id -> pixel count (nodata excluded)
  /// The class table the outputs carry: the card's, completed (complete_class_table) to the model's
  /// output channels. Summaries and STAC Items name classes from it, as the mask does.
  std::vector<ClassInfo> classes;
  std::optional<double> resample_ratio;  ///< input / model pixel size, when the input was resampled
  int64_t tiles_inferred = 0;            ///< windows given to the model
  std::array<int, 2> window{0, 0};       ///< the window the model saw (height, width)
  int overlap = 0;                       ///< overlap between windows, pixels
  std::string passes;                    ///< scales (and flip) each window ran at: "1", "1, 1.5 + flip"
  std::string precision;                 ///< what the engine ran in: "f32" or "bf16"
  std::string plan;                      ///< its layout/convolution choice and how it was made
  int emulated_bf16_convolutions = 0;    ///< bf16: convolutions run as f32 (no native bf16 kernel)
  /// How unlike the model's training imagery this input is (domain.hpp); empty when the card has no
  /// training_domain. Above kDomainShiftWarning a warning saying so is among `warnings`.
  std::optional<DomainShift> domain;
  std::vector<std::string> warnings;
};

using ProgressFn = std::function<void(double fraction)>;

/// How a model is fed: the window for rasters that do not fit in one, the overlap, the stride multiple
/// and whether the model only runs at one size. Precedence: the command line or config (request),
/// then the model card, then 512 / 64; a model with a fixed input size always gets that size.
struct TilingPlan {
  std::array<int, 2> tile{512, 512};  ///< height, width
  int overlap = 64;
  int multiple = 1;
  bool fixed_size = false;
  std::string tile_from;  ///< "card", "config", "flag", "default" or "fixed input size"
  std::string overlap_from;
};

/// For a binary model whose card has a threshold t on P(class 1): logit(t), added to the class-0
/// score so that the argmax applies the threshold (0 otherwise).
float threshold_logit_shift(const ModelCard& card, int classes);

/// The warning for several inputs whose domain_shift median is above kDomainShiftWarning: `inputs`
/// names them ("the 12 inputs", "the 4 inputs of region 'x' (roads)"), `model` the model.
std::string domain_summary_warning(const DomainShiftSummary& summary, const std::string& model,
                                   const std::string& inputs);

/// "512" or "512x1024" (height x width) as a tile size; throws Error naming `source` otherwise.
std::array<int, 2> parse_tile_size(const std::string& text, const std::string& source);

/// Resolves the tiling for a model (its card and input geometry) and the request's overrides. Throws
/// Error naming the flag or config key when a tile is below the model's minimum (its stride), differs
/// from a fixed-size model's input size, or is not more than twice the overlap. A tile that is not a
/// multiple of the stride is rounded down to one, with a warning through `warn`.
TilingPlan resolve_tiling(const ModelCard& card, const InputGeometry& geometry, const PredictRequest& request,
                          const std::function<void(const std::string&)>& warn = {});

/// The one inference path of predict, run, eval and the street-view step: streams `request.input`
/// through `engine` (whole when it fits in one window, else in blended tiles; at the card's pixel
/// size; non-8-bit values stretched onto the card's input range; palettes read as their colours; NaN
/// and infinite values as nodata) and writes the outputs atomically. Throws Error naming the input or
/// output file on failure (NaN or infinite scores: naming the model file too); no partial file is
/// left behind.
PredictReport predict_file(Engine& engine, const ModelCard& card, const PredictRequest& request,
                           const ProgressFn& progress);

}  // namespace terraseg
