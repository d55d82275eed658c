// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/buffer/detail/overflow.hpp>
#include <sluice/buffer/detail/wal.hpp>
#include <sluice/core/concepts.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/cursor.hpp>
#include <sluice/core/detail/file.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/pipeline.hpp>
#include <sluice/core/record_batch.hpp>
#include <sluice/core/recycler.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::buffer {
using sluice::operator|;

namespace detail {
template <class Next>
class disk_node;
}  // namespace detail

/// When buffer::disk makes appended records durable with fdatasync, and therefore when it lets
/// the upstream source commit them.
enum class sync_policy {
  /// After every batch, before acknowledging it upstream: a power loss loses nothing that was
  /// acknowledged.
  always,
  /// At most every `sync_interval` (checked on push and tick); upstream acknowledgements wait
  /// for the sync that covers them, so this trades latency for fewer syncs, not safety.
  every_n_ms,
  /// Never: acknowledged once in the page cache. Survives a process crash, not a power loss.
  never,
};

/// A write-ahead buffer on disk between a source and the rest of the pipeline, like Vector's
/// disk buffer: records are appended to segment files, and the source may commit (answer its
/// client, advance its replication slot) as soon as they are durable there, long before the
/// objects holding them are written.
///
/// How acknowledgement works: push appends each record (payload, partition, event time) as a
/// checksummed frame, syncs per `sync`, then acknowledges the batch's original cursors to the
/// tracker. It then re-stamps every record with the buffer's own position stream
/// (`disk:<dir>`, position = log byte offset after the record) and passes the batch on. When
/// every object holding a prefix of the log is durable, the tracker commits the buffer's
/// position: it is written to `<dir>/checkpoint` atomically and segments wholly below it are
/// deleted. On the first push, tick or flush after opening, every record after the committed
/// position is replayed from the segments into the pipeline, so a crash loses nothing that
/// was acknowledged; a torn last record (a crash mid-write) is cut off with a note on stderr.
///
/// Size bound: when the unacknowledged bytes on disk would exceed `max_bytes`, push waits for
/// commits to free space (overflow::block; a synchronous downstream is flushed first so its
/// sink can acknowledge) or throws sluice::error(errc::buffer_full) consuming nothing
/// (overflow::reject).
///
/// Thread safety: the node is called by one thread at a time; commits arrive from the sinks'
/// threads. Errors: I/O failures throw sluice::error naming the file; failures in a commit or a
/// tick are rethrown by the next push or flush. Two pipelines cannot share a `dir` (it is
/// locked). Allocation: frames are built in a buffer reused from batch to batch.
///
/// @code
///   auto p = connector::files{.path = "/data/in"}
///          | buffer::disk{.dir = "/var/lib/ingest/wal", .max_bytes = 4_GiB}
///          | batch::by_size{.max_bytes = 64_MiB, .max_age = 60s}
///          | format::jsonl{} | codec::zstd{} | store::local{.root = "./lake"};
/// @endcode
struct disk {
  using stage_concept = stage_tag;
  using input_type = record_batch;
  using output_type = record_batch;

  /// Folder of the segments, the checkpoint and the lock; created if missing.
  std::filesystem::path dir = "./wal";
  /// A new segment starts when the current one would grow past this: 1 MiB..1 GiB.
  std::uint64_t segment_bytes = std::uint64_t(64) << 20;
  /// Unacknowledged bytes on disk at most (at least segment_bytes).
  std::uint64_t max_bytes = std::uint64_t(1) << 30;
  sync_policy sync = sync_policy::always;
  /// For sync_policy::every_n_ms.
  std::chrono::milliseconds sync_interval{200};
  /// What push does when max_bytes is reached.
  sluice::buffer::overflow overflow = sluice::buffer::overflow::block;

  /// Called by pipeline validation when the disk buffer sits after a stage that streams objects
  /// in pieces: it stores records, not the pieces they were grouped into.
  void check_takes_pieces() const {
    throw config_error("buffer::disk: after a batcher that streams objects in pieces (batch::by_size.piece_bytes) "
                       "it would lose where each object's pieces begin and end; put it before the batcher");
  }

  void validate() const {
    if (dir.empty()) throw config_error("buffer::disk.dir = \"\": must name a folder");
    if (segment_bytes < (std::uint64_t(1) << 20) || segment_bytes > (std::uint64_t(1) << 30))
      throw config_error("buffer::disk.segment_bytes = " + std::to_string(segment_bytes) +
                         ": must be 1 MiB..1 GiB (1048576..1073741824)");
    if (max_bytes < segment_bytes)
      throw config_error("buffer::disk.max_bytes = " + std::to_string(max_bytes) +
                         ": must be >= segment_bytes (" + std::to_string(segment_bytes) + ")");
    if (sync == sync_policy::every_n_ms && sync_interval.count() <= 0)
      throw config_error("buffer::disk.sync_interval = " + std::to_string(sync_interval.count()) +
                         "ms: must be > 0 with sync_policy::every_n_ms");
  }

  template <class MakeNext>
  auto open(run_context& ctx, MakeNext&& make_next) const {
    return detail::disk_node<decltype(make_next())>(ctx, *this, make_next);
  }
};

namespace detail {
/// The running state of buffer::disk.
template <class Next>
class disk_node {
 public:
  template <class MakeNext>
  disk_node(run_context& ctx, const disk& config, MakeNext& make_next)
      : ctx_(ctx), config_(config), next_(make_next()) {
    recover();
  }
  disk_node(const disk_node&) = delete;
  disk_node& operator=(const disk_node&) = delete;

  /// Appends `batch` to the log, acknowledges it upstream once durable, and passes it on
  /// under the buffer's own cursors. Errors: sluice::error on I/O failure, or
  /// errc::buffer_full in reject mode (nothing consumed).
  void push(record_batch&& batch) {
    rethrow_pending();
    ensure_replayed();
    if (batch.empty()) return;

    frame_.clear();
    for (const record_ref r : batch) {
      if (r.payload.size() + r.partition.size() > detail::max_frame_body)
        throw error(make_error_code(errc::record_too_large),
                    "buffer::disk: a record of " + std::to_string(r.payload.size()) +
                        " bytes at source position " + std::to_string(r.cursor.position) +
                        " exceeds the log's 2 GiB record limit");
      detail::append_frame(frame_, r);
    }
    wait_for_space(frame_.size());

    // Upstream cursors, taken before re-stamping; acknowledged once the frames are durable.
    upstream_.clear();
    for (const record_ref r : batch) upstream_.add(r.cursor);

    std::uint64_t start = append(frame_);
    bool synced = false;
    if (config_.sync == sync_policy::always) {
      sync_segment();
      synced = true;
    } else if (config_.sync == sync_policy::every_n_ms) {
      synced = std::chrono::steady_clock::now() - last_sync_ >= config_.sync_interval;
      if (synced) sync_segment();
    } else {
      synced = true;  // sync_policy::never: the page cache is enough
    }
    pending_upstream_.add(upstream_);
    if (synced) release_upstream();

    std::uint64_t position = start;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      position += detail::frame_size(batch[i]);
      batch.set_cursor(i, cursor{source_, position, 0});
    }
    ctx_.tracker().track(batch);
    next_.push(std::move(batch));
  }

  /// Syncs and acknowledges what is pending, then flushes downstream.
  void flush() {
    rethrow_pending();
    ensure_replayed();
    if (!pending_upstream_.empty()) {
      sync_segment();
      release_upstream();
    }
    next_.flush();
    rethrow_pending();
  }

  /// Replays on the first call, syncs when sync_interval is due, ticks downstream. Errors are
  /// kept for the next push or flush (a tick runs on the pipeline's timer thread).
  void tick() noexcept {
    try {
      ensure_replayed();
      if (!pending_upstream_.empty() && std::chrono::steady_clock::now() - last_sync_ >= config_.sync_interval) {
        sync_segment();
        release_upstream();
      }
      next_.tick();
    } catch (...) {
      keep_error(std::current_exception());
    }
  }

  /// Bytes in the log not yet committed (tests, metrics).
  [[nodiscard]] std::uint64_t unacknowledged_bytes() const {
    std::lock_guard lock(mutex_);
    return end_ - committed_;
  }
  /// The buffer's committed log position.
  [[nodiscard]] std::uint64_t committed_position() const {
    std::lock_guard lock(mutex_);
    return committed_;
  }
  /// The id of the buffer's position stream in the tracker.
  [[nodiscard]] std::uint32_t source_id() const noexcept { return source_; }

 private:
  static constexpr const char* checkpoint_name = "committed";
  static constexpr std::size_t replay_records = 1024;
  static constexpr std::size_t replay_bytes = std::size_t(1) << 20;

  // Opens the folder: lock, checkpoint, segments; cuts a torn tail off the last segment and
  // opens it (or a new one) for appending. Nothing is pushed yet.
  void recover() {
    const auto& dir = config_.dir;
    std::error_code fs_ec;
    std::filesystem::create_directories(dir, fs_ec);
    if (fs_ec) throw error(fs_ec, "buffer::disk: creating " + dir.string());
    lock_fd_ = sluice::detail::unique_fd(::open((dir / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!lock_fd_) throw error(sluice::detail::last_system_error(), "buffer::disk: opening " + (dir / "lock").string());
    if (::flock(lock_fd_.get(), LOCK_EX | LOCK_NB) != 0)
      throw error(sluice::detail::last_system_error(),
                  "buffer::disk: " + dir.string() + " is in use by another pipeline (lock held)");

    checkpoint_.emplace(dir / "checkpoint");
    committed_ = checkpoint_->get(checkpoint_name).second;

    auto files = detail::list_segments(dir);
    for (std::size_t i = 0; i < files.size(); ++i) {
      std::error_code size_ec;
      auto size = std::filesystem::file_size(files[i].path, size_ec);
      if (size_ec) throw error(size_ec, "buffer::disk: reading the size of " + files[i].path.string());
      if (i + 1 == files.size()) size = cut_torn_tail(files[i].path, size);
      segments_[files[i].start] = size;
    }
    // Segments wholly below the checkpoint survived a crash between commit and unlink.
    for (auto it = segments_.begin(); it != segments_.end();) {
      if (it->first + it->second <= committed_ && std::next(it) != segments_.end()) {
        std::filesystem::remove(dir / detail::segment_name(it->first), fs_ec);
        it = segments_.erase(it);
      } else {
        ++it;
      }
    }
    replay_from_ = committed_;
    std::uint64_t last_end = segments_.empty() ? 0 : segments_.rbegin()->first + segments_.rbegin()->second;
    if (!segments_.empty() && last_end < committed_) {
      // Only a lost tail (sync_policy::never and a power loss) ends below the checkpoint.
      std::filesystem::remove(dir / detail::segment_name(segments_.rbegin()->first), fs_ec);
      segments_.erase(std::prev(segments_.end()));
    }
    if (segments_.empty()) {
      // Positions continue after the committed one, never below it, so replay can skip by position.
      open_segment(committed_);
    } else {
      active_start_ = segments_.rbegin()->first;
      active_size_ = segments_.rbegin()->second;
      shared_active_start_ = active_start_;
      open_active(O_WRONLY | O_APPEND | O_CLOEXEC);
    }
    end_ = active_start_ + active_size_;

    source_ = ctx_.tracker().add_source("disk:" + dir.string(), [this](std::uint64_t p) { on_commit(p); });
    last_sync_ = std::chrono::steady_clock::now();
  }

  // Finds the end of the last good frame of `path`; cuts anything after it.
  std::uint64_t cut_torn_tail(const std::filesystem::path& path, std::uint64_t size) {
    detail::segment_reader reader;
    reader.open(path);
    record_ref r;
    detail::segment_reader::status s;
    while ((s = reader.next(r)) == detail::segment_reader::status::record) {
    }
    if (s == detail::segment_reader::status::end) return size;
    std::uint64_t good = reader.offset();
    reader.close();
    std::fprintf(stderr,
                 "sluice: buffer::disk: %s: torn record at byte %llu (%s), cutting %llu bytes: a crash "
                 "interrupted this write, which was never acknowledged\n",
                 path.c_str(), static_cast<unsigned long long>(good), reader.why().c_str(),
                 static_cast<unsigned long long>(size - good));
    if (::truncate(path.c_str(), static_cast<off_t>(good)) != 0)
      throw error(sluice::detail::last_system_error(), "buffer::disk: cutting the torn tail of " + path.string());
    return good;
  }

  // Replays every record after the committed position into the pipeline, once.
  void ensure_replayed() {
    if (replayed_) return;
    replayed_ = true;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> list;
    {
      std::lock_guard lock(mutex_);
      list.assign(segments_.begin(), segments_.end());
    }
    record_batch batch;
    detail::segment_reader reader;
    for (auto [start, size] : list) {
      if (start + size <= replay_from_) continue;
      auto path = config_.dir / detail::segment_name(start);
      reader.open(path);
      record_ref r;
      detail::segment_reader::status s;
      while (reader.offset() < size && (s = reader.next(r)) == detail::segment_reader::status::record) {
        std::uint64_t position = start + reader.offset();
        if (position <= replay_from_) continue;
        batch.append(r.payload, cursor{source_, position, 0}, r.event_time, r.partition);
        if (batch.size() >= replay_records || batch.payload_bytes() >= replay_bytes) push_replayed(batch);
      }
      if (reader.offset() < size)
        throw error(make_error_code(errc::corrupt_object),
                    "buffer::disk: " + path.string() + " byte " + std::to_string(reader.offset()) + ": " +
                        reader.why() + " (a segment before the last one is damaged)");
      reader.close();
    }
    if (!batch.empty()) push_replayed(batch);
  }
  void push_replayed(record_batch& batch) {
    batch.set_opened_at(std::chrono::steady_clock::now());
    ctx_.metrics().add_in(batch.size(), batch.payload_bytes());
    ctx_.tracker().track(batch);
    next_.push(std::move(batch));
    reuse_or_take_recycled(batch);
  }

  // Blocks (or refuses) while `bytes` more would exceed max_bytes. A batch alone larger than
  // max_bytes goes through once the log is fully committed, so it cannot wait forever.
  void wait_for_space(std::uint64_t bytes) {
    auto fits = [&] { return end_ - committed_ == 0 || end_ - committed_ + bytes <= config_.max_bytes; };
    std::unique_lock lock(mutex_);
    if (fits()) return;
    if (config_.overflow == buffer::overflow::reject)
      throw error(make_error_code(errc::buffer_full),
                  "buffer::disk: full (" + std::to_string(end_ - committed_) +
                      " unacknowledged bytes in " + config_.dir.string() + ", max_bytes " +
                      std::to_string(config_.max_bytes) + ")");
    lock.unlock();
    // A synchronous downstream holds records until flushed; flushing lets its sink acknowledge.
    if (!pending_upstream_.empty()) {
      sync_segment();
      release_upstream();
    }
    next_.flush();
    lock.lock();
    space_.wait(lock, [&] { return fits() || pending_error_ != nullptr; });
    if (pending_error_) {
      lock.unlock();
      rethrow_pending();
    }
  }

  // Writes `bytes` at the end of the log (rolling to a new segment first when the current one
  // is full); returns the global offset of the first byte.
  std::uint64_t append(const std::string& bytes) {
    if (active_size_ > 0 && active_size_ + bytes.size() > config_.segment_bytes) {
      if (config_.sync != sync_policy::never) sync_segment();
      open_segment(active_start_ + active_size_);
    }
    if (auto ec = sluice::detail::write_all(active_fd_.get(), bytes.data(), bytes.size())) {
      // Cut a partial write so the next frame does not follow garbage.
      [[maybe_unused]] int ignored = ::ftruncate(active_fd_.get(), static_cast<off_t>(active_size_));
      throw error(ec, "buffer::disk: appending to " + active_path().string());
    }
    std::uint64_t start = active_start_ + active_size_;
    active_size_ += bytes.size();
    std::lock_guard lock(mutex_);
    segments_[active_start_] = active_size_;
    end_ = active_start_ + active_size_;
    return start;
  }
  void open_segment(std::uint64_t start) {
    active_start_ = start;
    active_size_ = 0;
    open_active(O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC);
    if (config_.sync != sync_policy::never) {
      if (auto ec = sluice::detail::fsync_directory(config_.dir))
        throw error(ec, "buffer::disk: syncing " + config_.dir.string());
    }
    std::lock_guard lock(mutex_);
    segments_[active_start_] = 0;
    shared_active_start_ = active_start_;
  }
  void open_active(int flags) {
    active_fd_ = sluice::detail::unique_fd(::open(active_path().c_str(), flags, 0644));
    if (!active_fd_)
      throw error(sluice::detail::last_system_error(), "buffer::disk: opening " + active_path().string());
  }
  [[nodiscard]] std::filesystem::path active_path() const { return config_.dir / detail::segment_name(active_start_); }
  void sync_segment() {
    if (::fdatasync(active_fd_.get()) != 0)
      throw error(sluice::detail::last_system_error(), "buffer::disk: syncing " + active_path().string());
    last_sync_ = std::chrono::steady_clock::now();
  }
  void release_upstream() {
    if (pending_upstream_.empty()) return;
    ctx_.tracker().ack(pending_upstream_);
    pending_upstream_.clear();
  }

  // The tracker's commit callback, on a sink's thread: persist, then free space.
  void on_commit(std::uint64_t position) noexcept {
    try {
      {
        std::lock_guard lock(mutex_);
        if (position <= committed_) return;  // the tracker commits in order; never go back
      }
      checkpoint_->put(checkpoint_name, position);
      std::vector<std::uint64_t> doomed;
      {
        std::lock_guard lock(mutex_);
        committed_ = position;
        for (auto it = segments_.begin(); it != segments_.end() && it->first != shared_active_start_;) {
          if (it->first + it->second > position) break;
          doomed.push_back(it->first);
          it = segments_.erase(it);
        }
      }
      space_.notify_all();
      for (auto start : doomed) {
        std::error_code ec;
        std::filesystem::remove(config_.dir / detail::segment_name(start), ec);
      }
    } catch (...) {
      keep_error(std::current_exception());
    }
  }
  void keep_error(std::exception_ptr e) noexcept {
    {
      std::lock_guard lock(mutex_);
      if (!pending_error_) pending_error_ = std::move(e);
    }
    space_.notify_all();
  }
  void rethrow_pending() {
    std::exception_ptr e;
    {
      std::lock_guard lock(mutex_);
      e = pending_error_;
    }
    if (e) std::rethrow_exception(e);
  }

  run_context& ctx_;
  const disk config_;
  std::uint32_t source_ = 0;
  std::optional<checkpoint_store> checkpoint_;
  sluice::detail::unique_fd lock_fd_;
  sluice::detail::unique_fd active_fd_;
  std::uint64_t active_start_ = 0, active_size_ = 0;  // writer's view, caller thread only
  std::uint64_t replay_from_ = 0;
  bool replayed_ = false;
  std::chrono::steady_clock::time_point last_sync_{};
  std::string frame_;
  cursor_set upstream_, pending_upstream_;

  // Shared with commit callbacks.
  mutable std::mutex mutex_;
  std::condition_variable space_;
  std::map<std::uint64_t, std::uint64_t> segments_;  // start -> size
  std::uint64_t end_ = 0, committed_ = 0;
  std::uint64_t shared_active_start_ = 0;  // the segment commits must not delete
  std::exception_ptr pending_error_;

  // Last: destroyed first, so commits its sinks make while shutting down find the rest alive.
  Next next_;
};

}  // namespace detail

}  // namespace sluice::buffer
