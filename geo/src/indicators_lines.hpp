#pragma once
/// Private to the indicators: the centreline GeoPackage writer.
#include <ogrsf_frmts.h>

#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "terraseg/geo/raster_io.hpp"
#include "terraseg/geo/writer.hpp"

namespace terraseg::geo::detail {

/// Writes layers "centrelines" (LineString, length_m) and "road_nodes" (Point, kind, degree) into a
/// GeoPackage under a temporary name; commit() renames it into place. Coordinates are given in the
/// raster's pixel coordinates (pixel centres at +0.5) and mapped through its geotransform.
class CentrelineWriter {
 public:
  CentrelineWriter(const std::string& path, const std::string& crs_wkt, const GeoTransform& geotransform);
  ~CentrelineWriter();
  CentrelineWriter(const CentrelineWriter&) = delete;
  CentrelineWriter& operator=(const CentrelineWriter&) = delete;
  CentrelineWriter(CentrelineWriter&&) = delete;
  CentrelineWriter& operator=(CentrelineWriter&&) = delete;

  void add_line(const std::vector<cv::Point2d>& pixel_points, double length_m);
  void add_node(const cv::Point2d& pixel_point, const std::string& kind, int degree);
  /// Commits the transaction, closes and renames. Throws terraseg::Error naming the file on failure.
  void commit();

 private:
  OGRPoint to_map(const cv::Point2d& pixel) const;

  TempPath temp_;
  GeoTransform gt_;
  GDALDatasetUniquePtr dataset_;
  OGRLayer* lines_ = nullptr;  ///< owned by dataset_
  OGRLayer* nodes_ = nullptr;  ///< owned by dataset_
};

}  // namespace terraseg::geo::detail
