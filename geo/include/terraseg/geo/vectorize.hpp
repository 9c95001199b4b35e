#pragma once
/// Class masks to polygons.
#include <cstdint>
#include <string>
#include <vector>

#include "terraseg/core/model_card.hpp"

namespace terraseg::geo {

struct VectorizeOptions {
  std::string layer = "classes";  ///< GeoPackage layer name
  bool eight_connected = false;   ///< join pixels touching only at corners
};

/// Polygonises band 1 of the class mask at `mask_path` (nodata / masked pixels, i.e. 255, are left out)
/// into a new GeoPackage at `gpkg_path` with fields "class_id" (integer) and "class_name" (from
/// `class_table`, "class <id>" when unknown), in the raster's CRS. The GeoPackage is written under a
/// temporary name and renamed when complete; an existing file at `gpkg_path` is replaced.
/// Returns the number of polygons. Throws terraseg::Error naming the file on failure.
int64_t vectorize_classes(const std::string& mask_path, const std::string& gpkg_path,
                          const std::vector<ClassInfo>& class_table, const VectorizeOptions& options = {});

}  // namespace terraseg::geo
