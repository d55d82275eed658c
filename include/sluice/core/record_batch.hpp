// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/piece.hpp>
#include <sluice/core/record.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <utility>
#include <cstddef>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {
inline namespace v0 {
namespace detail {
/// Growable bytes like std::string, but writable in place without zero-filling first (C++20 has
/// no resize_and_overwrite).
class byte_buffer {
 public:
  byte_buffer() = default;
  byte_buffer(byte_buffer&& other) noexcept
      : data_(std::move(other.data_)), size_(std::exchange(other.size_, 0)), capacity_(std::exchange(other.capacity_, 0)) {}
  byte_buffer& operator=(byte_buffer&& other) noexcept {
    data_ = std::move(other.data_);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
    return *this;
  }
  [[nodiscard]] const char* data() const noexcept { return data_.get(); }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  void clear() noexcept { size_ = 0; }
  void reserve(std::size_t n) { (void)grow_to(n); }
  void append(std::string_view bytes) {
    // The old storage lives until the copy is done: `bytes` may be in it (a batch appending
    // one of its own records).
    const std::unique_ptr<char[]> old = grow_for(bytes.size());
    if (!bytes.empty()) std::memcpy(data_.get() + size_, bytes.data(), bytes.size());
    size_ += bytes.size();
  }
  /// Lets `write(char*) -> size` put up to `max_size` bytes at the end; returns what it wrote.
  template <class Write>
  std::size_t write(std::size_t max_size, Write&& write) {
    (void)grow_for(max_size);
    std::size_t n = write(data_.get() + size_);
    size_ += n;
    return n;
  }

 private:
  /// Moves the bytes to new storage of `n` bytes when that is more than now, and returns the
  /// old storage (null when nothing moved).
  std::unique_ptr<char[]> grow_to(std::size_t n) {
    if (n <= capacity_) return nullptr;
    std::unique_ptr<char[]> bigger(new char[n]);  // uninitialised: only written bytes are read
    if (size_) std::memcpy(bigger.get(), data_.get(), size_);
    capacity_ = n;
    return std::exchange(data_, std::move(bigger));
  }
  std::unique_ptr<char[]> grow_for(std::size_t extra) {
    return size_ + extra > capacity_ ? grow_to(std::max(size_ + extra, capacity_ * 2)) : nullptr;
  }
  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0, capacity_ = 0;
};
}  // namespace detail

/// Records that travel together: what sources emit and what a batcher hands to a format.
///
/// Payloads and partition strings live back to back in two byte arenas, so appending a record
/// is a copy into reused capacity, not an allocation: clear() keeps the capacity, and stages
/// reuse one batch for the next. A record whose partition equals the previous record's shares
/// its bytes instead of copying them.
///
/// Thread safety: none; a batch is owned by one stage at a time and moved between them.
class record_batch {
 public:
  struct const_iterator;

  /// Appends a record; the views it is given are copied.
  void append(std::string_view payload, sluice::cursor cursor = {}, timestamp event_time = {},
              std::string_view partition = {}) {
    const std::size_t partition_offset = place_partition(partition, entries_.size());
    entries_.push_back({payloads_.size(), payload.size(), partition_offset, partition.size(), event_time, cursor});
    payloads_.append(payload);
  }
  void append(const record_ref& r) { append(r.payload, r.cursor, r.event_time, r.partition); }

  /// Appends a record whose payload `write(char* out) -> std::size_t` writes in place, at most
  /// `max_size` bytes: a source that builds its records saves the copy through a buffer of its own.
  template <class Write>
  void append_written(std::size_t max_size, Write&& write, sluice::cursor cursor = {}, timestamp event_time = {},
                      std::string_view partition = {}) {
    std::size_t offset = payloads_.size();
    std::size_t size = payloads_.write(max_size, std::forward<Write>(write));
    SLUICE_ASSERT(size <= max_size);
    const std::size_t partition_offset = place_partition(partition, entries_.size());
    entries_.push_back({offset, size, partition_offset, partition.size(), event_time, cursor});
  }

  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
  [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }
  /// Sum of payload sizes.
  [[nodiscard]] std::size_t payload_bytes() const noexcept { return payloads_.size(); }
  /// Every payload back to back, in record order, without separators: one view for a stage
  /// that scans all payloads at once (format::jsonl looks for a newline in one pass).
  [[nodiscard]] std::string_view payloads() const noexcept { return {payloads_.data(), payloads_.size()}; }

  [[nodiscard]] record_ref operator[](std::size_t i) const noexcept {
    const entry& e = entries_[i];
    // Views built from offsets the batch wrote itself, so without substr's range check: a
    // stage that reads only some fields of each record pays for nothing else.
    return {std::string_view(payloads_.data() + e.payload_offset, e.payload_size),
            std::string_view(partitions_.data() + e.partition_offset, e.partition_size), e.event_time, e.cursor};
  }
  [[nodiscard]] const_iterator begin() const noexcept { return {this, 0}; }
  [[nodiscard]] const_iterator end() const noexcept { return {this, size()}; }

  /// Changes the cursor of record `i` (the disk buffer re-stamps records with its own cursors).
  void set_cursor(std::size_t i, sluice::cursor c) noexcept { entries_[i].cursor = c; }
  /// Changes the partition keys of record `i`.
  void set_partition(std::size_t i, std::string_view partition);
  /// Changes the event time of record `i`.
  void set_event_time(std::size_t i, timestamp t) noexcept { entries_[i].event_time = t; }

  /// Partition shared by every record when a batcher grouped them; empty otherwise.
  [[nodiscard]] const std::string& partition() const noexcept { return partition_; }
  void set_partition(std::string_view partition) { partition_.assign(partition); }

  /// When the first record of this batch arrived: the start of the batch latency metric.
  [[nodiscard]] std::chrono::steady_clock::time_point opened_at() const noexcept { return opened_at_; }
  void set_opened_at(std::chrono::steady_clock::time_point t) noexcept { opened_at_ = t; }

  /// Which piece of its object this batch is (object_piece): whole unless a batcher streams.
  [[nodiscard]] const object_piece& piece() const noexcept { return piece_; }
  void set_piece(const object_piece& p) noexcept { piece_ = p; }

  /// Empties the batch and keeps its capacity.
  void clear() noexcept {
    entries_.clear();
    payloads_.clear();
    partitions_.clear();
    partition_.clear();
    opened_at_ = {};
    piece_ = {};
  }
  /// Bytes of payload the batch holds without growing: what a reused batch brings.
  [[nodiscard]] std::size_t payload_capacity() const noexcept { return payloads_.capacity(); }
  void reserve(std::size_t records, std::size_t bytes) {
    entries_.reserve(records);
    payloads_.reserve(bytes);
  }

  struct const_iterator {
    using iterator_category = std::random_access_iterator_tag;
    using value_type = record_ref;
    using difference_type = std::ptrdiff_t;
    const record_batch* batch = nullptr;
    std::size_t index = 0;
    record_ref operator*() const noexcept { return (*batch)[index]; }
    const_iterator& operator++() noexcept { ++index; return *this; }
    const_iterator operator++(int) noexcept { auto copy = *this; ++index; return copy; }
    friend bool operator==(const const_iterator&, const const_iterator&) = default;
  };

 private:
  struct entry {
    std::size_t payload_offset, payload_size, partition_offset, partition_size;
    timestamp event_time;
    sluice::cursor cursor;
  };
  /// Where the partition of record `i` (appended or changed) goes in the arena: the bytes of
  /// record i - 1 when they are the same (consecutive records usually share their partition;
  /// a batcher's batch has one for all), else new bytes at the end. Shared bytes are never
  /// changed in place.
  std::size_t place_partition(std::string_view partition, std::size_t i);

  std::vector<entry> entries_;
  detail::byte_buffer payloads_;
  std::string partitions_;
  std::string partition_;
  std::chrono::steady_clock::time_point opened_at_{};
  object_piece piece_;
};

inline void record_batch::set_partition(std::size_t i, std::string_view partition) {
  // Never written over in place: the bytes may be shared with the next record. The old ones stay
  // as unreferenced garbage until clear(); partitions are small.
  const std::size_t offset = place_partition(partition, i);
  entry& e = entries_[i];
  e.partition_offset = offset;
  e.partition_size = partition.size();
}

inline std::size_t record_batch::place_partition(std::string_view partition, std::size_t i) {
  if (partition.empty()) return partitions_.size();  // no bytes to place (unpartitioned records)
  if (i > 0) {
    const entry& before = entries_[i - 1];
    if (before.partition_size == partition.size() &&
        std::string_view(partitions_.data() + before.partition_offset, before.partition_size) == partition)
      return before.partition_offset;
  }
  const std::size_t offset = partitions_.size();
  partitions_.append(partition);
  return offset;
}

}  // namespace v0
}  // namespace sluice
