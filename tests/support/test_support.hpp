#pragma once
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>

namespace terraseg::test {

/// ../shared/data, or $TERRASEG_DATA when set; nullopt when the directory is absent.
std::optional<std::filesystem::path> shared_data_dir();
/// ../shared/weights, or $TERRASEG_WEIGHTS when set; nullopt when absent.
std::optional<std::filesystem::path> shared_weights_dir();
/// The source tree root (for committed fixtures under tests/ and samples/).
std::filesystem::path source_dir();

/// The whole file as bytes ("" when it cannot be read).
std::string read_file(const std::filesystem::path& path);

/// Every regular file under `dir` (path -> bytes): a refused command must leave it exactly so.
std::map<std::string, std::string> snapshot(const std::filesystem::path& dir);

/// A fresh directory removed at scope exit.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir(TempDir&&) = delete;
  TempDir& operator=(TempDir&&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace terraseg::test

/// Skips the current test, saying why, when ../shared/data is absent.
#define TERRASEG_REQUIRE_DATA(var)                                                                    \
  auto var##_opt = ::terraseg::test::shared_data_dir();                                               \
  if (!var##_opt) GTEST_SKIP() << "shared data not found: set TERRASEG_DATA or place ../shared/data"; \
  const std::filesystem::path var = std::move(*var##_opt)
