// libFuzzer target for the region-config loader and the run's output plan: any bytes either parse into
// a RunConfig whose every output path is then planned and checked (check_run_outputs: names, paths,
// collisions, inputs), or raise terraseg::Error; nothing else may escape, crash or trip a sanitizer.
// The dictionary tests/fuzz/config.dict steers mutations towards names and paths.
#include <cstddef>
#include <cstdint>
#include <string>

#include "run_layout.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/pipeline/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const terraseg::RunConfig config = terraseg::parse_run_config(text, "/tmp/fuzz/region.yaml");
    terraseg::check_run_outputs(config);  // reads the file system (stat), writes nothing
  } catch (const terraseg::Error&) {
    // Rejected with a message: the expected outcome for most inputs.
  }
  return 0;
}
