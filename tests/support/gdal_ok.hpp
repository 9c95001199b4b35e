#pragma once
/// Test fixtures call GDAL and OGR setters whose failure would make a test pass or fail for the wrong
/// reason; gdal_ok turns their error codes into an exception naming GDAL's message.
#include <cpl_error.h>
#include <ogr_core.h>

#include <stdexcept>
#include <string>

namespace terraseg::test {

inline void gdal_ok(CPLErr err) {
  if (err != CE_None)
    throw std::runtime_error(std::string("GDAL call failed in a test fixture: ") + CPLGetLastErrorMsg());
}

inline void gdal_ok(OGRErr err) {
  if (err != OGRERR_NONE) throw std::runtime_error("OGR call failed in a test fixture: OGRErr " + std::to_string(err));
}

}  // namespace terraseg::test
