// One and two optimiser steps on a tiny network agree with PyTorch 1.13 (tests/reference/
// make_train_reference.py writes the expected loss, gradients and updated weights).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "terraseg/core/trainer.hpp"
#include "test_support.hpp"
#include "train_test_util.hpp"

namespace terraseg {
namespace {

using test::make_node;
using Ints = std::vector<int64_t>;

nlohmann::json reference() {
  std::ifstream in(test::source_dir() / "tests/reference/train_step_reference.json");
  return nlohmann::json::parse(in);
}

Tensor tensor_of(const nlohmann::json& entry) {
  return Tensor(entry.at("dims").get<Dims>(), entry.at("values").get<std::vector<float>>());
}

/// The network of make_train_reference.py, node for node.
Graph tiny_network(const nlohmann::json& ref) {
  Graph g = test::single_input_graph({2, 3, 8, 8});
  for (const auto& [name, entry] : ref.at("initial").items()) g.weights[name] = tensor_of(entry);
  g.weights["pr.s"].reshape({4, 1, 1});
  const Ints pad1{1, 1, 1, 1}, two{2, 2};
  g.nodes.push_back(make_node("Conv", {"x", "c1.w", "c1.b"}, {"c1"}, {{"pads", pad1}}));
  g.nodes.push_back(make_node("BatchNormalization", {"c1", "bn.s", "bn.b", "bn.m", "bn.v"}, {"bn"},
                              {{"epsilon", 1e-5F}, {"momentum", 0.9F}}));
  g.nodes.push_back(make_node("Relu", {"bn"}, {"r1"}));
  g.nodes.push_back(make_node("MaxPool", {"r1"}, {"p", "i"}, {{"kernel_shape", two}, {"strides", two}}));
  g.nodes.push_back(make_node("Conv", {"p", "c2.w"}, {"c2"}, {{"pads", pad1}}));
  g.nodes.push_back(make_node("PRelu", {"c2", "pr.s"}, {"pr"}));
  g.nodes.push_back(make_node("MaxUnpool", {"pr", "i"}, {"u"}, {{"kernel_shape", two}, {"strides", two}}));
  g.nodes.push_back(make_node("Concat", {"u", "r1"}, {"cat"}, {{"axis", int64_t{1}}}));
  g.nodes.push_back(make_node("ConvTranspose", {"cat", "d.w", "d.b"}, {"d"}, {{"strides", two}}));
  g.nodes.push_back(make_node("AveragePool", {"d"}, {"a"}, {{"kernel_shape", two}, {"strides", two}}));
  g.nodes.push_back(make_node("Conv", {"a", "h.w", "h.b"}, {"y"}));
  return g;
}

Labels labels_of(const nlohmann::json& ref) {
  Labels labels{2, 8, 8, {}};
  for (int v : ref.at("labels")) labels.ids.push_back(static_cast<uint8_t>(v));
  return labels;
}

void expect_close(const std::vector<float>& actual, const std::vector<double>& expected, double tol,
                  const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], tol * (1.0 + std::abs(expected[i]))) << what << "[" << i << "]";
  }
}

std::vector<float> values(const Tensor& t) { return {t.values().begin(), t.values().end()}; }

TrainerConfig config_for(const nlohmann::json& ref, OptimizerType type, const std::string& key) {
  TrainerConfig config;
  config.optimizer.type = type;
  config.optimizer.momentum = 0.9;
  config.optimizer.weight_decay = ref.at(key).at("weight_decay").get<double>();
  config.lr = ref.at(key).at("lr").get<double>();
  config.schedule.kind = ScheduleKind::constant;
  config.loss.class_weights = ref.at("class_weights").get<std::vector<float>>();
  return config;
}

TEST(TrainParity, LossGradientsAndRunningStatsMatchPyTorch) {
  const nlohmann::json ref = reference();
  TrainGraph graph(tiny_network(ref));
  TrainerConfig config = config_for(ref, OptimizerType::sgd, "sgd");
  config.lr = 0.0;  // look at the gradients only
  Trainer trainer(graph, config);
  const StepStats stats = trainer.step(tensor_of(ref.at("input")), labels_of(ref));
  EXPECT_NEAR(stats.loss, ref.at("loss").get<double>(), 1e-5);
  for (const auto& [name, grad] : ref.at("grads").items()) {
    expect_close(values(graph.grad(name)), grad.get<std::vector<double>>(), 1e-4, "grad " + name);
  }
  expect_close(values(graph.weight("bn.m")), ref.at("running_mean").get<std::vector<double>>(), 1e-5, "running mean");
  expect_close(values(graph.weight("bn.v")), ref.at("running_var").get<std::vector<double>>(), 1e-5, "running var");
}

void check_two_steps(OptimizerType type, const std::string& key) {
  const nlohmann::json ref = reference();
  TrainGraph graph(tiny_network(ref));
  Trainer trainer(graph, config_for(ref, type, key));
  const Tensor input = tensor_of(ref.at("input"));
  const Labels labels = labels_of(ref);
  for (int step = 0; step < ref.at(key).at("steps").get<int>(); ++step) trainer.step(input, labels);
  for (const auto& [name, weights] : ref.at(key).at("weights").items()) {
    std::vector<float> actual = values(graph.weight(name));
    std::vector<double> expected = weights.get<std::vector<double>>();
    // A conv bias in front of BatchNorm has a true gradient of exactly 0; Adam normalises the float
    // rounding noise left there to +-lr, in either direction. Such elements carry no signal: skip them.
    const auto grads = ref.at("grads").at(name).get<std::vector<double>>();
    for (size_t i = 0; i < grads.size(); ++i) {
      if (type != OptimizerType::sgd && std::abs(grads[i]) < 1e-9) actual[i] = static_cast<float>(expected[i]);
    }
    expect_close(actual, expected, 1e-4, key + " " + name);
  }
}

TEST(TrainParity, TwoSgdMomentumStepsMatchPyTorch) { check_two_steps(OptimizerType::sgd, "sgd"); }
TEST(TrainParity, TwoAdamStepsMatchPyTorch) { check_two_steps(OptimizerType::adam, "adam"); }
TEST(TrainParity, TwoAdamWStepsMatchPyTorch) { check_two_steps(OptimizerType::adamw, "adamw"); }

}  // namespace
}  // namespace terraseg
