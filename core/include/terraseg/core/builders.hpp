#pragma once
/// Native model builders: U-Net and SegNet graphs with freshly initialised (He) weights.
#include <cstdint>

#include "terraseg/core/graph.hpp"

namespace terraseg {

struct UNetSpec {
  int in_channels = 3;
  int classes = 2;
  int depth = 4;                ///< number of 2x downsamplings
  int base_width = 64;          ///< channels of the first level, doubled per level
  bool transposed_conv = true;  ///< false: bilinear Resize + conv
  bool batch_norm = true;
  uint64_t seed = 1;
};

struct SegNetSpec {
  int in_channels = 3;
  int classes = 12;
  bool basic = false;  ///< SegNet-Basic: 4 levels of one 7x7 conv (64 ch); else VGG16 encoder
  int base_width = 64;
  uint64_t seed = 1;
};

Graph build_unet(const UNetSpec& spec);
Graph build_segnet(const SegNetSpec& spec);

}  // namespace terraseg
