#pragma once
/// QGIS layer styles beside class masks: QGIS loads "<mask stem>.qml" from the mask's folder when it
/// opens the mask, so categories and colours survive where GDAL's .aux.xml sidecar does not travel
/// (a copied TIFF, a web map server).
#include <string>
#include <vector>

#include "terraseg/core/model_card.hpp"

namespace terraseg::geo {

/// "<dir>/<stem>.qml" for `raster_path`.
std::string qgis_style_path(const std::string& raster_path);

/// True for the class a map leaves see-through over imagery: class 0 of a two-class (binary) model,
/// or a class named "background" (any case).
bool is_background_class(const std::vector<ClassInfo>& classes, const ClassInfo& info);

/// The QML text: a paletted renderer of band 1, one entry per class (value, colour, name), nodata
/// (255) and the background class (is_background_class) transparent, so a mask reads over imagery.
std::string qgis_paletted_style(const std::vector<ClassInfo>& classes);

/// Writes qgis_paletted_style() to qgis_style_path(raster_path) under a temporary name renamed into
/// place (any GDAL path, /vsimem/ included). Throws terraseg::Error naming the file on failure.
void write_qgis_style(const std::string& raster_path, const std::vector<ClassInfo>& classes);

/// One band of a continuous grid (an indicator) for a pseudocolour style.
struct ContinuousBand {
  int band = 1;      ///< 1-based
  std::string name;  ///< shown as the layer's legend title
  double min = 0.0;  ///< the colour ramp's ends
  double max = 1.0;
  bool greens = false;  ///< a white-to-green ramp (vegetation) instead of a yellow-to-red one
};

/// The QML text: a single-band pseudocolour renderer of `band` (an interpolated ramp from min to max,
/// nodata transparent), 70 % opaque so the imagery shows through.
std::string qgis_pseudocolor_style(const ContinuousBand& band);

/// Writes qgis_pseudocolor_style() to qgis_style_path(raster_path), as write_qgis_style does.
void write_qgis_pseudocolor_style(const std::string& raster_path, const ContinuousBand& band);

/// The style of an indicator grid, for its band 1 (QGIS's band menu switches to the others): ratios
/// (greenery, road area) on 0..1, walkability (IVW) on 20..100, other densities on the band's range.
void write_indicator_style(const std::string& grid_path);

}  // namespace terraseg::geo
