#pragma once
/// Which input sizes a graph can take: the multiple its downsampling needs, and the one size a
/// graph with size-bound ops (Resize to constant sizes) runs at. Read from the graph, not guessed.
#include <array>
#include <optional>

#include "terraseg/core/graph.hpp"

namespace terraseg {

struct InputGeometry {
  /// Input height and width must be multiples of this (the network's total downsampling: 8 for
  /// ESPNet, 16 for a four-level U-Net), so that decoder and skip connections line up.
  int multiple = 1;
  /// Set when the graph only runs at one size: it resizes to constant output sizes (ESPNetv2's
  /// pyramid pooling, as exported) and its file declares that input height and width.
  std::optional<std::array<int, 2>> fixed_hw;
};

/// Walks the graph once: cumulative stride of every value (Conv, pooling and MaxUnpool strides,
/// ConvTranspose and Resize scales; global pooling resets it), rounded up to a power of two.
InputGeometry input_geometry(const Graph& graph);

}  // namespace terraseg
