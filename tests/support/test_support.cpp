#include "test_support.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>

namespace terraseg::test {
namespace {

std::optional<std::filesystem::path> existing_dir(const char* env_name, const std::filesystem::path& fallback) {
  const char* from_env = std::getenv(env_name);
  std::filesystem::path dir = from_env != nullptr ? std::filesystem::path(from_env) : fallback;
  if (std::filesystem::is_directory(dir)) return std::filesystem::canonical(dir);
  return std::nullopt;
}

}  // namespace

std::optional<std::filesystem::path> shared_data_dir() {
  return existing_dir("TERRASEG_DATA", TERRASEG_DEFAULT_DATA_DIR);
}

std::optional<std::filesystem::path> shared_weights_dir() {
  return existing_dir("TERRASEG_WEIGHTS", std::filesystem::path(TERRASEG_DEFAULT_DATA_DIR).parent_path() / "weights");
}

std::filesystem::path source_dir() { return TERRASEG_SOURCE_DIR; }

std::string read_file(const std::filesystem::path& path) {
  std::ifstream stream(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(stream), std::istreambuf_iterator<char>()};
}

TempDir::TempDir() {
  std::random_device seed;
  path_ = std::filesystem::temp_directory_path() / ("terraseg-test-" + std::to_string(seed()));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::map<std::string, std::string> snapshot(const std::filesystem::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) files[entry.path().string()] = read_file(entry.path());
  }
  return files;
}

}  // namespace terraseg::test
