#pragma once
/// Writing georeferenced outputs safely: temporary names renamed into place, streamed rows,
/// class colour tables and names, overviews, optional Cloud Optimized GeoTIFF.
#include <gdal_priv.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "terraseg/core/model_card.hpp"

namespace terraseg::geo {

/// A path written under a temporary name beside the final one ("<stem>.tmp-<pid>-<n><ext>", same
/// directory, so the rename is atomic on one file system) and renamed by commit(). Until commit() the
/// final name is untouched; the destructor removes the temporary (and its ".aux.xml" sidecar, where
/// GDAL keeps category names and band descriptions) if commit() was not reached.
/// Works for local paths and GDAL virtual paths (/vsimem/).
class TempPath {
 public:
  explicit TempPath(std::string final_path);
  ~TempPath();
  TempPath(const TempPath&) = delete;
  TempPath& operator=(const TempPath&) = delete;
  TempPath(TempPath&&) = delete;
  TempPath& operator=(TempPath&&) = delete;

  const std::string& temp() const { return temp_; }
  const std::string& final_path() const { return final_; }
  /// Renames the temporary (and its sidecar, or removes a stale final sidecar) to the final name.
  /// Throws terraseg::Error naming both paths when the rename fails.
  void commit();

 private:
  std::string final_;
  std::string temp_;
  bool committed_ = false;
};

/// Removes what a killed earlier run left beside `final_path`: temporaries "<stem>.tmp-*" (TempPath's
/// names) and "<name>.tmp*" (JSON and HTML written by rename), and native-pixel-size scratch
/// directories "<name>.native-*". The final file itself is never touched. Call it before writing
/// `final_path` (run --resume relies on it); local paths only. With `only_of_dead_processes`, a
/// leftover named with the pid of a live process other than this one is kept (predict, which holds
/// no lock, must not remove what a concurrent predict is writing).
void remove_stale_temporaries(const std::string& final_path, bool only_of_dead_processes = false);

/// "<pid>-<8 random hex digits>", fixed for the life of the process: what names this process's
/// temporaries. The pid alone is not unique where output folders are shared between containers (each
/// of whose first process is pid 1) or machines; the random part is.
const std::string& process_token();

/// How rasters are stored. Defaults: tiled 256 x 256, DEFLATE, internal overviews, no COG.
struct OutputOptions {
  bool cog = false;       ///< write a Cloud Optimized GeoTIFF (via GDAL's COG driver)
  bool overviews = true;  ///< build overviews (NEAREST for classes, AVERAGE for scores)
  int block_size = 256;   ///< tile edge in pixels (multiple of 16)
  /// GDAL creation options "NAME=VALUE" (gdal_translate's -co), applied over the defaults by the
  /// driver that writes the final file: GTiff, or COG when `cog` is set. check_creation_options()
  /// vets them before anything is computed.
  std::vector<std::string> creation_options;
};

/// Throws terraseg::Error naming the first of `options` ("NAME=VALUE") that is malformed or that the
/// driver writing the outputs (GTiff, or COG when `cog`) does not accept, with where to look up the
/// valid ones. `flag` names where they came from ("-co", "outputs.creation_options in run.yaml").
void check_creation_options(const std::vector<std::string>& options, bool cog, const std::string& flag);

/// Copies CRS, geotransform (as-is, rotation included) and GCPs from `from` to `to`; copies nothing
/// for a raster without georeferencing. Throws terraseg::Error when the driver rejects them.
void copy_georeferencing(GDALDataset& from, GDALDataset& to, const std::string& to_path);

/// Colour table (class colours; nodata 255 transparent), category names (index = class id), nodata 255
/// and the band metadata item CLASSES ("0=Sky;1=Building;..."), on a Byte class band. GeoTIFF keeps
/// category names only in the .aux.xml sidecar; CLASSES travels inside the file. `classes` is
/// completed by complete_class_table() (model_card.hpp): missing classes get "class <id>" and the
/// default palette's colour.
void apply_class_style(GDALRasterBand& band, const std::vector<ClassInfo>& classes, int num_classes);

/// Streams rows into a new tiled GeoTIFF with the grid of a source dataset. Rows are buffered to whole
/// block rows, written and flushed from GDAL's cache, so memory stays at about
/// block_size x width x bands x type size. Nothing appears under the final name until finish().
class GridWriter {
 public:
  /// `resampling` is the overview method ("NEAREST" for classes, "AVERAGE" for scores).
  GridWriter(std::string final_path, GDALDataset& grid_source, int bands, GDALDataType type, std::string resampling,
             OutputOptions options);
  ~GridWriter();
  GridWriter(const GridWriter&) = delete;
  GridWriter& operator=(const GridWriter&) = delete;
  GridWriter(GridWriter&&) = delete;
  GridWriter& operator=(GridWriter&&) = delete;

  /// The dataset being written, e.g. to set colour tables or band descriptions before finish().
  GDALDataset& dataset() { return *dataset_; }

  /// Appends `count` full rows. `data` is band-sequential (bands x count x width) of the created type.
  /// Rows must arrive in order, top to bottom.
  void append_rows(int count, const void* data);

  /// Single-band Byte writers (class masks): pixels appended so far per value 0..255, counted as
  /// the rows pass, so that nobody re-reads the finished file to count its classes. Zeros otherwise.
  const std::array<int64_t, 256>& value_counts() const { return value_counts_; }

  /// Writes what is left, builds overviews / converts to COG and closes, still under the temporary
  /// name. Throws terraseg::Error on any failure, or when fewer rows than the height were appended.
  void complete();
  /// Renames the completed file into place (call after complete(); lets several outputs finish
  /// before any of them appears).
  void commit();
  /// complete() then commit().
  void finish() {
    complete();
    commit();
  }

 private:
  void flush_pending();
  void close_checked();
  void convert_to_cog();

  TempPath temp_;
  std::unique_ptr<TempPath> cog_temp_;  ///< the COG copy, when options.cog
  GDALDatasetUniquePtr dataset_;
  std::array<int64_t, 256> value_counts_{};
  int width_;
  int height_;
  int bands_;
  GDALDataType type_;
  int type_size_;
  std::string resampling_;
  OutputOptions options_;
  int rows_written_ = 0;
  int pending_rows_ = 0;
  std::vector<unsigned char> pending_;  ///< bands x block_size x width
};

}  // namespace terraseg::geo
