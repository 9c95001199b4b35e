#pragma once
/// What produced a unit's outputs, so that `run --resume` trusts a finished unit only while all of it
/// is unchanged: the files GDAL reads for the input (the raster, its sidecars such as .aux.xml, .ovr
/// or a world file, a VRT's sources; path, size, modification time and SHA-256 of the bytes), the
/// model file (its SHA-256) or builder, every config key that changes the output, and terraseg's
/// version and build. Stored in the unit's record; compared key by key to say what changed.
#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace terraseg {

/// Lower-case hex SHA-256 of a file's bytes (what `sha256sum` prints). Error naming the file.
std::string file_sha256(const std::string& path);

/// {"path", "size", "mtime_ns", "sha256"} of a local file; a GDAL virtual file (/vsis3/, /vsicurl/
/// ...) gives what GDAL's stat gives (size and time), without reading it.
nlohmann::json file_identity(const std::string& path);

/// The identities of every file GDAL reads for the raster `input`, in GDAL's order.
nlohmann::json raster_identity(const std::string& input);

/// "0.1.0 (build 1a2b...)": the version, and the GNU build-id of this executable when it has one.
std::string terraseg_build();

/// Hashes each file at most once per process (the inputs and models many units share).
class FingerprintCache {
 public:
  const nlohmann::json& raster(const std::string& input);
  const nlohmann::json& file(const std::string& path);

 private:
  std::map<std::string, nlohmann::json> rasters_;
  std::map<std::string, nlohmann::json> files_;
};

/// The first difference between a recorded fingerprint and the current one, in words ("the input
/// 'a.tif' changed (its bytes differ)", "config key 'tiling' changed"), or "" when they agree. A
/// file's modification time alone is no change when its bytes are the same.
std::string fingerprint_difference(const nlohmann::json& recorded, const nlohmann::json& current);

}  // namespace terraseg
