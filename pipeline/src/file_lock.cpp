#include "file_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "interrupt.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg {
namespace {

std::string read_holder(int fd) {
  char buffer[256] = {};
  const ssize_t count = pread(fd, buffer, sizeof(buffer) - 1, 0);
  std::string text = count > 0 ? std::string(buffer, static_cast<size_t>(count)) : std::string();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\0')) text.pop_back();
  return text.empty() ? "another process" : text;
}

/// Makes the lock's folder, then opens (creating) the lock file: its descriptor, or -1 with errno set.
int open_lock_file(const std::filesystem::path& path) {
  std::filesystem::create_directories(path.parent_path());
  return ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
}

}  // namespace

FileLock::FileLock(const std::filesystem::path& path, const std::function<void(const std::string&)>& on_wait)
    : fd_(open_lock_file(path)) {
  if (fd_ < 0)
    throw Error(path.string() + ": cannot open the lock file (" + std::strerror(errno) + "); check permissions");
  bool waited = false;
  while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      const std::string reason = std::strerror(errno);
      ::close(fd_);
      throw Error(path.string() + ": cannot lock (" + reason + "); does the file system support locks?");
    }
    if (!waited && on_wait) on_wait(read_holder(fd_));
    waited = true;
    try {
      check_interrupted();
    } catch (...) {
      ::close(fd_);
      throw;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  char host[128] = {};
  gethostname(host, sizeof(host) - 1);
  const std::string holder = std::string(host) + " pid " + std::to_string(getpid()) + "\n";
  if (::ftruncate(fd_, 0) == 0) {
    [[maybe_unused]] const ssize_t written = pwrite(fd_, holder.data(), holder.size(), 0);
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the descriptor releases the lock
}

}  // namespace terraseg
