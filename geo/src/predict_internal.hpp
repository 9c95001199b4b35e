#pragma once
/// Private pieces of predict_raster: prediction on a dataset's own grid, and the resampled path that
/// runs it on the model's native pixel size and warps the results back.
#include <gdal_priv.h>

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "terraseg/geo/predict.hpp"
#include "terraseg/geo/raster_io.hpp"

namespace terraseg::geo::detail {

/// A pixel grid in the input's CRS: size and geotransform.
struct Grid {
  int width = 0;
  int height = 0;
  GeoTransform gt{};
  GeoTransform input_gt{};  ///< the input's geotransform, or the one assumed from a stated pixel size
  double ratio_x = 1.0;     ///< input pixel size / grid pixel size, along columns
  double ratio_y = 1.0;     ///< ... along rows
};

/// The stretch that brings `input`'s values onto the model's input `range` (nullopt: none needed, or
/// no range given); says which through `warn`.
std::optional<ValueStretch> value_stretch(GDALDataset& input, const RasterInfo& info, const BandPlan& bands,
                                          const std::optional<std::array<double, 2>>& range, const WarningHook& warn);

/// Predicts on `input`'s own grid (`input_path` names it in messages), reading the channels `bands`
/// (resolved against the input, stretch included).
PredictStats predict_on_grid(GDALDataset& input, const std::string& input_path, const PredictOutputs& outputs,
                             const BandPlan& bands, const TileInfer& infer, int num_classes,
                             const std::vector<ClassInfo>& class_table, const PredictOptions& options,
                             const Progress& progress);

/// The grid at the model's pixel size covering the input, or nullopt when the input is to be used as
/// it is (no model pixel size, within tolerance, or no pixel size in metres — the latter warns). Throws
/// Error naming the input, its pixel size, the model's and the ways out (fix the georeference,
/// --pixel-size, --no-resample) when the pixel size is not a positive number, when the grid would be
/// less than one pixel, more than 8x enlarged, or beyond the int range — before anything is allocated.
std::optional<Grid> native_grid(const RasterInfo& info, const PredictOptions& options);

/// Refuses, before anything is allocated, a grid (the input's, or `native` when resampled) whose row of
/// windows would need more than options.memory_limit_bytes; the Error names the input, the pixel sizes
/// and the ways out.
void check_strip_memory(const RasterInfo& info, const std::optional<Grid>& native, int num_classes,
                        const PredictOptions& options);

/// Warps `input` onto `native`, predicts there (outputs in a temporary directory beside the mask)
/// and warps the classes and scores back onto the input's grid under the final output names.
PredictStats predict_resampled(GDALDataset& input, const std::string& input_path, const Grid& native,
                               const PredictOutputs& outputs, const BandPlan& bands, const TileInfer& infer,
                               int num_classes, const std::vector<ClassInfo>& class_table,
                               const PredictOptions& options, const Progress& progress);

}  // namespace terraseg::geo::detail
