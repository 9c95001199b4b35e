// Pad and Resize / Upsample against the naive reference.
#include <gtest/gtest.h>

#include "engine_test_util.hpp"

namespace terraseg::test {
namespace {

TEST(PadOp, ModesWithAsymmetricPads) {
  const Tensor x = random_tensor({1, 3, 17, 23}, 600);
  for (const std::string mode : {"constant", "reflect", "edge"}) {
    SCOPED_TRACE(mode);
    const Graph g = make_graph({make_node(
        "Pad", {"x"}, {{"mode", mode}, {"pads", ints({0, 0, 1, 3, 0, 0, 2, 0})}, {"constant_value", 0.5F}})});
    const Tensor out = run_engine(g, x);
    ASSERT_EQ(out.dims(), (Dims{1, 3, 20, 26}));
    EXPECT_EQ(max_abs_diff(out, run_reference(g, x).at("y")), 0.0F);
  }
}

TEST(ResizeOp, NearestModesAndTransforms) {
  const Tensor x = random_tensor({1, 3, 7, 9}, 610);
  for (const std::string transform : {"half_pixel", "align_corners", "asymmetric", "pytorch_half_pixel"}) {
    for (const std::string nearest : {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"}) {
      for (const float scale : {2.0F, 0.5F, 1.7F}) {
        SCOPED_TRACE(transform + " " + nearest + " " + std::to_string(scale));
        const Graph g = make_graph({make_node("Resize", {"x"},
                                              {{"mode", std::string("nearest")},
                                               {"coordinate_transformation_mode", transform},
                                               {"nearest_mode", nearest},
                                               {"scales", floats({1.0F, 1.0F, scale, scale})}})});
        EXPECT_EQ(engine_vs_reference(g, x), 0.0F);
      }
    }
  }
}

TEST(ResizeOp, LinearTransformsScalesAndSizes) {
  const Tensor x = random_tensor({2, 3, 7, 9}, 620);
  for (const std::string transform : {"half_pixel", "align_corners", "asymmetric", "pytorch_half_pixel"}) {
    for (const float scale : {2.0F, 0.5F, 1.7F}) {
      SCOPED_TRACE(transform + " " + std::to_string(scale));
      const Graph g = make_graph({make_node("Resize", {"x"},
                                            {{"mode", std::string("linear")},
                                             {"coordinate_transformation_mode", transform},
                                             {"scales", floats({1.0F, 1.0F, scale, scale})}})});
      EXPECT_LT(engine_vs_reference(g, x), 1e-5F);
    }
    const Graph sized = make_graph({make_node("Resize", {"x"},
                                              {{"mode", std::string("linear")},
                                               {"coordinate_transformation_mode", transform},
                                               {"sizes", ints({2, 3, 15, 4})}})});
    EXPECT_LT(engine_vs_reference(sized, x), 1e-5F);
  }
}

TEST(ResizeOp, BilinearOnBlockedLayoutUsesResampling) {
  // After a conv the tensor is blocked; half_pixel x2 runs as oneDNN resampling on that layout.
  const std::map<std::string, Tensor> w{{"W", random_tensor({16, 3, 3, 3}, 630)}};
  Node conv = make_node("Conv", {"x", "W"}, {{"pads", ints({1, 1, 1, 1})}}, {"c"});
  Node up = make_node("Resize", {"c"}, {{"mode", std::string("linear")}, {"scales", floats({1.0F, 1.0F, 2.0F, 2.0F})}});
  EXPECT_LT(engine_vs_reference(make_graph({conv, up}, w), random_tensor({1, 3, 9, 11}, 631)), 1e-4F);
}

TEST(UpsampleOp, NearestAndLinear) {
  const Tensor x = random_tensor({1, 2, 5, 6}, 640);
  for (const std::string mode : {"nearest", "linear"}) {
    SCOPED_TRACE(mode);
    const Graph g =
        make_graph({make_node("Upsample", {"x"}, {{"mode", mode}, {"scales", floats({1.0F, 1.0F, 2.0F, 3.0F})}})});
    EXPECT_LT(engine_vs_reference(g, x), 1e-6F);
  }
}

TEST(ResizeOp, AlignCornersDownsampleByScalesUsesTheUnroundedLength) {
  // ONNX: x_original = x_resized * (length_original - 1) / (length_resized - 1) with
  // length_resized = length_original * scale = 2.4 here (the output has floor(2.4) = 2 columns),
  // as in ONNX's resize_downsample_scales_linear_align_corners: [[1, 2, 3, 4], [5, 6, 7, 8]] -> [[1, 3.142857]].
  const Tensor x({1, 1, 2, 4}, {1, 2, 3, 4, 5, 6, 7, 8});
  const Graph g = make_graph({make_node("Resize", {"x"},
                                        {{"mode", std::string("linear")},
                                         {"coordinate_transformation_mode", std::string("align_corners")},
                                         {"scales", floats({1.0F, 1.0F, 0.6F, 0.6F})}})});
  const Tensor out = run_engine(g, x);
  ASSERT_EQ(out.dims(), (Dims{1, 1, 1, 2}));
  EXPECT_FLOAT_EQ(out.data()[0], 1.0F);
  EXPECT_NEAR(out.data()[1], 1.0F + 3.0F / 1.4F, 1e-5F);
  EXPECT_LT(engine_vs_reference(g, x), 1e-6F);
}

TEST(ResizeOp, NonIntegralScalesMatchReference) {
  // Scales whose output length is rounded down: every transform computes with in * scale.
  const Tensor x = random_tensor({1, 2, 7, 9}, 650);
  for (const std::string mode : {"nearest", "linear"}) {
    for (const std::string transform : {"half_pixel", "align_corners", "asymmetric", "pytorch_half_pixel"}) {
      for (const float scale : {0.6F, 0.3F, 1.3F, 0.15F}) {
        SCOPED_TRACE(mode + " " + transform + " " + std::to_string(scale));
        const Graph g = make_graph({make_node("Resize", {"x"},
                                              {{"mode", mode},
                                               {"coordinate_transformation_mode", transform},
                                               {"scales", floats({1.0F, 1.0F, scale, scale})}})});
        EXPECT_LT(engine_vs_reference(g, x), 1e-5F);
      }
    }
  }
}

}  // namespace
}  // namespace terraseg::test
