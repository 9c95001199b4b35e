// libFuzzer target for the region-config loader: any bytes either parse into a RunConfig or raise
// terraseg::Error; nothing else may escape, crash or trip a sanitizer.
#include <cstddef>
#include <cstdint>
#include <string>

#include "terraseg/core/error.hpp"
#include "terraseg/pipeline/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    terraseg::parse_run_config(text, "/tmp/fuzz/region.yaml");
  } catch (const terraseg::Error&) {
    // Rejected with a message: the expected outcome for most inputs.
  }
  return 0;
}
