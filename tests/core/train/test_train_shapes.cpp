// The training executor at many input shapes: inference-mode forwards (validation) keep one plan and
// free each activation after its last use; none of that may change a result, in inference or in the
// training steps that follow.
#include <gtest/gtest.h>

#include <cmath>
#include <utility>

#include "terraseg/core/builders.hpp"
#include "terraseg/core/train_graph.hpp"
#include "terraseg/core/trainer.hpp"
#include "train_test_util.hpp"

namespace terraseg {
namespace {

void expect_same(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.dims(), b.dims()) << what;
  for (int64_t i = 0; i < a.size(); ++i) ASSERT_EQ(a.data()[i], b.data()[i]) << what << " [" << i << "]";
}

/// Inference at shape A, then B, then A again; a training step; inference at B; a second training
/// step: every output and gradient equals that of a fresh graph doing only that call (or, for the
/// training steps, the same training steps).
void check_shapes(const Graph& graph, Dims a, Dims b, Dims batch) {
  const Tensor xa = test::random_tensor(std::move(a), 11), xb = test::random_tensor(std::move(b), 12),
               xt = test::random_tensor(std::move(batch), 13);
  TrainGraph mixed(graph);
  const Tensor out_a = mixed.forward(xa, false);
  const Tensor out_b = mixed.forward(xb, false);
  expect_same(mixed.forward(xa, false), out_a, "shape A again, after B");
  {
    TrainGraph fresh(graph);
    expect_same(fresh.forward(xb, false), out_b, "shape B against a fresh graph");
  }
  TrainGraph trained(graph);  // the same two training steps with no inference between them
  for (int step = 0; step < 2; ++step) {
    const Tensor expected = trained.forward(xt, true);
    expect_same(mixed.forward(xt, true), expected, "training forward " + std::to_string(step));
    const Tensor r = test::random_tensor(expected.dims(), 20 + step);
    mixed.backward(r);
    trained.backward(r);
    for (const std::string& name : trained.parameters()) {
      expect_same(mixed.grad(name), trained.grad(name), name + " gradient, step " + std::to_string(step));
    }
    const Tensor between = mixed.forward(xb, false);  // validation between the steps
    ASSERT_EQ(between.dims(), out_b.dims());
  }
}

TEST(TrainShapes, UNetInferenceAtManyShapesChangesNoResult) {
  UNetSpec spec;
  spec.depth = 2;
  spec.base_width = 8;
  check_shapes(build_unet(spec), {1, 3, 32, 48}, {1, 3, 40, 24}, {2, 3, 16, 16});
}

TEST(TrainShapes, SegNetWithPoolingIndicesAtManyShapesChangesNoResult) {
  SegNetSpec spec;
  spec.basic = true;
  spec.base_width = 8;
  spec.classes = 3;
  check_shapes(build_segnet(spec), {1, 3, 32, 48}, {1, 3, 48, 32}, {2, 3, 32, 32});
}

TEST(TrainShapes, ValidationPredictsWithTheCurrentWeightsAsTheTrainingExecutorWould) {
  // Trainer::predict runs the inference engine on a snapshot of the weights: after each training
  // step its probabilities match the training executor's inference mode, and they follow the steps.
  UNetSpec spec;
  spec.depth = 2;
  spec.base_width = 8;
  spec.classes = 2;
  TrainGraph graph(build_unet(spec));
  TrainerConfig config;
  config.lr = 0.05;
  Trainer trainer(graph, config);
  const Tensor x = test::random_tensor({1, 3, 40, 56}, 31);
  std::vector<uint8_t> ids;
  std::vector<float> before;
  trainer.predict(x, ids, &before);
  for (int step = 0; step < 2; ++step) {
    Labels labels{2, 16, 16, {}};
    for (int i = 0; i < 2 * 16 * 16; ++i) labels.ids.push_back(static_cast<uint8_t>((i / 7 + step) % 2));
    trainer.step(test::random_tensor({2, 3, 16, 16}, 40 + static_cast<uint64_t>(step)), labels);
    std::vector<float> positive;
    trainer.predict(x, ids, &positive);
    const Tensor& logits = graph.forward(x, false);
    const int64_t plane = int64_t{40} * 56;
    ASSERT_EQ(positive.size(), static_cast<size_t>(plane));
    float changed = 0.0F;
    for (int64_t p = 0; p < plane; ++p) {
      const float z = logits.data()[plane + p] - logits.data()[p];
      const float want = 1.0F / (1.0F + std::exp(-z));
      ASSERT_NEAR(positive[static_cast<size_t>(p)], want, 1e-4F) << "step " << step << ", pixel " << p;
      if (std::abs(want - 0.5F) > 1e-3F) {
        EXPECT_EQ(ids[static_cast<size_t>(p)], want > 0.5F ? 1 : 0) << p;
      }
      changed = std::max(changed, std::abs(positive[static_cast<size_t>(p)] - before[static_cast<size_t>(p)]));
    }
    EXPECT_GT(changed, 1e-3F) << "step " << step << ": predictions must follow the weights";
    before = positive;
  }
}

}  // namespace
}  // namespace terraseg
