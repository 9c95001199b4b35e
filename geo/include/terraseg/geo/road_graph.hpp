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
  double x = 0.0;  ///< centroid column in pixel coordinates (0-based; a pixel's centre is at col + 0.5)
  double y = 0.0;  ///< centroid row, same convention
  int degree = 0;  ///< incident edges (a closed loop counts twice)
  /// An end where the mask was cut off (a strip of a larger raster, see RoadGraphOptions::cut_rows_top),
  /// not a dead end: never pruned and not counted by ends().
  bool cut = false;
  bool is_junction() const { return degree >= 3; }
  bool is_end() const { return degree == 1 && !cut; }
};

/// An edge: a chain of skeleton pixels that each have exactly two skeleton neighbours.
struct RoadEdge {
  int from = -1;  ///< index into RoadGraph::nodes
  int to = -1;    ///< equal to `from` for a closed loop
  /// Polyline in pixel coordinates (pixel centres at +0.5): from's centroid, every chain pixel, to's
  /// centroid. Consecutive chain pixels are 1 or sqrt(2) pixels apart.
  std::vector<cv::Point2d> points;
  double length_m = 0.0;  ///< sum of the polyline's segments in metres
};

struct RoadGraph {
  std::vector<RoadNode> nodes;
  std::vector<RoadEdge> edges;

  double length_m() const;  ///< total edge length in metres
  int junctions() const;    ///< nodes with degree >= 3 (intersections)
  int ends() const;         ///< nodes with degree 1 (dead ends, or where the mask stops)
};

/// How the skeleton's graph is cleaned up. All zero (the default) keeps the raw skeleton graph; real
/// masks want road_graph_defaults(). With any of min_spur_m / merge_junctions_m set, nodes left with two
/// edges are dissolved (their edges joined into one) and unused nodes dropped.
struct RoadGraphOptions {
  /// Remove spurs (edges from an end to a junction) shorter than this, in metres: thinning leaves
  /// short branches at corners and ragged edges of wide roads, each faking an intersection. Repeated
  /// until none is left (a branch of a pruned branch goes too); a junction whose edges are all short
  /// spurs keeps its two longest, so an isolated short road is never removed whole. 0 keeps every edge.
  double min_spur_m = 0.0;
  /// Merge junctions joined by an edge shorter than this, in metres, into one junction at their mean
  /// position (the joining edges removed): thinning splits a wide crossing into several close
  /// junctions. 0 = off.
  double merge_junctions_m = 0.0;
  /// Radius in metres of a morphological closing of the mask before thinning (road_graph_from_mask()):
  /// fills notches, pinholes and gaps narrower than twice this, which would thin into loops and
  /// branches. Thin roads are kept (no opening). 0 = off.
  double smooth_mask_m = 0.0;
  /// Drop a closed loop back into its own node made of at most this many chain pixels (artefacts of
  /// thinning at 2x2 pixel blocks).
  int min_loop_pixels = 3;
  /// The mask continues beyond its first / last this many rows (padding added where a strip of a larger
  /// raster was cut): an end node in them is marked RoadNode::cut and never pruned.
  int cut_rows_top = 0;
  int cut_rows_bottom = 0;
};

/// Default road width for road_graph_defaults(), metres: a two-lane street with its margins.
inline constexpr double kDefaultRoadWidthM = 8.0;

/// Clean-up scaled from a typical road width and the pixel size: spurs shorter than 2.5 road widths
/// (at least 3 pixels) pruned, junctions closer than one road width (at least 2 pixels) merged, the
/// mask closed with a radius of a quarter road width (nothing below one pixel).
RoadGraphOptions road_graph_defaults(double road_width_m, const PixelSizeM& pixel);

/// One-pixel-wide, 8-connected centrelines of a road mask (CV_8U, nonzero = road), by Zhang–Suen
/// thinning (cv::ximgproc). The image border counts as background. Returns CV_8U 0/255, same size.
cv::Mat skeletonize(const cv::Mat& road_mask);

/// Length in metres of the step from `a` to `b` (pixel coordinates) for pixels of `pixel` metres:
/// a horizontal step is pixel.x, a vertical one pixel.y, a diagonal one their hypotenuse.
double segment_length_m(const cv::Point2d& a, const cv::Point2d& b, const PixelSizeM& pixel);

/// Graph of a skeleton (CV_8U, nonzero = centreline, as from skeletonize()). Staircase corner pixels
/// (two perpendicular 4-neighbours, nothing opposite) are dropped first, so chains are strictly
/// 8-connected and a 90-degree bend counts as one diagonal step.
/// Spurs, junction merging and node dissolving (see RoadGraphOptions) run after tracing.
RoadGraph build_road_graph(const cv::Mat& skeleton, const PixelSizeM& pixel, const RoadGraphOptions& options = {});

/// smooth_road_mask(), skeletonize(), build_road_graph(): the graph of a road mask.
RoadGraph road_graph_from_mask(const cv::Mat& road_mask, const PixelSizeM& pixel, const RoadGraphOptions& options = {});

/// The mask (CV_8U, nonzero = road) closed with an elliptical kernel of `radius_m` metres; the image
/// border neither grows nor erodes roads. CV_8U 0/255; unchanged when the radius is under one pixel.
cv::Mat smooth_road_mask(const cv::Mat& road_mask, const PixelSizeM& pixel, double radius_m);

}  // namespace terraseg::geo
