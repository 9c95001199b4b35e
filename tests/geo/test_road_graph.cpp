#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include <cmath>

#include "terraseg/geo/road_graph.hpp"

namespace terraseg::geo {
namespace {

/// Two 1-pixel-wide lines of 41 pixels crossing at their middles, (cx, cy), in a 61 x 61 image.
cv::Mat plus_mask(int cx = 30, int cy = 30, int half_width = 0) {
  cv::Mat mask(61, 61, CV_8U, cv::Scalar(0));
  cv::rectangle(mask, cv::Point(cx - 20, cy - half_width), cv::Point(cx + 20, cy + half_width), cv::Scalar(255), cv::FILLED);
  cv::rectangle(mask, cv::Point(cx - half_width, cy - 20), cv::Point(cx + half_width, cy + 20), cv::Scalar(255), cv::FILLED);
  return mask;
}

TEST(RoadGraph, PlusHasOneIntersectionFourEndsAndKnownLength) {
  const cv::Mat mask = plus_mask();
  const cv::Mat skeleton = skeletonize(mask);
  EXPECT_EQ(cv::countNonZero(skeleton), 81);  // already one pixel wide: thinning keeps every pixel
  const RoadGraph graph = build_road_graph(skeleton, PixelSizeM{2.0, 2.0});
  EXPECT_EQ(graph.junctions(), 1);
  EXPECT_EQ(graph.ends(), 4);
  ASSERT_EQ(graph.edges.size(), 4U);
  EXPECT_NEAR(graph.length_m(), 80.0 * 2.0, 1e-9);
  for (const RoadEdge& edge : graph.edges) EXPECT_NEAR(edge.length_m, 40.0, 1e-9);
  for (const RoadNode& node : graph.nodes) {
    if (!node.is_junction()) continue;
    EXPECT_DOUBLE_EQ(node.x, 30.5);  // the crossing pixel's centre
    EXPECT_DOUBLE_EQ(node.y, 30.5);
    EXPECT_EQ(node.degree, 4);
  }
}

TEST(RoadGraph, WidePlusThinsToOneIntersection) {
  const RoadGraph graph = build_road_graph(skeletonize(plus_mask(30, 30, 2)), PixelSizeM{1.0, 1.0});
  EXPECT_EQ(graph.junctions(), 1);
  EXPECT_EQ(graph.ends(), 4);
  // Thinning pulls each of the four ends in by about the half width (2 px) plus one.
  EXPECT_GE(graph.length_m(), 80.0 - 4 * 3.0);
  EXPECT_LE(graph.length_m(), 80.0);
}

TEST(RoadGraph, StepLengthsUseRectangularPixelSize) {
  const PixelSizeM pixel{2.0, 3.0};
  cv::Mat horizontal(5, 20, CV_8U, cv::Scalar(0));
  cv::line(horizontal, {2, 2}, {12, 2}, cv::Scalar(255));
  EXPECT_NEAR(build_road_graph(horizontal, pixel).length_m(), 10 * 2.0, 1e-9);
  cv::Mat vertical(20, 5, CV_8U, cv::Scalar(0));
  cv::line(vertical, {2, 2}, {2, 12}, cv::Scalar(255));
  EXPECT_NEAR(build_road_graph(vertical, pixel).length_m(), 10 * 3.0, 1e-9);
  cv::Mat diagonal(20, 20, CV_8U, cv::Scalar(0));
  for (int i = 0; i <= 10; ++i) diagonal.at<uint8_t>(2 + i, 2 + i) = 255;
  const RoadGraph graph = build_road_graph(diagonal, pixel);
  EXPECT_NEAR(graph.length_m(), 10 * std::hypot(2.0, 3.0), 1e-9);
  EXPECT_EQ(graph.ends(), 2);
  EXPECT_EQ(graph.junctions(), 0);
}

TEST(RoadGraph, ClosedRingIsOneLoopWithoutIntersections) {
  cv::Mat ring(20, 20, CV_8U, cv::Scalar(0));
  cv::rectangle(ring, cv::Point(5, 5), cv::Point(14, 14), cv::Scalar(255), 1);
  const RoadGraph graph = build_road_graph(skeletonize(ring), PixelSizeM{1.0, 1.0});
  EXPECT_EQ(graph.junctions(), 0);
  EXPECT_EQ(graph.ends(), 0);
  ASSERT_EQ(graph.edges.size(), 1U);
  EXPECT_EQ(graph.edges[0].from, graph.edges[0].to);
  // 36 boundary pixels; each corner pixel is dropped, its neighbours joined by one diagonal step.
  EXPECT_NEAR(graph.length_m(), 28.0 + 4.0 * std::sqrt(2.0), 1e-9);
}

TEST(RoadGraph, ShortSpursArePrunedOnRequest) {
  cv::Mat tee(30, 50, CV_8U, cv::Scalar(0));
  cv::line(tee, {5, 10}, {45, 10}, cv::Scalar(255));
  cv::line(tee, {25, 11}, {25, 13}, cv::Scalar(255));  // a 3-pixel spur below the middle
  const RoadGraph kept = build_road_graph(tee, PixelSizeM{1.0, 1.0});
  EXPECT_EQ(kept.junctions(), 1);
  EXPECT_EQ(kept.ends(), 3);
  EXPECT_NEAR(kept.length_m(), 43.0, 0.3);  // the junction cluster's centroid sits 0.25 px below the line
  RoadGraphOptions options;
  options.min_spur_m = 5.0;
  const RoadGraph pruned = build_road_graph(tee, PixelSizeM{1.0, 1.0}, options);
  EXPECT_EQ(pruned.junctions(), 0);
  EXPECT_EQ(pruned.ends(), 2);
  EXPECT_NEAR(pruned.length_m(), 40.0, 0.1);
}

TEST(RoadGraph, EmptyMaskGivesEmptyGraph) {
  const cv::Mat empty(10, 10, CV_8U, cv::Scalar(0));
  const RoadGraph graph = build_road_graph(skeletonize(empty), PixelSizeM{1.0, 1.0});
  EXPECT_TRUE(graph.edges.empty());
  EXPECT_EQ(graph.length_m(), 0.0);
}

}  // namespace
}  // namespace terraseg::geo
