// Deepness runs terraseg models as terraseg does (issue 32): each shipped model, exported with
// `terraseg export --for deepness`, is run the way the QGIS Deepness plugin runs a Segmentor
// (docs/deepness.md: its metadata, its tiles, its preprocessing and its threshold-then-arg-max), with
// OpenCV DNN as the ONNX runtime, and its classes are compared with `terraseg predict` of the original
// model on the same pixels. The aerial sample is first resampled to the model's pixel size (GDAL,
// bilinear, as Deepness has QGIS resample the layer), so both see the same grid; predict runs that
// copy with --no-resample and one pass (--scales 1 --flip off: Deepness runs one).
// Needs only committed and Debian files (the shipped models, the sample that setup.sh makes, OpenCV's
// Leuven photo): label "unit".
#include <gdal_priv.h>
#include <gdal_utils.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "cli_runner.hpp"
#include "opencv_peer.hpp"
#include "test_support.hpp"

namespace terraseg {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::run_terraseg;
using test::TempDir;

const fs::path kLeuven = "/usr/share/doc/opencv-doc/examples/data/leuvenA.jpg";

/// An image as Deepness reads a layer: the first three bands, bytes, pixel-interleaved (r, g, b).
cv::Mat read_rgb(const fs::path& path) {
  GDALAllRegister();
  GDALDatasetUniquePtr dataset(GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  if (!dataset || dataset->GetRasterCount() < 3) return {};
  cv::Mat rgb(dataset->GetRasterYSize(), dataset->GetRasterXSize(), CV_8UC3);
  int bands[3] = {1, 2, 3};
  if (dataset->RasterIO(GF_Read, 0, 0, rgb.cols, rgb.rows, rgb.data, rgb.cols, rgb.rows, GDT_Byte, 3, bands, 3,
                        static_cast<GSpacing>(rgb.step[0]), 1, nullptr) != CE_None) {
    return {};
  }
  return rgb;
}

cv::Mat read_classes(const fs::path& path) {
  GDALAllRegister();
  GDALDatasetUniquePtr dataset(GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  if (!dataset) return {};
  cv::Mat classes(dataset->GetRasterYSize(), dataset->GetRasterXSize(), CV_8UC1);
  if (dataset->GetRasterBand(1)->RasterIO(GF_Read, 0, 0, classes.cols, classes.rows, classes.data, classes.cols,
                                          classes.rows, GDT_Byte, 0, 0) != CE_None) {
    return {};
  }
  return classes;
}

/// `input` warped to `pixel_m` metres, bilinear.
bool resample(const fs::path& input, double pixel_m, const fs::path& output) {
  GDALAllRegister();
  GDALDatasetH source = GDALOpen(input.c_str(), GA_ReadOnly);
  if (source == nullptr) return false;
  const std::string size = std::to_string(pixel_m);
  const char* args[] = {"-tr", size.c_str(), size.c_str(), "-r", "bilinear", "-of", "GTiff", nullptr};
  GDALWarpAppOptions* options = GDALWarpAppOptionsNew(const_cast<char**>(args), nullptr);
  GDALDatasetH out = GDALWarp(output.c_str(), nullptr, 1, &source, options, nullptr);
  GDALWarpAppOptionsFree(options);
  const bool ok = out != nullptr;
  if (out != nullptr) GDALClose(out);
  GDALClose(source);
  return ok;
}

/// The model file as Deepness's ModelBase reads it: metadata values (JSON) and the input's shape.
struct DeepnessModel {
  std::map<std::string, json> metadata;
  std::vector<int64_t> input_shape;  ///< -1 where the file names the extent instead of giving a number

  double number(const std::string& key, double fallback) const {
    const auto it = metadata.find(key);
    return it == metadata.end() ? fallback : it->second.get<double>();
  }
  std::vector<float> floats(const std::string& key, float fallback) const {
    const auto it = metadata.find(key);
    if (it == metadata.end()) return {fallback, fallback, fallback};
    return it->second.get<std::vector<float>>();
  }
};

DeepnessModel read_deepness_model(const fs::path& path) {
  onnx::ModelProto model;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(model.ParseFromIstream(&in)) << path;
  DeepnessModel result;
  for (const auto& entry : model.metadata_props()) {
    if (entry.key() != "terraseg.model_card") result.metadata[entry.key()] = json::parse(entry.value());
  }
  for (const auto& dim : model.graph().input(0).type().tensor_type().shape().dim()) {
    result.input_shape.push_back(dim.has_dim_value() ? dim.dim_value() : -1);
  }
  return result;
}

/// Deepness's segmentation of a whole layer (`rgb`) with the model at `path`, as its map processor
/// does it (docs/deepness.md): tiles of the model's input size, `tiles_overlap` percent apart, over
/// an extent grown to whole strides on the right and at the top (no image there: zeros); each tile
/// / 255, standardised, run, thresholded at seg_thresh and arg-maxed; each tile's centre kept, edge
/// tiles to the border; a median blur of seg_small_segment; the layer's part cut out.
struct DeepnessRun {
  cv::Mat classes;   ///< on the layer's pixels
  cv::Mat extended;  ///< the extent Deepness cut its tiles from: the layer, zeros to the east and north
  cv::Rect layer;    ///< where the layer lies in it
  int tiles = 0;
};

DeepnessRun run_like_deepness(const fs::path& path, const cv::Mat& rgb) {
  const DeepnessModel model = read_deepness_model(path);
  EXPECT_EQ(model.input_shape.size(), 4U);
  const int tile = static_cast<int>(model.input_shape.back());
  EXPECT_GT(tile, 0) << "Deepness puts the input width in an integer box";
  EXPECT_EQ(model.number("tile_size", -1), tile);
  const double percent = model.number("tiles_overlap", 15);  // the plugin's default, 15 %
  const int overlap = static_cast<int>(tile * percent / 100.0 * 2.0) / 2;
  const int stride = tile - overlap;
  const double threshold = model.number("seg_thresh", 0.5);
  const std::vector<float> mean = model.floats("standardization_mean", 0.0F);
  const std::vector<float> std_dev = model.floats("standardization_std", 1.0F);
  const int small_segment = static_cast<int>(model.number("seg_small_segment", 9));

  const auto missing = [&](int size) {
    if (size <= tile) return tile - size;
    return (stride - (size - tile) % stride) % stride;
  };
  const int pad_right = missing(rgb.cols), pad_top = missing(rgb.rows);
  cv::Mat extended(rgb.rows + pad_top, rgb.cols + pad_right, CV_8UC3, cv::Scalar::all(0));
  rgb.copyTo(extended(cv::Rect(0, pad_top, rgb.cols, rgb.rows)));
  const int x_bins = (extended.cols - tile) / stride + 1, y_bins = (extended.rows - tile) / stride + 1;
  const int half = overlap / 2;

  cv::dnn::Net net = test::load_opencv_net(path.string());
  cv::Mat result(extended.rows, extended.cols, CV_8UC1, cv::Scalar::all(0));
  Tensor input({1, 3, tile, tile});
  const size_t plane = static_cast<size_t>(tile) * static_cast<size_t>(tile);
  for (int yb = 0; yb < y_bins; ++yb) {
    for (int xb = 0; xb < x_bins; ++xb) {
      const int x0 = xb * stride, y0 = yb * stride;
      for (int y = 0; y < tile; ++y) {
        const auto* row = extended.ptr<cv::Vec3b>(y0 + y) + x0;
        for (int x = 0; x < tile; ++x) {
          for (size_t c = 0; c < 3; ++c) {
            const float v = static_cast<float>(row[x][static_cast<int>(c)]) * (1.0F / 255.0F);
            input.data()[c * plane + static_cast<size_t>(y * tile + x)] = (v - mean[c]) / std_dev[c];
          }
        }
      }
      const cv::Mat scores = test::forward_opencv(net, input);
      const int channels = scores.size[1];
      const auto* s = reinterpret_cast<const float*>(scores.data);
      const int x_min = xb == 0 ? 0 : half, x_max = xb == x_bins - 1 ? tile : tile - half;
      const int y_min = yb == 0 ? 0 : half, y_max = yb == y_bins - 1 ? tile : tile - half;
      for (int y = y_min; y < y_max; ++y) {
        for (int x = x_min; x < x_max; ++x) {
          const size_t p = static_cast<size_t>(y) * tile + x;
          int best = 0;
          if (channels == 1) {  // a sigmoid: class 1 where the probability reaches seg_thresh
            best = s[p] < threshold ? 0 : 1;
          } else {  // probabilities under seg_thresh set to 0, then numpy's argmax (the first of equals)
            float best_value = -1.0F;
            for (int k = 0; k < channels; ++k) {
              float v = s[static_cast<size_t>(k) * plane + p];
              if (v < threshold) v = 0.0F;
              if (v > best_value) {
                best_value = v;
                best = k;
              }
            }
          }
          result.at<uint8_t>(y0 + y, x0 + x) = static_cast<uint8_t>(best);
        }
      }
    }
  }
  const int blur = small_segment / 2 * 2 + 1;
  if (blur > 1) cv::medianBlur(result, result, blur);
  DeepnessRun run;
  run.layer = cv::Rect(0, pad_top, rgb.cols, rgb.rows);
  run.classes = result(run.layer).clone();
  run.extended = extended;
  run.tiles = x_bins * y_bins;
  return run;
}

/// Writes pixel-interleaved RGB bytes as a plain 3-band GeoTIFF (no georeference).
bool write_rgb(const fs::path& path, const cv::Mat& rgb) {
  GDALAllRegister();
  GDALDatasetUniquePtr out(
      GetGDALDriverManager()->GetDriverByName("GTiff")->Create(path.c_str(), rgb.cols, rgb.rows, 3, GDT_Byte, nullptr));
  if (!out) return false;
  int bands[3] = {1, 2, 3};
  return out->RasterIO(GF_Write, 0, 0, rgb.cols, rgb.rows, const_cast<uint8_t*>(rgb.data), rgb.cols, rgb.rows, GDT_Byte,
                       3, bands, 3, static_cast<GSpacing>(rgb.step[0]), 1, nullptr) == CE_None;
}

struct Agreement {
  double share = 0.0;
  int64_t pixels = 0;
};

Agreement agreement(const cv::Mat& a, const cv::Mat& b) {
  Agreement result;
  if (a.size() != b.size()) return result;
  int64_t same = 0;
  for (int y = 0; y < a.rows; ++y) {
    for (int x = 0; x < a.cols; ++x) same += a.at<uint8_t>(y, x) == b.at<uint8_t>(y, x) ? 1 : 0;
  }
  result.pixels = static_cast<int64_t>(a.total());
  result.share = result.pixels > 0 ? static_cast<double>(same) / static_cast<double>(result.pixels) : 0.0;
  return result;
}

/// Exports `model`, runs it as Deepness would on `image` (resampled to the card's pixel size when the
/// card has one) and compares with predict of the original model on the same pixels.
void expect_deepness_agrees_with_predict(const std::string& model_name, const fs::path& image) {
  const fs::path model = test::source_dir() / "samples/models" / (model_name + ".onnx");
  if (!fs::exists(image)) GTEST_SKIP() << image << " not found (scripts/make-samples.sh makes the aerial sample)";
  TempDir dir;
  const fs::path exported = dir / (model_name + "-deepness.onnx");
  const auto exporting = run_terraseg({"export", model.string(), "--for", "deepness", "-o", exported.string(), "-q"});
  ASSERT_EQ(exporting.exit_code, 0) << exporting.err;

  const auto info = run_terraseg({"info", "--json", model.string()});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  const json card = json::parse(info.out).at("card");
  fs::path on_grid = image;
  std::string grid = "its own pixels";
  if (card.contains("pixel_size_m") && card["pixel_size_m"].is_number()) {
    const double pixel_m = card["pixel_size_m"].get<double>();
    on_grid = dir / "on-model-grid.tif";
    ASSERT_TRUE(resample(image, pixel_m, on_grid));
    grid = std::to_string(pixel_m) + " m pixels (bilinear)";
  }
  const auto predicted =
      run_terraseg({"predict", "-q", "--model", model.string(), on_grid.string(), "-o", (dir / "predict.tif").string(),
                    "--no-resample", "--scales", "1", "--flip", "off"});
  ASSERT_EQ(predicted.exit_code, 0) << predicted.err;
  const cv::Mat terraseg_classes = read_classes(dir / "predict.tif");
  const cv::Mat rgb = read_rgb(on_grid);
  ASSERT_FALSE(rgb.empty());
  const DeepnessRun deepness = run_like_deepness(exported, rgb);

  // Like with like: predict of the original on the very pixels Deepness cut its tiles from (the layer
  // with Deepness's zeros beyond it, one window as Deepness's one tile when it is one), cut back to
  // the layer. This is the export's exactness: preprocessing, band order, threshold, tiling.
  ASSERT_TRUE(write_rgb(dir / "deepness-extent.tif", deepness.extended));
  const auto padded =
      run_terraseg({"predict", "-q", "--model", model.string(), (dir / "deepness-extent.tif").string(), "-o",
                    (dir / "predict-extent.tif").string(), "--no-resample", "--scales", "1", "--flip", "off"});
  ASSERT_EQ(padded.exit_code, 0) << padded.err;
  const cv::Mat on_extent = read_classes(dir / "predict-extent.tif");
  ASSERT_FALSE(on_extent.empty());
  const Agreement same_pixels = agreement(deepness.classes, on_extent(deepness.layer));
  // As a user compares them: Deepness on the layer against predict on the layer, which sees no
  // zeros but the image mirrored at its borders.
  const Agreement measured = agreement(deepness.classes, terraseg_classes);
  ASSERT_GT(measured.pixels, 0) << "class maps of different sizes";
  std::cout << model_name << " on " << image.filename().string() << " at " << grid << ", " << rgb.cols << "x"
            << rgb.rows << " in " << deepness.tiles << " Deepness tile(s) of " << deepness.extended.cols << "x"
            << deepness.extended.rows
            << " px: Deepness-style run of the export (OpenCV DNN) against terraseg predict of the original, class "
               "agreement "
            << same_pixels.share << " on the same pixels (Deepness's extent), " << measured.share
            << " on the layer alone\n";
  EXPECT_GE(same_pixels.share, 0.99);
  // Not a target but a floor against regressions: on a layer smaller than a tile, Deepness fills
  // the rest of the tile with zeros, and these ESPNets see that far (docs/deepness.md).
  EXPECT_GE(measured.share, 0.75);

  // And terraseg itself reads the export as a model and predicts the same classes.
  const auto again =
      run_terraseg({"predict", "-q", "--model", exported.string(), on_grid.string(), "-o",
                    (dir / "predict-export.tif").string(), "--no-resample", "--scales", "1", "--flip", "off"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  const Agreement itself = agreement(read_classes(dir / "predict-export.tif"), terraseg_classes);
  std::cout << model_name << ": terraseg predict of the export vs of the original, class agreement " << itself.share
            << '\n';
  EXPECT_GE(itself.share, 0.999);
}

TEST(DeepnessPeer, RoadsModelRunsInDeepnessAsInPredict) {
  expect_deepness_agrees_with_predict("roads-aerial", test::source_dir() / "samples/aerial/bremen-a1.tif");
}

TEST(DeepnessPeer, LandcoverModelRunsInDeepnessAsInPredict) {
  expect_deepness_agrees_with_predict("landcover-aerial", test::source_dir() / "samples/aerial/bremen-a1.tif");
}

TEST(DeepnessPeer, StreetModelRunsInDeepnessAsInPredict) {
  expect_deepness_agrees_with_predict("street-camvid", kLeuven);
}

}  // namespace
}  // namespace terraseg
