// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/error.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

namespace sluice::detail {

/// An owned POSIX file descriptor.
class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~unique_fd() { reset(); }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  [[nodiscard]] int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

inline error_code last_system_error() noexcept {
  return {errno, boost::system::system_category()};
}

/// Writes all of `data` to `fd`, retrying short writes and EINTR.
inline error_code write_all(int fd, const void* data, std::size_t size) noexcept {
  auto* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_system_error();
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return {};
}

/// fsyncs a folder so a rename or a new file in it survives a crash.
inline error_code fsync_directory(const std::filesystem::path& dir) noexcept {
  unique_fd fd(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return last_system_error();
  if (::fsync(fd.get()) != 0) return last_system_error();
  return {};
}

/// Replaces `path` with `data` so that a crash leaves the old or the new content, never a mix:
/// write `path.tmp`, fsync it, rename it over `path`, fsync the folder.
inline error_code write_file_atomically(const std::filesystem::path& path, std::string_view data,
                                        bool sync = true) noexcept {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  unique_fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return last_system_error();
  if (auto ec = write_all(fd.get(), data.data(), data.size())) return ec;
  if (sync && ::fsync(fd.get()) != 0) return last_system_error();
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return last_system_error();
  return sync ? fsync_directory(path.parent_path()) : error_code{};
}

/// Throwing twin of the error_code overload.
inline void write_file_atomically(const std::filesystem::path& path, std::string_view data,
                                  const char* what, bool sync = true) {
  if (auto ec = write_file_atomically(path, data, sync))
    throw error(ec, std::string(what) + " " + path.string());
}

}  // namespace sluice::detail
