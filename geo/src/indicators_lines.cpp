#include "indicators_lines.hpp"

#include "gdal_util.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg::geo::detail {
namespace {

OGRLayer* create_layer(GDALDataset& dataset, const char* name, OGRwkbGeometryType type, OGRSpatialReference* crs,
                       const std::string& path) {
  OGRLayer* layer = dataset.CreateLayer(name, crs, type, nullptr);
  if (layer == nullptr) throw Error(path + ": cannot create layer '" + std::string(name) + "': " + last_gdal_message());
  return layer;
}

void add_field(OGRLayer& layer, const char* name, OGRFieldType type, const std::string& path) {
  OGRFieldDefn field(name, type);
  if (layer.CreateField(&field) != OGRERR_NONE) {
    throw Error(path + ": cannot create field '" + std::string(name) + "': " + last_gdal_message());
  }
}

}  // namespace

CentrelineWriter::CentrelineWriter(const std::string& path, const std::string& crs_wkt,
                                   const GeoTransform& geotransform)
    : temp_(path), gt_(geotransform) {
  ensure_gdal_registered();
  GDALDriver* driver = GetGDALDriverManager()->GetDriverByName("GPKG");
  if (driver == nullptr) throw Error("GDAL was built without the GPKG driver: cannot write " + path);
  {
    QuietGdal quiet;
    dataset_.reset(driver->Create(temp_.temp().c_str(), 0, 0, 0, GDT_Unknown, nullptr));
  }
  if (!dataset_)
    throw Error("cannot create '" + path + "': " + last_gdal_message() + "; check the directory is writable");
  OGRSpatialReference crs;
  const bool has_crs = !crs_wkt.empty() && crs.importFromWkt(crs_wkt.c_str()) == OGRERR_NONE;
  crs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  lines_ = create_layer(*dataset_, "centrelines", wkbLineString, has_crs ? &crs : nullptr, path);
  add_field(*lines_, "length_m", OFTReal, path);
  nodes_ = create_layer(*dataset_, "road_nodes", wkbPoint, has_crs ? &crs : nullptr, path);
  add_field(*nodes_, "kind", OFTString, path);
  add_field(*nodes_, "degree", OFTInteger, path);
  // One transaction: row-by-row commits would make a big road network take minutes.
  if (dataset_->StartTransaction() != OGRERR_NONE) throw Error(path + ": cannot start a transaction");
}

CentrelineWriter::~CentrelineWriter() {
  QuietGdal quiet;
  dataset_.reset();
}

OGRPoint CentrelineWriter::to_map(const cv::Point2d& pixel) const {
  return OGRPoint(gt_[0] + pixel.x * gt_[1] + pixel.y * gt_[2], gt_[3] + pixel.x * gt_[4] + pixel.y * gt_[5]);
}

void CentrelineWriter::add_line(const std::vector<cv::Point2d>& pixel_points, double length_m) {
  OGRLineString line;
  for (const cv::Point2d& p : pixel_points) {
    const OGRPoint point = to_map(p);
    line.addPoint(point.getX(), point.getY());
  }
  OGRFeature feature(lines_->GetLayerDefn());
  feature.SetField("length_m", length_m);
  feature.SetGeometry(&line);
  if (lines_->CreateFeature(&feature) != OGRERR_NONE) {
    throw Error(temp_.final_path() + ": cannot write a centreline: " + last_gdal_message());
  }
}

void CentrelineWriter::add_node(const cv::Point2d& pixel_point, const std::string& kind, int degree) {
  OGRPoint point = to_map(pixel_point);
  OGRFeature feature(nodes_->GetLayerDefn());
  feature.SetField("kind", kind.c_str());
  feature.SetField("degree", degree);
  feature.SetGeometry(&point);
  if (nodes_->CreateFeature(&feature) != OGRERR_NONE) {
    throw Error(temp_.final_path() + ": cannot write a road node: " + last_gdal_message());
  }
}

void CentrelineWriter::commit() {
  if (dataset_->CommitTransaction() != OGRERR_NONE) {
    throw Error(temp_.final_path() + ": cannot commit the centrelines: " + last_gdal_message());
  }
  {
    QuietGdal quiet;
    dataset_.reset();
    if (CPLGetLastErrorType() == CE_Failure) {
      throw Error("finishing '" + temp_.final_path() + "' failed: " + last_gdal_message() + " (disk full?)");
    }
  }
  temp_.commit();
}

}  // namespace terraseg::geo::detail
