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

/// The QML text: a paletted renderer of band 1, one entry per class (value, colour, name), nodata
/// (255) transparent.
std::string qgis_paletted_style(const std::vector<ClassInfo>& classes);

/// Writes qgis_paletted_style() to qgis_style_path(raster_path) under a temporary name renamed into
/// place (any GDAL path, /vsimem/ included). Throws terraseg::Error naming the file on failure.
void write_qgis_style(const std::string& raster_path, const std::vector<ClassInfo>& classes);

}  // namespace terraseg::geo
