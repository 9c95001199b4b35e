#include <gtest/gtest.h>

#include <cmath>
#include <opencv2/imgproc.hpp>
#include <random>

#include "terraseg/core/error.hpp"
#include "terraseg/geo/road_graph.hpp"

namespace terraseg::geo {
namespace {

/// Two 1-pixel-wide lines of 41 pixels crossing at their middles, (cx, cy), in a 61 x 61 image.
cv::Mat plus_mask(int cx = 30, int cy = 30, int half_width = 0) {
  cv::Mat mask(61, 61, CV_8U, cv::Scalar(0));
  cv::rectangle(mask, cv::Point(cx - 20, cy - half_width), cv::Point(cx + 20, cy + half_width), cv::Scalar(255),
                cv::FILLED);
  cv::rectangle(mask, cv::Point(cx - half_width, cy - 20), cv::Point(cx + half_width, cy + 20), cv::Scalar(255),
                cv::FILLED);
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

// --- Clean-up scaled from the road width (road_graph_defaults): 8 m roads on 0.5 m pixels, i.e. 16
// pixels wide; spurs under 20 m pruned, junctions under 8 m apart merged, the mask closed with 2 m.

const PixelSizeM kHalfMetre{0.5, 0.5};

RoadGraphOptions eight_metre_roads() { return road_graph_defaults(8.0, kHalfMetre); }

/// A `width`-pixel road from (x0, y0) to (x1, y1) (a thick line, square ends).
void road(cv::Mat& mask, cv::Point a, cv::Point b, int width = 16) {
  const cv::Point2d from = a, to = b;
  const cv::Point2d d = (to - from) * (1.0 / std::hypot(b.x - a.x, b.y - a.y));
  const cv::Point2d n(-d.y * width / 2.0, d.x * width / 2.0);
  const std::vector<cv::Point> corners{from + n, to + n, to - n, from - n};
  cv::fillConvexPoly(mask, corners, cv::Scalar(255));
}

/// Bumps (up to 5 px out, 2..8 px long) and notches along both edges of a horizontal road, fixed seed.
void ragged_edges(cv::Mat& mask, int x0, int x1, int top, int bottom, unsigned seed = 7) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> depth(1, 5), length(2, 8), kind(0, 2);
  for (int edge : {top, bottom}) {
    const int out = edge == top ? -1 : 1;
    for (int x = x0; x < x1;) {
      const int len = length(rng);
      const int k = kind(rng);
      const int dep = depth(rng);
      if (k != 0) {  // 1 bump out, 2 notch in
        const int y0 = k == 1 ? edge + out : edge - out * (dep - 1);
        const int y1 = k == 1 ? edge + out * dep : edge;
        cv::rectangle(mask, cv::Point(x, std::min(y0, y1)), cv::Point(std::min(x + len, x1), std::max(y0, y1)),
                      cv::Scalar(k == 1 ? 255 : 0), cv::FILLED);
      }
      x += len + length(rng);
    }
  }
}

TEST(RoadGraphDefaults, ScaleWithRoadWidthAndPixelSize) {
  const RoadGraphOptions fine = road_graph_defaults(8.0, kHalfMetre);
  EXPECT_DOUBLE_EQ(fine.min_spur_m, 20.0);
  EXPECT_DOUBLE_EQ(fine.merge_junctions_m, 8.0);
  EXPECT_DOUBLE_EQ(fine.smooth_mask_m, 2.0);
  const RoadGraphOptions coarse = road_graph_defaults(8.0, PixelSizeM{10.0, 10.0});  // roads under a pixel wide
  EXPECT_DOUBLE_EQ(coarse.min_spur_m, 30.0);                                         // 3 pixels
  EXPECT_DOUBLE_EQ(coarse.merge_junctions_m, 20.0);                                  // 2 pixels
  EXPECT_THROW(road_graph_defaults(0.0, kHalfMetre), Error);
}

TEST(RoadGraphDefaults, RaggedStraightRoadIsOneEdgeWithTwoEnds) {
  cv::Mat mask(120, 440, CV_8U, cv::Scalar(0));
  road(mask, {20, 60}, {420, 60});
  ragged_edges(mask, 24, 416, 52, 67);
  const RoadGraph raw = build_road_graph(skeletonize(mask), kHalfMetre);
  ASSERT_GT(raw.junctions(), 3) << "the ragged edges should sprout branches when nothing is pruned";
  const RoadGraph graph = road_graph_from_mask(mask, kHalfMetre, eight_metre_roads());
  EXPECT_EQ(graph.junctions(), 0);
  EXPECT_EQ(graph.ends(), 2);
  ASSERT_EQ(graph.edges.size(), 1U);
  EXPECT_NEAR(graph.length_m(), 400 * 0.5, 16 * 0.5);  // thinning pulls each end in by about half a width
}

TEST(RoadGraphDefaults, ExplicitZerosKeepTheRawSkeletonGraph) {
  cv::Mat mask(120, 440, CV_8U, cv::Scalar(0));
  road(mask, {20, 60}, {420, 60});
  ragged_edges(mask, 24, 416, 52, 67);
  RoadGraphOptions off = eight_metre_roads();
  off.min_spur_m = 0.0;
  off.merge_junctions_m = 0.0;
  off.smooth_mask_m = 0.0;
  const RoadGraph raw = build_road_graph(skeletonize(mask), kHalfMetre);
  const RoadGraph graph = road_graph_from_mask(mask, kHalfMetre, off);
  EXPECT_EQ(graph.junctions(), raw.junctions());
  EXPECT_EQ(graph.ends(), raw.ends());
  EXPECT_EQ(graph.nodes.size(), raw.nodes.size());
  EXPECT_EQ(graph.edges.size(), raw.edges.size());
  EXPECT_DOUBLE_EQ(graph.length_m(), raw.length_m());
}

TEST(RoadGraphDefaults, WideCrossingIsOneJunctionOfDegreeFour) {
  cv::Mat mask(240, 240, CV_8U, cv::Scalar(0));
  road(mask, {20, 120}, {220, 120});
  road(mask, {120, 20}, {120, 220}, 20);
  ragged_edges(mask, 24, 100, 112, 127);
  const RoadGraph raw = build_road_graph(skeletonize(mask), kHalfMetre);
  ASSERT_GT(raw.junctions(), 1);
  const RoadGraph graph = road_graph_from_mask(mask, kHalfMetre, eight_metre_roads());
  ASSERT_EQ(graph.junctions(), 1);
  EXPECT_EQ(graph.ends(), 4);
  for (const RoadNode& node : graph.nodes) {
    if (!node.is_junction()) continue;
    EXPECT_EQ(node.degree, 4);
    EXPECT_NEAR(node.x, 120.5, 4.0);
    EXPECT_NEAR(node.y, 120.5, 4.0);
  }
}

TEST(RoadGraphDefaults, TeeIsOneJunctionOfDegreeThree) {
  cv::Mat mask(200, 300, CV_8U, cv::Scalar(0));
  road(mask, {20, 40}, {280, 40});
  road(mask, {150, 40}, {150, 180}, 14);
  const RoadGraph graph = road_graph_from_mask(mask, kHalfMetre, eight_metre_roads());
  EXPECT_EQ(graph.junctions(), 1);
  EXPECT_EQ(graph.ends(), 3);
  EXPECT_EQ(graph.edges.size(), 3U);
}

TEST(RoadGraphDefaults, TwoCrossingsFarApartStayTwo) {
  cv::Mat mask(200, 500, CV_8U, cv::Scalar(0));
  road(mask, {20, 100}, {480, 100});
  road(mask, {150, 20}, {150, 180});
  road(mask, {350, 20}, {350, 180});
  const RoadGraph graph = road_graph_from_mask(mask, kHalfMetre, eight_metre_roads());
  EXPECT_EQ(graph.junctions(), 2);
  EXPECT_EQ(graph.ends(), 6);
  EXPECT_EQ(graph.edges.size(), 7U);  // the link between the crossings is one edge
}

TEST(RoadGraphDefaults, ShortIsolatedRoadsAreKept) {
  cv::Mat mask(100, 200, CV_8U, cv::Scalar(0));
  road(mask, {20, 30}, {50, 30});                                            // 15 m long: shorter than a spur
  road(mask, {120, 50}, {160, 50}, 4), road(mask, {140, 30}, {140, 70}, 4);  // a small plus, 10 m arms
  const RoadGraph graph = road_graph_from_mask(mask, kHalfMetre, eight_metre_roads());
  EXPECT_EQ(graph.junctions(), 0);
  EXPECT_EQ(graph.ends(), 4);  // the plus keeps its two longest arms as one road
  EXPECT_EQ(graph.edges.size(), 2U);
  EXPECT_GT(graph.length_m(), 20.0);  // about 7 m (15 m less the thinned-off ends) + 18 m
}

TEST(RoadGraph, SpursArePrunedUntilNoneIsLeft) {
  // A branch (10 px) that itself forks into two 5-px twigs: one pass removes the twigs, the next the
  // branch they leave behind as a spur.
  cv::Mat skeleton(40, 100, CV_8U, cv::Scalar(0));
  cv::line(skeleton, {5, 10}, {95, 10}, cv::Scalar(255));
  cv::line(skeleton, {50, 11}, {50, 25}, cv::Scalar(255));
  cv::line(skeleton, {51, 20}, {55, 20}, cv::Scalar(255));
  RoadGraphOptions options;
  options.min_spur_m = 12.0;
  const RoadGraph graph = build_road_graph(skeleton, PixelSizeM{1.0, 1.0}, options);
  EXPECT_EQ(graph.junctions(), 0);
  EXPECT_EQ(graph.ends(), 2);
  ASSERT_EQ(graph.edges.size(), 1U);
  EXPECT_NEAR(graph.length_m(), 90.0, 0.5);
}

TEST(RoadGraph, CloseJunctionsMergeIntoOne) {
  // Two vertical roads 4 px apart meet a horizontal one: two junctions joined by a 4-px edge.
  cv::Mat skeleton(60, 100, CV_8U, cv::Scalar(0));
  cv::line(skeleton, {5, 30}, {95, 30}, cv::Scalar(255));
  cv::line(skeleton, {48, 5}, {48, 29}, cv::Scalar(255));
  cv::line(skeleton, {52, 31}, {52, 55}, cv::Scalar(255));
  const RoadGraph apart = build_road_graph(skeleton, PixelSizeM{1.0, 1.0});
  EXPECT_EQ(apart.junctions(), 2);
  RoadGraphOptions options;
  options.merge_junctions_m = 6.0;
  const RoadGraph merged = build_road_graph(skeleton, PixelSizeM{1.0, 1.0}, options);
  ASSERT_EQ(merged.junctions(), 1);
  EXPECT_EQ(merged.ends(), 4);
  EXPECT_EQ(merged.edges.size(), 4U);
  for (const RoadNode& node : merged.nodes) {
    if (node.is_junction()) {
      EXPECT_NEAR(node.x, 50.5, 0.6);
    }
  }
}

TEST(RoadGraph, EmptyMaskGivesEmptyGraph) {
  const cv::Mat empty(10, 10, CV_8U, cv::Scalar(0));
  const RoadGraph graph = build_road_graph(skeletonize(empty), PixelSizeM{1.0, 1.0});
  EXPECT_TRUE(graph.edges.empty());
  EXPECT_EQ(graph.length_m(), 0.0);
}

}  // namespace
}  // namespace terraseg::geo
