// SPDX-License-Identifier: Apache-2.0
#pragma once
// memory_bound: peak memory of the landing path against the bound its configuration sets
// (see main.cpp).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace memory_bound {

/// The bounded configuration: batches of max_bytes, at most max_buffered_bytes in the batcher,
/// a queue of `capacity` batches in front of `workers` threads.
struct config {
  std::size_t max_bytes = 8u << 20;
  std::size_t max_buffered_bytes = 32u << 20;
  std::size_t capacity = 2;
  std::size_t workers = 2;
  int level = 1;
  std::uint64_t frame_length = 256 * 1024;
  std::size_t chunk_records = 4096;  ///< the generator's records per pushed batch (its default)
  bool sync = true;
};

struct result {
  std::uint64_t input_bytes = 0;
  std::uint64_t objects = 0;
  std::uint64_t errors = 0;
};

/// Runs generator | by_size | queue | jsonl | zstd | envelope | store::local over `records`
/// events into `root` (sluice.cpp). Called in a forked child, so its peak RSS is its own.
result run_sluice(const config& c, std::uint64_t records, const std::filesystem::path& root);

/// One named term of the bound, in bytes.
struct term {
  std::string what;
  std::size_t bytes;
};

/// The memory the configuration allows, term by term (baseline.cpp): `empty_rss` is the peak
/// RSS of a child running the pipeline over 0 events (what every child has before any data).
std::vector<term> bound_terms(const config& c, std::size_t empty_rss);

}  // namespace memory_bound
