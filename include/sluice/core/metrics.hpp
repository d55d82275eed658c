// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>

namespace sluice {
inline namespace v0 {

/// A consistent-enough copy of a pipeline's counters, taken while it runs.
struct metrics_snapshot {
  std::uint64_t records_in = 0;   ///< records that entered the pipeline
  std::uint64_t bytes_in = 0;     ///< their payload bytes
  std::uint64_t records_out = 0;  ///< records inside objects that are durable
  std::uint64_t bytes_out = 0;    ///< stored object bytes (after format, codec, encryption)
  std::uint64_t objects_out = 0;  ///< objects that are durable
  std::uint64_t errors = 0;       ///< records sent to the error output
  std::uint64_t dropped = 0;      ///< records a filter dropped on purpose
  std::uint64_t batch_latency_count = 0;
  std::chrono::nanoseconds batch_latency_total{};  ///< first record in -> object durable, summed
  std::chrono::nanoseconds batch_latency_max{};
  [[nodiscard]] std::chrono::nanoseconds batch_latency_mean() const noexcept {
    if (batch_latency_count == 0) return {};
    return batch_latency_total / static_cast<std::int64_t>(batch_latency_count);
  }
};

/// Counters of one pipeline: records and bytes in and out, objects, errors, batch latency.
///
/// Thread safety: every member may be used from any thread; updates are relaxed atomics, so a
/// snapshot taken while the pipeline runs may be a few records apart between counters.
class metrics {
 public:
  void add_in(std::uint64_t records, std::uint64_t bytes) noexcept {
    records_in_.fetch_add(records, std::memory_order_relaxed);
    bytes_in_.fetch_add(bytes, std::memory_order_relaxed);
  }
  void add_object(std::uint64_t records, std::uint64_t bytes, std::chrono::nanoseconds latency) noexcept {
    records_out_.fetch_add(records, std::memory_order_relaxed);
    bytes_out_.fetch_add(bytes, std::memory_order_relaxed);
    objects_out_.fetch_add(1, std::memory_order_relaxed);
    latency_count_.fetch_add(1, std::memory_order_relaxed);
    latency_total_ns_.fetch_add(static_cast<std::uint64_t>(latency.count()), std::memory_order_relaxed);
    auto ns = static_cast<std::uint64_t>(latency.count());
    auto seen = latency_max_ns_.load(std::memory_order_relaxed);
    while (ns > seen && !latency_max_ns_.compare_exchange_weak(seen, ns, std::memory_order_relaxed)) {
    }
  }
  void add_error() noexcept { errors_.fetch_add(1, std::memory_order_relaxed); }
  void add_dropped(std::uint64_t records) noexcept { dropped_.fetch_add(records, std::memory_order_relaxed); }

  [[nodiscard]] metrics_snapshot snapshot() const noexcept {
    metrics_snapshot s;
    s.records_in = records_in_.load(std::memory_order_relaxed);
    s.bytes_in = bytes_in_.load(std::memory_order_relaxed);
    s.records_out = records_out_.load(std::memory_order_relaxed);
    s.bytes_out = bytes_out_.load(std::memory_order_relaxed);
    s.objects_out = objects_out_.load(std::memory_order_relaxed);
    s.errors = errors_.load(std::memory_order_relaxed);
    s.dropped = dropped_.load(std::memory_order_relaxed);
    s.batch_latency_count = latency_count_.load(std::memory_order_relaxed);
    s.batch_latency_total = std::chrono::nanoseconds(latency_total_ns_.load(std::memory_order_relaxed));
    s.batch_latency_max = std::chrono::nanoseconds(latency_max_ns_.load(std::memory_order_relaxed));
    return s;
  }

 private:
  std::atomic<std::uint64_t> records_in_{0}, bytes_in_{0}, records_out_{0}, bytes_out_{0},
      objects_out_{0}, errors_{0}, dropped_{0}, latency_count_{0}, latency_total_ns_{0},
      latency_max_ns_{0};
};

}  // namespace v0
}  // namespace sluice
