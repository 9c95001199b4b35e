// Checkpoint round trip: training k steps, saving, restoring into a fresh graph and training on gives
// bit-identical weights to an uninterrupted run (same thread count); plus loss/metric unit checks.
#include <gtest/gtest.h>

#include <cmath>

#include "terraseg/core/error.hpp"
#include "terraseg/core/metrics.hpp"
#include "terraseg/core/trainer.hpp"
#include "terraseg/core/transfer.hpp"
#include "test_support.hpp"
#include "train_test_util.hpp"

namespace terraseg {
namespace {

using test::make_node;
using Ints = std::vector<int64_t>;

Graph small_net() {
  Graph g = test::single_input_graph({2, 3, 8, 8});
  g.weights["w1"] = test::random_tensor({6, 3, 3, 3}, 1, -0.4F, 0.4F);
  g.weights["s"] = Tensor({6}, 1.0F);
  g.weights["b"] = Tensor({6}, 0.0F);
  g.weights["m"] = Tensor({6}, 0.0F);
  g.weights["v"] = Tensor({6}, 1.0F);
  g.weights["w2"] = test::random_tensor({3, 6, 1, 1}, 2, -0.4F, 0.4F);
  g.nodes.push_back(make_node("Conv", {"x", "w1"}, {"c"}, {{"pads", Ints{1, 1, 1, 1}}}));
  g.nodes.push_back(make_node("BatchNormalization", {"c", "s", "b", "m", "v"}, {"n"}));
  g.nodes.push_back(make_node("Relu", {"n"}, {"r"}));
  g.nodes.push_back(make_node("Conv", {"r", "w2"}, {"y"}));
  return g;
}

Labels batch_labels(int step) {
  Labels labels{2, 8, 8, {}};
  for (int i = 0; i < 128; ++i) labels.ids.push_back(static_cast<uint8_t>((i * 7 + step) % 3));
  return labels;
}

TrainerConfig adam_config() {
  TrainerConfig config;
  config.optimizer.type = OptimizerType::adamw;
  config.optimizer.weight_decay = 0.01;
  config.lr = 0.01;
  config.schedule = ScheduleConfig{ScheduleKind::cosine, 0.9, 0.0, 2, 6};
  config.clip_norm = 1.0;
  return config;
}

void train_steps(Trainer& trainer, int from, int to) {
  for (int s = from; s < to; ++s)
    trainer.step(test::random_tensor({2, 3, 8, 8}, 100 + static_cast<uint64_t>(s)), batch_labels(s));
}

TEST(TrainResume, CheckpointResumeIsBitIdentical) {
  TrainGraph straight_graph(small_net());
  Trainer straight(straight_graph, adam_config());
  train_steps(straight, 0, 6);

  test::TempDir dir;
  const std::string path = (dir / "run/last.ckpt").string();
  {
    TrainGraph first_graph(small_net());
    Trainer first(first_graph, adam_config());
    train_steps(first, 0, 3);
    save_checkpoint(first.state(R"({"epoch": 1})"), path);
  }
  TrainGraph resumed_graph(small_net());
  Trainer resumed(resumed_graph, adam_config());
  EXPECT_EQ(resumed.restore(load_checkpoint(path)), R"({"epoch":1})");
  EXPECT_EQ(resumed.step_count(), 3);
  train_steps(resumed, 3, 6);
  for (const auto& [name, tensor] : straight_graph.graph().weights) {
    const Tensor& other = resumed_graph.graph().weights.at(name);
    ASSERT_EQ(tensor.size(), other.size());
    for (int64_t i = 0; i < tensor.size(); ++i) ASSERT_EQ(tensor.data()[i], other.data()[i]) << name << "[" << i << "]";
  }
}

TEST(TrainResume, TruncatedCheckpointIsRejected) {
  test::TempDir dir;
  const std::string path = (dir / "bad.ckpt").string();
  TrainGraph graph(small_net());
  Trainer trainer(graph, adam_config());
  save_checkpoint(trainer.state(""), path);
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 10);
  EXPECT_THROW(load_checkpoint(path), Error);
}

TEST(TrainTransfer, RemapHeadCopiesRowsAndFreezesByGlob) {
  Graph g = small_net();
  const Tensor old = g.weights["w2"];
  remap_head(g, {2, -1, 0, 1}, 5);
  ASSERT_EQ(g.weights["w2"].dims(), (Dims{4, 6, 1, 1}));
  for (int k = 0; k < 6; ++k) {
    EXPECT_EQ(g.weights["w2"].data()[0 * 6 + k], old.data()[2 * 6 + k]);
    EXPECT_EQ(g.weights["w2"].data()[2 * 6 + k], old.data()[0 * 6 + k]);
  }
  TrainGraph tg(std::move(g));
  EXPECT_EQ(freeze_by_glob(tg, {"Conv_c", "BatchNormalization*"}), 3);
  EXPECT_FALSE(tg.trainable("w1"));
  EXPECT_TRUE(tg.trainable("w2"));
  EXPECT_THROW(freeze_by_glob(tg, {"nothing*"}), Error);
  EXPECT_EQ(freeze_all_but_last(tg, 1), 3);
  EXPECT_EQ(lr_multipliers(tg, {{"Conv_y", 0.1}}).at("w2"), 0.1);
}

TEST(TrainTransfer, ReinitialiseKeepsArchitectureWithFreshWeights) {
  Graph g = small_net();
  g.weights["s"] = Tensor({6}, 3.0F);  // "pretrained" batch-norm statistics
  g.weights["v"] = Tensor({6}, 9.0F);
  const Graph pretrained = g;
  EXPECT_EQ(reinitialise_weights(g, 7), 6);  // w1, s, b, m, v, w2
  ASSERT_EQ(g.nodes.size(), pretrained.nodes.size());
  for (const auto& [name, tensor] : pretrained.weights) EXPECT_EQ(g.weights.at(name).dims(), tensor.dims()) << name;
  EXPECT_EQ(g.weights["s"].data()[0], 1.0F);
  EXPECT_EQ(g.weights["v"].data()[5], 1.0F);
  EXPECT_EQ(g.weights["m"].data()[2], 0.0F);
  // He-normal: the sample deviation of w1 (162 values, fan-in 27) is near sqrt(2/27) = 0.27, and differs
  // from the uniform(-0.4, 0.4) original everywhere.
  double sum2 = 0.0;
  for (int64_t i = 0; i < g.weights["w1"].size(); ++i) {
    EXPECT_NE(g.weights["w1"].data()[i], pretrained.weights.at("w1").data()[i]);
    sum2 += double(g.weights["w1"].data()[i]) * g.weights["w1"].data()[i];
  }
  EXPECT_NEAR(std::sqrt(sum2 / 162.0), std::sqrt(2.0 / 27.0), 0.06);
  Graph again = small_net();
  reinitialise_weights(again, 7);
  EXPECT_EQ(again.weights["w2"].data()[4], g.weights["w2"].data()[4]);  // seeded
}

TEST(TrainMetrics, ConfusionMatrixAndSweep) {
  ConfusionMatrix m(3);
  const std::vector<uint8_t> truth{0, 0, 1, 1, 2, 255}, pred{0, 1, 1, 1, 0, 2};
  m.add(pred.data(), truth.data(), 6);
  EXPECT_DOUBLE_EQ(m.global_accuracy(), 3.0 / 5.0);
  EXPECT_DOUBLE_EQ(m.iou(0), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.iou(1), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.iou(2), 0.0);
  EXPECT_DOUBLE_EQ(m.class_average_accuracy(), (0.5 + 1.0 + 0.0) / 3.0);
  ThresholdSweep sweep({0.3, 0.6});
  const std::vector<float> prob{0.9F, 0.5F, 0.2F, 0.7F};
  const std::vector<uint8_t> bin{1, 0, 0, 1};
  sweep.add(prob.data(), bin.data(), 4);
  EXPECT_DOUBLE_EQ(sweep.best().threshold, 0.6);
  EXPECT_DOUBLE_EQ(sweep.best().f1, 1.0);
}

TEST(TrainLosses, MedianFrequencyAndSchedules) {
  const auto w = median_frequency_weights({100, 10, 0}, {1000, 1000, 0});
  EXPECT_FLOAT_EQ(w[0], 0.55F);  // median(0.1, 0.01) / 0.1
  EXPECT_FLOAT_EQ(w[1], 5.5F);
  EXPECT_FLOAT_EQ(w[2], 0.0F);
  ScheduleConfig poly{ScheduleKind::poly, 1.0, 0.0, 10, 110};
  EXPECT_DOUBLE_EQ(scheduled_lr(poly, 1.0, 0), 0.1);
  EXPECT_DOUBLE_EQ(scheduled_lr(poly, 1.0, 60), 0.5);
  EXPECT_THROW(parse_loss_kind("focal"), Error);
}

}  // namespace
}  // namespace terraseg
