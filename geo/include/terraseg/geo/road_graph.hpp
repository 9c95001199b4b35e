#pragma once
/// Road centrelines from a binary road mask: Zhang–Suen skeleton, then a graph of junctions, ends and
/// pixel-chain edges with lengths in metres. Used by the aerial indicators (indicators.hpp).
#include <opencv2/core.hpp>

#include <vector>

#include "terraseg/geo/raster_io.hpp"

namespace terraseg::geo {

/// A graph node: one 8-connected cluster of skeleton pixels that are not plain chain pixels, i.e. that
/// have 1 (end) or 0 or >= 3 (junction) skeleton neighbours. Clustering merges the few pixels around a
/// crossing that all see >= 3 neighbours into one intersection.
struct RoadNode {
  double x = 0.0;   ///< centroid column in pixel coordinates (0-based; a pixel's centre is at col + 0.5)
  double y = 0.0;   ///< centroid row, same convention
  int degree = 0;   ///< incident edges (a closed loop counts twice)
  bool is_junction() const { return degree >= 3; }
  bool is_end() const { return degree == 1; }
};

/// An edge: a chain of skeleton pixels that each have exactly two skeleton neighbours.
struct RoadEdge {
  int from = -1;                    ///< index into RoadGraph::nodes
  int to = -1;                      ///< equal to `from` for a closed loop
  /// Polyline in pixel coordinates (pixel centres at +0.5): from's centroid, every chain pixel, to's
  /// centroid. Consecutive chain pixels are 1 or sqrt(2) pixels apart.
  std::vector<cv::Point2d> points;
  double length_m = 0.0;            ///< sum of the polyline's segments in metres
};

struct RoadGraph {
  std::vector<RoadNode> nodes;
  std::vector<RoadEdge> edges;

  double length_m() const;          ///< total edge length in metres
  int junctions() const;            ///< nodes with degree >= 3 (intersections)
  int ends() const;                 ///< nodes with degree 1 (dead ends, or where the mask stops)
};

struct RoadGraphOptions {
  /// Remove spurs (edges from an end to a junction) shorter than this, in metres: thinning leaves
  /// short branches at corners of wide roads, each faking an intersection. 0 keeps every edge.
  double min_spur_m = 0.0;
  /// Drop a closed loop back into its own node made of at most this many chain pixels (artefacts of
  /// thinning at 2x2 pixel blocks).
  int min_loop_pixels = 3;
};

/// One-pixel-wide, 8-connected centrelines of a road mask (CV_8U, nonzero = road), by Zhang–Suen
/// thinning (cv::ximgproc). The image border counts as background. Returns CV_8U 0/255, same size.
cv::Mat skeletonize(const cv::Mat& road_mask);

/// Length in metres of the step from `a` to `b` (pixel coordinates) for pixels of `pixel` metres:
/// a horizontal step is pixel.x, a vertical one pixel.y, a diagonal one their hypotenuse.
double segment_length_m(const cv::Point2d& a, const cv::Point2d& b, const PixelSizeM& pixel);

/// Graph of a skeleton (CV_8U, nonzero = centreline, as from skeletonize()). Staircase corner pixels
/// (two perpendicular 4-neighbours, nothing opposite) are dropped first, so chains are strictly
/// 8-connected and a 90-degree bend counts as one diagonal step.
RoadGraph build_road_graph(const cv::Mat& skeleton, const PixelSizeM& pixel, const RoadGraphOptions& options = {});

}  // namespace terraseg::geo
