// Prediction at the model's native pixel size: the input is seen through a warped VRT on a grid of the
// model's pixel size (same CRS, same origin and orientation), the model runs there, and the class and
// score rasters are warped back onto the input's own grid. Nothing is loaded whole: both warps are
// GDAL warped VRTs read window by window.
#include <gdalwarper.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>

#include "gdal_util.hpp"
#include "predict_internal.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/writer.hpp"

namespace terraseg::geo::detail {
namespace {

namespace fs = std::filesystem;

struct WarpOptionsDeleter {
  void operator()(GDALWarpOptions* options) const { GDALDestroyWarpOptions(options); }
};

struct NamedAlgorithm {
  const char* name;
  GDALResampleAlg algorithm;
};
constexpr NamedAlgorithm kResampling[] = {{"near", GRA_NearestNeighbour},
                                          {"bilinear", GRA_Bilinear},
                                          {"cubic", GRA_Cubic},
                                          {"cubicspline", GRA_CubicSpline},
                                          {"lanczos", GRA_Lanczos},
                                          {"average", GRA_Average},
                                          {"rms", GRA_RMS},
                                          {"mode", GRA_Mode},
                                          {"min", GRA_Min},
                                          {"max", GRA_Max},
                                          {"med", GRA_Med},
                                          {"q1", GRA_Q1},
                                          {"q3", GRA_Q3},
                                          {"sum", GRA_Sum}};

std::optional<GDALResampleAlg> find_resampling(const std::string& name) {
  for (const NamedAlgorithm& entry : kResampling) {
    if (name == entry.name) return entry.algorithm;
  }
  return std::nullopt;
}

std::string format_metres(double m) {
  std::ostringstream out;
  out.precision(3);
  out << m << " m";
  return out.str();
}

/// A factor or a size, 3 significant digits ("2e+09", "0.5").
std::string format_factor(double value) {
  std::ostringstream out;
  out.precision(3);
  out << value;
  return out.str();
}

/// Before each chunk is warped: NaN and infinite source pixels (and values beyond float's range, which
/// the tile reader sees as infinite) become invalid in the chunk's unified validity mask, so that
/// resampling leaves them out instead of spreading them into their neighbours (GDAL's nodata masks,
/// computed before, only know one nodata value per band).
CPLErr mask_non_finite(void* kernel_arg, void*) {
  GDALWarpKernel& kernel = *static_cast<GDALWarpKernel*>(kernel_arg);
  const GDALDataType type = kernel.eWorkingDataType;
  if ((type != GDT_Float32 && type != GDT_Float64) || kernel.nBands < 1) return CE_None;
  const size_t pixels = static_cast<size_t>(kernel.nSrcXSize) * static_cast<size_t>(kernel.nSrcYSize);
  const auto finite = [&](int band, size_t i) {
    const double value = type == GDT_Float32 ? reinterpret_cast<const float*>(kernel.papabySrcImage[band])[i]
                                             : reinterpret_cast<const double*>(kernel.papabySrcImage[band])[i];
    return std::isfinite(static_cast<float>(value));
  };
  const size_t words = (pixels + WARP_EXTRA_ELTS + 31) / 32;
  bool any = false;
  for (size_t i = 0; i < pixels && !any; ++i) {
    for (int b = 0; b < kernel.nBands && !any; ++b) any = !finite(b, i);
  }
  if (!any) return CE_None;
  // The unified mask (GDAL frees it with the chunk): a pixel is invalid in every band when any band is
  // not finite there, as the tile reader has it, and a model pixel centred on it stays nodata.
  if (kernel.panUnifiedSrcValid == nullptr) {
    kernel.panUnifiedSrcValid = static_cast<GUInt32*>(CPLMalloc(words * sizeof(GUInt32)));
    std::memset(kernel.panUnifiedSrcValid, 0xff, words * sizeof(GUInt32));
  }
  for (size_t i = 0; i < pixels; ++i) {
    bool ok = true;
    for (int b = 0; b < kernel.nBands && ok; ++b) ok = finite(b, i);
    if (!ok) kernel.panUnifiedSrcValid[i >> 5] &= ~(GUInt32{1} << (i & 31));
  }
  return CE_None;
}

/// `src` (whose pixels lie at `src_gt`: its own geotransform, or one assumed for an input without
/// georeference) seen on the grid (width x height, dst_gt) of its own CRS: a warped VRT read on demand. The
/// VRT keeps a reference to `src`, so it must be destroyed first. Nodata values of the source bands
/// are honoured and carried over; areas outside the source are nodata where the source has one.
GDALDatasetUniquePtr warped_view(GDALDataset& src, const std::string& name, const GeoTransform& src_gt, int width,
                                 int height, const GeoTransform& dst_gt, GDALResampleAlg alg) {
  const int bands = src.GetRasterCount();
  std::unique_ptr<GDALWarpOptions, WarpOptionsDeleter> wo(GDALCreateWarpOptions());
  wo->hSrcDS = GDALDataset::ToHandle(&src);
  wo->eResampleAlg = alg;
  wo->nBandCount = bands;
  wo->panSrcBands = static_cast<int*>(CPLMalloc(sizeof(int) * static_cast<size_t>(bands)));
  wo->panDstBands = static_cast<int*>(CPLMalloc(sizeof(int) * static_cast<size_t>(bands)));
  std::vector<std::optional<double>> nodata(static_cast<size_t>(bands));
  std::optional<double> first_nodata;
  bool floating = false;
  for (int b = 1; b <= bands; ++b) {
    wo->panSrcBands[b - 1] = b;
    wo->panDstBands[b - 1] = b;
    GDALRasterBand& band = *src.GetRasterBand(b);
    int has = FALSE;
    const double value = band.GetNoDataValue(&has);
    if (has != FALSE) nodata[static_cast<size_t>(b - 1)] = value;
    if (GDALDataTypeIsFloating(band.GetRasterDataType()) != FALSE) {
      floating = true;
      // NaN is the nodata of a float band without one: pixels with nothing valid under them stay NaN
      // (the tile reader's nodata) rather than 0, a value the model would read.
      if (has == FALSE) nodata[static_cast<size_t>(b - 1)] = std::numeric_limits<double>::quiet_NaN();
    }
    if (nodata[static_cast<size_t>(b - 1)] && !first_nodata) first_nodata = nodata[static_cast<size_t>(b - 1)];
  }
  if (floating) wo->pfnPreWarpChunkProcessor = mask_non_finite;  // infinite values too, not just NaN
  if (first_nodata) {
    wo->padfSrcNoDataReal = static_cast<double*>(CPLMalloc(sizeof(double) * static_cast<size_t>(bands)));
    wo->padfDstNoDataReal = static_cast<double*>(CPLMalloc(sizeof(double) * static_cast<size_t>(bands)));
    for (int b = 0; b < bands; ++b) {
      wo->padfSrcNoDataReal[b] = wo->padfDstNoDataReal[b] = nodata[static_cast<size_t>(b)].value_or(*first_nodata);
    }
    wo->papszWarpOptions = CSLSetNameValue(wo->papszWarpOptions, "INIT_DEST", "NO_DATA");
  } else {
    wo->papszWarpOptions = CSLSetNameValue(wo->papszWarpOptions, "INIT_DEST", "0");
  }
  const char* wkt = src.GetProjectionRef();
  void* transformer = GDALCreateGenImgProjTransformer3(wkt, src_gt.data(), wkt, dst_gt.data());
  if (transformer == nullptr)
    throw Error(name + ": cannot set up the resampling transform (" + last_gdal_message() + ")");
  wo->pfnTransformer = GDALGenImgProjTransform;
  wo->pTransformerArg = transformer;  // owned by the warped VRT from here on
  GeoTransform gt = dst_gt;
  GDALDatasetH vrt = GDALCreateWarpedVRT(wo->hSrcDS, width, height, gt.data(), wo.get());
  if (vrt == nullptr) {
    GDALDestroyGenImgProjTransformer(transformer);
    throw Error(name + ": GDAL cannot resample this raster (" + last_gdal_message() + ")");
  }
  GDALDatasetUniquePtr view(GDALDataset::FromHandle(vrt));
  check(view->SetProjection(wkt), name + ": setting the resampled view's CRS");
  for (int b = 1; b <= bands; ++b) {
    GDALRasterBand* from = src.GetRasterBand(b);
    GDALRasterBand* to = view->GetRasterBand(b);
    check(to->SetColorInterpretation(from->GetColorInterpretation()),
          name + ": keeping band " + std::to_string(b) + "'s colour interpretation");
    to->SetDescription(from->GetDescription());
    if (first_nodata) {
      check(to->SetNoDataValue(wo->padfDstNoDataReal[b - 1]),
            name + ": keeping band " + std::to_string(b) + "'s nodata");
    }
  }
  return view;
}

/// Streams every row of `view` into `writer` (band-sequential blocks of rows).
void copy_rows(GDALDataset& view, GridWriter& writer, GDALDataType type, const std::string& name) {
  const int width = view.GetRasterXSize(), height = view.GetRasterYSize(), bands = view.GetRasterCount();
  const int rows = 256;
  const int type_size = GDALGetDataTypeSizeBytes(type);
  std::vector<unsigned char> buffer(static_cast<size_t>(rows) * static_cast<size_t>(width) *
                                    static_cast<size_t>(bands) * static_cast<size_t>(type_size));
  for (int y = 0; y < height; y += rows) {
    const int count = std::min(rows, height - y);
    check(
        view.RasterIO(GF_Read, 0, y, width, count, buffer.data(), width, count, type, bands, nullptr, 0, 0, 0, nullptr),
        name + ": warping the result back to the input grid (rows " + std::to_string(y) + ")");
    writer.append_rows(count, buffer.data());
    view.FlushCache(false);
  }
}

/// A directory beside `near` for the native-grid results; removed with everything in it when done.
/// GDAL's file API, so that it works beside /vsimem/ outputs too.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& near) {
    static std::atomic<int> counter{0};
    // A bare file name ("out.tif") lies in the working directory: name it so, since GDAL's recursive
    // mkdir cannot create a path whose parent is "".
    const fs::path beside = fs::path(near).has_parent_path() ? fs::path(near) : fs::path(".") / near;
    path_ = beside.string() + ".native-" + process_token() + "-" + std::to_string(counter++);
    if (VSIMkdirRecursive(path_.c_str(), 0755) != 0) {
      throw Error("cannot create the scratch directory '" + path_.string() + "' beside the output: check permissions");
    }
  }
  ~ScratchDir() { VSIRmdirRecursive(path_.c_str()); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ScratchDir(ScratchDir&&) = delete;
  ScratchDir& operator=(ScratchDir&&) = delete;
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

}  // namespace

std::optional<Grid> native_grid(const RasterInfo& info, const PredictOptions& options) {
  if (!options.model_pixel_size_m || !(*options.model_pixel_size_m > 0.0)) return std::nullopt;
  const double model = *options.model_pixel_size_m;
  std::optional<PixelSizeM> pixel = info.geotransform ? info.pixel_size_m : std::nullopt;
  const bool stated = !pixel && options.input_pixel_size_m;  // the pixel size is the user's --pixel-size
  const double tol = options.pixel_size_tolerance;
  if (options.input_pixel_size_m && pixel && options.warn &&
      std::abs(pixel->x / *options.input_pixel_size_m - 1.0) > tol) {
    options.warn(info.path + ": its CRS gives " + format_metres(pixel->x) + " pixels; the stated pixel size of " +
                 format_metres(*options.input_pixel_size_m) + " is ignored for it");
  }
  if (!pixel && options.input_pixel_size_m)
    pixel = PixelSizeM{*options.input_pixel_size_m, *options.input_pixel_size_m};
  if (!pixel) {
    if (options.warn) {
      options.warn(info.path + ": the model works at " + format_metres(model) +
                   " pixels but this raster's pixel size "
                   "in metres is unknown (no CRS or geotransform); it is predicted at its own pixel size (give it "
                   "with --pixel-size to have it resampled)");
    }
    return std::nullopt;
  }
  Grid grid;
  grid.ratio_x = pixel->x / model;
  grid.ratio_y = pixel->y / model;
  // Every size below is checked before anything is allocated or warped: a georeference that says
  // absurd pixels would otherwise give a grid of no pixel, or of billions.
  const std::string way_out =
      stated ? "check --pixel-size (the ground size of one input pixel, in metres), or predict at the input's own "
               "pixel size with --no-resample (config tiling.resample: false)"
             : "fix its georeference (gdal_edit.py -tr for the pixel size, -a_srs for the CRS; or remove it with "
               "gdal_edit.py -unsetgt -unsetsrs and state the pixel size with --pixel-size), or predict at the "
               "input's own pixel size with --no-resample (config tiling.resample: false)";
  const std::string says = stated ? "--pixel-size gives" : "its georeference gives";
  if (!std::isfinite(grid.ratio_x) || !std::isfinite(grid.ratio_y) || !(grid.ratio_x > 0.0) || !(grid.ratio_y > 0.0)) {
    throw Error(info.path + ": " + says + " pixels of " + format_metres(pixel->x) + " x " + format_metres(pixel->y) +
                ", which cannot be resampled to the " + format_metres(model) + " the model works at; " + way_out);
  }
  if (std::abs(grid.ratio_x - 1.0) <= tol && std::abs(grid.ratio_y - 1.0) <= tol) return std::nullopt;
  const double enlargement = std::max(grid.ratio_x, grid.ratio_y);
  if (enlargement > options.max_enlargement) {
    throw Error(info.path + ": its pixels (" + format_metres(pixel->x) + ") are " + format_factor(enlargement) +
                "x coarser than the " + format_metres(model) +
                " the model works at; enlarging that far cannot add "
                "the detail the model needs. Use imagery nearer " +
                format_metres(model) +
                ", or predict at the "
                "input's own pixel size (config tiling.resample: false, or --no-resample)" +
                (enlargement > 1000.0 ? std::string("; if its pixels are not that coarse, the pixel size is wrong: ") +
                                            (stated ? "check --pixel-size"
                                                    : "fix its georeference (gdal_edit.py -tr, "
                                                      "-a_srs) or state it with --pixel-size")
                                      : std::string()));
  }
  const double exact_width = info.width * grid.ratio_x, exact_height = info.height * grid.ratio_y;
  if (exact_width < 1.0 || exact_height < 1.0) {
    throw Error(info.path + ": " + says + " pixels of " + format_metres(pixel->x) + " x " + format_metres(pixel->y) +
                "; at the " + format_metres(model) + " the model works at, its " + std::to_string(info.width) + " x " +
                std::to_string(info.height) + " pixels would be " + format_factor(exact_width) + " x " +
                format_factor(exact_height) +
                " pixels, less than one: nothing would be predicted. The pixel size is "
                "likely wrong; " +
                way_out);
  }
  // An input without a georeference is taken as north-up pixels of the stated size from (0, 0).
  grid.input_gt = info.geotransform && info.pixel_size_m ? *info.geotransform
                                                         : GeoTransform{0.0, pixel->x, 0.0, 0.0, 0.0, -pixel->y};
  const GeoTransform& gt = grid.input_gt;
  grid.gt = {gt[0], gt[1] / grid.ratio_x, gt[2] / grid.ratio_y, gt[3], gt[4] / grid.ratio_x, gt[5] / grid.ratio_y};
  const double width = std::ceil(exact_width - 1e-6), height = std::ceil(exact_height - 1e-6);
  if (width > std::numeric_limits<int>::max() / 2.0 || height > std::numeric_limits<int>::max() / 2.0) {
    throw Error(info.path + ": at the model's " + format_metres(model) + " pixels this raster would be " +
                format_factor(width) + " x " + format_factor(height) +
                " pixels; crop it (area of interest) or "
                "split it first");
  }
  grid.width = std::max(1, static_cast<int>(width));
  grid.height = std::max(1, static_cast<int>(height));
  if (options.warn && enlargement > 3.0) {
    options.warn(info.path + ": pixels of " + format_metres(pixel->x) + " are over 3x coarser than the " +
                 format_metres(model) +
                 " the model works at; they are enlarged to that size, but detail the model "
                 "relies on is not in the image: expect poor results");
  }
  return grid;
}

void check_strip_memory(const RasterInfo& info, const std::optional<Grid>& native, int num_classes,
                        const PredictOptions& options) {
  if (!options.memory_limit_bytes) return;
  const double width = native ? native->width : info.width;
  const double height = native ? native->height : info.height;
  // The blender keeps a row of windows across the grid: scores of every class and a validity byte.
  const double rows = std::min<double>(height, options.tile_height);
  const double needed = width * rows * (4.0 * num_classes + 1.0);
  if (needed <= 0.8 * *options.memory_limit_bytes) return;
  std::ostringstream gb;
  gb.precision(3);
  gb << needed / double(int64_t{1} << 30) << " GB, more than the "
     << *options.memory_limit_bytes / double(int64_t{1} << 30) << " GB this process may use";
  if (native) {
    throw Error(
        info.path + ": at the " + format_metres(*options.model_pixel_size_m) + " pixels the model works at, " +
        "this raster would be " + format_factor(width) + " x " + format_factor(height) + " pixels (its own are " +
        format_metres(*options.model_pixel_size_m * native->ratio_x) + "); a row of windows across it needs about " +
        gb.str() + ". Crop it (area of interest) or split it, " +
        "or predict at its own pixel size with --no-resample (config tiling.resample: false); if its pixel size "
        "is wrong, fix its georeference (gdal_edit.py -tr) or state it with --pixel-size");
  }
  throw Error(info.path + ": a row of windows across its " + format_factor(width) + " pixels needs about " + gb.str() +
              "; crop it (area of interest), split it, or give a smaller tile (--tile, tiling.tile)");
}

PredictStats predict_resampled(GDALDataset& input, const std::string& input_path, const Grid& native,
                               const PredictOutputs& outputs, const BandPlan& bands, const TileInfer& infer,
                               int num_classes, const std::vector<ClassInfo>& class_table,
                               const PredictOptions& options, const Progress& progress) {
  const bool enlarging = native.ratio_x * native.ratio_y > 1.0;
  ScratchDir scratch(outputs.mask_path);
  const PredictOutputs on_native{scratch / "classes.tif", outputs.scores_path.empty() ? "" : scratch / "scores.tif"};
  PredictStats stats;
  {
    const GDALResampleAlg input_algorithm = options.input_resampling.empty()
                                                ? (enlarging ? GRA_Bilinear : GRA_Average)
                                                : find_resampling(options.input_resampling).value_or(GRA_Bilinear);
    GDALDatasetUniquePtr view =
        warped_view(input, input_path, native.input_gt, native.width, native.height, native.gt, input_algorithm);
    PredictOptions native_options = options;
    native_options.output = OutputOptions{false, false, options.output.block_size, {}};  // scratch: defaults
    const Progress scaled = [&progress](double f) {
      if (progress) progress(0.85 * f);
    };
    stats =
        predict_on_grid(*view, input_path, on_native, bands, infer, num_classes, class_table, native_options, scaled);
  }
  // Back onto the input grid: the majority class when the input pixel covers several model pixels,
  // the nearest otherwise; scores are interpolated.
  const GeoTransform& input_gt = native.input_gt;
  const int width = input.GetRasterXSize(), height = input.GetRasterYSize();
  GDALDatasetUniquePtr classes = open_raster(on_native.mask_path);
  GDALDatasetUniquePtr class_view = warped_view(*classes, input_path, native.gt, width, height, input_gt,
                                                enlarging ? GRA_Mode : GRA_NearestNeighbour);
  GridWriter mask(outputs.mask_path, input, 1, GDT_Byte, "NEAREST", options.output);
  apply_class_style(*mask.dataset().GetRasterBand(1), class_table, num_classes);
  copy_rows(*class_view, mask, GDT_Byte, input_path);
  std::unique_ptr<GridWriter> scores;
  if (!outputs.scores_path.empty()) {
    GDALDatasetUniquePtr native_scores = open_raster(on_native.scores_path);
    GDALDatasetUniquePtr score_view =
        warped_view(*native_scores, input_path, native.gt, width, height, input_gt, GRA_Bilinear);
    scores =
        std::make_unique<GridWriter>(outputs.scores_path, input, num_classes, GDT_Float32, "AVERAGE", options.output);
    for (int k = 1; k <= num_classes; ++k) {
      GDALRasterBand* band = scores->dataset().GetRasterBand(k);
      band->SetDescription(native_scores->GetRasterBand(k)->GetDescription());
      check(band->SetNoDataValue(std::numeric_limits<double>::quiet_NaN()),
            "setting nodata NaN on the scores' band " + std::to_string(k));
    }
    copy_rows(*score_view, *scores, GDT_Float32, input_path);
  }
  if (progress) progress(0.95);
  mask.complete();
  if (scores) scores->complete();
  stats.class_pixels = mask.value_counts();  // the mask on the input grid, not the model's
  mask.commit();
  if (scores) scores->commit();
  if (progress) progress(1.0);
  stats.width = width;
  stats.height = height;
  stats.resample_ratio = std::sqrt(native.ratio_x * native.ratio_y);
  return stats;
}

}  // namespace terraseg::geo::detail

namespace terraseg::geo {

void check_resampling(const std::string& name, const std::string& flag) {
  if (detail::find_resampling(name)) return;
  std::string known;
  for (const auto& entry : detail::kResampling) known += std::string(known.empty() ? "" : ", ") + entry.name;
  throw Error(flag + " '" + name + "': not a resampling method; use one of " + known);
}

}  // namespace terraseg::geo
