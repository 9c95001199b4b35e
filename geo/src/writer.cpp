#include "terraseg/geo/writer.hpp"

#include <cpl_string.h>
#include <cpl_vsi.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <optional>
#include <random>
#include <sstream>
#include <utility>

#include "gdal_util.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg::geo {
namespace {

bool vsi_exists(const std::string& path) {
  VSIStatBufL stat{};
  return VSIStatL(path.c_str(), &stat) == 0;
}

std::string make_temp_name(const std::string& final_path) {
  static std::atomic<int> counter{0};
  const std::filesystem::path path(final_path);
  const std::string name =
      path.stem().string() + ".tmp-" + process_token() + "-" + std::to_string(counter++) + path.extension().string();
  return (path.parent_path() / name).string();
}

}  // namespace

namespace {

/// True when the leftover `name`, which starts with `prefix`, carries the pid of a live process other
/// than this one ("<prefix>[-]PID-..." or "<prefix>[-]PID.ext").
bool owned_by_live_process(const std::string& name, const std::string& prefix) {
  size_t i = prefix.size();
  if (i < name.size() && name[i] == '-') ++i;
  size_t digits = 0;
  long pid = 0;
  while (i + digits < name.size() && digits < 9 && name[i + digits] >= '0' && name[i + digits] <= '9') {
    pid = pid * 10 + (name[i + digits] - '0');
    ++digits;
  }
  if (digits == 0 || pid <= 0 || pid == static_cast<long>(::getpid())) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

}  // namespace

const std::string& process_token() {
  static const std::string token = [] {
    std::random_device entropy;
    std::ostringstream token_text;
    token_text << ::getpid() << '-' << std::hex << std::setfill('0') << std::setw(8) << entropy();
    return token_text.str();
  }();
  return token;
}

void remove_stale_temporaries(const std::string& final_path, bool only_of_dead_processes) {
  const std::filesystem::path output(final_path);
  const std::filesystem::path dir = output.parent_path().empty() ? "." : output.parent_path();
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error)) return;
  const std::string name = output.filename().string();
  const std::string prefixes[] = {output.stem().string() + ".tmp-", name + ".tmp", name + ".native-"};
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::string candidate = entry.path().filename().string();
    if (candidate == name) continue;
    for (const std::string& prefix : prefixes) {
      if (candidate.rfind(prefix, 0) == 0) {
        if (only_of_dead_processes && owned_by_live_process(candidate, prefix)) break;
        std::filesystem::remove_all(entry.path(), error);
        break;
      }
    }
  }
}

namespace {

std::vector<int> overview_factors(int width, int height, int block) {
  std::vector<int> factors;
  for (int f = 2; (std::max(width, height) + f - 1) / f >= block; f *= 2) factors.push_back(f);
  return factors;
}

}  // namespace

TempPath::TempPath(std::string final_path) : final_(std::move(final_path)), temp_(make_temp_name(final_)) {}

TempPath::~TempPath() {
  if (committed_) return;
  VSIUnlink(temp_.c_str());
  const std::string sidecar = temp_ + ".aux.xml";
  if (vsi_exists(sidecar)) VSIUnlink(sidecar.c_str());
}

void TempPath::commit() {
  const std::string sidecar = temp_ + ".aux.xml";
  const std::string final_sidecar = final_ + ".aux.xml";
  if (vsi_exists(sidecar)) {
    if (VSIRename(sidecar.c_str(), final_sidecar.c_str()) != 0) {
      throw Error("cannot rename '" + sidecar + "' to '" + final_sidecar + "': check permissions");
    }
  } else if (vsi_exists(final_sidecar)) {
    VSIUnlink(final_sidecar.c_str());  // a stale sidecar would describe an older file
  }
  if (VSIRename(temp_.c_str(), final_.c_str()) != 0) {
    throw Error("cannot rename finished output '" + temp_ + "' to '" + final_ +
                "': check that the directory is writable and on one file system");
  }
  committed_ = true;
}

void copy_georeferencing(GDALDataset& from, GDALDataset& to, const std::string& to_path) {
  double gt[6];
  if (from.GetGeoTransform(gt) == CE_None) {
    detail::check(to.SetGeoTransform(gt), "setting the geotransform of '" + to_path + "'");
  }
  if (const OGRSpatialReference* crs = from.GetSpatialRef()) {
    detail::check(to.SetSpatialRef(crs), "setting the CRS of '" + to_path + "'");
  }
  if (from.GetGCPCount() > 0) {
    detail::check(to.SetGCPs(from.GetGCPCount(), from.GetGCPs(), from.GetGCPSpatialRef()),
                  "setting the ground control points of '" + to_path + "'");
  }
}

void apply_class_style(GDALRasterBand& band, const std::vector<ClassInfo>& classes, int num_classes) {
  GDALColorTable table;
  CPLStringList names;
  std::string listed;  // "0=Sky;1=Building": band metadata, kept inside the TIFF (GDAL_METADATA tag)
  for (const ClassInfo& info : complete_class_table(classes, num_classes)) {
    if (info.id < 0 || info.id >= num_classes) continue;  // ids come in order: index = class id
    const GDALColorEntry entry{info.rgb[0], info.rgb[1], info.rgb[2], 255};
    table.SetColorEntry(info.id, &entry);
    names.AddString(info.name.c_str());
    listed += (info.id > 0 ? ";" : "") + std::to_string(info.id) + "=" + info.name;
  }
  detail::check(band.SetMetadataItem("CLASSES", listed.c_str()), "setting the class list");
  const GDALColorEntry transparent{0, 0, 0, 0};
  table.SetColorEntry(255, &transparent);
  detail::check(band.SetColorTable(&table), "setting the class colour table");
  detail::check(band.SetCategoryNames(names.List()), "setting the class names");
  detail::check(band.SetNoDataValue(255), "setting nodata 255 on the class band");
  detail::check(band.SetColorInterpretation(GCI_PaletteIndex), "marking the class band as palette indices");
}

namespace {

/// "NAME=VALUE" split at the first '='; nullopt when there is no name or no '='.
std::optional<std::pair<std::string, std::string>> split_option(const std::string& option) {
  const size_t equals = option.find('=');
  if (equals == std::string::npos || equals == 0) return std::nullopt;
  return std::make_pair(option.substr(0, equals), option.substr(equals + 1));
}

void apply_creation_options(CPLStringList& list, const std::vector<std::string>& options) {
  for (const std::string& option : options) {
    if (const auto pair = split_option(option)) list.SetNameValue(pair->first.c_str(), pair->second.c_str());
  }
}

}  // namespace

void check_creation_options(const std::vector<std::string>& options, bool cog, const std::string& flag) {
  detail::ensure_gdal_registered();
  const char* driver_name = cog ? "COG" : "GTiff";
  GDALDriver* driver = GetGDALDriverManager()->GetDriverByName(driver_name);
  if (driver == nullptr) throw Error(std::string("GDAL has no ") + driver_name + " driver");
  for (const std::string& option : options) {
    if (!split_option(option)) {
      throw Error(flag + " '" + option + "': expected NAME=VALUE, e.g. COMPRESS=ZSTD");
    }
    CPLStringList one;
    one.AddString(option.c_str());
    CPLErrorReset();
    bool valid = false;
    {
      detail::QuietGdal quiet;
      valid = GDALValidateCreationOptions(GDALDriver::ToHandle(driver), one.List()) != FALSE;
    }
    if (!valid) {
      throw Error(flag + " '" + option + "': not accepted by GDAL's " + driver_name + " driver (" +
                  detail::last_gdal_message() + "); the valid options are listed by `gdalinfo --format " + driver_name +
                  "`");
    }
  }
}

GridWriter::GridWriter(std::string final_path, GDALDataset& grid_source, int bands, GDALDataType type,
                       std::string resampling, OutputOptions options)
    : temp_(std::move(final_path)),
      width_(grid_source.GetRasterXSize()),
      height_(grid_source.GetRasterYSize()),
      bands_(bands),
      type_(type),
      type_size_(GDALGetDataTypeSizeBytes(type)),
      resampling_(std::move(resampling)),
      options_(std::move(options)) {
  if (options_.block_size < 16 || options_.block_size % 16 != 0) {
    throw Error("output block size " + std::to_string(options_.block_size) + " must be a multiple of 16");
  }
  detail::ensure_gdal_registered();
  GDALDriver* driver = GetGDALDriverManager()->GetDriverByName("GTiff");
  if (driver == nullptr) throw Error("GDAL was built without the GTiff driver: cannot write outputs");
  CPLStringList create;
  create.SetNameValue("TILED", "YES");
  create.SetNameValue("BLOCKXSIZE", std::to_string(options_.block_size).c_str());
  create.SetNameValue("BLOCKYSIZE", std::to_string(options_.block_size).c_str());
  create.SetNameValue("COMPRESS", "DEFLATE");
  create.SetNameValue("PREDICTOR", type == GDT_Float32 ? "3" : "1");
  create.SetNameValue("INTERLEAVE", "BAND");
  create.SetNameValue("BIGTIFF", "IF_SAFER");
  if (!options_.cog) apply_creation_options(create, options_.creation_options);
  {
    detail::QuietGdal quiet;
    dataset_.reset(driver->Create(temp_.temp().c_str(), width_, height_, bands_, type_, create.List()));
  }
  if (!dataset_) {
    throw Error("cannot create output '" + temp_.final_path() + "' (as '" + temp_.temp() +
                "'): " + detail::last_gdal_message() + " — check that the directory exists and is writable");
  }
  copy_georeferencing(grid_source, *dataset_, temp_.final_path());
  pending_.resize(static_cast<size_t>(bands_) * static_cast<size_t>(options_.block_size) * static_cast<size_t>(width_) *
                  static_cast<size_t>(type_size_));
}

GridWriter::~GridWriter() {
  // Close before TempPath's destructor removes the file; errors no longer matter here.
  detail::QuietGdal quiet;
  dataset_.reset();
}

void GridWriter::append_rows(int count, const void* data) {
  const size_t row_bytes = static_cast<size_t>(width_) * static_cast<size_t>(type_size_);
  const auto* src = static_cast<const unsigned char*>(data);
  if (bands_ == 1 && type_size_ == 1) {
    for (size_t i = 0; i < static_cast<size_t>(count) * row_bytes; ++i) ++value_counts_[src[i]];
  }
  int done = 0;
  while (done < count) {
    const int take = std::min(count - done, options_.block_size - pending_rows_);
    for (int b = 0; b < bands_; ++b) {
      const unsigned char* from =
          src + (static_cast<size_t>(b) * static_cast<size_t>(count) + static_cast<size_t>(done)) * row_bytes;
      unsigned char* to = pending_.data() + (static_cast<size_t>(b) * static_cast<size_t>(options_.block_size) +
                                             static_cast<size_t>(pending_rows_)) *
                                                row_bytes;
      std::memcpy(to, from, static_cast<size_t>(take) * row_bytes);
    }
    pending_rows_ += take;
    done += take;
    if (pending_rows_ == options_.block_size) flush_pending();
  }
}

void GridWriter::flush_pending() {
  if (pending_rows_ == 0) return;
  if (rows_written_ + pending_rows_ > height_) {
    throw Error("internal: more rows appended to '" + temp_.final_path() + "' than its height");
  }
  const GSpacing pixel = type_size_;
  const GSpacing line = pixel * width_;
  const GSpacing band = line * options_.block_size;
  const CPLErr err = dataset_->RasterIO(GF_Write, 0, rows_written_, width_, pending_rows_, pending_.data(), width_,
                                        pending_rows_, type_, bands_, nullptr, pixel, line, band, nullptr);
  detail::check(err, "writing rows " + std::to_string(rows_written_) + ".." +
                         std::to_string(rows_written_ + pending_rows_ - 1) + " of '" + temp_.final_path() +
                         "' failed (disk full?)");
  // Whole block rows are complete now: push them to the file so GDAL's cache does not grow with the image.
  dataset_->FlushCache(false);
  rows_written_ += pending_rows_;
  pending_rows_ = 0;
}

void GridWriter::close_checked() {
  detail::QuietGdal quiet;
  dataset_.reset();
  if (CPLGetLastErrorType() == CE_Failure || CPLGetLastErrorType() == CE_Fatal) {
    throw Error("finishing '" + temp_.final_path() + "' failed: " + detail::last_gdal_message() +
                " (disk full or not writable?)");
  }
}

void GridWriter::complete() {
  flush_pending();
  if (rows_written_ != height_) {
    throw Error("internal: '" + temp_.final_path() + "' got " + std::to_string(rows_written_) + " of " +
                std::to_string(height_) + " rows");
  }
  if (options_.overviews && !options_.cog) {
    const std::vector<int> factors = overview_factors(width_, height_, options_.block_size);
    if (!factors.empty()) {
      detail::check(dataset_->BuildOverviews(resampling_.c_str(), static_cast<int>(factors.size()), factors.data(), 0,
                                             nullptr, nullptr, nullptr, nullptr),
                    "building overviews of '" + temp_.final_path() + "'");
    }
  }
  close_checked();
  if (options_.cog) convert_to_cog();
}

void GridWriter::convert_to_cog() {
  GDALDriver* cog = GetGDALDriverManager()->GetDriverByName("COG");
  if (cog == nullptr) throw Error("GDAL has no COG driver (needs GDAL >= 3.1): write a plain GeoTIFF instead");
  cog_temp_ = std::make_unique<TempPath>(temp_.final_path());
  CPLStringList copy;
  copy.SetNameValue("COMPRESS", "DEFLATE");
  copy.SetNameValue("BLOCKSIZE", std::to_string(std::max(options_.block_size, 256)).c_str());
  copy.SetNameValue("RESAMPLING", resampling_.c_str());
  copy.SetNameValue("OVERVIEWS", options_.overviews ? "AUTO" : "NONE");
  copy.SetNameValue("BIGTIFF", "IF_SAFER");
  apply_creation_options(copy, options_.creation_options);
  detail::QuietGdal quiet;
  GDALDatasetUniquePtr source(GDALDataset::Open(temp_.temp().c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  GDALDatasetUniquePtr out;
  if (source) out.reset(cog->CreateCopy(cog_temp_->temp().c_str(), source.get(), FALSE, copy.List(), nullptr, nullptr));
  if (!out) {
    throw Error("converting '" + temp_.final_path() +
                "' to a Cloud Optimized GeoTIFF failed: " + detail::last_gdal_message());
  }
  out.reset();
  if (CPLGetLastErrorType() == CE_Failure) {
    throw Error("writing the Cloud Optimized GeoTIFF '" + temp_.final_path() +
                "' failed: " + detail::last_gdal_message());
  }
}

void GridWriter::commit() {
  if (dataset_) throw Error("internal: commit() before complete() for '" + temp_.final_path() + "'");
  if (cog_temp_) {
    cog_temp_->commit();
  } else {
    temp_.commit();
  }
}

}  // namespace terraseg::geo
