#include "road_graph_simplify.hpp"

#include <algorithm>
#include <numeric>

namespace terraseg::geo::detail {
namespace {

size_t at(int index) { return static_cast<size_t>(index); }

void recount_degrees(RoadGraph& graph) {
  for (RoadNode& node : graph.nodes) node.degree = 0;
  for (const RoadEdge& edge : graph.edges) {
    graph.nodes[at(edge.from)].degree += 1;
    graph.nodes[at(edge.to)].degree += 1;
  }
}

double polyline_length_m(const std::vector<cv::Point2d>& points, const PixelSizeM& pixel) {
  double length = 0.0;
  for (size_t i = 1; i < points.size(); ++i) length += segment_length_m(points[i - 1], points[i], pixel);
  return length;
}

/// The end node of `edge` at a plain dead end (degree 1, not cut) when its other end is a junction; -1 if
/// the edge is no spur.
int spur_end(const RoadGraph& graph, const RoadEdge& edge) {
  const RoadNode& from = graph.nodes[at(edge.from)];
  const RoadNode& to = graph.nodes[at(edge.to)];
  if (from.is_end() && to.is_junction()) return edge.from;
  if (to.is_end() && from.is_junction()) return edge.to;
  return -1;
}

/// One pass: removes every spur shorter than `min_spur_m`, judged on the degrees before any removal (so
/// two spurs of one junction go together). A junction whose every edge is such a spur keeps its two
/// longest, so a short isolated road stays a road. True when something was removed.
bool prune_pass(RoadGraph& graph, double min_spur_m) {
  std::vector<char> remove(graph.edges.size(), 0);
  std::vector<std::vector<int>> spurs_at(graph.nodes.size());  // junction -> its short spurs
  for (size_t e = 0; e < graph.edges.size(); ++e) {
    const RoadEdge& edge = graph.edges[e];
    const int end = spur_end(graph, edge);
    if (end < 0 || edge.length_m >= min_spur_m) continue;
    remove[e] = 1;
    spurs_at[at(end == edge.from ? edge.to : edge.from)].push_back(static_cast<int>(e));
  }
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    std::vector<int>& spurs = spurs_at[n];
    if (static_cast<int>(spurs.size()) < graph.nodes[n].degree) continue;
    std::sort(spurs.begin(), spurs.end(),
              [&graph](int a, int b) { return graph.edges[at(a)].length_m > graph.edges[at(b)].length_m; });
    for (size_t k = 0; k < std::min<size_t>(2, spurs.size()); ++k) remove[at(spurs[k])] = 0;
  }
  std::vector<RoadEdge> kept;
  for (size_t e = 0; e < graph.edges.size(); ++e) {
    if (remove[e] == 0) kept.push_back(std::move(graph.edges[e]));
  }
  const bool changed = kept.size() != graph.edges.size();
  graph.edges = std::move(kept);
  recount_degrees(graph);
  return changed;
}

/// Joins the two edges of every node with exactly two edge ends (not a ring's own node) into one edge.
void dissolve_degree_two(RoadGraph& graph) {
  std::vector<std::vector<int>> incident(graph.nodes.size());
  for (size_t e = 0; e < graph.edges.size(); ++e) {
    incident[at(graph.edges[e].from)].push_back(static_cast<int>(e));
    incident[at(graph.edges[e].to)].push_back(static_cast<int>(e));
  }
  std::vector<char> dead(graph.edges.size(), 0);
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    if (graph.nodes[n].cut || incident[n].size() != 2 || incident[n][0] == incident[n][1]) continue;
    const int node = static_cast<int>(n);
    RoadEdge& a = graph.edges[at(incident[n][0])];
    RoadEdge& b = graph.edges[at(incident[n][1])];
    if (a.to != node) std::swap(a.from, a.to), std::reverse(a.points.begin(), a.points.end());
    if (b.from != node) std::swap(b.from, b.to), std::reverse(b.points.begin(), b.points.end());
    a.points.insert(a.points.end(), b.points.begin() + 1, b.points.end());
    a.length_m += b.length_m;
    a.to = b.to;
    dead[at(incident[n][1])] = 1;
    for (int& e : incident[at(b.to)]) {  // b's far end now belongs to a
      if (e == incident[n][1]) {
        e = incident[n][0];
        break;
      }
    }
    incident[n].clear();
    graph.nodes[n].degree = 0;
  }
  std::vector<RoadEdge> kept;
  for (size_t e = 0; e < graph.edges.size(); ++e) {
    if (dead[e] == 0) kept.push_back(std::move(graph.edges[e]));
  }
  graph.edges = std::move(kept);
  recount_degrees(graph);
}

int find(std::vector<int>& parent, int i) {
  while (parent[at(i)] != i) i = parent[at(i)] = parent[at(parent[at(i)])];
  return i;
}

/// Merges junctions joined by edges shorter than `merge_m` into one node at their mean position; the
/// joining edges go, the others are re-attached to the merged node. True when something merged.
bool merge_pass(RoadGraph& graph, const PixelSizeM& pixel, double merge_m) {
  std::vector<int> parent(graph.nodes.size());
  std::iota(parent.begin(), parent.end(), 0);
  std::vector<char> joining(graph.edges.size(), 0);
  for (size_t e = 0; e < graph.edges.size(); ++e) {
    const RoadEdge& edge = graph.edges[e];
    if (edge.from == edge.to || edge.length_m >= merge_m) continue;
    if (!graph.nodes[at(edge.from)].is_junction() || !graph.nodes[at(edge.to)].is_junction()) continue;
    joining[e] = 1;
    parent[at(find(parent, edge.from))] = find(parent, edge.to);
  }
  if (std::find(joining.begin(), joining.end(), 1) == joining.end()) return false;
  std::vector<cv::Point2d> sum(graph.nodes.size());
  std::vector<int> members(graph.nodes.size(), 0);
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const int root = find(parent, static_cast<int>(n));
    sum[at(root)] += cv::Point2d(graph.nodes[n].x, graph.nodes[n].y);
    members[at(root)] += 1;
  }
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    if (members[n] < 2) continue;
    graph.nodes[n].x = sum[n].x / members[n];
    graph.nodes[n].y = sum[n].y / members[n];
  }
  std::vector<RoadEdge> kept;
  for (size_t e = 0; e < graph.edges.size(); ++e) {
    if (joining[e] != 0) continue;
    RoadEdge edge = std::move(graph.edges[e]);
    const int from = find(parent, edge.from);
    const int to = find(parent, edge.to);
    if (from != edge.from || to != edge.to) {
      edge.from = from;
      edge.to = to;
      edge.points.front() = {graph.nodes[at(from)].x, graph.nodes[at(from)].y};
      edge.points.back() = {graph.nodes[at(to)].x, graph.nodes[at(to)].y};
      edge.length_m = polyline_length_m(edge.points, pixel);
    }
    kept.push_back(std::move(edge));
  }
  graph.edges = std::move(kept);
  recount_degrees(graph);
  return true;
}

/// Drops nodes without edges (dissolved or merged away) and renumbers the edges' ends.
void drop_unused_nodes(RoadGraph& graph) {
  std::vector<int> index(graph.nodes.size(), -1);
  std::vector<RoadNode> kept;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    if (graph.nodes[n].degree == 0) continue;
    index[n] = static_cast<int>(kept.size());
    kept.push_back(graph.nodes[n]);
  }
  for (RoadEdge& edge : graph.edges) {
    edge.from = index[at(edge.from)];
    edge.to = index[at(edge.to)];
  }
  graph.nodes = std::move(kept);
}

}  // namespace

void simplify_road_graph(RoadGraph& graph, const PixelSizeM& pixel, const RoadGraphOptions& options) {
  if (options.min_spur_m <= 0.0 && options.merge_junctions_m <= 0.0) return;
  recount_degrees(graph);
  // Each round can expose more: a pruned spur leaves a two-edge node whose joined edge may be a spur of
  // its own, a merge changes which edges are spurs. Every changing round removes an edge, so it ends.
  bool changed = true;
  while (changed) {
    changed = false;
    if (options.min_spur_m > 0.0) changed = prune_pass(graph, options.min_spur_m) || changed;
    dissolve_degree_two(graph);
    if (options.merge_junctions_m > 0.0) changed = merge_pass(graph, pixel, options.merge_junctions_m) || changed;
    dissolve_degree_two(graph);
  }
  drop_unused_nodes(graph);
}

}  // namespace terraseg::geo::detail
