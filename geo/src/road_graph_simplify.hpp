#pragma once
/// The clean-up half of build_road_graph(): spur pruning, junction merging, node dissolving.
#include "terraseg/geo/road_graph.hpp"

namespace terraseg::geo::detail {

/// Prunes spurs and merges junctions as `options` says, repeating until nothing changes; dissolves
/// two-edge nodes and drops unused ones. Does nothing when min_spur_m and merge_junctions_m are both 0.
void simplify_road_graph(RoadGraph& graph, const PixelSizeM& pixel, const RoadGraphOptions& options);

}  // namespace terraseg::geo::detail
