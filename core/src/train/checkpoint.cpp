// Layout: "TSCKPT01", u64 meta length, meta bytes, u64 tensor count, then per tensor: u64 name length,
// name, u64 rank, rank x i64 dims, float32 values. Host byte order (little-endian on every target).
#include "terraseg/core/checkpoint.hpp"

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "terraseg/core/error.hpp"

namespace terraseg {
namespace {

constexpr char kMagic[8] = {'T', 'S', 'C', 'K', 'P', 'T', '0', '1'};

void put_u64(std::ostream& out, uint64_t v) { out.write(reinterpret_cast<const char*>(&v), sizeof v); }

void put_string(std::ostream& out, const std::string& s) {
  put_u64(out, s.size());
  out.write(s.data(), static_cast<std::streamsize>(s.size()));
}

class Reader {
 public:
  Reader(std::istream& in, const std::string& path) : in_(in), path_(path) {}

  uint64_t u64() {
    uint64_t v = 0;
    bytes(reinterpret_cast<char*>(&v), sizeof v);
    return v;
  }
  std::string string(uint64_t limit) {
    const uint64_t size = u64();
    if (size > limit) fail();
    std::string s(size, '\0');
    bytes(s.data(), size);
    return s;
  }
  void bytes(char* dst, uint64_t size) {
    in_.read(dst, static_cast<std::streamsize>(size));
    if (static_cast<uint64_t>(in_.gcount()) != size) fail();
  }
  [[noreturn]] void fail() const {
    throw Error("checkpoint '" + path_ + "' is truncated or corrupt; delete it to start afresh or pick an older one");
  }

 private:
  std::istream& in_;
  const std::string& path_;
};

}  // namespace

void save_checkpoint(const Checkpoint& checkpoint, const std::string& path) {
  const std::filesystem::path target(path);
  if (target.has_parent_path()) std::filesystem::create_directories(target.parent_path());
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("cannot write checkpoint '" + temp + "'");
    out.write(kMagic, sizeof kMagic);
    put_string(out, checkpoint.meta_json);
    put_u64(out, checkpoint.tensors.size());
    for (const auto& [name, tensor] : checkpoint.tensors) {
      put_string(out, name);
      put_u64(out, tensor.rank());
      for (int64_t d : tensor.dims()) put_u64(out, static_cast<uint64_t>(d));
      out.write(reinterpret_cast<const char*>(tensor.data()),
                static_cast<std::streamsize>(tensor.size() * sizeof(float)));
    }
    out.flush();
    if (!out) throw Error("writing checkpoint '" + temp + "' failed (disk full?)");
  }
  std::error_code ec;
  std::filesystem::rename(temp, target, ec);
  if (ec) throw Error("cannot rename '" + temp + "' to '" + path + "': " + ec.message());
}

Checkpoint load_checkpoint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open checkpoint '" + path + "'");
  Reader reader(in, path);
  char magic[sizeof kMagic];
  reader.bytes(magic, sizeof magic);
  if (!std::equal(magic, magic + sizeof magic, kMagic)) throw Error("'" + path + "' is not a terraseg checkpoint");
  Checkpoint checkpoint;
  checkpoint.meta_json = reader.string(1 << 24);
  const uint64_t count = reader.u64();
  if (count > 1000000) reader.fail();
  for (uint64_t t = 0; t < count; ++t) {
    std::string name = reader.string(4096);
    const uint64_t rank = reader.u64();
    if (rank > 8) reader.fail();
    Dims dims;
    for (uint64_t r = 0; r < rank; ++r) dims.push_back(static_cast<int64_t>(reader.u64()));
    int64_t elements = 1;
    for (int64_t d : dims) {
      if (d < 0 || d > (int64_t{1} << 32)) reader.fail();
      elements *= d;
    }
    if (elements > (int64_t{1} << 32)) reader.fail();
    Tensor tensor(dims);
    reader.bytes(reinterpret_cast<char*>(tensor.data()), static_cast<uint64_t>(elements) * sizeof(float));
    checkpoint.tensors.emplace(std::move(name), std::move(tensor));
  }
  return checkpoint;
}

}  // namespace terraseg
