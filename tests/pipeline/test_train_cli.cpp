// `terraseg train` end to end on a tiny synthetic dataset: the process is killed with SIGKILL mid-run
// and resumed, and the exported model equals an uninterrupted run's byte for byte; config errors name
// the file, line and key; `weights: random`, `crops_per_image` and `extra_sources` are wired through.
#include <gdal_priv.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <csignal>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cli_runner.hpp"
#include "terraseg/core/builders.hpp"
#include "terraseg/core/onnx.hpp"
#include "terraseg/geo/dataset.hpp"
#include "test_support.hpp"
#include "train_fixtures.hpp"

using terraseg::test::kUNet;
using terraseg::test::make_dataset;
using terraseg::test::read_file;
using terraseg::test::run_terraseg;
using terraseg::test::TempDir;
using terraseg::test::wait_exit;
using terraseg::test::write_config;

namespace {

namespace fs = std::filesystem;

/// A two-class U-Net (base width 4, depth 2) with random weights and no validation figures in its card.
void save_tiny_unet(const fs::path& path) {
  terraseg::UNetSpec spec;
  spec.base_width = 4;
  spec.depth = 2;
  spec.classes = 2;
  terraseg::save_onnx(terraseg::build_unet(spec), path.string());
}

pid_t spawn_train(const fs::path& config, const fs::path& log, bool resume) {
  std::vector<std::string> args{"train", config.string(), "--threads", "1"};
  if (resume) args.emplace_back("--resume");
  return terraseg::test::spawn_terraseg(args, log);
}

}  // namespace

TEST(TrainCli, KillNineThenResumeExportsTheSameModel) {
  TempDir dir;
  make_dataset(dir.path());
  const auto straight = write_config(dir.path(), "straight", kUNet, "  crops_per_image: 2\n");
  const auto straight_run = run_terraseg({"train", straight.string(), "--threads", "1"});
  ASSERT_EQ(straight_run.exit_code, 0) << straight_run.err;
  // 6 training pairs x 2 crops / batch 2 = 6 steps per epoch, 4 epochs.
  EXPECT_NE(straight_run.err.find("step 1/24 "), std::string::npos) << straight_run.err;
  const std::string expected = read_file(dir / "straight/model.onnx");
  ASSERT_FALSE(expected.empty());

  const auto killed = write_config(dir.path(), "killed", kUNet, "  crops_per_image: 2\n");
  const fs::path log = dir / "killed.log";
  const pid_t pid = spawn_train(killed, log, false);
  // Kill once step 9 (mid epoch 1, after a validation and an export) has been logged.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (read_file(log).find("step 9/") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  kill(pid, SIGKILL);
  wait_exit(pid);
  ASSERT_NE(read_file(log).find("step 9/"), std::string::npos) << read_file(log);
  ASSERT_EQ(read_file(log).find("step 24/"), std::string::npos) << "the run finished before the kill";
  ASSERT_EQ(wait_exit(spawn_train(killed, log, true)), 0) << read_file(log);
  EXPECT_NE(read_file(log).find("resumed at step"), std::string::npos);
  EXPECT_TRUE(read_file(dir / "killed/model.onnx") == expected) << "resumed run exported a different model";
}

TEST(TrainCli, RandomWeightsKeepTheInitArchitecture) {
  TempDir dir;
  make_dataset(dir.path());
  save_tiny_unet(dir / "init.onnx");
  const auto config = write_config(dir.path(), "scratch", "  init: init.onnx\n  weights: random\n");
  const auto result = run_terraseg({"train", config.string(), "--threads", "1"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(fs::exists(dir / "scratch/model.onnx"));
  EXPECT_NE(result.err.find("step 1/12 "), std::string::npos) << "one crop per image by default: " << result.err;
}

TEST(TrainCli, ExtraSourcesJoinEveryEpoch) {
  TempDir dir;
  make_dataset(dir.path());
  const auto config =
      write_config(dir.path(), "multi", kUNet,
                   "  extra_sources:\n"
                   "    - {images: images, masks: masks, mask: {type: threshold, threshold: 1}, scale: 1.5}\n");
  const auto result = run_terraseg({"train", config.string(), "--threads", "1"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  // (6 primary training pairs + all 8 of the extra source) / batch 2 = 7 steps per epoch, 4 epochs.
  EXPECT_NE(result.err.find("step 1/28 "), std::string::npos) << result.err;
  EXPECT_TRUE(fs::exists(dir / "multi/model.onnx"));

  // The same pairs read as rasters, window by window (GDAL), with validation on centred windows.
  const auto windows = write_config(dir.path(), "win", kUNet, "  windows: true\n  val_window: 16\n");
  const auto windowed = run_terraseg({"train", windows.string(), "--threads", "1"});
  ASSERT_EQ(windowed.exit_code, 0) << windowed.err;
  EXPECT_TRUE(fs::exists(dir / "win/model.onnx"));

  const auto bad = write_config(dir.path(), "bad", kUNet,
                                "  extra_sources:\n    - {images: images, masks: masks, split_every: 1}\n");
  const auto refused = run_terraseg({"train", bad.string()});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("split_every"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("bad.yaml:"), std::string::npos) << refused.err;
  EXPECT_FALSE(fs::exists(dir / "bad/ckpt"));
}

// data.scale puts the primary data at the model's pixel size: its training crops and its validation
// images are resized by it (geo::rescale), and eval on the resized pairs scores what validation scored.
TEST(TrainCli, DataScaleResizesTrainingAndValidationToTheModelsPixelSize) {
  TempDir dir;
  make_dataset(dir.path());
  const auto plain = run_terraseg({"train", write_config(dir.path(), "plain", kUNet).string(), "--threads", "1"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  // split_every 4: img0 and img4 validate, 24 x 24 each; at scale 2, 48 x 48 each.
  EXPECT_NE(plain.err.find("validation: 2 images, 1152 pixels\n"), std::string::npos) << plain.err;
  const auto config = write_config(dir.path(), "m", kUNet, "  scale: 2\n", "card: {pixel_size_m: 0.5}\n");
  const auto trained = run_terraseg({"train", config.string(), "--threads", "1"});
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  EXPECT_NE(trained.err.find("validation: 2 images, 4608 pixels (resized by data.scale"), std::string::npos)
      << trained.err;
  EXPECT_NE(trained.err.find("step 1/12 "), std::string::npos) << trained.err;  // 6 training pairs / batch 2, 4 epochs

  // Validation's pairs, enlarged 2x as the trainer enlarges them, are what eval must score exactly as
  // validation did (the model's own pixel size: no resampling in eval).
  for (const char* sub : {"val/images", "val/masks"}) fs::create_directories(dir / sub);
  terraseg::geo::MaskEncoding ids;
  for (const char* stem : {"img0.png", "img4.png"}) {
    const terraseg::geo::Sample big = terraseg::geo::rescale(
        terraseg::geo::load_sample({(dir / "images" / stem).string(), (dir / "masks" / stem).string()}, ids), 2.0);
    std::vector<std::vector<uint8_t>> rgb(3, std::vector<uint8_t>(big.labels.size()));
    for (size_t i = 0; i < big.labels.size(); ++i) {
      for (size_t b = 0; b < 3; ++b) rgb[b][i] = big.rgb[i * 3 + b];
    }
    terraseg::test::write_png(dir / "val/images" / stem, big.width, big.height, rgb);
    terraseg::test::write_png(dir / "val/masks" / stem, big.width, big.height, {big.labels});
  }
  const std::string model = (dir / "m/model.onnx").string();
  const auto info = run_terraseg({"info", "--json", model});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  const double val_miou = nlohmann::json::parse(info.out)["card"]["metrics"]["val_miou"].get<double>();
  const auto eval =
      run_terraseg({"eval", "--json", "--threads", "1", "--scales", "1", "--flip", "off", "--model", model, "--images",
                    (dir / "val/images").string(), "--masks", (dir / "val/masks").string()});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  const auto report = nlohmann::json::parse(eval.out);
  EXPECT_EQ(report["pixels"], 2 * 48 * 48);
  EXPECT_NEAR(report["mean_iou"].get<double>(), val_miou, 1e-9);

  const auto bad = run_terraseg({"train", write_config(dir.path(), "bad", kUNet, "  scale: 0\n").string()});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("scale"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("bad.yaml:"), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(dir / "bad/ckpt"));
}

// `terraseg eval` on the trainer's own validation pairs reproduces the validation metrics stored in
// the exported card; --pixel-size resizes by the card's pixel size.
TEST(TrainCli, EvalReproducesTheCardsValidationMetrics) {
  TempDir dir;
  make_dataset(dir.path());
  // The card asks predict for two scales and the mirror image (inference_scales, inference_flip); the
  // trainer validates one pass, which `eval --scales 1 --flip off` reproduces.
  const auto config = write_config(dir.path(), "m", kUNet, "",
                                   "card: {pixel_size_m: 0.5, inference_scales: [1.0, 2.0], inference_flip: true}\n");
  const auto trained = run_terraseg({"train", config.string(), "--threads", "1"});
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  // split_every 4 validates the sorted pairs 0 and 4: img0 and img4.
  for (const char* sub : {"val/images", "val/masks"}) fs::create_directories(dir / sub);
  for (const char* stem : {"img0.png", "img4.png"}) {
    fs::copy_file(dir / "images" / stem, dir / "val/images" / stem);
    fs::copy_file(dir / "masks" / stem, dir / "val/masks" / stem);
  }
  const std::string model = (dir / "m/model.onnx").string();
  const auto info = run_terraseg({"info", "--json", model});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  const auto card = nlohmann::json::parse(info.out)["card"];
  EXPECT_EQ(card["inference_scales"], nlohmann::json::parse("[1.0, 2.0]"));
  EXPECT_EQ(card["inference_flip"], true);
  const auto eval =
      run_terraseg({"eval", "--json", "--threads", "1", "--scales", "1", "--flip", "off", "--model", model, "--images",
                    (dir / "val/images").string(), "--masks", (dir / "val/masks").string()});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  const auto report = nlohmann::json::parse(eval.out);
  EXPECT_EQ(report["passes"], "1");
  // Without the flags eval runs what the card says, as predict does: four passes per image.
  const auto passes = run_terraseg({"eval", "--json", "--threads", "1", "--model", model, "--images",
                                    (dir / "val/images").string(), "--masks", (dir / "val/masks").string()});
  ASSERT_EQ(passes.exit_code, 0) << passes.err;
  const auto averaged = nlohmann::json::parse(passes.out);
  EXPECT_EQ(averaged["passes"], "1, 2 + flip");
  EXPECT_EQ(averaged["pixels"], report["pixels"]);
  EXPECT_GT(averaged["mean_iou"].get<double>(), 0.0);
  EXPECT_EQ(report["images"], 2);
  EXPECT_EQ(report["pixels"], 2 * 24 * 24);
  EXPECT_NEAR(report["mean_iou"].get<double>(), card["metrics"]["val_miou"].get<double>(), 1e-9);
  EXPECT_NEAR(report["best_threshold"]["f1"].get<double>(), card["metrics"]["val_f1"].get<double>(), 1e-9);
  EXPECT_DOUBLE_EQ(report["resize_factor"].get<double>(), 1.0);
  // F1 around the card's threshold: the sweep's own values within +-0.1, the card's F1 among them.
  ASSERT_TRUE(report.contains("threshold_flatness")) << report.dump();
  const auto& flat = report["threshold_flatness"];
  double lo = 1.0, hi = 0.0;
  for (const auto& s : report["threshold_sweep"]) {
    if (std::abs(s["threshold"].get<double>() - report["threshold"].get<double>()) > 0.1 + 1e-9) continue;
    lo = std::min(lo, s["f1"].get<double>());
    hi = std::max(hi, s["f1"].get<double>());
  }
  EXPECT_DOUBLE_EQ(flat["f1_min"].get<double>(), lo);
  EXPECT_DOUBLE_EQ(flat["f1_max"].get<double>(), hi);
  EXPECT_LE(flat["f1_min"].get<double>(), card["metrics"]["val_f1"].get<double>() + 1e-9);
  EXPECT_GE(flat["f1_max"].get<double>(), card["metrics"]["val_f1"].get<double>() - 1e-9);

  // Images at 0.25 m for a 0.5 m model: predicted halved (24 -> 12 px), as predict --pixel-size does,
  // and scored on the images' own 24 x 24 grid.
  const auto halved = run_terraseg({"eval", "--json", "--threads", "1", "--scales", "1", "--flip", "off",
                                    "--pixel-size", "0.25", "--model", model, "--images", (dir / "val/images").string(),
                                    "--masks", (dir / "val/masks").string()});
  ASSERT_EQ(halved.exit_code, 0) << halved.err;
  const auto small = nlohmann::json::parse(halved.out);
  EXPECT_DOUBLE_EQ(small["resize_factor"].get<double>(), 0.5);
  EXPECT_EQ(small["pixels"], 2 * 24 * 24);

  // What bf16 costs, on the same pairs: named in the report, scores near f32's.
  const auto bf16 = run_terraseg({"eval", "--json", "--threads", "1", "--scales", "1", "--flip", "off", "--precision",
                                  "bf16", "--model", model, "--images", (dir / "val/images").string(), "--masks",
                                  (dir / "val/masks").string()});
  ASSERT_EQ(bf16.exit_code, 0) << bf16.err;
  const auto reduced = nlohmann::json::parse(bf16.out);
  EXPECT_EQ(reduced["precision"], "bf16");
  EXPECT_EQ(report["precision"], "f32");
  EXPECT_NEAR(reduced["mean_iou"].get<double>(), report["mean_iou"].get<double>(), 0.05);
}

TEST(TrainCli, BadKeysAreNamedWithTheirLine) {
  TempDir dir;
  make_dataset(dir.path());
  const auto weights = write_config(dir.path(), "w", std::string(kUNet) + "  weights: imagenet\n");
  const auto bad_weights = run_terraseg({"train", weights.string()});
  EXPECT_EQ(bad_weights.exit_code, 1);
  EXPECT_NE(bad_weights.err.find("weights"), std::string::npos) << bad_weights.err;
  EXPECT_NE(bad_weights.err.find("pretrained or random"), std::string::npos) << bad_weights.err;
  EXPECT_NE(bad_weights.err.find("w.yaml:"), std::string::npos) << bad_weights.err;

  const auto scales = write_config(dir.path(), "s", kUNet, "", "card: {inference_scales: [1.0, 8.0]}\n");
  const auto bad_scales = run_terraseg({"train", scales.string()});
  EXPECT_EQ(bad_scales.exit_code, 1);
  EXPECT_NE(bad_scales.err.find("inference_scales"), std::string::npos) << bad_scales.err;
  EXPECT_NE(bad_scales.err.find("s.yaml:"), std::string::npos) << bad_scales.err;

  const auto crops = write_config(dir.path(), "c", kUNet, "  crops_per_image: 0\n");
  const auto bad_crops = run_terraseg({"train", crops.string()});
  EXPECT_EQ(bad_crops.exit_code, 1);
  EXPECT_NE(bad_crops.err.find("crops_per_image"), std::string::npos) << bad_crops.err;
  EXPECT_FALSE(fs::exists(dir / "w/model.onnx"));
  EXPECT_FALSE(fs::exists(dir / "c/ckpt"));
}

TEST(TrainCli, AugmentationRangesAreChecked) {
  TempDir dir;
  make_dataset(dir.path());
  // The fixture's augment line, replaced by each case's (key, value, words the message must hold).
  const std::vector<std::array<std::string, 3>> cases{{"blur", "1.5", "probability"},
                                                      {"rotate", "-10", "degrees"},
                                                      {"noise", "100", "sigma"},
                                                      {"channel_gain", "1.5", "fraction"}};
  for (const auto& [key, value, words] : cases) {
    const fs::path path = write_config(dir.path(), key, kUNet);
    std::string text = terraseg::test::read_file(path);
    const std::string fixture = "augment: {hflip: true}";
    text.replace(text.find(fixture), fixture.size(), "augment: {hflip: true, " + key + ": " + value + "}");
    std::ofstream(path) << text;
    const auto result = run_terraseg({"train", path.string()});
    EXPECT_EQ(result.exit_code, 1) << key;
    EXPECT_NE(result.err.find(key), std::string::npos) << result.err;
    EXPECT_NE(result.err.find(words), std::string::npos) << result.err;
    EXPECT_FALSE(fs::exists(dir / key));
  }
  // Rotation cuts every sample to the crop, so it needs one.
  const fs::path path = write_config(dir.path(), "nocrop", kUNet);
  std::string text = terraseg::test::read_file(path);
  const std::string crop_line = "  crop: [16, 16]\n", flips = "hflip: true}";
  text.replace(text.find(crop_line), crop_line.size(), "");
  text.replace(text.find(flips), flips.size(), "hflip: true, rotate: 30}");
  std::ofstream(path) << text;
  const auto result = run_terraseg({"train", path.string()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("augment.rotate"), std::string::npos) << result.err;
}

namespace {

/// write_config's config with `from` replaced by `to` in its text (each must occur once).
fs::path edited_config(const fs::path& root, const std::string& name,
                       const std::vector<std::pair<std::string, std::string>>& edits,
                       const std::string& extra_sections = "") {
  fs::path path = write_config(root, name, kUNet, "", extra_sections);
  std::string text = read_file(path);
  for (const auto& [from, to] : edits) {
    const size_t at = text.find(from);
    if (at == std::string::npos) throw std::runtime_error("fixture lacks: " + from);
    text.replace(at, from.size(), to);
  }
  std::ofstream(path) << text;
  return path;
}

nlohmann::json card_of(const fs::path& model) {
  const auto info = run_terraseg({"info", "--json", model.string()});
  if (info.exit_code != 0) throw std::runtime_error(info.err);
  return nlohmann::json::parse(info.out)["card"];
}

}  // namespace

// A final model on train + val: the schedule is picked on val by one run (select: best), then the
// same recipe trains on every pair to the end of the schedule (select: last) and its card carries the
// schedule run's validation figures, saying so.
TEST(TrainCli, SelectLastTrainsOnEveryPairAndExportsTheEndOfTheSchedule) {
  TempDir dir;
  make_dataset(dir.path());
  const auto schedule = write_config(dir.path(), "schedule", kUNet);
  const auto picked = run_terraseg({"train", schedule.string(), "--threads", "1"});
  ASSERT_EQ(picked.exit_code, 0) << picked.err;
  auto schedule_card = card_of(dir / "schedule/model.onnx");
  ASSERT_TRUE(schedule_card["metrics"].contains("val_miou")) << schedule_card.dump();

  const auto final_config = edited_config(dir.path(), "final", {{"  split_every: 4\n", ""}},
                                          "  select: last\ncard:\n  validation_from: schedule/model.onnx\n");
  const auto final_run = run_terraseg({"train", final_config.string(), "--threads", "1"});
  ASSERT_EQ(final_run.exit_code, 0) << final_run.err;
  // All 8 pairs train (the schedule run held 2 out): 4 steps per epoch, 4 epochs; no validation.
  EXPECT_NE(final_run.err.find("step 1/16 "), std::string::npos) << final_run.err;
  EXPECT_NE(picked.err.find("step 1/12 "), std::string::npos) << picked.err;
  EXPECT_EQ(final_run.err.find("validation:"), std::string::npos) << final_run.err;
  EXPECT_NE(final_run.err.find("epoch 3 done (no validation data) (select: last, exported)"), std::string::npos)
      << final_run.err;
  EXPECT_NE(final_run.out.find("last epoch -> "), std::string::npos) << final_run.out;
  auto final_card = card_of(dir / "final/model.onnx");
  EXPECT_EQ(final_card["metrics"], schedule_card["metrics"]);
  EXPECT_EQ(final_card["threshold"], schedule_card["threshold"]);
  EXPECT_NE(final_card["notes"].get<std::string>().find("output.select: last"), std::string::npos) << final_card.dump();
  EXPECT_NE(read_file(dir / "final/model.onnx"), read_file(dir / "schedule/model.onnx"));

  // With validation data, select: last still validates every epoch but keeps the last one's weights
  // and figures, whichever epoch scored best.
  const auto validated = write_config(dir.path(), "lastval", kUNet, "", "  select: last\n");
  const auto last_run = run_terraseg({"train", validated.string(), "--threads", "1"});
  ASSERT_EQ(last_run.exit_code, 0) << last_run.err;
  auto last_card = card_of(dir / "lastval/model.onnx");
  EXPECT_EQ(last_card["metrics"]["epoch"], 3) << last_card.dump();
  EXPECT_NE(last_run.err.find("epoch 3 validation: "), std::string::npos) << last_run.err;

  // A schedule cut by max_steps within an epoch (3 steps an epoch here): the weights at its last step.
  const auto cut = edited_config(dir.path(), "cut", {{"epochs: 4,", "epochs: 4, max_steps: 5,"}}, "  select: last\n");
  const auto cut_run = run_terraseg({"train", cut.string(), "--threads", "1"});
  ASSERT_EQ(cut_run.exit_code, 0) << cut_run.err;
  EXPECT_EQ(card_of(dir / "cut/model.onnx")["metrics"]["step"], 5) << cut_run.err;
}

TEST(TrainCli, SelectAndValidationFromErrorsNameTheKey) {
  TempDir dir;
  make_dataset(dir.path());
  save_tiny_unet(dir / "nometrics.onnx");
  struct Case {
    std::string name;
    std::vector<std::pair<std::string, std::string>> edits;
    std::string sections, words;
  };
  const std::vector<Case> cases{
      {"bogus", {}, "  select: newest\n", "output.select"},
      {"patience", {}, "  select: last\n  patience: 2\n", "patience"},
      {"novalidation", {{"  split_every: 4\n", ""}}, "", "output.select: last"},
      {"fromwithbest", {}, "card: {validation_from: nometrics.onnx}\n", "output.select: last runs"},
      {"fromandval", {}, "  select: last\ncard: {validation_from: nometrics.onnx}\n", "keep one"},
      {"frommissing",
       {{"  split_every: 4\n", ""}},
       "  select: last\ncard: {validation_from: gone.onnx}\n",
       "does not exist"},
      {"fromnometrics",
       {{"  split_every: 4\n", ""}},
       "  select: last\ncard: {validation_from: nometrics.onnx}\n",
       "has no validation figures"},
      {"trainval",
       {{"  split_every: 4\n", "  val_images: images\n  val_masks: masks\n"}},
       "",
       "which train_images lists too"},
  };
  for (const Case& c : cases) {
    const auto config = edited_config(dir.path(), c.name, c.edits, c.sections);
    const auto result = run_terraseg({"train", config.string(), "--threads", "1"});
    EXPECT_EQ(result.exit_code, 1) << c.name << ": " << result.err;
    EXPECT_NE(result.err.find(c.words), std::string::npos) << c.name << ": " << result.err;
    EXPECT_NE(result.err.find(c.name + ".yaml"), std::string::npos) << c.name << ": " << result.err;
    EXPECT_FALSE(fs::exists(dir / c.name)) << c.name << ": wrote output";
  }
}
