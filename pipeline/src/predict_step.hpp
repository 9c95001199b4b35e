#pragma once
/// The one place where the engine (core) meets raster streaming (geo): segment one raster file.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "terraseg/core/engine.hpp"
#include "terraseg/core/model_card.hpp"

namespace terraseg {

struct PredictRequest {
  std::string input;                        ///< anything GDAL opens
  std::string mask_path;                    ///< class-id GeoTIFF to write
  /// Float scores GeoTIFF (model logits, blended); empty = none. For a binary model whose card has a
  /// threshold t, the class-0 band is shifted by logit(t) so that argmax applies the threshold.
  std::string logits_path;
  std::string vectors_path;                 ///< GeoPackage polygons; empty = none
  int tile = 512;
  int overlap = 64;
  bool cog = false;
  std::vector<std::string> band_override;   ///< replaces the card's bands (e.g. {"3","2","1"})
  /// Run the model at its card's pixel_size_m (warping in and back) when the input's differs.
  bool resample = true;
};

struct PredictReport {
  int width = 0;
  int height = 0;
  std::string crs_wkt;
  bool georeferenced = false;
  double seconds = 0.0;
  std::map<int, int64_t> class_pixels;      ///< class id -> pixel count (nodata excluded)
  std::optional<double> resample_ratio;     ///< input / model pixel size, when the input was resampled
  int64_t tiles_inferred = 0;               ///< windows given to the model
  std::vector<std::string> warnings;
};

using ProgressFn = std::function<void(double fraction)>;

/// Streams `request.input` through `engine` in tiles and writes the outputs atomically.
/// Throws Error naming the input or output file on failure; no partial file is left behind.
PredictReport predict_file(Engine& engine, const ModelCard& card, const PredictRequest& request,
                           const ProgressFn& progress);

}  // namespace terraseg
