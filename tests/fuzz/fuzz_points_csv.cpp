// libFuzzer target for the walkability points CSV (street_view.points): any bytes either parse into
// points or raise terraseg::Error naming the file and line; nothing else may escape, crash or trip a
// sanitizer. Seeds: samples/street/*.csv.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "terraseg/core/error.hpp"
#include "terraseg/geo/walkability.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/terraseg-fuzz-points-" + std::to_string(getpid()) + ".csv";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    const auto points = terraseg::geo::read_street_points(path);
    for (const auto& point : points) {
      if (point.id.empty() || point.images.empty()) __builtin_trap();  // the reader promises both
    }
  } catch (const terraseg::Error&) {
    // Refused with a message naming the line: the expected outcome for most inputs.
  }
  return 0;
}
