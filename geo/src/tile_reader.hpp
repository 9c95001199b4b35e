#pragma once
/// Reads one normalised, reflection-padded tile and its validity mask from a GDAL dataset.
#include <gdal_priv.h>

#include <cstdint>
#include <string>
#include <vector>

#include "terraseg/core/tensor.hpp"
#include "terraseg/geo/bands.hpp"

namespace terraseg::geo::detail {

class TileReader {
 public:
  /// `dataset` must outlive the reader; `path` is for messages.
  TileReader(GDALDataset& dataset, BandPlan plan, std::string path);

  /// Fills `input` (resized to 1 x C x h x w) with the window whose top-left image pixel is (x0, y0)
  /// (either may be negative, the window may run past the image: those pixels mirror image pixels,
  /// BORDER_REFLECT_101) and `valid` (h x w bytes, 1 = all selected bands have finite data there). Invalid
  /// pixels are set to 0 in `input`. Returns the number of valid pixels.
  int64_t read(int x0, int y0, int w, int h, Tensor& input, std::vector<uint8_t>& valid);

 private:
  struct Box {
    int x = 0;
    int y = 0;
    int w = 0;
    int h = 0;
  };
  void read_box(const Box& box);
  void read_masks(const Box& box);

  GDALDataset& dataset_;
  BandPlan plan_;
  std::string path_;
  std::vector<int> distinct_bands_;     ///< GDAL band numbers read, each once
  std::vector<size_t> channel_slot_;    ///< per channel, index into distinct_bands_
  std::vector<GDALRasterBand*> masks_;  ///< mask bands to AND together (none when all valid)
  std::vector<float> raw_;              ///< distinct bands x box
  std::vector<uint8_t> box_valid_;      ///< box
  std::vector<uint8_t> mask_buf_;
  std::vector<int> map_x_;
  std::vector<int> map_y_;
};

}  // namespace terraseg::geo::detail
