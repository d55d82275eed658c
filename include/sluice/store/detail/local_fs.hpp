// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/detail/file.hpp>
#include <sluice/core/error.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::store::detail {

/// Creates `dir` and its missing parents. With `sync`, fsyncs the parent of every folder it
/// created, so the new entries survive a crash along with the files later put in them.
inline error_code make_directories(const std::filesystem::path& dir, bool sync) {
  std::vector<std::filesystem::path> missing;
  for (std::filesystem::path p = dir; !p.empty(); p = p.parent_path()) {
    struct stat st;
    if (::stat(p.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) return make_error_code(boost::system::errc::not_a_directory);
      break;
    }
    if (errno != ENOENT) return sluice::detail::last_system_error();
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    // EEXIST: another worker created it first, which is as good.
    if (::mkdir(it->c_str(), 0755) != 0 && errno != EEXIST) return sluice::detail::last_system_error();
    if (sync) {
      auto parent = it->parent_path();
      if (auto ec = sluice::detail::fsync_directory(parent.empty() ? "." : parent)) return ec;
    }
  }
  return {};
}

/// Reads a whole file into `out` (reusing its capacity).
inline error_code read_whole_file(const std::filesystem::path& path, std::string& out) {
  sluice::detail::unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return sluice::detail::last_system_error();
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return sluice::detail::last_system_error();
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  for (;;) {
    if (done == out.size()) out.resize(out.size() + 65536);  // the file grew: keep reading
    ssize_t n = ::read(fd.get(), out.data() + done, out.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sluice::detail::last_system_error();
    }
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  return {};
}

/// Whether `key` is a relative path without empty, `.` or `..` segments.
inline bool safe_key(std::string_view key) {
  if (key.empty() || key.front() == '/') return false;
  for (std::size_t start = 0;;) {
    std::size_t slash = key.find('/', start);
    auto seg = key.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (seg.empty() || seg == "." || seg == "..") return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

}  // namespace sluice::store::detail
