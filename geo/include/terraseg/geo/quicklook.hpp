#pragma once
/// Small PNG previews for reports: a class mask drawn over its imagery.
#include <string>
#include <vector>

#include "terraseg/core/model_card.hpp"

namespace terraseg::geo {

struct QuicklookOptions {
  int max_side = 768;    ///< longest side of the PNG in pixels (the raster is decimated by GDAL)
  double opacity = 0.5;  ///< class colour weight over the imagery (0..1)
};

/// Renders `image_path` (bands 1-3, or band 1 as grey; 2-98 % stretch per band) with `mask_path`
/// (class ids; 255 = nodata, drawn transparent) in the colours of `classes` on top, as a PNG at
/// `png_path` (written under a temporary name and renamed). Either raster may be omitted ("").
/// Throws terraseg::Error naming the file on failure.
void render_quicklook(const std::string& image_path, const std::string& mask_path,
                      const std::vector<ClassInfo>& classes, const std::string& png_path,
                      const QuicklookOptions& options = {});

/// Renders band `band` (1-based) of a float raster with a blue-yellow colour ramp between its 2nd and
/// 98th percentiles; nodata transparent. For indicator grids.
void render_scalar_quicklook(const std::string& raster_path, int band, const std::string& png_path,
                             const QuicklookOptions& options = {});

}  // namespace terraseg::geo
