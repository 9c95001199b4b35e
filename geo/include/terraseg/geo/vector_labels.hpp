#pragma once
/// Training labels from vectors: the features of a file GDAL/OGR reads (GeoPackage, GeoJSON, Shapefile,
/// an OpenStreetMap PBF extract, ...) burned onto a georeferenced image's grid as class ids, so that a
/// handful of a user's tiles and OpenStreetMap's roads make a training set (`terraseg labels`).
///
/// Lines are buffered to a width in metres (per feature from a numeric field, else from a table keyed
/// by a field such as OSM's `highway`, else one default), polygons are taken as they are, points are
/// skipped. Buffering happens in the UTM zone of the image's centre, so widths are ground metres
/// whatever the image's or the vectors' CRS. Along every feature's edge a band of `ignore_m` metres
/// on each side is 255 (unknown): where a road's real width differs from the table's, the loss and
/// the metrics ignore it instead of learning the guess.
#include <map>
#include <string>
#include <vector>

namespace terraseg::geo {

/// One class burned from the features that pass `where` (an OGR SQL attribute filter; "" = all).
struct VectorClass {
  int id = 1;
  std::string where;
};

/// Default widths (metres, the whole carriageway) of OpenStreetMap `highway` values: motorway 24,
/// trunk 18, primary 14, secondary 11, tertiary 9, residential and unclassified 7, living_street 6,
/// service 5, track 3.5, cycleway/footway/path/pedestrian/steps/bridleway 2.5 (their _link roads as the
/// road). Other values fall back to VectorLabelOptions::width_m.
const std::map<std::string, double>& osm_highway_widths();

struct VectorLabelOptions {
  std::vector<VectorClass> classes{{1, ""}};  ///< burned in this order (a later class wins where they meet)
  std::string layer;                          ///< "" = every layer of the file
  double width_m = 6.0;                       ///< width of a line whose width nothing else gives
  std::string width_field;                    ///< numeric field holding each line's width in metres ("" = none)
  std::string width_by;                       ///< field whose value picks a width from `widths` ("" = none)
  std::map<std::string, double> widths;       ///< value of `width_by` -> width in metres
  double ignore_m = 1.5;                      ///< unknown band on each side of every edge; 0 = none
  int background = 0;                         ///< class of every pixel no feature reaches
};

/// Roads from OpenStreetMap lines: widths by the `highway` field from osm_highway_widths(), the other
/// options at their defaults (`terraseg labels` and `terraseg adapt --labels` start from this).
VectorLabelOptions osm_road_label_options();

/// What rasterize_labels burned.
struct VectorLabelStats {
  int features = 0;                 ///< features burned (all classes)
  std::map<int, long long> pixels;  ///< class id (255: unknown) -> pixel count
};

/// Burns the features of `vectors` onto the grid of the georeferenced `image` (its size, geotransform
/// and CRS) and writes the class ids as a single-band Byte raster at `mask_path` (PNG or GeoTIFF by
/// the extension; a GeoTIFF keeps the georeference), 255 = unknown. Throws terraseg::Error naming the
/// file when the image has no georeference, the vectors no CRS, a filter or field is wrong.
VectorLabelStats rasterize_labels(const std::string& image, const std::string& vectors,
                                  const VectorLabelOptions& options, const std::string& mask_path);

}  // namespace terraseg::geo
