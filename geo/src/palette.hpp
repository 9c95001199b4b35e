#pragma once
/// Paletted rasters (one band of indices into a colour table, e.g. `rgb2pct.py` output, GIF, 8-bit
/// PNG) read as the colours they stand for: models see red, green and blue, never the indices.
#include <gdal_priv.h>

#include <string>

#include "terraseg/geo/bands.hpp"

namespace terraseg::geo::detail {

/// True when a band of `dataset` is palette indices with a colour table.
bool has_palette(GDALDataset& dataset);

/// `dataset` (named `path` in messages) with its palette band expanded into the colours of its
/// colour table: grey (one band) when every entry is grey, else red, green, blue, plus alpha when
/// entries are transparent or the band has a nodata index (those pixels are then masked). An alpha
/// band beside the palette band is kept as the alpha. The result is a VRT opened from its own XML:
/// it reads the source file itself, outlives `dataset`, and can be referenced by other VRTs.
/// Returns null for a raster without a palette; says what it did through `warn` (once). Throws
/// terraseg::Error naming the file when several bands are paletted or a palette band sits beside
/// other colour bands.
GDALDatasetUniquePtr expand_palette(GDALDataset& dataset, const std::string& path, const WarningHook& warn);

}  // namespace terraseg::geo::detail
