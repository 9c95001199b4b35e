#pragma once
/// Advisory locks between terraseg processes sharing an output folder (two runs of one config,
/// Kubernetes shards on one volume): flock(2) on a small file, released when the holder exits however
/// it exits, so a lock of a dead process is simply taken over. The holder writes its host and pid into
/// the file for the message of whoever waits.
#include <filesystem>
#include <functional>
#include <string>

namespace terraseg {

class FileLock {
 public:
  /// Takes the lock on `path` (made, with its folder, if needed), waiting while another process holds
  /// it: `on_wait(holder)` is called once before waiting, with the holder's "host pid N". Waiting
  /// stops with Interrupted on SIGINT/SIGTERM (interrupt.hpp).
  FileLock(const std::filesystem::path& path, const std::function<void(const std::string&)>& on_wait);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  FileLock(FileLock&&) = delete;
  FileLock& operator=(FileLock&&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace terraseg
