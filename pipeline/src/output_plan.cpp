#include "output_plan.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "terraseg/core/error.hpp"

namespace terraseg {

namespace fs = std::filesystem;

namespace {

/// Length of the UTF-8 sequence starting at `text[i]`, or 0 when it is not a well-formed one
/// (overlong forms, surrogates and code points above U+10FFFF are refused, as RFC 3629 does).
size_t utf8_sequence(const std::string& text, size_t i) {
  const auto byte = [&text](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) return 1;
  size_t length = 0;
  unsigned int code = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    code = lead & 0x1FU;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    code = lead & 0x0FU;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    code = lead & 0x07U;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0U) != 0x80U) return 0;
    code = (code << 6U) | (byte(i + k) & 0x3FU);
  }
  if ((length == 3 && (code < 0x800 || (code >= 0xD800 && code <= 0xDFFF))) ||
      (length == 4 && (code < 0x10000 || code > 0x10FFFF))) {
    return 0;
  }
  return length;
}

/// Absolute and lexically normal, without a trailing separator: the form outputs are compared in.
fs::path comparable(const fs::path& path) {
  if (path.string().rfind("/vsi", 0) == 0) return path;  // GDAL virtual paths compare as written
  fs::path normal = fs::absolute(path).lexically_normal();
  if (normal.has_parent_path() && normal.filename().empty()) normal = normal.parent_path();
  return normal;
}

/// True when `inner` lies strictly inside `outer` (component-wise).
bool inside(const fs::path& inner, const fs::path& outer) {
  auto a = inner.begin();
  auto b = outer.begin();
  for (; b != outer.end(); ++a, ++b) {
    if (a == inner.end() || *a != *b) return false;
  }
  return a != inner.end();
}

/// The file's identity on disk (device, inode), when it exists: hard links and other spellings of
/// one file compare equal.
std::optional<std::pair<dev_t, ino_t>> identity(const fs::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return std::nullopt;
  return std::pair{info.st_dev, info.st_ino};
}

}  // namespace

bool is_utf8(const std::string& text) {
  for (size_t i = 0; i < text.size();) {
    const size_t length = utf8_sequence(text, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

void check_utf8(const std::string& text, const std::string& where) {
  for (size_t i = 0; i < text.size();) {
    const size_t length = utf8_sequence(text, i);
    if (length == 0) {
      throw Error(where + " is not valid UTF-8 (byte " + std::to_string(i + 1) +
                  "); terraseg writes names and paths into JSON, STAC and HTML, which carry only UTF-8: rename it");
    }
    i += length;
  }
}

std::optional<std::string> output_name_problem(const std::string& name) {
  const std::string problem = "is '" + name +
                              "': it names output files and folders, so it must be 1 to 100 bytes of "
                              "letters, digits, '-', '_', '.', '+' or '@', not starting with '.'";
  if (name.empty() || name.size() > 100 || name.front() == '.') return problem;
  for (size_t i = 0; i < name.size();) {
    const size_t length = utf8_sequence(name, i);
    if (length == 0)
      return "is not valid UTF-8 (byte " + std::to_string(i + 1) + "): it names output files and folders";
    const char c = name[i];
    const bool ok = length > 1 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == '+' || c == '@';
    if (!ok) return problem;
    i += length;
  }
  return std::nullopt;
}

OutputPlan::OutputPlan(const fs::path& root) : root_(root.empty() ? fs::path() : comparable(root)) {}

void OutputPlan::output(const fs::path& path, const std::string& owner) {
  if (path.empty()) return;
  outputs_.push_back({path, comparable(path), owner, false});
}

void OutputPlan::output_folder(const fs::path& path, const std::string& owner) {
  if (path.empty()) return;
  outputs_.push_back({path, comparable(path), owner, true});
}

void OutputPlan::read(const fs::path& path, const std::string& what) {
  if (path.empty()) return;
  reads_.push_back({path, comparable(path), what, false});
}

void OutputPlan::check() const {
  const auto quoted = [](const fs::path& path) { return "'" + path.string() + "'"; };
  // Everything inside the output folder.
  if (!root_.empty()) {
    for (const Entry& out : outputs_) {
      if (out.key != root_ && !inside(out.key, root_)) {
        throw Error(out.owner + " would write " + quoted(out.path) + ", outside the output folder " + quoted(root_) +
                    "; names must not contain '/' or '..'");
      }
    }
  }
  // No output is something the command reads: by spelling, by resolved path, or by identity on disk.
  std::map<fs::path, const Entry*> read_paths;
  std::map<std::pair<dev_t, ino_t>, const Entry*> read_files;
  for (const Entry& in : reads_) {
    read_paths.emplace(in.key, &in);
    std::error_code error;
    const fs::path resolved = fs::weakly_canonical(in.key, error);
    if (!error) read_paths.emplace(resolved, &in);
    if (const auto id = identity(in.key)) read_files.emplace(*id, &in);
  }
  for (const Entry& out : outputs_) {
    const Entry* hit = nullptr;
    if (const auto found = read_paths.find(out.key); found != read_paths.end()) hit = found->second;
    std::error_code error;
    const fs::path resolved = fs::weakly_canonical(out.key, error);
    if (hit == nullptr && !error) {
      if (const auto found = read_paths.find(resolved); found != read_paths.end()) hit = found->second;
    }
    if (hit == nullptr) {
      if (const auto id = identity(out.key)) {
        if (const auto found = read_files.find(*id); found != read_files.end()) hit = found->second;
      }
    }
    if (hit == nullptr && out.folder) {
      for (const Entry& in : reads_) {
        if (inside(in.key, out.key)) hit = &in;
      }
    }
    if (hit != nullptr) {
      throw Error(out.owner + " would write " + quoted(out.path) + ", which is " + hit->owner + " (" +
                  quoted(hit->path) + "); terraseg never replaces what it reads: choose another output path or name");
    }
  }
  // No two outputs are one file, and no output lies inside a file or another owner's folder.
  std::map<fs::path, const Entry*> by_path;
  for (const Entry& out : outputs_) {
    const auto [it, inserted] = by_path.emplace(out.key, &out);
    if (!inserted && !(it->second->folder && out.folder && it->second->owner == out.owner)) {
      throw Error(it->second->owner + " and " + out.owner + " would both write " + quoted(out.path) +
                  "; rename one of them (or, for inputs with the same file name, put them in separate regions)");
    }
  }
  for (const Entry& out : outputs_) {
    for (fs::path parent = out.key.parent_path(); !parent.empty() && parent != parent.parent_path();
         parent = parent.parent_path()) {
      if (!root_.empty() && !inside(parent, root_)) break;
      const auto found = by_path.find(parent);
      if (found == by_path.end()) continue;
      const Entry& holder = *found->second;
      // A folder's own step may write inside it: "the street-view step (point 'p1')" in "the street-view step".
      const bool own = holder.owner == out.owner || out.owner.rfind(holder.owner + " (", 0) == 0;
      if (!holder.folder || !own) {
        throw Error(out.owner + " would write " + quoted(out.path) + " inside " + quoted(holder.path) + ", which " +
                    holder.owner + " writes" + (holder.folder ? " as its folder" : " as a file") +
                    "; rename one of them");
      }
    }
  }
}

}  // namespace terraseg
