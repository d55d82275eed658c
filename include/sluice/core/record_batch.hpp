// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/piece.hpp>
#include <sluice/core/record.hpp>

#include <algorithm>
#include <functional>
#include <new>
#include <chrono>
#include <cstring>
#include <memory>
#include <utility>
#include <cstddef>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace sluice {
inline namespace v0 {
namespace detail {
/// Growable bytes like std::string, but writable in place without zero-filling first (C++20 has
/// no resize_and_overwrite).
///
/// Storage of `mapped_from` bytes and more is a mapping of its own (Linux): it grows with
/// mremap, which moves page tables instead of copying the bytes, and it goes back to the system
/// when freed or trimmed, whatever the allocator's thresholds. So a batch can grow in steps as
/// records arrive and hold about what it holds, not a reservation of its largest size (which,
/// in storage an earlier batch wrote, would be memory, not just address space).
class byte_buffer {
 public:
  /// Capacities from here on are mappings of their own.
  static constexpr std::size_t mapped_from = std::size_t{1} << 20;

  byte_buffer() = default;
  byte_buffer(byte_buffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)),
        capacity_(std::exchange(other.capacity_, 0)) {}
  byte_buffer& operator=(byte_buffer&& other) noexcept {
    if (this != &other) {
      release(data_, capacity_);
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
      capacity_ = std::exchange(other.capacity_, 0);
    }
    return *this;
  }
  ~byte_buffer() { release(data_, capacity_); }

  [[nodiscard]] const char* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  void clear() noexcept { size_ = 0; }
  void reserve(std::size_t n) { grow_to(n); }
  /// Gives back capacity beyond `n` (never below size()): mapped storage returns its tail pages
  /// to the system; smaller storage is left as it is.
  void trim(std::size_t n) {
#if defined(__linux__)
    n = std::max(n, size_);
    if (capacity_ < mapped_from || n >= capacity_) return;
    if (n < mapped_from) {
      char* smaller = allocate(n);
      if (size_) std::memcpy(smaller, data_, size_);
      release(data_, capacity_);
      data_ = smaller;
      capacity_ = n;
      return;
    }
    n = round_to_pages(n);
    if (n < capacity_ && ::munmap(data_ + n, capacity_ - n) == 0) capacity_ = n;
#else
    (void)n;
#endif
  }
  /// Appends `bytes` and then `last` (a record and its separator: one check for room).
  void append_then(std::string_view bytes, char last) {
    const std::size_t n = bytes.size() + 1;
    if (size_ + n > capacity_) {
      // `bytes` may lie in this buffer (a batch appending one of its own records), which growing
      // moves: find it again by its offset.
      const std::less<const char*> before;
      const bool own = !bytes.empty() && !before(bytes.data(), data_) && before(bytes.data(), data_ + size_);
      const std::size_t offset = own ? static_cast<std::size_t>(bytes.data() - data_) : 0;
      grow_for(n);
      if (own) bytes = std::string_view(data_ + offset, bytes.size());
    }
    if (!bytes.empty()) std::memcpy(data_ + size_, bytes.data(), bytes.size());
    data_[size_ + bytes.size()] = last;
    size_ += n;
  }
  /// Lets `write(char*) -> size` put up to `max_size` bytes at the end, then appends `last`;
  /// returns what `write` wrote.
  template <class Write>
  std::size_t write_then(std::size_t max_size, Write&& write, char last) {
    if (size_ + max_size + 1 > capacity_) grow_for(max_size + 1);
    std::size_t n = write(data_ + size_);
    data_[size_ + n] = last;
    size_ += n + 1;
    return n;
  }

 private:
  /// Storage of `n` bytes, uninitialised: only written bytes are read.
  static char* allocate(std::size_t n) {
#if defined(__linux__)
    if (n >= mapped_from) {
      void* p = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
      // Not MADV_HUGEPAGE: a huge page is cut from a large free block, and a VM with free page
      // reporting (this one reports blocks of 8 MiB and more) has handed such blocks back to
      // its host, so the first touch of each faults in the host too. A pipeline's batches then
      // filled at 0.5-1.4 GB/s at its start, against about 3 GB/s with 4 KiB pages.
      return static_cast<char*>(p);
    }
#endif
    return new char[n];
  }
  static void release(char* p, std::size_t capacity) noexcept {
    if (p == nullptr) return;
#if defined(__linux__)
    if (capacity >= mapped_from) {
      ::munmap(p, capacity);
      return;
    }
#endif
    (void)capacity;
    delete[] p;
  }
  /// Mappings are whole pages: their lengths, and where a trim cuts one, are page multiples.
  static std::size_t round_to_pages(std::size_t n) noexcept {
#if defined(__linux__)
    static const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
#else
    constexpr std::size_t page = 4096;
#endif
    return (n + page - 1) / page * page;
  }
  void grow_to(std::size_t n) {
    if (n <= capacity_) return;
#if defined(__linux__)
    if (n >= mapped_from) n = round_to_pages(n);
    if (capacity_ >= mapped_from) {
      void* p = ::mremap(data_, capacity_, n, MREMAP_MAYMOVE);
      if (p == MAP_FAILED) throw std::bad_alloc();
      data_ = static_cast<char*>(p);
      capacity_ = n;
      return;
    }
#endif
    char* bigger = allocate(n);
    if (size_) std::memcpy(bigger, data_, size_);
    release(data_, capacity_);
    data_ = bigger;
    capacity_ = n;
  }
  void grow_for(std::size_t extra) { grow_to(std::max(size_ + extra, capacity_ * 2)); }

  char* data_ = nullptr;
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
/// Each payload is followed by a newline in its arena, and the batch knows whether a payload
/// holds a newline of its own (newline_in_payload()): when none does, lines() is the batch as
/// JSON Lines, and format::jsonl hands it to the codec as it is instead of copying it. Why: the
/// copy was a tenth of a worker's time, and the check costs a scan of bytes the appending
/// thread has just written.
///
/// Thread safety: none; a batch is owned by one stage at a time and moved between them.
class record_batch {
 public:
  struct const_iterator;

  /// Appends a record; the views it is given are copied.
  void append(std::string_view payload, sluice::cursor cursor = {}, timestamp event_time = {},
              std::string_view partition = {}) {
    if (!newline_in_payload_) newline_in_payload_ = payload.find('\n') != std::string_view::npos;
    add(payload, cursor, event_time, partition);
  }
  void append(const record_ref& r) { append(r.payload, r.cursor, r.event_time, r.partition); }
  /// Appends record `r` of batch `from`, taking what `from` knows of its payloads: a record of
  /// a batch without a newline in any payload is not scanned again.
  void append(const record_ref& r, const record_batch& from) {
    if (from.newline_in_payload())
      append(r);
    else
      add(r.payload, r.cursor, r.event_time, r.partition);
  }

  /// Appends a record whose payload `write(char* out) -> std::size_t` writes in place, at most
  /// `max_size` bytes: a source that builds its records saves the copy through a buffer of its own.
  template <class Write>
  void append_written(std::size_t max_size, Write&& write, sluice::cursor cursor = {}, timestamp event_time = {},
                      std::string_view partition = {}) {
    const std::string_view payload = write_payload(max_size, std::forward<Write>(write));
    if (!newline_in_payload_) newline_in_payload_ = payload.find('\n') != std::string_view::npos;
    add_written(payload, cursor, event_time, partition);
  }
  /// append_written() for a writer that never writes a newline (connector::generator, whose
  /// events come from its own tables): the payload is not scanned for one, a memchr per record
  /// saved. Debug builds check the promise.
  template <class Write>
  void append_written_without_newline(std::size_t max_size, Write&& write, sluice::cursor cursor = {},
                                      timestamp event_time = {}, std::string_view partition = {}) {
    const std::string_view payload = write_payload(max_size, std::forward<Write>(write));
    SLUICE_ASSERT(payload.find('\n') == std::string_view::npos);
    add_written(payload, cursor, event_time, partition);
  }

  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
  [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }
  /// Sum of payload sizes.
  [[nodiscard]] std::size_t payload_bytes() const noexcept { return payload_bytes_; }
  /// Every payload followed by a newline, in record order: the batch as JSON Lines when no
  /// payload holds a newline of its own (newline_in_payload()).
  [[nodiscard]] std::string_view lines() const noexcept { return {payloads_.data(), payloads_.size()}; }
  /// Whether some payload holds a newline, so that lines() has more lines than records.
  [[nodiscard]] bool newline_in_payload() const noexcept { return newline_in_payload_; }

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
    payload_bytes_ = 0;
    newline_in_payload_ = false;
    partitions_.clear();
    partition_.clear();
    opened_at_ = {};
    piece_ = {};
  }
  /// Bytes of payload (and their newlines) the batch holds without growing: what a reused
  /// batch brings.
  [[nodiscard]] std::size_t payload_capacity() const noexcept { return payloads_.capacity(); }
  /// Room for `records` records of `bytes` payload bytes in all.
  void reserve(std::size_t records, std::size_t bytes) {
    entries_.reserve(records);
    payloads_.reserve(arena_bytes(records, bytes));
  }
  /// The payload capacity that `records` records of `bytes` payload bytes take: each payload
  /// and its newline.
  [[nodiscard]] static constexpr std::size_t arena_bytes(std::size_t records, std::size_t bytes) noexcept {
    return bytes + records;
  }
  /// Gives payload capacity beyond `bytes` (never below lines()) back to the system (see
  /// detail::byte_buffer::trim): a stage that takes a reused batch keeps only what it may fill.
  /// Only a payload capacity of at least `trimmable_from` bytes has anything to give back.
  void trim_payloads(std::size_t bytes) { payloads_.trim(bytes); }
  static constexpr std::size_t trimmable_from = detail::byte_buffer::mapped_from;

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
  /// Lets `write` put a payload at the end of the arena, followed by its newline; returns it.
  template <class Write>
  std::string_view write_payload(std::size_t max_size, Write&& write) {
    const std::size_t offset = payloads_.size();
    const std::size_t size = payloads_.write_then(max_size, std::forward<Write>(write), '\n');
    SLUICE_ASSERT(size <= max_size);
    return {payloads_.data() + offset, size};
  }
  /// Records the entry of `payload`, already in the arena with its newline.
  void add_written(std::string_view payload, sluice::cursor cursor, timestamp event_time, std::string_view partition) {
    payload_bytes_ += payload.size();
    const std::size_t partition_offset = place_partition(partition, entries_.size());
    entries_.push_back({static_cast<std::size_t>(payload.data() - payloads_.data()), payload.size(), partition_offset,
                        partition.size(), event_time, cursor});
  }
  /// Appends a record whose payload's newlines are already accounted for.
  void add(std::string_view payload, sluice::cursor cursor, timestamp event_time, std::string_view partition) {
    const std::size_t offset = payloads_.size();
    payloads_.append_then(payload, '\n');  // `payload` may be this batch's own: read it again below
    add_written({payloads_.data() + offset, payload.size()}, cursor, event_time, partition);
  }

  std::vector<entry> entries_;
  detail::byte_buffer payloads_;  // each payload followed by a newline: lines()
  std::size_t payload_bytes_ = 0;
  bool newline_in_payload_ = false;
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
