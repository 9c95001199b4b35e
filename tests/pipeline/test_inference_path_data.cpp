// One inference path (label "data": needs ../shared/data and ../shared/weights; skips when absent):
// predict runs a photo whole, as OpenCV DNN and eval do; eval's class maps are predict's; the default
// tiling of a large raster agrees with whole-image inference; a fixed-size model runs through predict.
#include <gdal_priv.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "cli_runner.hpp"
#include "opencv_peer.hpp"
#include "test_support.hpp"

namespace terraseg {
namespace {

using test::run_terraseg;
using test::TempDir;
namespace fs = std::filesystem;

/// Every band of a raster as floats, band-sequential (empty when unreadable).
std::vector<float> read_bands(const fs::path& path, int& bands, int& width, int& height) {
  GDALAllRegister();
  GDALDatasetUniquePtr dataset(GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  if (!dataset) return {};
  bands = dataset->GetRasterCount();
  width = dataset->GetRasterXSize();
  height = dataset->GetRasterYSize();
  std::vector<float> values(static_cast<size_t>(bands) * static_cast<size_t>(width) * static_cast<size_t>(height));
  if (dataset->RasterIO(GF_Read, 0, 0, width, height, values.data(), width, height, GDT_Float32, bands, nullptr, 0, 0,
                        0, nullptr) != CE_None) {
    return {};
  }
  return values;
}

std::vector<float> read_classes(const fs::path& path, int& width, int& height) {
  int bands = 0;
  return read_bands(path, bands, width, height);
}

std::vector<fs::path> camvid_val(const fs::path& data, size_t count) {
  std::vector<fs::path> images;
  for (const auto& entry : fs::directory_iterator(data / "camvid/val")) images.push_back(entry.path());
  std::sort(images.begin(), images.end());
  std::vector<fs::path> picked;
  for (size_t i = 0; i < count && i < images.size(); ++i) picked.push_back(images[i * images.size() / count]);
  return picked;
}

/// Writes `planes` (band-sequential floats, or bytes when `type` is GDT_Byte) as a GeoTIFF.
void write_geotiff(const fs::path& path, int width, int height, int bands, GDALDataType type, const void* planes) {
  GDALAllRegister();
  GDALDatasetUniquePtr out(
      GetGDALDriverManager()->GetDriverByName("GTiff")->Create(path.c_str(), width, height, bands, type, nullptr));
  ASSERT_TRUE(out);
  ASSERT_EQ(out->RasterIO(GF_Write, 0, 0, width, height, const_cast<void*>(planes), width, height, type, bands, nullptr,
                          0, 0, 0, nullptr),
            CE_None);
}

TEST(InferencePath, PredictLogitsOfAPhotoMatchOpenCvDnnRunWhole) {
  TERRASEG_REQUIRE_DATA(data);
  const auto weights = test::shared_weights_dir();
  if (!weights || !fs::exists(*weights / "espnet_city.onnx")) GTEST_SKIP() << "espnet_city.onnx not found";
  const std::string model = (*weights / "espnet_city.onnx").string();
  TempDir dir;
  const fs::path photo = camvid_val(data, 1).at(0);
  const cv::Mat bgr = cv::imread(photo.string(), cv::IMREAD_COLOR);
  ASSERT_FALSE(bgr.empty());
  // ESPNet's own preprocessing (BGR, (pixel / 255 - mean) / std), given to predict as a plain float
  // image: the model has no card, so predict feeds the bands in file order as they are.
  constexpr std::array<float, 3> kMean{0.28388F, 0.32514F, 0.28690F};
  constexpr std::array<float, 3> kStd{45.32F, 46.15F, 44.91F};
  Tensor input({1, 3, bgr.rows, bgr.cols});
  const size_t plane = static_cast<size_t>(bgr.rows) * static_cast<size_t>(bgr.cols);
  for (int y = 0; y < bgr.rows; ++y) {
    for (int x = 0; x < bgr.cols; ++x) {
      for (int c = 0; c < 3; ++c) {
        input.data()[c * plane + static_cast<size_t>(y) * bgr.cols + x] =
            (static_cast<float>(bgr.at<cv::Vec3b>(y, x)[c]) / 255.0F - kMean[static_cast<size_t>(c)]) /
            kStd[static_cast<size_t>(c)];
      }
    }
  }
  write_geotiff(dir / "photo-f32.tif", bgr.cols, bgr.rows, 3, GDT_Float32, input.data());
  const auto result = run_terraseg({"predict", "--model", model, (dir / "photo-f32.tif").string(), "-o",
                                    (dir / "classes.tif").string(), "--logits", (dir / "logits.tif").string(), "-q"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  int bands = 0, width = 0, height = 0;
  const std::vector<float> logits = read_bands(dir / "logits.tif", bands, width, height);
  ASSERT_EQ(bands, 20);
  ASSERT_EQ(width, bgr.cols);
  ASSERT_EQ(height, bgr.rows);

  cv::dnn::Net net = test::load_opencv_net(model);
  const cv::Mat peer = test::forward_opencv(net, input);
  ASSERT_EQ(peer.size[1], 20);
  ASSERT_EQ(peer.size[2], bgr.rows);
  ASSERT_EQ(peer.size[3], bgr.cols);
  const auto* peer_scores = reinterpret_cast<const float*>(peer.data);
  const std::vector<float> classes = read_classes(dir / "classes.tif", width, height);
  size_t agree = 0;
  float worst = 0.0F;
  for (size_t p = 0; p < plane; ++p) {
    int ours = 0, theirs = 0;
    for (int k = 1; k < 20; ++k) {
      if (logits[k * plane + p] > logits[static_cast<size_t>(ours) * plane + p]) ours = k;
      if (peer_scores[k * plane + p] > peer_scores[static_cast<size_t>(theirs) * plane + p]) theirs = k;
      worst = std::max(worst, std::abs(logits[k * plane + p] - peer_scores[k * plane + p]));
    }
    ASSERT_EQ(static_cast<int>(classes[p]), ours) << "the class map is the arg-max of the logits written beside it";
    agree += ours == theirs ? 1 : 0;
  }
  const double agreement = static_cast<double>(agree) / static_cast<double>(plane);
  std::cout << photo.filename().string() << ": predict vs OpenCV DNN class agreement " << agreement
            << ", max logit difference " << worst << '\n';
  EXPECT_GE(agreement, 0.999);
}

TEST(InferencePath, EvalsClassMapsArePredictsAndItsMetricsFollowFromThem) {
  TERRASEG_REQUIRE_DATA(data);
  const fs::path model = test::source_dir() / "samples/models/street-camvid.onnx";
  TempDir dir;
  fs::create_directories(dir / "images");
  fs::create_directories(dir / "masks");
  for (const fs::path& photo : camvid_val(data, 6)) {
    fs::create_symlink(photo, dir / "images" / photo.filename());
    fs::create_symlink(data / "camvid/valannot" / photo.filename(), dir / "masks" / photo.filename());
  }
  const auto eval = run_terraseg({"eval", "--json", "-q", "--model", model.string(), "--images",
                                  (dir / "images").string(), "--masks", (dir / "masks").string(), "--ignore-ids", "11",
                                  "--predictions", (dir / "eval-maps").string(), "--walkability"});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  std::vector<std::string> predict_args{"predict",      "-q",           "--model",
                                        model.string(), "--output-dir", (dir / "predict-maps").string()};
  for (const auto& entry : fs::directory_iterator(dir / "images")) predict_args.push_back(entry.path().string());
  const auto predicted = run_terraseg(predict_args);
  ASSERT_EQ(predicted.exit_code, 0) << predicted.err;
  int64_t counted = 0, correct = 0;
  // Greenery (CamVid 5 Tree): predicted over every pixel, as run reports it; the mask's over labelled ones.
  double greenery_error = 0.0, greenery_reference = 0.0;
  int photos = 0;
  for (const auto& entry : fs::directory_iterator(dir / "images")) {
    const std::string stem = entry.path().stem().string();
    int w1 = 0, h1 = 0, w2 = 0, h2 = 0, w3 = 0, h3 = 0;
    const std::vector<float> from_eval = read_classes(dir / "eval-maps" / (stem + ".tif"), w1, h1);
    const std::vector<float> from_predict = read_classes(dir / "predict-maps" / (stem + ".tif"), w2, h2);
    const std::vector<float> truth =
        read_classes(entry.path().parent_path().parent_path() / "masks" / entry.path().filename(), w3, h3);
    ASSERT_EQ(from_eval.size(), 360U * 480U);
    EXPECT_EQ(from_eval, from_predict) << stem << ": eval scored another class map than predict writes";
    int64_t labelled = 0, tree = 0, tree_predicted = 0;
    for (size_t i = 0; i < truth.size(); ++i) {
      tree_predicted += from_predict[i] == 5.0F ? 1 : 0;
      if (truth[i] == 11.0F) continue;
      ++counted;
      ++labelled;
      tree += truth[i] == 5.0F ? 1 : 0;
      correct += from_predict[i] == truth[i] ? 1 : 0;
    }
    const double reference = static_cast<double>(tree) / static_cast<double>(labelled);
    greenery_reference += reference;
    greenery_error +=
        std::abs(static_cast<double>(tree_predicted) / static_cast<double>(from_predict.size()) - reference);
    ++photos;
  }
  const nlohmann::json report = nlohmann::json::parse(eval.out);
  EXPECT_EQ(report["pixels"].get<int64_t>(), counted);
  EXPECT_NEAR(report["global_accuracy"].get<double>(), static_cast<double>(correct) / static_cast<double>(counted),
              1e-12);
  const nlohmann::json& greenery = report["walkability"]["greenery"];
  EXPECT_EQ(report["walkability"]["role_scheme"], "class names");
  EXPECT_EQ(greenery["images"].get<int>(), photos);
  EXPECT_NEAR(greenery["mean_reference"].get<double>(), greenery_reference / photos, 1e-12);
  EXPECT_NEAR(greenery["mean_absolute_error"].get<double>(), greenery_error / photos, 1e-12);
}

TEST(InferencePath, DefaultTilingOfALargeMosaicAgreesWithWholeImageInference) {
  TERRASEG_REQUIRE_DATA(data);
  const fs::path model = test::source_dir() / "samples/models/street-camvid.onnx";
  const auto info = run_terraseg({"info", "--json", model.string()});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  const int tile = nlohmann::json::parse(info.out)["tiling"]["tile"][0].get<int>();
  constexpr int kSide = 2000;
  ASSERT_LT(tile, kSide) << "the card's tile must make the default cut the mosaic into windows";
  // A 2000 x 2000 RGB mosaic of validation photos (360 x 480 each, row by row).
  const std::vector<fs::path> photos = camvid_val(data, 101);
  std::vector<uint8_t> mosaic(size_t{3} * kSide * kSide);
  size_t next = 0;
  for (int y0 = 0; y0 < kSide; y0 += 360) {
    for (int x0 = 0; x0 < kSide; x0 += 480) {
      const cv::Mat bgr = cv::imread(photos[next++ % photos.size()].string(), cv::IMREAD_COLOR);
      ASSERT_FALSE(bgr.empty());
      for (int y = y0; y < std::min(kSide, y0 + 360); ++y) {
        for (int x = x0; x < std::min(kSide, x0 + 480); ++x) {
          for (int c = 0; c < 3; ++c)
            mosaic[static_cast<size_t>(c) * kSide * kSide + static_cast<size_t>(y) * kSide + x] =
                bgr.at<cv::Vec3b>(y - y0, x - x0)[2 - c];
        }
      }
    }
  }
  TempDir dir;
  write_geotiff(dir / "mosaic.tif", kSide, kSide, 3, GDT_Byte, mosaic.data());
  const auto tiled = run_terraseg(
      {"predict", "-q", "--model", model.string(), (dir / "mosaic.tif").string(), "-o", (dir / "tiled.tif").string()});
  ASSERT_EQ(tiled.exit_code, 0) << tiled.err;
  const auto whole = run_terraseg({"predict", "-q", "--model", model.string(), (dir / "mosaic.tif").string(), "-o",
                                   (dir / "whole.tif").string(), "--tile", std::to_string(kSide), "--overlap", "0"});
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  int w1 = 0, h1 = 0, w2 = 0, h2 = 0;
  const std::vector<float> a = read_classes(dir / "tiled.tif", w1, h1);
  const std::vector<float> b = read_classes(dir / "whole.tif", w2, h2);
  ASSERT_EQ(a.size(), static_cast<size_t>(kSide) * kSide);
  ASSERT_EQ(a.size(), b.size());
  size_t same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i] ? 1 : 0;
  const double agreement = static_cast<double>(same) / static_cast<double>(a.size());
  std::cout << "2000x2000 mosaic: default tiling (tile " << tile << ") vs whole image: class agreement " << agreement
            << '\n';
  EXPECT_GE(agreement, 0.995);
}

TEST(InferencePath, AFixedSizeModelRunsThroughPredictAtExactlyItsSize) {
  TERRASEG_REQUIRE_DATA(data);
  const auto weights = test::shared_weights_dir();
  if (!weights || !fs::exists(*weights / "espnetv2_city.onnx")) GTEST_SKIP() << "espnetv2_city.onnx not found";
  const std::string model = (*weights / "espnetv2_city.onnx").string();
  const auto info = run_terraseg({"info", "--json", model});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  const auto tiling = nlohmann::json::parse(info.out)["tiling"];
  EXPECT_TRUE(tiling["fixed_size"].get<bool>());
  EXPECT_EQ(tiling["tile"], nlohmann::json::array({512, 1024}));
  TempDir dir;
  const fs::path photo = camvid_val(data, 1).at(0);
  const auto result =
      run_terraseg({"predict", "-q", "--model", model, photo.string(), "-o", (dir / "v2.tif").string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  int width = 0, height = 0;
  const std::vector<float> classes = read_classes(dir / "v2.tif", width, height);
  EXPECT_EQ(width, 480);
  EXPECT_EQ(height, 360);
  for (float id : classes) ASSERT_LT(id, 20.0F);

  const auto refused = run_terraseg(
      {"predict", "-q", "--model", model, photo.string(), "-o", (dir / "bad.tif").string(), "--tile", "512"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("--tile"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("512x1024"), std::string::npos) << refused.err;
  EXPECT_FALSE(fs::exists(dir / "bad.tif"));
}

}  // namespace
}  // namespace terraseg
