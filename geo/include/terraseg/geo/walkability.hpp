#pragma once
/// Street-view walkability after Zhou et al. (2019): per point, class pixel counts of its segmented
/// images give greenery, crowdedness, enclosure and pavement; each is ranked into levels 1..5 and the
/// index of visual walkability IVW = (sum of the four levels) x 5 (20..100). Definitions, defaults and
/// the level schemes are documented in docs/indicators.md.
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "terraseg/core/model_card.hpp"
#include "terraseg/geo/raster_io.hpp"
#include "terraseg/geo/writer.hpp"

namespace terraseg::geo {

/// What a street-scene class stands for in the indicators. `other` pixels count in "all pixels" only;
/// `ignore` pixels (void, unlabelled) are left out of every count.
enum class StreetRole : uint8_t { other, ignore, tree, building, pavement, road, fence, obstacle };

/// "other", "ignore", "tree", ... Throws terraseg::Error for an unknown name, listing the valid ones.
StreetRole parse_street_role(const std::string& name);
std::string to_string(StreetRole role);

/// Class id (0-based output channel) -> role. Ids beyond `roles` are `other`.
struct StreetRoleMap {
  std::string scheme;             ///< "camvid", "cityscapes" or "class names" (how it was chosen)
  std::vector<StreetRole> roles;  ///< index = class id
  StreetRole role(int class_id) const;
};

/// CamVid 11 classes (+ 11 Unlabelled = ignore): 1 building, 3 road, 4 pavement, 5 tree, 7 fence,
/// obstacles 2 pole, 6 sign, 8 car, 9 pedestrian, 10 bicyclist; 0 sky other.
StreetRoleMap camvid_role_map();
/// Cityscapes 19 classes (+ 19 void = ignore): 0 road, 1 sidewalk = pavement, 2 building and 3 wall =
/// building, 4 fence, 8 vegetation = tree, obstacles 5 pole, 6 traffic light, 7 traffic sign, 11 person,
/// 12 rider, 13..18 vehicles; 9 terrain, 10 sky other.
StreetRoleMap cityscapes_role_map();

/// The map for a model: each class name (case-insensitive) is looked up in a dictionary of CamVid and
/// Cityscapes names and common synonyms; `ignore_ids` become `ignore`. Without usable names (none, or
/// generic "class N"), `num_classes` 11/12 gives CamVid and 19/20 Cityscapes. Throws terraseg::Error
/// when neither works, saying to give a role map.
StreetRoleMap role_map_for_model(const std::vector<ClassInfo>& classes, const std::vector<int>& ignore_ids,
                                 int num_classes);

/// Replaces roles of the listed class ids: role name -> class ids, e.g. {"obstacle", {2, 6, 8}}.
/// Throws terraseg::Error for an unknown role or a negative id.
void override_roles(StreetRoleMap& map, const std::map<std::string, std::vector<int>>& role_ids);

/// Pixel counts by role, summed over a point's images. `counted` = all pixels not ignored.
struct RoleCounts {
  int64_t counted = 0;
  int64_t tree = 0;
  int64_t building = 0;
  int64_t pavement = 0;
  int64_t road = 0;
  int64_t fence = 0;
  int64_t obstacle = 0;
  int images = 0;

  /// Adds one segmented image (class ids, any layout); ids >= 255 are treated as ignored (nodata).
  void add_image(std::span<const uint8_t> class_ids, const StreetRoleMap& map);
  /// Adds one segmented image given as pixels per class id (index = id; index 255, nodata, is skipped).
  void add_class_counts(std::span<const int64_t> pixels_by_class, const StreetRoleMap& map);
};

/// The four indicators of one point; nullopt where the denominator is zero.
struct StreetIndicators {
  std::optional<double> greenery;     ///< G = tree / counted
  std::optional<double> crowdedness;  ///< C = obstacle / counted
  std::optional<double> enclosure;    ///< S = (building + tree) / (pavement + road + fence)
  std::optional<double> pavement;     ///< D = (pavement + road) / road
};

StreetIndicators street_indicators(const RoleCounts& counts);

/// How close indicators from predicted class maps come to those from reference (ground-truth) masks
/// of the same photos, for one indicator over the photos where both are defined.
struct IndicatorAgreement {
  int images = 0;  ///< photos where both values are defined
  double mean_reference = 0.0;
  double mean_predicted = 0.0;
  double mean_absolute_error = 0.0;  ///< mean over photos of |predicted - reference|
  double bias = 0.0;                 ///< mean of predicted - reference
  double max_absolute_error = 0.0;
};

/// Per indicator G, C, S, D: agreement of `predicted[i]` with `reference[i]`, photo by photo.
/// Throws terraseg::Error when the two lists differ in length.
std::array<IndicatorAgreement, 4> compare_indicators(std::span<const StreetIndicators> reference,
                                                     std::span<const StreetIndicators> predicted);

/// How values become levels 1..5, per indicator in the order G, C, S, D.
struct LevelScheme {
  enum class Mode { quintiles, breakpoints };
  /// quintiles: a value's mid-rank percentile among the study area's defined values,
  /// p = (below + equal / 2) / n, gives level min(5, 1 + floor(5 p)); ties share a level.
  /// breakpoints: level = 1 + number of the four ascending breakpoints <= value.
  Mode mode = Mode::quintiles;
  std::array<std::array<double, 4>, 4> breakpoints{};
  /// Per indicator: rank descending (a high value gives level 1). Default: all ascending.
  std::array<bool, 4> invert{false, false, false, false};
};

/// Levels of `values` (one indicator over all points; nullopt stays nullopt) for indicator `which`
/// (0 = G, 1 = C, 2 = S, 3 = D). Throws terraseg::Error when breakpoints are not ascending.
std::vector<std::optional<int>> indicator_levels(const std::vector<std::optional<double>>& values, int which,
                                                 const LevelScheme& scheme);

/// One street-view point as read from the CSV.
struct StreetPoint {
  std::string id;
  double lon = 0.0;                 ///< degrees, WGS 84
  double lat = 0.0;                 ///< degrees, WGS 84
  std::vector<std::string> images;  ///< absolute, or resolved against the CSV's directory
};

/// Reads "id,lon,lat,image[,image...]" (a header line starting with "id" is skipped; "#" lines and
/// blank lines too). Throws terraseg::Error naming the file and line for a malformed row, a
/// coordinate out of range or a duplicate id.
std::vector<StreetPoint> read_street_points(const std::string& csv_path);

/// A scored point: what the outputs hold.
struct WalkabilityPoint {
  StreetPoint point;
  RoleCounts counts;
  StreetIndicators indicators;
  std::array<std::optional<int>, 4> levels;  ///< G, C, S, D
  std::optional<int> ivw;                    ///< (sum of levels) x 5; nullopt when any level is
};

/// Computes levels and IVW for every point (levels are relative to this set under quintiles).
std::vector<WalkabilityPoint> score_points(const std::vector<StreetPoint>& points,
                                           const std::vector<RoleCounts>& counts, const LevelScheme& scheme);

/// Writes a GeoPackage point layer "walkability" in EPSG:4326 (fields id, G, C, S, D, G_level,
/// C_level, S_level, D_level, IVW, images, pixels; undefined values are NULL), atomically.
void write_walkability_gpkg(const std::string& path, const std::vector<WalkabilityPoint>& points);
/// The same fields as CSV (empty cell = undefined), atomically.
void write_walkability_csv(const std::string& path, const std::vector<WalkabilityPoint>& points);

/// Where the walkability grid lies.
struct WalkGridOptions {
  double cell_size_m = 250.0;
  /// CRS of the grid (any GDAL definition, e.g. "EPSG:32631"); empty = the UTM zone of the points'
  /// centroid (WGS 84 / UTM, north or south). A geographic CRS gets the cell size in degrees at the
  /// centroid's latitude.
  std::string crs;
  OutputOptions output;
};

struct WalkGridSummary {
  int width = 0;   ///< cells
  int height = 0;  ///< cells
  int cells_with_points = 0;
  std::string crs_wkt;
  GeoTransform geotransform{};
};

/// Mean IVW of the points in each cell (points without IVW are skipped), band 1 "ivw_mean", band 2
/// "point_count" (points with an IVW), nodata
/// kIndicatorNodata where a cell has no point. The grid's origin is the points' bounding box snapped
/// outwards to whole cells. Throws terraseg::Error when no point has an IVW.
WalkGridSummary write_walkability_grid(const std::string& path, const std::vector<WalkabilityPoint>& points,
                                       const WalkGridOptions& options);

}  // namespace terraseg::geo
