// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/record.hpp>
#include <sluice/core/record_batch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstddef>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {
inline namespace v0 {

/// A run of records of one source with consecutive tracker sequence numbers.
struct cursor_range {
  std::uint32_t source = 0;
  std::uint64_t first_seq = 0;  ///< first sequence number in the run
  std::uint64_t end_seq = 0;    ///< one past the last
  std::uint64_t first_position = 0;
  std::uint64_t last_position = 0;
  friend bool operator==(const cursor_range&, const cursor_range&) = default;
};

/// The cursors an object covers, as runs of consecutive sequence numbers: what the cursor
/// tracker needs to acknowledge the object's records once it is durable.
///
/// Allocation: one element per run; records of one partition from an in-order source form few
/// runs.
class cursor_set {
 public:
  void add(const cursor& c) {
    // Called once per record by every format: the common case (the record continues the last
    // run) stays small enough to inline; starting a run, the rare part, is a call of its own.
    if (!ranges_.empty()) {
      cursor_range& last = ranges_.back();
      if (last.source == c.source && last.end_seq == c.seq) {
        ++last.end_seq;
        last.last_position = c.position;
        return;
      }
    }
    start_run(c);
  }
  void add(const cursor_set& other) {
    for (const auto& r : other.ranges_) ranges_.push_back(r);
  }
  void add_range(const cursor_range& r) { ranges_.push_back(r); }
  [[nodiscard]] const std::vector<cursor_range>& ranges() const noexcept { return ranges_; }
  [[nodiscard]] bool empty() const noexcept { return ranges_.empty(); }
  /// Number of records covered.
  [[nodiscard]] std::uint64_t count() const noexcept {
    std::uint64_t n = 0;
    for (const auto& r : ranges_) n += r.end_seq - r.first_seq;
    return n;
  }
  /// Lowest and highest position covered across every run (what deterministic keys and the
  /// object metadata name).
  [[nodiscard]] std::pair<std::uint64_t, std::uint64_t> position_span() const noexcept {
    if (ranges_.empty()) return {0, 0};
    std::uint64_t lo = ranges_.front().first_position, hi = ranges_.front().last_position;
    for (const auto& r : ranges_) {
      lo = std::min(lo, r.first_position);
      hi = std::max(hi, r.last_position);
    }
    return {lo, hi};
  }
  void clear() noexcept { ranges_.clear(); }
  friend bool operator==(const cursor_set&, const cursor_set&) = default;

 private:
  void start_run(const cursor& c) { ranges_.push_back({c.source, c.seq, c.seq + 1, c.position, c.position}); }
  std::vector<cursor_range> ranges_;
};

/// Commits a source position only when every record before it is durable, whatever order the
/// objects holding them complete in.
///
/// Sources register a position stream with add_source() and a commit callback; the pipeline
/// calls track() on every batch entering it (assigning dense sequence numbers); sinks, error
/// outputs and filters call ack() when records are durable or deliberately dropped. The commit
/// callback receives the position after the longest prefix of acknowledged records.
///
/// Thread safety: all members may be called from any thread. Commit callbacks run on the
/// thread that called ack(), outside the tracker's lock, in position order per source.
/// Allocation: one deque slot per record in flight.
template <class Mutex = std::mutex>
class basic_cursor_tracker {
 public:
  using commit_function = std::function<void(std::uint64_t position)>;

  /// Registers a position stream; `name` is how checkpoints record it.
  std::uint32_t add_source(std::string name, commit_function on_commit = {}) {
    std::lock_guard lock(mutex_);
    sources_.push_back(std::make_unique<source_state>());
    sources_.back()->name = std::move(name);
    sources_.back()->on_commit = std::move(on_commit);
    return static_cast<std::uint32_t>(sources_.size() - 1);
  }
  [[nodiscard]] std::string source_name(std::uint32_t source) const {
    std::lock_guard lock(mutex_);
    return sources_.at(source)->name;
  }

  /// Assigns each record of `batch` its sequence number and remembers it as in flight.
  void track(record_batch& batch) {
    std::lock_guard lock(mutex_);
    source_state* s = nullptr;  // the previous record's source: batches rarely mix sources
    std::uint32_t s_id = 0;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      cursor c = batch[i].cursor;
      if (s == nullptr || c.source != s_id) {
        SLUICE_ASSERT(c.source < sources_.size());
        s = sources_[c.source].get();
        s_id = c.source;
      }
      c.seq = s->base_seq + s->in_flight.size();
      s->in_flight.push_back({c.position, false});
      batch.set_cursor(i, c);
    }
  }
  /// Marks the records of `covered` durable (or deliberately dropped) and commits what that
  /// completes.
  void ack(const cursor_set& covered) {
    // Held from marking to running the callbacks: two racing acks could otherwise run their
    // commits in the wrong order and store an older position over a newer one.
    std::lock_guard commit_lock(commit_mutex_);
    std::vector<std::pair<commit_function*, std::uint64_t>> commits;
    {
      std::lock_guard lock(mutex_);
      for (const cursor_range& r : covered.ranges()) mark_done(r.source, r.first_seq, r.end_seq);
      collect_commits(covered, commits);
    }
    run_commits(commits);
  }
  void ack(const cursor& c) {
    cursor_set one;
    one.add(c);
    ack(one);
  }

  /// Records tracked but not yet acknowledged, over every source.
  [[nodiscard]] std::uint64_t in_flight() const {
    std::lock_guard lock(mutex_);
    std::uint64_t n = 0;
    for (const auto& s : sources_) n += s->in_flight.size();
    return n;
  }
  /// The last committed position of `source`, and whether anything was committed yet.
  [[nodiscard]] std::pair<bool, std::uint64_t> committed(std::uint32_t source) const {
    std::lock_guard lock(mutex_);
    const source_state& s = *sources_.at(source);
    return {s.has_committed, s.committed};
  }

 private:
  struct slot {
    std::uint64_t position;
    bool done;
  };
  struct source_state {
    std::string name;
    commit_function on_commit;
    std::uint64_t base_seq = 0;  // sequence number of in_flight.front()
    std::deque<slot> in_flight;
    bool has_committed = false;
    std::uint64_t committed = 0;
    bool commit_pending = false;
  };

  void mark_done(std::uint32_t source, std::uint64_t first, std::uint64_t end) {
    SLUICE_ASSERT(source < sources_.size());
    source_state& s = *sources_[source];
    bool advanced = false;
    first = std::max(first, s.base_seq);
    if (first == s.base_seq && first < end) {
      // The usual case, objects completing in order: the run extends the committed prefix, so
      // it is dropped at once instead of marked record by record and popped one at a time.
      const auto n = static_cast<std::size_t>(end - first);
      SLUICE_ASSERT(n <= s.in_flight.size());
      s.committed = s.in_flight[n - 1].position;
      s.in_flight.erase(s.in_flight.begin(), s.in_flight.begin() + static_cast<std::ptrdiff_t>(n));
      s.base_seq = end;
      first = end;  // nothing of the run is left to mark
      advanced = true;
    }
    for (std::uint64_t seq = first; seq < end; ++seq) {
      std::uint64_t index = seq - s.base_seq;
      SLUICE_ASSERT(index < s.in_flight.size());
      s.in_flight[index].done = true;
    }
    while (!s.in_flight.empty() && s.in_flight.front().done) {
      s.committed = s.in_flight.front().position;
      s.in_flight.pop_front();
      ++s.base_seq;
      advanced = true;
    }
    if (advanced) {
      s.has_committed = true;
      s.commit_pending = true;
    }
  }
  void collect_commits(const cursor_set& covered,
                       std::vector<std::pair<commit_function*, std::uint64_t>>& out) {
    for (const cursor_range& r : covered.ranges()) {
      source_state& s = *sources_[r.source];
      if (s.commit_pending) {
        s.commit_pending = false;
        if (s.on_commit) out.emplace_back(&s.on_commit, s.committed);
      }
    }
  }
  void run_commits(std::vector<std::pair<commit_function*, std::uint64_t>>& commits) {
    // One commit at a time (ack holds commit_mutex_) keeps positions in order per source.
    for (auto& [fn, position] : commits) (*fn)(position);
  }

  mutable Mutex mutex_;
  Mutex commit_mutex_;
  std::vector<std::unique_ptr<source_state>> sources_;
};

using cursor_tracker = basic_cursor_tracker<>;

/// Committed source positions in a file, replaced atomically (write a temporary file, fsync,
/// rename, fsync the folder) so a crash leaves either the old or the new checkpoint.
///
/// The file is text, one `position<TAB>name` line per source, names percent-escaped for tab,
/// newline and `%`.
///
/// With a `min_interval`, put() rewrites the file at most that often and sync() writes what is
/// pending: each rewrite costs two fsyncs, and a checkpoint that lags by a second only means a
/// restart sends a second's records again (delivery is at least once either way).
///
/// Thread safety: all members may be called from any thread.
class checkpoint_store {
 public:
  checkpoint_store() = default;
  /// Reads `path` if it exists. Errors: throws sluice::error naming the file and line when it
  /// cannot be read or parsed.
  explicit checkpoint_store(std::filesystem::path path,
                            std::chrono::milliseconds min_interval = std::chrono::milliseconds::zero());
  ~checkpoint_store();

  /// The stored position of `name`, if any.
  [[nodiscard]] std::pair<bool, std::uint64_t> get(std::string_view name) const;
  /// Records `position` for `name` and rewrites the file atomically (at most once per
  /// min_interval).
  void put(std::string_view name, std::uint64_t position);
  /// Writes the file now if a put() is not on disk yet.
  void sync();
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  [[nodiscard]] bool enabled() const noexcept { return !path_.empty(); }

 private:
  void write_file();
  std::filesystem::path path_;
  std::chrono::milliseconds min_interval_{};
  std::chrono::steady_clock::time_point last_write_{};
  bool dirty_ = false;
  mutable std::mutex mutex_;
  std::map<std::string, std::uint64_t, std::less<>> positions_;
};

}  // namespace v0
}  // namespace sluice

#include <sluice/core/impl/cursor.hpp>
