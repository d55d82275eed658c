// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {
inline namespace v0 {

/// Event or arrival time. A default-constructed timestamp means "not known": stores then use
/// the arrival time.
using timestamp = std::chrono::system_clock::time_point;

/// Where a record came from, in a form a source can resume from.
///
/// `source` is the id a cursor_tracker gave the source's position stream (a file, a shard, a
/// replication slot); `position` is the source's own resumable position *after* this record
/// (a byte offset, an LSN, a sequence number); `seq` is the tracker's dense per-source counter,
/// assigned when the record enters the pipeline, used to acknowledge records out of order.
struct cursor {
  std::uint32_t source = 0;
  std::uint64_t position = 0;
  std::uint64_t seq = 0;
  friend bool operator==(const cursor&, const cursor&) = default;
};

/// One record seen through a record_batch: views into the batch's storage, valid until the batch
/// is changed or destroyed.
struct record_ref {
  std::string_view payload;
  /// Partition keys in hive form, `name=value/name=value`; empty when unpartitioned.
  std::string_view partition;
  timestamp event_time{};
  sluice::cursor cursor{};
};

/// One owning record: payload bytes plus event time, partition keys and cursor. Sources that
/// produce one record at a time build these; pipelines move record_batch values.
struct record {
  std::string payload;
  std::string partition;
  timestamp event_time{};
  sluice::cursor cursor{};

  [[nodiscard]] record_ref ref() const noexcept { return {payload, partition, event_time, cursor}; }
};

/// Partition keys in the hive form `name=value/name=value`, the form key templates and the
/// batcher read. Values are percent-escaped for `/`, `=` and `%` so any value round-trips.
///
/// @code
///   std::string p = partition_keys{}.add("event_type", "click").add("hour", "13").str();
///   // p == "event_type=click/hour=13"; partition_value(p, "hour") == "13"
/// @endcode
class partition_keys {
 public:
  partition_keys& add(std::string_view name, std::string_view value) {
    append(text_, name, value);
    return *this;
  }
  /// Appends `name=value` (escaped as add() does) to `keys`, which already holds keys in this
  /// form or is empty: for stages that rebuild keys per record in a reused string.
  static void append(std::string& keys, std::string_view name, std::string_view value) {
    if (!keys.empty()) keys += '/';
    keys.append(name);
    keys += '=';
    for (char c : value) {
      if (c == '/' || c == '=' || c == '%') {
        static constexpr char hex[] = "0123456789ABCDEF";
        keys += '%';
        keys += hex[static_cast<unsigned char>(c) >> 4];
        keys += hex[static_cast<unsigned char>(c) & 15];
      } else {
        keys += c;
      }
    }
  }
  [[nodiscard]] const std::string& str() const& noexcept { return text_; }
  [[nodiscard]] std::string str() && noexcept { return std::move(text_); }

 private:
  std::string text_;
};

/// The value of partition key `name` in `partition` (escapes decoded), or an empty string.
/// `found` tells an empty value from a missing key.
inline std::string partition_value(std::string_view partition, std::string_view name,
                                   bool* found = nullptr) {
  if (found) *found = false;
  while (!partition.empty()) {
    auto slash = partition.find('/');
    auto pair = partition.substr(0, slash);
    partition = slash == std::string_view::npos ? std::string_view{} : partition.substr(slash + 1);
    auto eq = pair.find('=');
    if (eq == std::string_view::npos || pair.substr(0, eq) != name) continue;
    if (found) *found = true;
    std::string value;
    auto escaped = pair.substr(eq + 1);
    for (std::size_t i = 0; i < escaped.size(); ++i) {
      if (escaped[i] == '%' && i + 2 < escaped.size()) {
        auto digit = [](char c) { return c <= '9' ? c - '0' : c - 'A' + 10; };
        value += static_cast<char>(digit(escaped[i + 1]) * 16 + digit(escaped[i + 2]));
        i += 2;
      } else {
        value += escaped[i];
      }
    }
    return value;
  }
  return {};
}

}  // namespace v0
}  // namespace sluice
