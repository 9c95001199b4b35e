#pragma once
/// Private GDAL helpers for geo: registration, CPLErr -> terraseg::Error, quiet error scopes.
#include <cpl_error.h>
#include <ogr_core.h>

#include <string>

namespace terraseg::geo::detail {

/// Registers all GDAL/OGR drivers once per process (thread-safe, idempotent).
void ensure_gdal_registered();

/// GDAL's last error message, or "no detail from GDAL" when it left none.
std::string last_gdal_message();

/// Throws terraseg::Error("<what>: <GDAL message>") unless err is CE_None or CE_Warning.
void check(CPLErr err, const std::string& what);

/// Throws terraseg::Error("<what>: OGR error N (<GDAL message>)") unless err is OGRERR_NONE.
void check_ogr(OGRErr err, const std::string& what);

/// Silences GDAL's default stderr printing for this thread while alive (errors are still recorded in
/// CPLGetLastErrorMsg, and we turn them into exceptions with context), and clears the last error.
class QuietGdal {
 public:
  QuietGdal();
  ~QuietGdal();
  QuietGdal(const QuietGdal&) = delete;
  QuietGdal& operator=(const QuietGdal&) = delete;
  QuietGdal(QuietGdal&&) = delete;
  QuietGdal& operator=(QuietGdal&&) = delete;
};

}  // namespace terraseg::geo::detail
