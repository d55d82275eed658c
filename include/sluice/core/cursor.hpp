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
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <memory_resource>
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
/// Allocation: one pooled map node per run of consecutive records in flight (see source_state).
template <class Mutex = std::mutex>
class basic_cursor_tracker {
 public:
  using commit_function = std::function<void(std::uint64_t position)>;

  /// Registers a position stream; `name` is how checkpoints record it.
  std::uint32_t add_source(std::string name, commit_function on_commit = {}) {
    std::lock_guard lock(mutex_);
    std::lock_guard names_lock(names_mutex_);
    sources_.push_back(std::make_unique<source_state>());
    sources_.back()->name = std::move(name);
    sources_.back()->on_commit = std::move(on_commit);
    return static_cast<std::uint32_t>(sources_.size() - 1);
  }
  [[nodiscard]] std::string source_name(std::uint32_t source) const {
    std::lock_guard lock(names_mutex_);
    return sources_.at(source)->name;
  }

  /// Assigns each record of `batch` its sequence number and remembers it as in flight.
  void track(record_batch& batch) {
    std::lock_guard lock(mutex_);
    source_state* s = nullptr;  // the previous record's source: batches rarely mix sources
    std::uint32_t s_id = 0;
    std::uint64_t first = 0, position = 0;  // s's stretch of the batch: first number, last position
    for (std::size_t i = 0; i < batch.size(); ++i) {
      cursor c = batch[i].cursor;
      if (s == nullptr || c.source != s_id) {
        if (s != nullptr) s->add_in_flight(first, position);
        SLUICE_ASSERT(c.source < sources_.size());
        s = sources_[c.source].get();
        s_id = c.source;
        first = s->next_seq;
      }
      c.seq = s->next_seq++;
      position = c.position;
      batch.set_cursor(i, c);
    }
    if (s != nullptr) s->add_in_flight(first, position);
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
      // An object's runs come in sequence order: each one's search starts where the last ended.
      source_state* s = nullptr;
      typename source_state::iterator finger{};
      for (const cursor_range& r : covered.ranges()) {
        SLUICE_ASSERT(r.source < sources_.size());
        source_state* rs = sources_[r.source].get();
        if (rs != s) {
          s = rs;
          finger = s->in_flight.end();
        }
        finger = s->acknowledge(r, finger);
      }
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
    for (const auto& s : sources_) n += s->in_flight_count;
    return n;
  }
  /// The last committed position of `source`, and whether anything was committed yet.
  [[nodiscard]] std::pair<bool, std::uint64_t> committed(std::uint32_t source) const {
    std::lock_guard lock(mutex_);
    const source_state& s = *sources_.at(source);
    return {s.has_committed, s.committed};
  }

 private:
  /// What the tracker knows of one source. Memory is proportional to the records in flight,
  /// never to how far back the oldest of them lies: a record held back for long (the open batch
  /// of a rare partition) costs one run, however many records after it complete meanwhile.
  struct source_state {
    /// A run of consecutive records not yet acknowledged, [first, end) (its map key is first),
    /// and the position of the record just before it: what is committed when the prefix
    /// before the run completes.
    struct run {
      std::uint64_t end;
      std::uint64_t position_before;
    };

    std::string name;
    commit_function on_commit;
    std::uint64_t next_seq = 0;       // the sequence number the next tracked record gets
    std::uint64_t last_position = 0;  // position of the last tracked record
    std::uint64_t in_flight_count = 0;
    // The runs, by first sequence number; nodes come from a pool, so splitting a run (an object
    // acknowledged out of order) allocates nothing once the pool has grown.
    std::pmr::unsynchronized_pool_resource pool;
    using runs = std::pmr::map<std::uint64_t, run>;
    using iterator = typename runs::iterator;
    runs in_flight{&pool};
    bool has_committed = false;
    std::uint64_t committed = 0;
    bool commit_pending = false;

    /// Everything before this sequence number is acknowledged.
    [[nodiscard]] std::uint64_t committed_end() const noexcept {
      return in_flight.empty() ? next_seq : in_flight.begin()->first;
    }
    /// Takes the records just numbered, from `first` to next_seq, in flight; the last of them
    /// is at `position`.
    void add_in_flight(std::uint64_t first, std::uint64_t position) {
      if (first == next_seq) return;
      if (!in_flight.empty() && std::prev(in_flight.end())->second.end == first)
        std::prev(in_flight.end())->second.end = next_seq;
      else
        in_flight.emplace_hint(in_flight.end(), first, run{next_seq, last_position});
      in_flight_count += next_seq - first;
      last_position = position;
    }
    /// Takes the records of `r` out of the runs (those already out stay out: a repeated
    /// acknowledgement changes nothing). `finger` is where the previous range of the same
    /// acknowledgement ended (or end()); the search starts there when `r` comes after it.
    /// Returns where this one ended.
    iterator acknowledge(const cursor_range& r, iterator finger) {
      SLUICE_ASSERT(r.end_seq <= next_seq);
      const std::uint64_t before = committed_end();
      // Ranges of one object come in order: the run sought is usually a few on from the last.
      iterator it = finger;
      const auto before_range = [&] { return it != in_flight.end() && it->second.end <= r.first_seq; };
      if (finger != in_flight.end() && finger->first <= r.first_seq)
        for (int steps = 0; steps < 8 && before_range(); ++steps) ++it;
      if (finger == in_flight.end() || finger->first > r.first_seq || before_range()) it = locate(r.first_seq);
      while (it != in_flight.end() && it->first < r.end_seq) {
        run& open = it->second;
        if (it->first < r.first_seq) {
          // The run keeps its head, [it->first, r.first_seq).
          const std::uint64_t open_end = open.end;
          open.end = r.first_seq;
          if (open_end > r.end_seq) {
            // ... and its tail: the range was a hole in the middle of the run.
            in_flight_count -= r.end_seq - r.first_seq;
            it = in_flight.emplace_hint(std::next(it), r.end_seq, run{open_end, r.last_position});
            break;
          }
          in_flight_count -= open_end - r.first_seq;
          ++it;
        } else if (open.end > r.end_seq) {
          // The run keeps its tail, [r.end_seq, open.end): the node moves to its new first.
          in_flight_count -= r.end_seq - it->first;
          auto node = in_flight.extract(it++);
          node.key() = r.end_seq;
          it = in_flight.insert(it, std::move(node));
        } else {
          in_flight_count -= open.end - it->first;
          it = in_flight.erase(it);
        }
      }
      // The run after the range (if it starts right there) now follows an acknowledged record.
      if (it != in_flight.end() && it->first == r.end_seq) it->second.position_before = r.last_position;
      if (committed_end() != before) {
        committed = in_flight.empty() ? last_position : in_flight.begin()->second.position_before;
        has_committed = true;
        commit_pending = true;
      }
      return it;
    }
    /// The run holding `seq`, else the first after it.
    iterator locate(std::uint64_t seq) {
      auto it = in_flight.upper_bound(seq);
      if (it != in_flight.begin() && std::prev(it)->second.end > seq) --it;
      return it;
    }
  };

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
  // Guards sources_ (never a source's state) for source_name(), which a store calls for each
  // object it names while another thread may hold mutex_ through a long ack(). add_source()
  // holds both, so either one is enough to read sources_.
  mutable Mutex names_mutex_;
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
