// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/detail/crc32c.hpp>
#include <sluice/core/detail/file.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/record.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::buffer::detail {

// The write-ahead log of buffer::disk: segment files named by the global byte offset of their
// first byte (`00000000000000000000.wal`), each a sequence of frames, one per record:
//
//   offset size
//        0    4  CRC32C of bytes 4 .. end of frame (header rest, payload, partition), LE
//        4    4  magic "SLW1"
//        8    4  payload size, LE
//       12    4  partition size, LE
//       16    8  event time, nanoseconds since the Unix epoch (two's complement), LE
//       24    .. payload bytes, then partition bytes
//
// A crash mid-write leaves a short or mismatching last frame: the torn tail, which recovery cuts.

inline constexpr std::size_t frame_header_size = 24;
inline constexpr char frame_magic[4] = {'S', 'L', 'W', '1'};
/// Largest payload + partition a frame may claim; anything larger is corruption, not data.
inline constexpr std::uint64_t max_frame_body = std::uint64_t(1) << 31;

inline void put_u32(char* p, std::uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xFFu);
}
inline void put_u64(char* p, std::uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xFFu);
}
inline std::uint32_t get_u32(const char* p) noexcept {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
inline std::uint64_t get_u64(const char* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

/// Size of the frame holding a record.
inline std::uint64_t frame_size(const record_ref& r) noexcept {
  return frame_header_size + r.payload.size() + r.partition.size();
}

/// Appends the frame of `r` to `out` (whose capacity the caller reuses).
inline void append_frame(std::string& out, const record_ref& r) {
  std::size_t at = out.size();
  out.resize(at + frame_header_size);
  char* h = out.data() + at;
  std::memcpy(h + 4, frame_magic, 4);
  put_u32(h + 8, static_cast<std::uint32_t>(r.payload.size()));
  put_u32(h + 12, static_cast<std::uint32_t>(r.partition.size()));
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(r.event_time.time_since_epoch()).count();
  put_u64(h + 16, static_cast<std::uint64_t>(ns));
  out.append(r.payload);
  out.append(r.partition);
  std::uint32_t crc = sluice::detail::crc32c(0, out.data() + at + 4, out.size() - at - 4);
  put_u32(out.data() + at, crc);
}

/// File name of the segment starting at global offset `start`.
inline std::string segment_name(std::uint64_t start) {
  std::string digits = std::to_string(start);
  return std::string(20 - std::min<std::size_t>(20, digits.size()), '0') + digits + ".wal";
}

/// A segment found on disk.
struct segment_file {
  std::uint64_t start = 0;
  std::filesystem::path path;
};

/// The segments in `dir`, by start offset. Other files (checkpoint, lock) are ignored.
inline std::vector<segment_file> list_segments(const std::filesystem::path& dir) {
  std::vector<segment_file> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (name.size() != 24 || name.compare(20, 4, ".wal") != 0) continue;
    std::uint64_t start = 0;
    auto [p, ec] = std::from_chars(name.data(), name.data() + 20, start);
    if (ec != std::errc{} || p != name.data() + 20) continue;
    out.push_back({start, entry.path()});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.start < b.start; });
  return out;
}

/// Reads the frames of one segment in order, through a buffer it reuses.
class segment_reader {
 public:
  enum class status { record, end, torn };

  /// Opens `path`. Errors: throws sluice::error naming the file.
  void open(const std::filesystem::path& path) {
    path_ = path;
    fd_ = sluice::detail::unique_fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd_) throw error(sluice::detail::last_system_error(), "buffer::disk: opening " + path.string());
    begin_ = end_ = 0;
    offset_ = 0;
    eof_ = false;
    why_.clear();
  }

  /// Reads the next frame. `record`: `r` holds it (views valid until the next call) and
  /// offset() is the byte after it; `end`: the segment ends cleanly at offset(); `torn`: the
  /// frame at offset() is short or does not match its checksum (why() says which).
  status next(record_ref& r) {
    if (!fill(frame_header_size)) {
      if (begin_ == end_) return status::end;
      why_ = "the file ends inside a frame header";
      return status::torn;
    }
    const char* h = buffer_.data() + begin_;
    if (std::memcmp(h + 4, frame_magic, 4) != 0) {
      why_ = "no frame marker";
      return status::torn;
    }
    std::uint64_t payload = get_u32(h + 8), partition = get_u32(h + 12);
    if (payload + partition > max_frame_body) {
      why_ = "impossible frame size";
      return status::torn;
    }
    std::size_t total = frame_header_size + static_cast<std::size_t>(payload + partition);
    if (!fill(total)) {
      why_ = "the file ends inside a frame";
      return status::torn;
    }
    h = buffer_.data() + begin_;
    if (sluice::detail::crc32c(0, h + 4, total - 4) != get_u32(h)) {
      why_ = "checksum mismatch";
      return status::torn;
    }
    auto ns = static_cast<std::int64_t>(get_u64(h + 16));
    r.payload = std::string_view(h + frame_header_size, static_cast<std::size_t>(payload));
    r.partition = std::string_view(h + frame_header_size + payload, static_cast<std::size_t>(partition));
    r.event_time = timestamp(std::chrono::duration_cast<timestamp::duration>(std::chrono::nanoseconds(ns)));
    begin_ += total;
    offset_ += total;
    return status::record;
  }
  /// Byte offset in the segment after the last good frame.
  [[nodiscard]] std::uint64_t offset() const noexcept { return offset_; }
  [[nodiscard]] const std::string& why() const noexcept { return why_; }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  void close() noexcept { fd_.reset(); }

 private:
  // Makes at least `n` unread bytes available; false when the file ends first.
  bool fill(std::size_t n) {
    if (end_ - begin_ >= n) return true;
    if (begin_ > 0) {
      std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (buffer_.size() < std::max<std::size_t>(n, chunk)) buffer_.resize(std::max<std::size_t>(n, chunk));
    while (end_ < n && !eof_) {
      ssize_t got = ::read(fd_.get(), buffer_.data() + end_, buffer_.size() - end_);
      if (got < 0) {
        if (errno == EINTR) continue;
        throw error(sluice::detail::last_system_error(), "buffer::disk: reading " + path_.string());
      }
      if (got == 0) eof_ = true;
      end_ += static_cast<std::size_t>(got);
    }
    return end_ >= n;
  }

  static constexpr std::size_t chunk = std::size_t(1) << 20;
  std::filesystem::path path_;
  sluice::detail::unique_fd fd_;
  std::string buffer_;
  std::size_t begin_ = 0, end_ = 0;
  std::uint64_t offset_ = 0;
  bool eof_ = false;
  std::string why_;
};

}  // namespace sluice::buffer::detail
