#pragma once
// A tiny synthetic training set and config for the `terraseg train` tests (CLI and job).
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "geo_test_util.hpp"

namespace terraseg::test {

using terraseg::geo::test::write_png;

/// Eight 24x24 RGB images of noise with one bright square each; masks give 1 inside the square.
inline void make_dataset(const std::filesystem::path& root) {
  std::filesystem::create_directories(root / "images");
  std::filesystem::create_directories(root / "masks");
  std::mt19937 rng(11);
  for (int i = 0; i < 8; ++i) {
    const int n = 24, size = 8 + i % 5, x0 = static_cast<int>(rng() % (n - size)),
              y0 = static_cast<int>(rng() % (n - size));
    std::vector<std::vector<uint8_t>> rgb(3, std::vector<uint8_t>(static_cast<size_t>(n) * n));
    std::vector<uint8_t> mask(static_cast<size_t>(n) * n, 0);
    for (int y = 0; y < n; ++y) {
      for (int x = 0; x < n; ++x) {
        const bool inside = x >= x0 && x < x0 + size && y >= y0 && y < y0 + size;
        for (auto& band : rgb) band[y * n + x] = static_cast<uint8_t>(inside ? 200 + rng() % 40 : rng() % 120);
        mask[y * n + x] = inside ? 1 : 0;
      }
    }
    const std::string stem = "img" + std::to_string(i) + ".png";
    write_png(root / "images" / stem, n, n, rgb);
    write_png(root / "masks" / stem, n, n, {mask});
  }
}

/// A training config; `model` and `extra_data` are spliced in (YAML lines, already indented).
inline std::filesystem::path write_config(const std::filesystem::path& root, const std::string& name,
                                          const std::string& model, const std::string& extra_data = "",
                                          const std::string& extra_sections = "") {
  std::filesystem::path path = root / (name + ".yaml");
  std::ofstream(path) << "seed: 3\nthreads: 1\n"
                      << "model:\n"
                      << model << "  classes: [{name: ground}, {name: square}]\n"
                      << "  normalisation: {bands: [red, green, blue], scale: 0.0039, mean: [0.5, 0.5, 0.5], "
                         "std: [0.25, 0.25, 0.25]}\n"
                      << "data:\n  train_images: images\n  train_masks: masks\n  split_every: 4\n"
                      << "  mask: {type: ids}\n  crop: [16, 16]\n  augment: {hflip: true}\n"
                      << extra_data << "optim: {type: adam, lr: 0.01, epochs: 4, batch: 2, loss: ce}\n"
                      << "output:\n  model: " << name << "/model.onnx\n  checkpoint_dir: " << name << "/ckpt\n"
                      << "  checkpoint_every: 1\n  log_every: 1\n  metric: val_miou\n"
                      << extra_sections;
  return path;
}

inline const char* const kUNet = "  builder: unet\n  base_width: 4\n  depth: 2\n";

}  // namespace terraseg::test
