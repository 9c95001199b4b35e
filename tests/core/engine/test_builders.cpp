// Native U-Net / SegNet builders: structure, determinism, and engine == reference interpreter.
#include <gtest/gtest.h>

#include <cmath>

#include "engine_test_util.hpp"
#include "terraseg/core/builders.hpp"

namespace terraseg::test {
namespace {

bool has_node(const Graph& g, const std::string& name, const std::string& op) {
  for (const Node& n : g.nodes) {
    if (n.name == name) return n.op == op;
  }
  return false;
}

/// Relative comparison for deep nets: |engine - reference| <= tol * max|reference|.
void expect_engine_matches_reference(const Graph& g, const Tensor& x, float tol) {
  const Tensor out = run_engine(g, x);
  const Tensor ref = run_reference(g, x).at(g.outputs[0]);
  ASSERT_EQ(out.dims(), ref.dims());
  float scale = 0.0F;
  for (float v : ref.values()) scale = std::max(scale, std::fabs(v));
  ASSERT_GT(scale, 0.0F);
  EXPECT_LT(max_abs_diff(out, ref), tol * scale);
}

TEST(BuildUNet, StructureAndNames) {
  UNetSpec spec;
  spec.depth = 2;
  spec.base_width = 8;
  spec.classes = 3;
  const Graph g = build_unet(spec);
  EXPECT_NO_THROW(g.validate());
  EXPECT_EQ(g.input_dims, (Dims{1, 3, -1, -1}));
  EXPECT_EQ(g.card.architecture, "unet");
  EXPECT_EQ(g.card.classes.size(), 3U);
  EXPECT_TRUE(has_node(g, "enc1.conv1", "Conv"));
  EXPECT_TRUE(has_node(g, "enc2.bn2", "BatchNormalization"));
  EXPECT_TRUE(has_node(g, "bottleneck.conv1", "Conv"));
  EXPECT_TRUE(has_node(g, "dec1.up", "ConvTranspose"));
  EXPECT_TRUE(has_node(g, "dec2.concat", "Concat"));
  EXPECT_TRUE(has_node(g, "head.conv", "Conv"));
  EXPECT_EQ(g.weights.at("enc1.conv1.weight").dims(), (Dims{8, 3, 3, 3}));
  EXPECT_EQ(g.weights.at("bottleneck.conv2.weight").dims(), (Dims{32, 32, 3, 3}));
  EXPECT_EQ(g.weights.at("dec1.conv1.weight").dims(), (Dims{8, 16, 3, 3}));
  EXPECT_EQ(g.weights.at("enc1.bn1.var").data()[0], 1.0F);
}

TEST(BuildUNet, SeedIsDeterministic) {
  UNetSpec spec;
  spec.depth = 1;
  spec.base_width = 4;
  EXPECT_EQ(build_unet(spec).weights.at("enc1.conv1.weight").storage(),
            build_unet(spec).weights.at("enc1.conv1.weight").storage());
  UNetSpec other = spec;
  other.seed = 2;
  EXPECT_NE(build_unet(spec).weights.at("enc1.conv1.weight").storage(),
            build_unet(other).weights.at("enc1.conv1.weight").storage());
}

TEST(BuildUNet, EngineMatchesReferenceInterpreter) {
  UNetSpec spec;
  spec.depth = 2;
  spec.base_width = 8;
  spec.classes = 3;
  const Graph g = build_unet(spec);
  const Tensor x = random_tensor({1, 3, 24, 32}, 800);
  expect_engine_matches_reference(g, x, 1e-4F);
  EXPECT_EQ(run_engine(g, x).dims(), (Dims{1, 3, 24, 32}));
}

TEST(BuildUNet, BilinearVariantMatchesReference) {
  UNetSpec spec;
  spec.depth = 2;
  spec.base_width = 8;
  spec.transposed_conv = false;
  spec.batch_norm = false;
  const Graph g = build_unet(spec);
  EXPECT_TRUE(has_node(g, "dec1.up", "Resize"));
  EXPECT_TRUE(has_node(g, "dec1.upconv", "Conv"));
  expect_engine_matches_reference(g, random_tensor({1, 3, 16, 20}, 801), 1e-4F);
}

TEST(BuildSegNet, BasicMatchesReferenceInterpreter) {
  SegNetSpec spec;
  spec.basic = true;
  spec.base_width = 8;
  spec.classes = 4;
  const Graph g = build_segnet(spec);
  EXPECT_EQ(g.card.architecture, "segnet");
  EXPECT_TRUE(has_node(g, "enc4.pool", "MaxPool"));
  EXPECT_TRUE(has_node(g, "dec1.unpool", "MaxUnpool"));
  EXPECT_FALSE(has_node(g, "dec1.relu1", "Relu"));
  EXPECT_EQ(g.weights.at("enc1.conv1.weight").dims(), (Dims{8, 3, 7, 7}));
  const Tensor x = random_tensor({1, 3, 32, 48}, 802);
  expect_engine_matches_reference(g, x, 1e-4F);
}

TEST(BuildSegNet, Vgg16EncoderLayout) {
  SegNetSpec spec;
  spec.base_width = 8;
  spec.classes = 5;
  const Graph g = build_segnet(spec);
  EXPECT_TRUE(has_node(g, "enc5.conv3", "Conv"));
  EXPECT_FALSE(has_node(g, "enc2.conv3", "Conv"));
  EXPECT_EQ(g.weights.at("enc5.conv3.weight").dims(), (Dims{64, 64, 3, 3}));
  EXPECT_EQ(g.weights.at("dec2.conv2.weight").dims(), (Dims{8, 16, 3, 3}));
  expect_engine_matches_reference(g, random_tensor({1, 3, 32, 32}, 803), 1e-4F);
}

}  // namespace
}  // namespace terraseg::test
