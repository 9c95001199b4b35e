#include "terraseg/geo/target_grid.hpp"

#include <cpl_string.h>
#include <gdal_utils.h>
#include <ogr_spatialref.h>

#include <filesystem>
#include <memory>

#include "palette.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/raster_io.hpp"

namespace terraseg::geo {
namespace {

/// The grid's pixel size in its CRS units, along x and y: metres as they are for a projected CRS (in
/// its linear unit), degrees at the input's centre for a geographic one.
std::array<double, 2> pixel_size_in_crs_units(GDALDataset& source, const double* gt, const OGRSpatialReference& target,
                                              double metres, const std::string& input) {
  if (!target.IsGeographic()) {
    const double unit = target.GetLinearUnits(nullptr);
    return {metres / unit, metres / unit};
  }
  OGRSpatialReference from(*source.GetSpatialRef());
  from.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  std::unique_ptr<OGRCoordinateTransformation> to_target(OGRCreateCoordinateTransformation(&from, &target));
  double x = gt[0] + gt[1] * source.GetRasterXSize() / 2.0 + gt[2] * source.GetRasterYSize() / 2.0;
  double y = gt[3] + gt[4] * source.GetRasterXSize() / 2.0 + gt[5] * source.GetRasterYSize() / 2.0;
  if (!to_target || !to_target->Transform(1, &x, &y)) {
    throw Error(input + ": its centre cannot be transformed into the region grid's CRS");
  }
  constexpr double kStep = 1e-6;  // a tiny pixel at the centre: metres per CRS unit there
  const auto per_unit = pixel_size_in_metres(&target, GeoTransform{x, kStep, 0.0, y, 0.0, -kStep}, 1, 1);
  if (!per_unit || !(per_unit->x > 0.0) || !(per_unit->y > 0.0)) {
    throw Error(input + ": cannot measure metres in the region grid's CRS at this input");
  }
  return {metres / (per_unit->x / kStep), metres / (per_unit->y / kStep)};
}

}  // namespace

void warp_to_grid(const std::string& input, const TargetGrid& grid, const std::string& vrt_path) {
  GDALDatasetUniquePtr source = open_raster(input);
  if (detail::has_palette(*source)) {
    // Resampling palette indices mixes unrelated colours: warp the colours they stand for. The expanded
    // view names the input by an absolute path, so the grid VRT finds it from anywhere.
    const bool virtual_path = input.rfind("/vsi", 0) == 0;
    GDALDatasetUniquePtr absolute = virtual_path ? nullptr : open_raster(std::filesystem::absolute(input).string());
    source = detail::expand_palette(absolute ? *absolute : *source, input, {});
  }
  double gt[6];
  if (source->GetSpatialRef() == nullptr || source->GetGeoTransform(gt) != CE_None) {
    throw Error(input + ": the raster has no CRS or geotransform, so it cannot be placed on the region's grid");
  }
  OGRSpatialReference target;
  if (grid.crs.empty() || target.SetFromUserInput(grid.crs.c_str()) != OGRERR_NONE) {
    throw Error("grid CRS '" + grid.crs + "' is not understood; use e.g. EPSG:32632");
  }
  target.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  if (!(grid.pixel_size_m > 0.0)) throw Error("grid pixel_size_m must be positive (metres)");
  const auto res = pixel_size_in_crs_units(*source, gt, target, grid.pixel_size_m, input);
  int has_nodata = FALSE;
  source->GetRasterBand(1)->GetNoDataValue(&has_nodata);
  CPLStringList args;
  for (const char* arg : {"-of", "VRT", "-r", "bilinear", "-tap", "-t_srs", grid.crs.c_str(), "-tr"})
    args.AddString(arg);
  args.AddString(CPLSPrintf("%.17g", res[0]));
  args.AddString(CPLSPrintf("%.17g", res[1]));
  if (has_nodata == FALSE) args.AddString("-dstalpha");
  std::unique_ptr<GDALWarpAppOptions, decltype(&GDALWarpAppOptionsFree)> options(
      GDALWarpAppOptionsNew(args.List(), nullptr), &GDALWarpAppOptionsFree);
  GDALDatasetH handle = GDALDataset::ToHandle(source.get());
  int usage_error = FALSE;
  GDALDatasetH result = GDALWarp(vrt_path.c_str(), nullptr, 1, &handle, options.get(), &usage_error);
  if (result == nullptr) {
    throw Error(input + ": cannot warp it onto the region grid (" + grid.crs + "): " + CPLGetLastErrorMsg());
  }
  GDALClose(result);
}

}  // namespace terraseg::geo
