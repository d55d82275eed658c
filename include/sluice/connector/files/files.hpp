// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/concepts.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/detail/file.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/pipeline.hpp>
#include <sluice/core/record_batch.hpp>
#include <sluice/core/recycler.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace sluice::connector {
using sluice::operator|;

/// Newline-delimited records from a file, or from every regular file under a folder
/// (recursively, in sorted path order).
///
/// Cursor: one position stream per file, named by its absolute, lexically normal path; the
/// position of a record is the byte offset after its newline (the file size for a last line
/// without one). A run resumes after the checkpointed offset of each file; a file shorter than
/// its checkpoint was replaced and is read from the start.
///
/// Lines: a trailing `\r` is stripped (CRLF files). Empty lines are skipped and counted as
/// dropped; the checkpoint still moves past them (the next record's offset covers them, and an
/// end-of-file marker covers trailing ones). A line longer than `max_record_bytes` goes to the
/// error output (errc::record_too_large, naming the file and offset, with its first
/// max_record_bytes bytes as the payload) and reading goes on at the next line.
///
/// Allocation: files are read with read(2) into one buffer of max(1 MiB, 2 x max_record_bytes)
/// bytes kept for the whole run; records are copied from it into the batch, no per-line
/// allocation.
/// Errors: validate() throws config_error for an empty path or zero sizes; open() throws
/// sluice::error when the path does not exist; run() throws sluice::error naming the file when
/// a read fails.
/// @code
///   auto p = connector::files{.path = "/data/in"}
///          | format::jsonl{}
///          | store::local{.root = "./lake"};
///   p.options.checkpoint = "./lake/.checkpoint";  // the next run resumes where this one stopped
///   p.run();
/// @endcode
struct files {
  using stage_concept = source_tag;
  using output_type = record_batch;

  /// A file, or a folder whose regular files are all read.
  std::filesystem::path path;
  /// Records per batch pushed into the pipeline.
  std::size_t chunk_records = 4096;
  /// Longest accepted line (without its newline).
  std::size_t max_record_bytes = 1 << 20;

  void validate() const {
    if (path.empty()) throw config_error("connector::files.path = \"\": must name a file or a folder");
    if (chunk_records == 0) throw config_error("connector::files.chunk_records = 0: must be at least 1");
    if (max_record_bytes == 0) throw config_error("connector::files.max_record_bytes = 0: must be at least 1");
  }

  /// The files a run reads, in order: `path` itself, or the regular files under it sorted.
  /// Errors: sluice::error naming the path when it does not exist or cannot be listed.
  [[nodiscard]] std::vector<std::filesystem::path> list() const {
    std::error_code ec;
    auto status = std::filesystem::status(path, ec);
    if (ec) throw error(error_code(ec.value(), boost::system::system_category()), "connector::files: " + path.string());
    std::vector<std::filesystem::path> out;
    if (!std::filesystem::is_directory(status)) {
      out.push_back(std::filesystem::absolute(path).lexically_normal());
      return out;
    }
    std::filesystem::recursive_directory_iterator it(path, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      std::error_code fec;
      if (it->is_regular_file(fec)) out.push_back(std::filesystem::absolute(it->path()).lexically_normal());
    }
    if (ec)
      throw error(error_code(ec.value(), boost::system::system_category()), "connector::files: listing " + path.string());
    std::sort(out.begin(), out.end());
    return out;
  }

  class state {
   public:
    state(run_context& ctx, const files& config)
        : ctx_(ctx), config_(config), files_(config.list()),
          capacity_(std::max<std::size_t>(std::size_t{1} << 20, 2 * config.max_record_bytes + 2)),
          buffer_(new char[capacity_]) {}

    template <class Out>
    void run(Out& out, std::stop_token stop) {
      batch_.reserve(config_.chunk_records, config_.chunk_records * 256);
      for (const auto& file : files_) {
        if (stop.stop_requested()) break;
        read_file(file, out, stop);
      }
      push(out);
    }

   private:
    template <class Out>
    void push(Out& out) {
      if (batch_.empty()) return;
      out.push(std::move(batch_));
      reuse_or_take_recycled(batch_);
      batch_.reserve(config_.chunk_records, config_.chunk_records * 256);
    }

    /// Tracks one cursor outside a pushed batch (a rejected or skipped line): the batch so far
    /// is pushed first so sequence numbers stay in position order.
    template <class Out>
    record_batch& track_alone(Out& out, std::string_view payload, cursor c) {
      push(out);
      single_.clear();
      single_.append(payload, c);
      ctx_.tracker().track(single_);
      return single_;
    }

    template <class Out>
    void read_file(const std::filesystem::path& file, Out& out, std::stop_token& stop) {
      auto [id, resume] = ctx_.add_source(file.string());
      sluice::detail::unique_fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd) throw error(sluice::detail::last_system_error(), "connector::files: opening " + file.string());
      struct stat st;
      if (::fstat(fd.get(), &st) != 0)
        throw error(sluice::detail::last_system_error(), "connector::files: reading " + file.string());
      auto size = static_cast<std::uint64_t>(st.st_size);
      std::uint64_t base = resume.value_or(0);  // file offset of buffer_[0]
      if (base > size) base = 0;                // replaced by a shorter file: read it again
      if (base == size) return;                 // fully read by an earlier run
      if (base > 0 && ::lseek(fd.get(), static_cast<off_t>(base), SEEK_SET) < 0)
        throw error(sluice::detail::last_system_error(), "connector::files: seeking " + file.string());
#if defined(POSIX_FADV_SEQUENTIAL)
      ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
#endif

      std::size_t begin = 0, end = 0;  // unread bytes are buffer_[begin, end)
      std::size_t scanned = 0;         // bytes of buffer_[begin, ...) known to hold no newline
      bool skipping = false;           // inside an oversized line, until its newline
      std::uint64_t skip_start = 0;
      std::uint64_t skipped_size = 0;
      bool trailing_empty = false;     // empty lines after the last record of this file
      char* buf = buffer_.get();

      auto emit = [&](std::size_t from, std::size_t to, std::uint64_t position) {
        std::string_view line(buf + from, to - from);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) {
          ctx_.metrics().add_in(1, 0);
          ctx_.metrics().add_dropped(1);
          trailing_empty = true;
          return;
        }
        trailing_empty = false;
        batch_.append(line, cursor{id, position});
        if (batch_.size() >= config_.chunk_records) push(out);
      };
      auto reject = [&](std::string_view prefix, std::uint64_t start, std::uint64_t length, std::uint64_t position) {
        trailing_empty = false;
        auto& one = track_alone(out, prefix, cursor{id, position});
        ctx_.metrics().add_in(1, length);
        ctx_.reject(one[0], make_error_code(errc::record_too_large),
                    "line of " + std::to_string(length) + " bytes at " + file.string() + " offset " +
                        std::to_string(start) + " exceeds max_record_bytes (" +
                        std::to_string(config_.max_record_bytes) + ")",
                    "connector::files");
      };

      for (;;) {
        // Lines in what is buffered.
        while (begin < end) {
          auto* nl = static_cast<char*>(std::memchr(buf + begin + scanned, '\n', end - begin - scanned));
          if (!nl) {
            scanned = end - begin;
            break;
          }
          std::size_t at = static_cast<std::size_t>(nl - buf);
          std::uint64_t position = base + at + 1;
          if (skipping) {
            skipping = false;
            reject(skip_prefix_, skip_start, skipped_size + at - begin, position);
          } else {
            std::size_t length = at - begin;
            if (length > 0 && buf[at - 1] == '\r') --length;
            if (length > config_.max_record_bytes)
              reject(std::string_view(buf + begin, config_.max_record_bytes), base + begin, at - begin, position);
            else
              emit(begin, at, position);
          }
          begin = at + 1;
          scanned = 0;
        }
        // A partial line: too long already, or keep it and read more behind it.
        std::size_t pending = end - begin;
        if (!skipping && pending > config_.max_record_bytes + 1) {
          skipping = true;
          skip_start = base + begin;
          skip_prefix_.assign(buf + begin, config_.max_record_bytes);
          skipped_size = 0;
        }
        if (skipping) {
          skipped_size += pending;
          base += end;
          begin = end = scanned = 0;
        } else {
          std::memmove(buf, buf + begin, pending);
          base += begin;
          end = pending;
          begin = 0;
        }
        if (stop.stop_requested()) return;  // what was pushed is consistent; the rest is read next run
        ssize_t n;
        do {
          n = ::read(fd.get(), buf + end, capacity_ - end);
        } while (n < 0 && errno == EINTR);
        if (n < 0) throw error(sluice::detail::last_system_error(), "connector::files: reading " + file.string());
        if (n == 0) break;
        end += static_cast<std::size_t>(n);
      }
      // End of file: a last line without newline is a record ending at the file size.
      std::uint64_t eof = base + end;
      if (skipping) {
        reject(skip_prefix_, skip_start, skipped_size + end - begin, eof);
      } else if (end > begin) {
        std::size_t length = end - begin;
        if (buf[end - 1] == '\r') --length;
        if (length > config_.max_record_bytes)
          reject(std::string_view(buf + begin, config_.max_record_bytes), base + begin, end - begin, eof);
        else
          emit(begin, end, eof);
      }
      if (trailing_empty) {
        // Nothing after the empty lines would carry the checkpoint past them: a marker does.
        auto& one = track_alone(out, {}, cursor{id, eof});
        ctx_.tracker().ack(one[0].cursor);
      }
    }

    run_context& ctx_;
    const files& config_;
    std::vector<std::filesystem::path> files_;
    std::size_t capacity_;
    std::unique_ptr<char[]> buffer_;
    record_batch batch_;
    record_batch single_;
    std::string skip_prefix_;
  };

  state open(run_context& ctx) const { return state(ctx, *this); }
};

}  // namespace sluice::connector
