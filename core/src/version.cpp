#include "terraseg/core/version.hpp"

#include <oneapi/dnnl/dnnl.hpp>

namespace terraseg {

std::string onednn_version() {
  const dnnl_version_t* version = dnnl::version();
  return std::to_string(version->major) + "." + std::to_string(version->minor) + "." + std::to_string(version->patch);
}

}  // namespace terraseg
