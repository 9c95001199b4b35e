// Adapting a model to the user's region (issue 31): the domain profile a trained model's card carries
// and the warning predict gives on imagery unlike it; held-out strips, time budgets and `terraseg
// adapt` on the tiny synthetic set.
#include <gdal_priv.h>
#include <gtest/gtest.h>
#include <ogrsf_frmts.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "adapt_job.hpp"
#include "cli_runner.hpp"
#include "gdal_ok.hpp"
#include "models.hpp"
#include "predict_step.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/onnx.hpp"
#include "test_support.hpp"
#include "train_config.hpp"
#include "train_fixtures.hpp"
#include "train_job.hpp"

namespace {

namespace fs = std::filesystem;
using terraseg::test::kUNet;
using terraseg::test::make_dataset;
using terraseg::test::run_terraseg;
using terraseg::test::TempDir;
using terraseg::test::write_config;
using terraseg::test::write_png;

/// Trains the tiny U-Net on the synthetic squares (two epochs) and returns its exported file.
fs::path trained_model(const fs::path& root) {
  make_dataset(root);
  terraseg::TrainConfig config = terraseg::load_train_config(write_config(root, "base", kUNet));
  config.optim.epochs = 2;
  terraseg::TrainOptions options;
  options.quiet = true;
  terraseg::train_job(config, options);
  return root / "base/model.onnx";
}

/// A 24 x 24 image of one colour everywhere.
fs::path flat_image(const fs::path& path, uint8_t r, uint8_t g, uint8_t b) {
  constexpr int n = 24;
  write_png(path, n, n,
            {std::vector<uint8_t>(size_t{n} * n, r), std::vector<uint8_t>(size_t{n} * n, g),
             std::vector<uint8_t>(size_t{n} * n, b)});
  return path;
}

terraseg::PredictReport predict(const fs::path& model_path, const fs::path& input, const fs::path& mask) {
  const terraseg::LoadedModel model = terraseg::load_model_file(model_path.string());
  terraseg::Engine engine(model.graph);
  terraseg::PredictRequest request;
  request.input = input.string();
  request.mask_path = mask.string();
  return terraseg::predict_file(engine, model.graph.card, request, {});
}

TEST(DomainCheck, TrainedModelsCarryTheirTrainingImageryAndPredictWarnsOnlyFarFromIt) {
  TempDir dir;
  const fs::path model = trained_model(dir.path());
  const terraseg::Graph graph = terraseg::load_onnx(model.string());
  ASSERT_TRUE(graph.card.training_domain.has_value()) << "train measures its training imagery into the card";
  const terraseg::DomainProfile& profile = *graph.card.training_domain;
  EXPECT_EQ(profile.images, 6) << "6 of the 8 pairs train (split_every: 4)";
  EXPECT_EQ(profile.features.front(), "mean red");
  ASSERT_TRUE(profile.validation_max.has_value());
  EXPECT_LT(*profile.validation_max, terraseg::kDomainShiftWarning)
      << "the held-out squares are like the training ones";

  // A held-out image of the same kind: a shift figure, no warning.
  const terraseg::PredictReport like = predict(model, dir / "images/img0.png", dir / "like.tif");
  ASSERT_TRUE(like.domain.has_value());
  EXPECT_LT(like.domain->shift, terraseg::kDomainShiftWarning);
  for (const std::string& warning : like.warnings)
    EXPECT_EQ(warning.find("unlike the imagery"), std::string::npos) << warning;

  // A flat blue image is nothing like noise with a bright square: the warning names what differs and
  // the way out.
  const terraseg::PredictReport unlike = predict(model, flat_image(dir / "blue.png", 0, 0, 255), dir / "unlike.tif");
  ASSERT_TRUE(unlike.domain.has_value());
  EXPECT_GT(unlike.domain->shift, terraseg::kDomainShiftWarning);
  bool warned = false;
  for (const std::string& warning : unlike.warnings) {
    if (warning.find("unlike the imagery") == std::string::npos) continue;
    warned = true;
    EXPECT_NE(warning.find("domain_shift"), std::string::npos) << warning;
    EXPECT_NE(warning.find("terraseg adapt"), std::string::npos) << warning;
  }
  EXPECT_TRUE(warned);

  // Several inputs: the median is the verdict. Two flat images and one held-out square: the inputs
  // taken together are unlike the training imagery; the square and one flat image: the median is the
  // square's (the upper median of two), and predict says the inputs are like it.
  const fs::path red = flat_image(dir / "red.png", 255, 0, 0);
  const auto three = run_terraseg({"predict", "--model", model.string(), (dir / "blue.png").string(), red.string(),
                                   (dir / "images/img0.png").string(), "--output-dir", (dir / "three").string()});
  ASSERT_EQ(three.exit_code, 0) << three.err;
  EXPECT_NE(three.err.find("the 3 inputs, taken together, are unlike the imagery"), std::string::npos) << three.err;
  EXPECT_NE(three.err.find("domain_shift over 3 inputs: median "), std::string::npos) << three.err;
  const auto two = run_terraseg({"predict", "--model", model.string(), (dir / "images/img0.png").string(),
                                 (dir / "images/img1.png").string(), "--output-dir", (dir / "two").string()});
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_NE(two.err.find("domain_shift over 2 inputs"), std::string::npos) << two.err;
  EXPECT_NE(two.err.find("taken together, the inputs are like the model's training imagery"), std::string::npos)
      << two.err;
}

TEST(DomainCheck, DomainOnlyAddsTheProfileToAModelTrainedBefore) {
  TempDir dir;
  const fs::path model = trained_model(dir.path());
  terraseg::Graph graph = terraseg::load_onnx(model.string());
  graph.card.training_domain.reset();  // as models trained before 2026-12-07 are
  terraseg::save_onnx(graph, model.string());
  const auto before = run_terraseg({"info", model.string()});
  EXPECT_NE(before.out.find("no training_domain in the card"), std::string::npos) << before.out;
  const auto run = run_terraseg({"train", (dir / "base.yaml").string(), "--domain-only", "-q"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(terraseg::load_onnx(model.string()).card.training_domain.has_value());
  const auto after = run_terraseg({"info", model.string()});
  EXPECT_NE(
      after.out.find(
          "6 blocks of up to 1024 px of the training images; predict warns when an input's domain_shift is above 2"),
      std::string::npos)
      << after.out;
  // Nothing trained: the checkpoint is the one training left.
  const auto missing =
      run_terraseg({"train", write_config(dir.path(), "never", kUNet).string(), "--domain-only", "-q"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("does not exist; train it first"), std::string::npos) << missing.err;
}

TEST(TrainJob, HoldsOutAStripOfEveryImageAndFitsItsScheduleToATimeBudget) {
  TempDir dir;
  make_dataset(dir.path());
  // holdout_rows with split_every is refused: one way of holding data out at a time.
  const fs::path both = write_config(dir.path(), "both", kUNet, "  holdout_rows: 0.25\n");
  try {
    terraseg::load_train_config(both);
    ADD_FAILURE() << "holdout_rows with split_every accepted";
  } catch (const terraseg::Error& e) {
    EXPECT_NE(std::string(e.what()).find("holdout_rows"), std::string::npos) << e.what();
  }
  terraseg::TrainConfig config = terraseg::load_train_config(write_config(dir.path(), "strip", kUNet));
  config.data.split_every = 0;
  config.data.holdout_rows = 0.25;
  config.data.val_multiple = 4;   // the U-Net's stride: the 6-row strips of 24 px images give 4
  config.optim.epochs = 1000000;  // only the budget ends it
  config.optim.time_budget_s = 4.0;
  terraseg::TrainOptions options;
  options.quiet = true;
  options.threads = 1;
  const terraseg::TrainResult result = terraseg::train_job(config, options);
  EXPECT_GT(result.steps, 0);
  EXPECT_LT(result.steps, 4000000) << "the budget, not the epochs, ended the run";
  ASSERT_TRUE(fs::exists(dir / "strip/model.onnx"));
  const terraseg::Graph graph = terraseg::load_onnx((dir / "strip/model.onnx").string());
  EXPECT_EQ(graph.card.training_domain->images, 8) << "every image trains (its top three quarters)";
  EXPECT_TRUE(graph.card.metrics.count("val_miou")) << "and validates (its bottom quarter)";

  EXPECT_DOUBLE_EQ(terraseg::parse_duration("20m", "--time-budget"), 1200.0);
  EXPECT_DOUBLE_EQ(terraseg::parse_duration("90s", "--time-budget"), 90.0);
  EXPECT_DOUBLE_EQ(terraseg::parse_duration("1.5h", "--time-budget"), 5400.0);
  EXPECT_DOUBLE_EQ(terraseg::parse_duration("45", "--time-budget"), 45.0);
  for (const char* bad : {"", "m", "0m", "-5m", "20 minutes", "nan"}) {
    EXPECT_THROW(terraseg::parse_duration(bad, "--time-budget"), terraseg::Error) << bad;
  }
}

/// The synthetic squares as a user brings them: tiles and 0/255 masks in their own folders.
void user_tiles(const fs::path& dataset, const fs::path& root) {
  fs::create_directories(root / "tiles");
  fs::create_directories(root / "masks");
  for (int i = 0; i < 4; ++i) {
    const std::string stem = "img" + std::to_string(i) + ".png";
    fs::copy_file(dataset / "images" / stem, root / "tiles" / stem);
    int w = 0, h = 0;
    terraseg::geo::MaskEncoding ids;
    std::vector<uint8_t> mask = terraseg::geo::load_labels((dataset / "masks" / stem).string(), ids, h, w);
    for (uint8_t& v : mask) v = v == 1 ? 255 : 0;
    write_png(root / "masks" / stem, w, h, {mask});
  }
}

TEST(Adapt, FineTunesOnAFewTilesWithinItsBudgetAndNeverOverwrites) {
  TempDir dir;
  const fs::path model = trained_model(dir / "base");
  user_tiles(dir / "base", dir.path());
  const fs::path out = dir / "here.onnx";
  const std::vector<std::string> args{"adapt",
                                      "--model",
                                      model.string(),
                                      "--images",
                                      (dir / "tiles").string(),
                                      "--masks",
                                      (dir / "masks").string(),
                                      "--time-budget",
                                      "5s",
                                      "--threads",
                                      "1",
                                      "-o",
                                      out.string()};
  const auto run = run_terraseg(args);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("adapted on 4 tiles"), std::string::npos) << run.out;
  EXPECT_NE(run.err.find("masks as 0/255"), std::string::npos) << run.err;
  const terraseg::Graph adapted = terraseg::load_onnx(out.string());
  EXPECT_NE(adapted.card.notes.find("Adapted by terraseg adapt from model.onnx on 4 tiles"), std::string::npos)
      << adapted.card.notes;
  EXPECT_TRUE(adapted.card.metrics.count("val_f1")) << "a binary model is scored by F1 on the held-out strips";
  EXPECT_TRUE(adapted.card.threshold.has_value());
  EXPECT_TRUE(adapted.card.training_domain.has_value()) << "the region's tiles are its new domain";
  EXPECT_FALSE(fs::exists(dir / ".here.onnx.adapt")) << "checkpoints go once the model is written";

  const std::string adapted_bytes = terraseg::test::read_file(out);
  for (const bool resume : {false, true}) {
    std::vector<std::string> rerun = args;
    if (resume) rerun.emplace_back("--resume");
    const auto again = run_terraseg(rerun);
    EXPECT_EQ(again.exit_code, 1);
    EXPECT_NE(again.err.find("exists; adapt never overwrites a model"), std::string::npos) << again.err;
  }
  EXPECT_EQ(terraseg::test::read_file(out), adapted_bytes);

  std::vector<std::string> onto_model = args;
  onto_model.back() = model.string();
  const std::string before = terraseg::test::read_file(model);
  const auto refused = run_terraseg(onto_model);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_EQ(terraseg::test::read_file(model), before) << "the model adapted from is never written";

  const auto neither = run_terraseg(
      {"adapt", "--model", model.string(), "--images", (dir / "tiles").string(), "-o", (dir / "x.onnx").string()});
  EXPECT_EQ(neither.exit_code, 1);
  EXPECT_NE(neither.err.find("--masks DIR or as --labels VECTORS"), std::string::npos) << neither.err;
  EXPECT_FALSE(fs::exists(dir / "x.onnx"));
}

}  // namespace

namespace {

/// Two 48 x 48 m tiles of 1 m pixels (UTM 32N) of noise with a bright east-west road 7 m wide, and a
/// GeoPackage of that road's centreline, `highway=residential` (7 m in OSM's table).
void georeferenced_tiles_and_road(const fs::path& root) {
  GDALAllRegister();
  fs::create_directories(root / "tiles");
  constexpr double kX0 = 500000.0, kY0 = 5880000.0;
  OGRSpatialReference utm;
  terraseg::test::gdal_ok(utm.importFromEPSG(32632));
  utm.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  for (int t = 0; t < 2; ++t) {
    const fs::path path = root / "tiles" / ("tile" + std::to_string(t) + ".tif");
    GDALDatasetUniquePtr tile(
        GetGDALDriverManager()->GetDriverByName("GTiff")->Create(path.c_str(), 48, 48, 3, GDT_Byte, nullptr));
    double gt[6] = {kX0 + 48.0 * t, 1.0, 0.0, kY0, 0.0, -1.0};
    terraseg::test::gdal_ok(tile->SetGeoTransform(gt));
    terraseg::test::gdal_ok(tile->SetSpatialRef(&utm));
    std::vector<uint8_t> pixels(size_t{48} * 48);
    for (int b = 1; b <= 3; ++b) {
      for (int i = 0; i < 48 * 48; ++i) {
        const int row = i / 48;
        pixels[static_cast<size_t>(i)] =
            static_cast<uint8_t>(row >= 20 && row < 27 ? 210 + (i * 7 + b) % 30 : (i * 37 + b * 11) % 120);
      }
      ASSERT_EQ(tile->GetRasterBand(b)->RasterIO(GF_Write, 0, 0, 48, 48, pixels.data(), 48, 48, GDT_Byte, 0, 0),
                CE_None);
    }
  }
  GDALDatasetUniquePtr data(GetGDALDriverManager()->GetDriverByName("GPKG")->Create((root / "roads.gpkg").c_str(), 0, 0,
                                                                                    0, GDT_Unknown, nullptr));
  OGRLayer* layer = data->CreateLayer("lines", &utm, wkbLineString, nullptr);
  OGRFieldDefn highway("highway", OFTString);
  terraseg::test::gdal_ok(layer->CreateField(&highway));
  OGRFeature feature(layer->GetLayerDefn());
  feature.SetField("highway", "residential");
  OGRLineString line;
  line.addPoint(kX0 - 10.0, kY0 - 23.5);
  line.addPoint(kX0 + 110.0, kY0 - 23.5);
  feature.SetGeometry(&line);
  EXPECT_EQ(layer->CreateFeature(&feature), OGRERR_NONE);
}

TEST(Adapt, TakesLabelsFromVectorsBurnedOntoGeoreferencedTiles) {
  TempDir dir;
  const fs::path model = trained_model(dir / "base");
  georeferenced_tiles_and_road(dir.path());
  const fs::path out = dir / "roads-here.onnx";
  const auto run =
      run_terraseg({"adapt", "--model", model.string(), "--images", (dir / "tiles").string(), "--labels",
                    (dir / "roads.gpkg").string(), "--time-budget", "5s", "--threads", "1", "-o", out.string()});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("masks as class ids"), std::string::npos) << "burned labels: 0, 1 and 255 along the edges\n"
                                                                   << run.err;
  const terraseg::Graph adapted = terraseg::load_onnx(out.string());
  EXPECT_NE(adapted.card.training_data.find("labelled from " + (dir / "roads.gpkg").string()), std::string::npos)
      << adapted.card.training_data;
  EXPECT_FALSE(fs::exists(dir / ".roads-here.onnx.adapt")) << "the burned labels go with the checkpoints";
}

}  // namespace
