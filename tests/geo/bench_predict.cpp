// Streaming benchmark for geo::predict_raster: a big raster mosaicked (by VRT, in /tmp) from a small
// real one, a cheap model callback, peak RSS and throughput against the callback alone.
//   terraseg_geo_bench [size=30000] [source=SP27GTIF.TIF] [tile=512] [overlap=64] [scores=0] [overviews=1]
#include <gdal_priv.h>
#include <gdal_vrt.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include "gdal_ok.hpp"
#include "terraseg/geo/predict.hpp"

namespace {

using Clock = std::chrono::steady_clock;

/// Writes an N x N single-band VRT tiling band 1 of `source` and returns its path.
std::string make_mosaic(const std::string& source, int size) {
  GDALAllRegister();
  GDALDatasetUniquePtr src(GDALDataset::Open(source.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  if (!src) throw std::runtime_error("cannot open " + source);
  std::string path = "/tmp/terraseg-bench-" + std::to_string(size) + ".vrt";
  GDALDriver* vrt = GetGDALDriverManager()->GetDriverByName("VRT");
  GDALDatasetUniquePtr mosaic(vrt->Create(path.c_str(), size, size, 1, GDT_Byte, nullptr));
  double gt[6] = {500000.0, 1.0, 0.0, 4000000.0, 0.0, -1.0};
  terraseg::test::gdal_ok(mosaic->SetGeoTransform(gt));
  terraseg::test::gdal_ok(mosaic->SetSpatialRef(src->GetSpatialRef()));
  const int w = src->GetRasterXSize();
  const int h = src->GetRasterYSize();
  for (int y = 0; y < size; y += h) {
    for (int x = 0; x < size; x += w) {
      VRTAddSimpleSource(mosaic->GetRasterBand(1), src->GetRasterBand(1), 0, 0, w, h, x, y, w, h, "near",
                         VRT_NODATA_UNSET);
    }
  }
  return path;
}

/// Cheap local model: two classes from the centre pixel value.
void cheap_model(const terraseg::Tensor& input, terraseg::Tensor& scores) {
  const int64_t plane = input.dim(2) * input.dim(3);
  scores.resize({1, 2, input.dim(2), input.dim(3)});
  const float* in = input.data();
  float* out = scores.data();
  for (int64_t i = 0; i < plane; ++i) {
    out[i] = in[i];
    out[plane + i] = 0.5F;
  }
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

}  // namespace

int main(int argc, char** argv) {
  const int size = argc > 1 ? std::stoi(argv[1]) : 30000;
  const std::string source = argc > 2 ? argv[2] : "/usr/lib/R/site-library/rgdal/pictures/SP27GTIF.TIF";
  terraseg::geo::PredictOptions opt;
  opt.tile_height = opt.tile_width = argc > 3 ? std::stoi(argv[3]) : 512;
  opt.overlap = argc > 4 ? std::stoi(argv[4]) : 64;
  const bool scores = argc > 5 && std::string(argv[5]) == "1";
  opt.output.overviews = !(argc > 6 && std::string(argv[6]) == "0");
  try {
    const std::string input = make_mosaic(source, size);
    const std::filesystem::path out_dir = "/tmp/terraseg-bench-out";
    std::filesystem::create_directories(out_dir);
    const terraseg::geo::PredictOutputs outputs{(out_dir / "mask.tif").string(),
                                                scores ? (out_dir / "scores.tif").string() : ""};
    terraseg::geo::InputSpec spec;
    spec.scale = 1.0 / 255.0;
    const double rss_before = peak_rss_mib();
    const auto t0 = Clock::now();
    const auto stats = terraseg::geo::predict_raster(input, outputs, spec, cheap_model, 2, {}, opt);
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    const double rss_after = peak_rss_mib();

    // The callback alone, on as many windows, for the share of time the model itself takes.
    terraseg::Tensor tile({1, 1, opt.tile_height, opt.tile_width}, 0.25F);
    terraseg::Tensor out;
    const auto t1 = Clock::now();
    for (int64_t i = 0; i < stats.tiles_inferred; ++i) cheap_model(tile, out);
    const double model_seconds = std::chrono::duration<double>(Clock::now() - t1).count();

    const double mpx = static_cast<double>(size) * size / 1e6;
    std::printf("size %dx%d (%.0f Mpx), tile %d overlap %d, scores %s, GDAL cache max %lld MiB\n", size, size, mpx,
                opt.tile_width, opt.overlap, scores ? "yes" : "no", static_cast<long long>(GDALGetCacheMax64() >> 20));
    std::printf("windows %lld (skipped %lld)\n", static_cast<long long>(stats.tiles),
                static_cast<long long>(stats.tiles_skipped));
    std::printf("predict_raster: %.1f s, %.1f Mpx/s (incl. overviews)\n", seconds, mpx / seconds);
    std::printf("callback alone: %.2f s (%.1f%% of predict)\n", model_seconds, 100.0 * model_seconds / seconds);
    std::printf("peak RSS: %.0f MiB before, %.0f MiB after\n", rss_before, rss_after);
    std::printf("output: %.1f MiB\n", static_cast<double>(std::filesystem::file_size(outputs.mask_path)) / (1 << 20));
    std::filesystem::remove_all(out_dir);
    std::filesystem::remove(input);
  } catch (const std::exception& e) {
    std::cerr << "bench failed: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
