#include "gdal_util.hpp"

#include <gdal.h>

#include <mutex>

#include "terraseg/core/error.hpp"

namespace terraseg::geo::detail {

void ensure_gdal_registered() {
  static std::once_flag once;
  std::call_once(once, [] { GDALAllRegister(); });
}

std::string last_gdal_message() {
  const char* msg = CPLGetLastErrorMsg();
  if (msg == nullptr || *msg == '\0') return "no detail from GDAL";
  return msg;
}

void check(CPLErr err, const std::string& what) {
  if (err == CE_None || err == CE_Warning) return;
  throw Error(what + ": " + last_gdal_message());
}

void check_ogr(OGRErr err, const std::string& what) {
  if (err == OGRERR_NONE) return;
  throw Error(what + ": OGR error " + std::to_string(err) + " (" + last_gdal_message() + ")");
}

QuietGdal::QuietGdal() {
  CPLPushErrorHandler(CPLQuietErrorHandler);
  CPLErrorReset();
}

QuietGdal::~QuietGdal() { CPLPopErrorHandler(); }

}  // namespace terraseg::geo::detail
