#include "fingerprint.hpp"

#include <cpl_vsi.h>
#include <elf.h>
#include <gdal_priv.h>
#include <link.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "terraseg/core/error.hpp"
#include "terraseg/core/version.hpp"

namespace terraseg {

using nlohmann::json;

namespace {

bool is_virtual(const std::string& path) { return path.rfind("/vsi", 0) == 0; }

/// The GNU build-id note of the main executable, as hex ("" when it has none).
int find_build_id(dl_phdr_info* info, size_t /*size*/, void* data) {
  auto* out = static_cast<std::string*>(data);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& header = info->dlpi_phdr[i];
    if (header.p_type != PT_NOTE) continue;
    // NOLINTNEXTLINE(performance-no-int-to-ptr): the loader gives a segment's address as an integer
    const auto* note = reinterpret_cast<const unsigned char*>(info->dlpi_addr + header.p_vaddr);
    const unsigned char* end = note + header.p_memsz;
    while (note + sizeof(ElfW(Nhdr)) <= end) {
      const auto* nhdr = reinterpret_cast<const ElfW(Nhdr)*>(note);
      const unsigned char* name = note + sizeof(ElfW(Nhdr));
      const unsigned char* desc = name + ((nhdr->n_namesz + 3U) & ~3U);
      if (nhdr->n_type == NT_GNU_BUILD_ID && nhdr->n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0) {
        static const char* digits = "0123456789abcdef";
        for (size_t k = 0; k < nhdr->n_descsz; ++k) {
          *out += digits[desc[k] >> 4U];
          *out += digits[desc[k] & 15U];
        }
        return 1;
      }
      note = desc + ((nhdr->n_descsz + 3U) & ~3U);
    }
  }
  return 1;  // the first object is the executable: stop there
}

}  // namespace

std::string file_sha256(const std::string& path) {
  std::unique_ptr<std::FILE, decltype(&std::fclose)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw Error(path + ": cannot read it to fingerprint it (" + std::strerror(errno) + ")");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1) {
    throw Error("OpenSSL cannot compute SHA-256 here (fingerprinting '" + path + "')");
  }
  std::vector<unsigned char> buffer(1 << 20);
  size_t count = 0;
  while ((count = std::fread(buffer.data(), 1, buffer.size(), file.get())) > 0) {
    EVP_DigestUpdate(context.get(), buffer.data(), count);
  }
  if (std::ferror(file.get())) throw Error(path + ": read error while fingerprinting it");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context.get(), digest, &length);
  static const char* digits = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += digits[digest[i] >> 4U];
    hex += digits[digest[i] & 15U];
  }
  return hex;
}

json file_identity(const std::string& path) {
  json identity{{"path", path}};
  if (is_virtual(path)) {
    VSIStatBufL stat{};
    if (VSIStatL(path.c_str(), &stat) != 0) return identity;  // unreadable: differs from any readable one
    identity["size"] = static_cast<int64_t>(stat.st_size);
    identity["mtime_ns"] = static_cast<int64_t>(stat.st_mtime) * 1000000000LL;
    return identity;
  }
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return identity;
  identity["size"] = static_cast<int64_t>(info.st_size);
  identity["mtime_ns"] = static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000LL + info.st_mtim.tv_nsec;
  if (S_ISREG(info.st_mode)) identity["sha256"] = file_sha256(path);
  return identity;
}

json raster_identity(const std::string& input) {
  json files = json::array();
  std::unique_ptr<GDALDataset> dataset(
      GDALDataset::Open(input.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY | GDAL_OF_VERBOSE_ERROR));
  char** list = dataset ? dataset->GetFileList() : nullptr;
  if (list == nullptr) {
    files.push_back(file_identity(input));
  } else {
    for (char** item = list; *item != nullptr; ++item) files.push_back(file_identity(*item));
    CSLDestroy(list);
  }
  return files;
}

std::string terraseg_build() {
  static const std::string build = [] {
    std::string id;
    dl_iterate_phdr(find_build_id, &id);
    return id.empty() ? std::string(TERRASEG_VERSION_STRING)
                      : std::string(TERRASEG_VERSION_STRING) + " (build " + id + ")";
  }();
  return build;
}

const json& FingerprintCache::raster(const std::string& input) {
  auto found = rasters_.find(input);
  if (found == rasters_.end()) found = rasters_.emplace(input, raster_identity(input)).first;
  return found->second;
}

const json& FingerprintCache::file(const std::string& path) {
  auto found = files_.find(path);
  if (found == files_.end()) found = files_.emplace(path, file_identity(path)).first;
  return found->second;
}

namespace {

/// Two identities of one file agree when their bytes do (the hash, or size and time without one).
bool same_file(const json& a, const json& b) {
  if (a.value("path", "") != b.value("path", "")) return false;
  if (!a.contains("size") || !b.contains("size") || a["size"] != b["size"]) return false;
  if (a.contains("sha256") || b.contains("sha256")) return a.value("sha256", "") == b.value("sha256", "");
  return a.value("mtime_ns", int64_t{-1}) == b.value("mtime_ns", int64_t{-2});
}

std::string files_difference(const json& recorded, const json& current, const std::string& what) {
  if (!recorded.is_array() || !current.is_array()) return what + " changed";
  for (const json& now : current) {
    const json* before = nullptr;
    for (const json& old : recorded) {
      if (old.value("path", "") == now.value("path", "")) before = &old;
    }
    const std::string path = now.value("path", "");
    if (before == nullptr) return what + " changed ('" + path + "' is new among the files GDAL reads for it)";
    if (!now.contains("size")) return what + " changed ('" + path + "' can no longer be read)";
    if (!same_file(*before, now)) return what + " changed ('" + path + "': its bytes differ)";
  }
  for (const json& old : recorded) {
    bool present = false;
    for (const json& now : current) present = present || old.value("path", "") == now.value("path", "");
    if (!present) return what + " changed ('" + old.value("path", "") + "' is gone)";
  }
  return "";
}

}  // namespace

std::string fingerprint_difference(const json& recorded, const json& current) {
  if (!recorded.is_object()) return "its record has no fingerprint (written by an older terraseg)";
  if (recorded.value("terraseg", "") != current.value("terraseg", "")) {
    return "terraseg changed (" + recorded.value("terraseg", "?") + " -> " + current.value("terraseg", "?") + ")";
  }
  if (auto why = files_difference(recorded.value("input", json()), current.value("input", json()), "the input");
      !why.empty()) {
    return why;
  }
  const json old_model = recorded.value("model", json());
  const json new_model = current.value("model", json());
  if (new_model.contains("file")) {
    if (!old_model.contains("file") || !same_file(old_model["file"], new_model["file"]))
      return "the model file changed";
    if (old_model.value("settings", json()) != new_model.value("settings", json()))
      return "the model's config keys changed";
  } else if (old_model != new_model) {
    return "the model changed";
  }
  const json old_settings = recorded.value("settings", json::object());
  const json new_settings = current.value("settings", json::object());
  for (const auto& [key, value] : new_settings.items()) {
    if (!old_settings.contains(key) || old_settings[key] != value) return "config key '" + key + "' changed";
  }
  for (const auto& [key, value] : old_settings.items()) {
    if (!new_settings.contains(key)) return "config key '" + key + "' changed";
  }
  return "";
}

}  // namespace terraseg
