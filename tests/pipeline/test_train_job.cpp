// The training job without the CLI (train_job.hpp): a few steps on the tiny synthetic set, the
// thread count that ran, the exported card, and a resume that finds nothing left to do.
#include <gtest/gtest.h>

#include "terraseg/core/onnx.hpp"
#include "test_support.hpp"
#include "train_config.hpp"
#include "train_fixtures.hpp"
#include "train_job.hpp"

namespace {

namespace fs = std::filesystem;
using terraseg::test::TempDir;

TEST(TrainJob, TrainsExportsAndResumesWithoutTheCli) {
  TempDir dir;
  terraseg::test::make_dataset(dir.path());
  terraseg::TrainConfig config =
      terraseg::load_train_config(terraseg::test::write_config(dir.path(), "job", terraseg::test::kUNet));
  config.optim.epochs = 2;  // 6 training pairs / batch 2 = 3 steps per epoch
  terraseg::TrainOptions options;
  options.quiet = true;
  const terraseg::TrainResult result = terraseg::train_job(config, options);
  EXPECT_EQ(result.steps, 6);
  EXPECT_EQ(result.threads, 1) << "the config's threads: 1";
  EXPECT_GE(result.best, 0.0);
  ASSERT_TRUE(fs::exists(dir / "job/model.onnx"));
  EXPECT_TRUE(fs::exists(dir / "job/ckpt/last.ckpt"));
  const terraseg::Graph exported = terraseg::load_onnx((dir / "job/model.onnx").string());
  EXPECT_EQ(exported.card.class_name(1), "square");
  EXPECT_DOUBLE_EQ(exported.card.metrics.at("val_miou"), result.best);

  options.resume = true;
  const terraseg::TrainResult resumed = terraseg::train_job(config, options);
  EXPECT_EQ(resumed.steps, 6) << "every step was done: the resumed job takes none";
  EXPECT_DOUBLE_EQ(resumed.best, result.best);
}

}  // namespace
