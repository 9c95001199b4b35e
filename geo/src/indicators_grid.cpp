#include <algorithm>
#include <cctype>
#include <cmath>
#include <string>
#include <utility>

#include "gdal_util.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/indicators.hpp"

namespace terraseg::geo {
namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string trim(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t") - begin + 1);
}

bool name_matches(const std::string& name, const std::vector<std::string>& wanted) {
  const std::string have = lower(trim(name));
  return std::ranges::any_of(wanted, [&have](const std::string& candidate) {
    const std::string want = lower(candidate);
    return have == want || have == want + "s";
  });
}

}  // namespace

int CellGrid::cell_col(int pixel_col) const { return static_cast<int>(std::floor((pixel_col + 0.5) / cell_px_x)); }

int CellGrid::cell_row(int pixel_row) const { return static_cast<int>(std::floor((pixel_row + 0.5) / cell_px_y)); }

int CellGrid::first_pixel_row(int row) const {
  // Start from the closed form and correct for rounding, so it always agrees with cell_row().
  int pixel = std::max(0, static_cast<int>(std::ceil(row * cell_px_y - 0.5)));
  while (pixel > 0 && cell_row(pixel - 1) >= row) --pixel;
  while (cell_row(pixel) < row) ++pixel;
  return pixel;
}

CellGrid cell_grid_for_raster(const RasterInfo& raster, double cell_size_m) {
  if (!(cell_size_m > 0.0))
    throw Error(raster.path + ": indicator cell size must be positive (indicators.cell_size_m)");
  if (!raster.geotransform) {
    throw Error(raster.path +
                ": has no geotransform; urban indicators need a georeferenced raster (add one with gdal_translate "
                "-a_ullr/-a_srs)");
  }
  if (!raster.axis_aligned) {
    throw Error(raster.path + ": has a rotated geotransform; warp it north-up (gdalwarp) before computing indicators");
  }
  if (!raster.pixel_size_m) {
    throw Error(
        raster.path +
        ": has no CRS with known units, so a cell size in metres cannot be placed; assign one (gdal_edit.py -a_srs)");
  }
  const GeoTransform& gt = *raster.geotransform;
  CellGrid grid;
  grid.cell_size_m = cell_size_m;
  grid.crs_wkt = raster.crs_wkt;
  grid.cell_px_x = cell_size_m / raster.pixel_size_m->x;
  grid.cell_px_y = cell_size_m / raster.pixel_size_m->y;
  grid.width = grid.cell_col(raster.width - 1) + 1;
  grid.height = grid.cell_row(raster.height - 1) + 1;
  grid.geotransform = {gt[0], gt[1] * grid.cell_px_x, 0.0, gt[3], 0.0, gt[5] * grid.cell_px_y};
  return grid;
}

std::unique_ptr<GridWriter> create_indicator_grid(const std::string& path, int width, int height,
                                                  const GeoTransform& geotransform, const std::string& crs_wkt,
                                                  const std::vector<std::string>& band_names,
                                                  const OutputOptions& output) {
  detail::ensure_gdal_registered();
  GDALDriver* mem = GetGDALDriverManager()->GetDriverByName("MEM");
  if (mem == nullptr) throw Error("GDAL was built without the MEM driver: cannot write " + path);
  // A band-less in-memory dataset only carries the grid's size and georeferencing into GridWriter.
  GDALDatasetUniquePtr source(mem->Create("", width, height, 0, GDT_Byte, nullptr));
  if (!source)
    throw Error(path + ": cannot create the " + std::to_string(width) + "x" + std::to_string(height) + " grid");
  GeoTransform gt = geotransform;
  detail::check(source->SetGeoTransform(gt.data()), path + ": setting the grid geotransform");
  if (!crs_wkt.empty()) {
    OGRSpatialReference crs;
    if (crs.importFromWkt(crs_wkt.c_str()) != OGRERR_NONE) throw Error(path + ": the grid CRS is not valid WKT");
    crs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
    detail::check(source->SetSpatialRef(&crs), path + ": setting the grid CRS");
  }
  auto writer =
      std::make_unique<GridWriter>(path, *source, static_cast<int>(band_names.size()), GDT_Float32, "AVERAGE", output);
  for (size_t b = 0; b < band_names.size(); ++b) {
    GDALRasterBand* band = writer->dataset().GetRasterBand(static_cast<int>(b) + 1);
    band->SetDescription(band_names[b].c_str());
    detail::check(band->SetNoDataValue(kIndicatorNodata), path + ": setting nodata");
  }
  return writer;
}

void write_indicator_grid(const std::string& path, int width, int height, const GeoTransform& geotransform,
                          const std::string& crs_wkt, const std::vector<std::string>& band_names,
                          const std::vector<float>& values, const OutputOptions& output) {
  const size_t expected = band_names.size() * static_cast<size_t>(width) * static_cast<size_t>(height);
  if (values.size() != expected) throw Error("internal: " + path + ": grid values do not match its size");
  auto writer = create_indicator_grid(path, width, height, geotransform, crs_wkt, band_names, output);
  writer->append_rows(height, values.data());
  writer->finish();
}

std::vector<int> classes_named(const std::string& mask_path, const std::vector<std::string>& names) {
  GDALDatasetUniquePtr mask = open_raster(mask_path);
  mask->GetProjectionRef();  // makes GTiff load the .aux.xml sidecar that holds the category names
  std::vector<int> ids;
  char** categories = mask->GetRasterBand(1)->GetCategoryNames();
  for (int id = 0; categories != nullptr && categories[id] != nullptr; ++id) {
    if (name_matches(categories[id], names)) ids.push_back(id);
  }
  return ids;
}

int find_spectral_band(const RasterInfo& raster, const std::string& name) {
  const std::string want = lower(name);
  for (const BandInfo& band : raster.bands) {
    const std::string description = lower(trim(band.description));
    // Visible colours: by colour interpretation, or a description that is the colour's name or starts with it.
    const std::pair<const char*, GDALColorInterp> colours[] = {
        {"red", GCI_RedBand}, {"green", GCI_GreenBand}, {"blue", GCI_BlueBand}};
    for (const auto& [colour, interpretation] : colours) {
      if (want == colour &&
          (band.colour == interpretation || description == colour || description.rfind(want + " ", 0) == 0)) {
        return band.index;
      }
    }
    if (want == "nir" &&
        (description.find("nir") != std::string::npos || description.find("near infrared") != std::string::npos ||
         description.find("near-infrared") != std::string::npos)) {
      return band.index;
    }
  }
  return 0;
}

}  // namespace terraseg::geo
