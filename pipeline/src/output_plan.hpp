#pragma once
/// The one rule for what a command may write (docs/reliability.md, "Outputs"): every path a command
/// will write is computed up front from validated names, and the whole set is checked before anything
/// runs. No output is an input, a model or another file the command reads; no two outputs are the
/// same file (or one a folder of the other); nothing lies outside the output folder.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace terraseg {

/// True when `text` is well-formed UTF-8.
bool is_utf8(const std::string& text);
/// Throws Error("<where> is not valid UTF-8 ...") unless `text` is well-formed UTF-8.
/// Names and paths end up in JSON, STAC and HTML, which carry only UTF-8.
void check_utf8(const std::string& text, const std::string& where);

/// What is wrong with a region or task name, which names folders and files of the run, or nullopt:
/// it must be 1 to 100 bytes of UTF-8, letters (any script), digits, '-', '_', '.', '+', '@', not
/// starting with '.' (so never '.', '..' or hidden). The text reads after a key: "is '..': ...".
std::optional<std::string> output_name_problem(const std::string& name);

/// The set of files one command will write and the files it reads, checked as a whole by check().
class OutputPlan {
 public:
  /// `root`: the folder every output must lie in (empty: no such constraint, as for predict -o).
  explicit OutputPlan(const std::filesystem::path& root = {});

  /// A file this command writes; `owner` says who writes it, for messages ("region 'city', task
  /// 'roads', input 'in/a.tif'", "-o"). A folder the command writes into counts as `folder`.
  void output(const std::filesystem::path& path, const std::string& owner);
  void output_folder(const std::filesystem::path& path, const std::string& owner);
  /// A file this command reads (an input raster, a model, the config): no output may be it.
  void read(const std::filesystem::path& path, const std::string& what);

  /// Throws Error naming both sides of the first conflict:
  ///   "<owner> would write '<path>', which is <what> (an input / the model ...); ..."
  ///   "<owner A> and <owner B> would both write '<path>'; ..."
  ///   "<owner> would write '<path>', outside the output folder '<root>'"
  void check() const;

  std::size_t size() const { return outputs_.size(); }

 private:
  struct Entry {
    std::filesystem::path path;  ///< as given
    std::filesystem::path key;   ///< absolute, lexically normal: what is compared
    std::string owner;
    bool folder = false;
  };
  std::filesystem::path root_;
  std::vector<Entry> outputs_;
  std::vector<Entry> reads_;
};

}  // namespace terraseg
