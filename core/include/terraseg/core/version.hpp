#pragma once
#include <string>

#define TERRASEG_VERSION_STRING "0.1.0"

namespace terraseg {

/// oneDNN's runtime version, e.g. "2.6.3".
std::string onednn_version();

}  // namespace terraseg
