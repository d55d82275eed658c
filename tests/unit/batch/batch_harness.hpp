// SPDX-License-Identifier: Apache-2.0
#pragma once
// Helpers shared by the batch tests: driving a batcher node by hand and checking what came out.
#include <sluice/core/record_batch.hpp>
#include <sluice_test/support.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace batch_test {

/// A run_context with a registered source and an error output that keeps what it receives,
/// for driving the batcher by hand.
struct harness {
  sluice_test::test_context t;
  std::vector<sluice::record_error> errors;
  std::uint32_t source;
  std::uint64_t next_position = 1;
  harness() {
    t.options.on_error = [this](const sluice::record_error& e) { errors.push_back(e); };
    source = t.ctx.tracker().add_source("test");
  }
  /// A tracked batch of (partition, payload) records with positions continuing from the last.
  sluice::record_batch make(const std::vector<std::pair<std::string, std::string>>& records,
                            std::chrono::steady_clock::time_point arrival = std::chrono::steady_clock::now()) {
    sluice::record_batch b;
    for (const auto& [partition, payload] : records) b.append(payload, {source, next_position++}, {}, partition);
    b.set_opened_at(arrival);
    t.ctx.tracker().track(b);
    return b;
  }
};

/// Every position 1..n appears exactly once in `out` and `errors` together.
inline void require_each_record_once(const std::vector<sluice::record_batch>& out,
                                     const std::vector<sluice::record_error>& errors, std::uint64_t n) {
  std::multiset<std::uint64_t> seen;
  for (const auto& b : out)
    for (const sluice::record_ref r : b) seen.insert(r.cursor.position);
  for (const auto& e : errors) seen.insert(e.cursor.position);
  REQUIRE(seen.size() == n);
  std::uint64_t expected = 1;
  for (auto p : seen) REQUIRE(p == expected++);
}

/// The numeric payloads of `out`, per partition in the order they came; checks that each batch
/// holds at most `max_records` records, all of its own partition.
inline std::map<std::string, std::vector<int>> numbers_by_partition(const std::vector<sluice::record_batch>& out,
                                                                    std::size_t max_records) {
  std::map<std::string, std::vector<int>> by_partition;
  for (const auto& b : out) {
    CHECK(b.size() <= max_records);
    for (const sluice::record_ref r : b) {
      CHECK(r.partition == b.partition());  // one partition per batch
      by_partition[b.partition()].push_back(std::stoi(std::string(r.payload)));
    }
  }
  return by_partition;
}

inline std::vector<std::string> payloads_of(const sluice::record_batch& b) {
  std::vector<std::string> v;
  for (const sluice::record_ref r : b) v.emplace_back(r.payload);
  return v;
}

}  // namespace batch_test
