// libFuzzer target: load_onnx_bytes on arbitrary bytes must either return a graph or throw
// terraseg::Error; any other exception, crash, leak or sanitizer report is a bug.
//
// Build and run (clang, its own build directory):
//   cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DTERRASEG_FUZZ=ON \
//         -DTERRASEG_SANITIZE=address,undefined
//   cmake --build build-fuzz --target fuzz_onnx
//   build-fuzz/tests/fuzz/fuzz_onnx -max_total_time=120 CORPUS_DIR SEED_DIR...
// Good seeds are small ONNX files: tests/reference/segnet_opset13.onnx and the model.onnx files of
// /usr/share/libonnx-testdata/data/node/test_*.
#include <cstddef>
#include <cstdint>
#include <string>

#include "terraseg/core/error.hpp"
#include "terraseg/core/onnx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const terraseg::Graph graph =
        terraseg::load_onnx_bytes(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    // A graph that loads must be self-consistent.
    graph.validate();
  } catch (const terraseg::Error&) {
    // Rejecting hostile input with the one error type is the expected outcome.
  }
  return 0;
}
