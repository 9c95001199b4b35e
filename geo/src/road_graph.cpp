#include "terraseg/geo/road_graph.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <opencv2/ximgproc.hpp>

#include "road_graph_simplify.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg::geo {
namespace {

constexpr int kDx[8] = {1, 1, 0, -1, -1, -1, 0, 1};
constexpr int kDy[8] = {0, 1, 1, 1, 0, -1, -1, -1};

/// The working state of one graph build, in coordinates of the skeleton padded by one background
/// pixel on every side (so neighbour look-ups never leave the image).
struct Tracer {
  cv::Mat on;                          ///< CV_8U 0/1, padded skeleton
  cv::Mat labels;                      ///< CV_32S node cluster per pixel (0 = not a node pixel)
  cv::Mat visited;                     ///< CV_8U chain pixels already assigned to an edge
  std::vector<cv::Point2d> centroids;  ///< per label, padded pixel coordinates of the pixel centre
  RoadGraph graph;

  bool skeleton_at(cv::Point p) const { return on.at<uint8_t>(p) != 0; }
  int label_at(cv::Point p) const { return labels.at<int>(p); }
  static cv::Point2d centre(cv::Point p) { return {p.x - 0.5, p.y - 0.5}; }  // unpad, then +0.5
};

/// Drops staircase corners that thinning leaves (a pixel with two perpendicular 4-neighbours and
/// nothing on the opposite side): its two neighbours touch diagonally, so connectivity is kept, and
/// without it they are not mistaken for a tiny junction.
void remove_corner_pixels(cv::Mat& on) {
  for (int y = 1; y < on.rows - 1; ++y) {
    for (int x = 1; x < on.cols - 1; ++x) {
      if (on.at<uint8_t>(y, x) == 0) continue;
      const auto at = [&on, x, y](int dx, int dy) { return on.at<uint8_t>(y + dy, x + dx) != 0; };
      const bool n = at(0, -1), e = at(1, 0), s = at(0, 1), w = at(-1, 0);
      const bool ne = at(1, -1), se = at(1, 1), sw = at(-1, 1), nw = at(-1, -1);
      const bool corner = (n && e && !s && !sw && !w) || (e && s && !w && !nw && !n) || (s && w && !n && !ne && !e) ||
                          (w && n && !e && !se && !s);
      if (corner) on.at<uint8_t>(y, x) = 0;
    }
  }
}

cv::Mat neighbour_counts(const cv::Mat& on) {
  cv::Mat counts;
  const cv::Mat kernel = (cv::Mat_<float>(3, 3) << 1, 1, 1, 1, 0, 1, 1, 1, 1);
  cv::filter2D(on, counts, CV_8U, kernel, cv::Point(-1, -1), 0.0, cv::BORDER_CONSTANT);
  return counts;
}

/// Labels clusters of node pixels (skeleton pixels without exactly two skeleton neighbours).
void label_nodes(Tracer& tracer) {
  const cv::Mat counts = neighbour_counts(tracer.on);
  cv::Mat node_pixels = (tracer.on != 0) & (counts != 2);
  cv::Mat stats;
  cv::Mat centroids;
  const int n = cv::connectedComponentsWithStats(node_pixels, tracer.labels, stats, centroids, 8, CV_32S);
  tracer.centroids.assign(static_cast<size_t>(n), {});
  for (int label = 1; label < n; ++label) {
    // connectedComponents gives centroids in pixel indices; shift to our centre-based coordinates.
    tracer.centroids[static_cast<size_t>(label)] = {centroids.at<double>(label, 0) - 0.5,
                                                    centroids.at<double>(label, 1) - 0.5};
    tracer.graph.nodes.push_back(
        RoadNode{tracer.centroids[static_cast<size_t>(label)].x, tracer.centroids[static_cast<size_t>(label)].y, 0});
  }
}

/// Follows the chain that leaves node pixel `start` through chain pixel `first` until a node pixel.
RoadEdge trace_chain(Tracer& tracer, cv::Point start, cv::Point first) {
  RoadEdge edge;
  const int start_label = tracer.label_at(start);
  edge.from = start_label - 1;
  edge.points.push_back(tracer.centroids[static_cast<size_t>(start_label)]);
  cv::Point prev = start;
  cv::Point cur = first;
  edge.to = edge.from;  // for a chain that cannot continue (should not happen for a thin skeleton)
  while (true) {
    tracer.visited.at<uint8_t>(cur) = 1;
    edge.points.push_back(Tracer::centre(cur));
    bool moved = false;
    for (int k = 0; k < 8 && !moved; ++k) {
      const cv::Point next(cur.x + kDx[k], cur.y + kDy[k]);
      if (next == prev || !tracer.skeleton_at(next)) continue;
      if (const int label = tracer.label_at(next); label > 0) {
        edge.to = label - 1;
        edge.points.push_back(tracer.centroids[static_cast<size_t>(label)]);
        return edge;
      }
      if (tracer.visited.at<uint8_t>(next) != 0) continue;
      prev = cur;
      cur = next;
      moved = true;
    }
    if (!moved) return edge;
  }
}

void add_edge(Tracer& tracer, RoadEdge edge, const PixelSizeM& pixel, const RoadGraphOptions& options) {
  const bool self_loop = edge.from == edge.to;
  if (self_loop && static_cast<int>(edge.points.size()) - 2 <= options.min_loop_pixels) return;
  for (size_t i = 1; i < edge.points.size(); ++i)
    edge.length_m += segment_length_m(edge.points[i - 1], edge.points[i], pixel);
  tracer.graph.nodes[static_cast<size_t>(edge.from)].degree += 1;
  tracer.graph.nodes[static_cast<size_t>(edge.to)].degree += 1;
  tracer.graph.edges.push_back(std::move(edge));
}

void trace_from_nodes(Tracer& tracer, const PixelSizeM& pixel, const RoadGraphOptions& options) {
  for (int y = 1; y < tracer.on.rows - 1; ++y) {
    for (int x = 1; x < tracer.on.cols - 1; ++x) {
      const cv::Point p(x, y);
      if (tracer.label_at(p) == 0) continue;
      for (int k = 0; k < 8; ++k) {
        const cv::Point q(x + kDx[k], y + kDy[k]);
        if (!tracer.skeleton_at(q) || tracer.label_at(q) != 0 || tracer.visited.at<uint8_t>(q) != 0) continue;
        add_edge(tracer, trace_chain(tracer, p, q), pixel, options);
      }
    }
  }
}

/// Chains without any node are closed rings: give each a node at its first pixel and trace it round.
void trace_rings(Tracer& tracer, const PixelSizeM& pixel, const RoadGraphOptions& options) {
  for (int y = 1; y < tracer.on.rows - 1; ++y) {
    for (int x = 1; x < tracer.on.cols - 1; ++x) {
      const cv::Point p(x, y);
      if (!tracer.skeleton_at(p) || tracer.label_at(p) != 0 || tracer.visited.at<uint8_t>(p) != 0) continue;
      const int label = static_cast<int>(tracer.centroids.size());
      tracer.labels.at<int>(p) = label;
      tracer.centroids.push_back(Tracer::centre(p));
      tracer.graph.nodes.push_back(RoadNode{Tracer::centre(p).x, Tracer::centre(p).y, 0});
      for (int k = 0; k < 8; ++k) {
        const cv::Point q(x + kDx[k], y + kDy[k]);
        if (tracer.skeleton_at(q) && tracer.label_at(q) == 0 && tracer.visited.at<uint8_t>(q) == 0) {
          add_edge(tracer, trace_chain(tracer, p, q), pixel, options);
          break;
        }
      }
    }
  }
}

/// Marks ends in the rows where the mask was cut off (coordinates of the unpadded skeleton).
void mark_cut_ends(RoadGraph& graph, int rows, const RoadGraphOptions& options) {
  for (RoadNode& node : graph.nodes) {
    const bool in_cut = node.y < options.cut_rows_top || node.y > rows - options.cut_rows_bottom;
    node.cut = node.degree == 1 && in_cut;
  }
}

}  // namespace

double RoadGraph::length_m() const {
  double total = 0.0;
  for (const RoadEdge& edge : edges) total += edge.length_m;
  return total;
}

int RoadGraph::junctions() const {
  int count = 0;
  for (const RoadNode& node : nodes) count += node.is_junction() ? 1 : 0;
  return count;
}

int RoadGraph::ends() const {
  int count = 0;
  for (const RoadNode& node : nodes) count += node.is_end() ? 1 : 0;
  return count;
}

cv::Mat skeletonize(const cv::Mat& road_mask) {
  if (road_mask.type() != CV_8UC1) throw Error("skeletonize: the road mask must be single-channel 8-bit");
  if (road_mask.empty()) return cv::Mat(road_mask.size(), CV_8U, cv::Scalar(0));
  // Pad so that roads touching the image border thin like any other (OpenCV skips the outer ring).
  cv::Mat padded;
  cv::copyMakeBorder(road_mask != 0, padded, 1, 1, 1, 1, cv::BORDER_CONSTANT, cv::Scalar(0));
  cv::Mat thin;
  cv::ximgproc::thinning(padded, thin, cv::ximgproc::THINNING_ZHANGSUEN);
  return thin(cv::Rect(1, 1, road_mask.cols, road_mask.rows)).clone();
}

double segment_length_m(const cv::Point2d& a, const cv::Point2d& b, const PixelSizeM& pixel) {
  return std::hypot((b.x - a.x) * pixel.x, (b.y - a.y) * pixel.y);
}

RoadGraph build_road_graph(const cv::Mat& skeleton, const PixelSizeM& pixel, const RoadGraphOptions& options) {
  if (skeleton.type() != CV_8UC1) throw Error("build_road_graph: the skeleton must be single-channel 8-bit");
  Tracer tracer;
  cv::Mat binary = (skeleton != 0) / 255;
  cv::copyMakeBorder(binary, tracer.on, 1, 1, 1, 1, cv::BORDER_CONSTANT, cv::Scalar(0));
  remove_corner_pixels(tracer.on);
  tracer.visited = cv::Mat::zeros(tracer.on.size(), CV_8U);
  label_nodes(tracer);
  trace_from_nodes(tracer, pixel, options);
  trace_rings(tracer, pixel, options);
  mark_cut_ends(tracer.graph, skeleton.rows, options);
  detail::simplify_road_graph(tracer.graph, pixel, options);
  return std::move(tracer.graph);
}

cv::Mat smooth_road_mask(const cv::Mat& road_mask, const PixelSizeM& pixel, double radius_m) {
  if (road_mask.type() != CV_8UC1) throw Error("smooth_road_mask: the road mask must be single-channel 8-bit");
  cv::Mat mask = road_mask != 0;
  const int rx = static_cast<int>(std::lround(radius_m / pixel.x));
  const int ry = static_cast<int>(std::lround(radius_m / pixel.y));
  if (rx < 1 && ry < 1) return mask;
  // The default border value of erode/dilate never wins, so the image edge neither erodes nor grows roads.
  const cv::Mat kernel = cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * rx + 1, 2 * ry + 1));
  cv::morphologyEx(mask, mask, cv::MORPH_CLOSE, kernel);
  return mask;
}

RoadGraph road_graph_from_mask(const cv::Mat& road_mask, const PixelSizeM& pixel, const RoadGraphOptions& options) {
  const cv::Mat mask =
      options.smooth_mask_m > 0.0 ? smooth_road_mask(road_mask, pixel, options.smooth_mask_m) : road_mask;
  return build_road_graph(skeletonize(mask), pixel, options);
}

RoadGraphOptions road_graph_defaults(double road_width_m, const PixelSizeM& pixel) {
  if (!(road_width_m > 0.0)) throw Error("road_graph_defaults: the road width must be positive");
  const double pixel_m = std::max(pixel.x, pixel.y);
  RoadGraphOptions options;
  options.min_spur_m = std::max(2.5 * road_width_m, 3.0 * pixel_m);
  options.merge_junctions_m = std::max(road_width_m, 2.0 * pixel_m);
  options.smooth_mask_m = 0.25 * road_width_m;
  return options;
}

}  // namespace terraseg::geo
