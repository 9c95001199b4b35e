// libFuzzer target for predict's raster path: any bytes, opened by GDAL as a file (GeoTIFF, PNG, JPEG,
// whatever its drivers recognise), either give a class mask through predict_raster's reading, band
// mapping, value stretch, tiling and writing, or raise terraseg::Error. Nothing else may escape, crash
// or trip a sanitizer. Seeds: small rasters (tests/fuzz/raster-corpus, made by scripts/fuzz.sh).
#include <gdal_priv.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "terraseg/core/error.hpp"
#include "terraseg/geo/predict.hpp"

namespace {

/// A stand-in model: class scores from the channel means, so every value read reaches the output.
void mean_model(const terraseg::Tensor& input, terraseg::Tensor& scores) {
  const int64_t channels = input.dim(1), plane = input.dim(2) * input.dim(3);
  scores.resize({1, 2, input.dim(2), input.dim(3)});
  for (int64_t p = 0; p < plane; ++p) {
    float sum = 0.0F;
    for (int64_t c = 0; c < channels; ++c) sum += input.data()[c * plane + p];
    scores.data()[p] = sum;
    scores.data()[plane + p] = -sum;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool registered = [] {
    GDALAllRegister();
    CPLSetConfigOption("CPL_LOG", "/dev/null");
    CPLSetErrorHandler(CPLQuietErrorHandler);
    return true;
  }();
  (void)registered;
  const std::string input = "/vsimem/fuzz-raster/input";
  VSIFCloseL(VSIFileFromMemBuffer(input.c_str(), const_cast<GByte*>(data), static_cast<vsi_l_offset>(size), FALSE));
  {
    // Header-declared sizes are the attacker's: keep each run to a small raster so the fuzzer
    // explores formats, not huge allocations GDAL would make on its own.
    GDALDatasetUniquePtr probe(GDALDataset::Open(input.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
    const bool small = probe && probe->GetRasterCount() <= 8 &&
                       static_cast<int64_t>(probe->GetRasterXSize()) * probe->GetRasterYSize() <= int64_t{512} * 512;
    if (small) {
      terraseg::geo::PredictOptions options;
      options.tile_height = options.tile_width = 64;
      options.overlap = 8;
      options.multiple = 8;
      options.input_range = std::array<double, 2>{0.0, 255.0};
      options.output.overviews = false;
      options.warn = [](const std::string&) {};
      terraseg::geo::InputSpec spec;
      spec.bands = {"red", "green", "blue"};
      try {
        terraseg::geo::predict_raster(input, {"/vsimem/fuzz-raster/mask.tif", "/vsimem/fuzz-raster/scores.tif"}, spec,
                                      mean_model, 2, {}, options);
      } catch (const terraseg::Error&) {
        // Refused with a message: the expected outcome for most inputs.
      }
    }
  }
  VSIRmdirRecursive("/vsimem/fuzz-raster");
  return 0;
}
