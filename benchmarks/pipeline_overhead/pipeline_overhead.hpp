// SPDX-License-Identifier: Apache-2.0
#pragma once
// pipeline_overhead: the composed pipeline against a hand-written loop making the same library
// calls (see main.cpp).
#include <sluice/crypto/keyring.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace pipeline_overhead {

/// What both competitors do: the same events, the same object size (records per object), the
/// same zstd level, keyring and frame length.
struct config {
  std::uint64_t records = 500'000;
  std::size_t chunk_records = 4096;
  int level = 1;
  std::uint64_t frame_length = 256 * 1024;
  std::shared_ptr<const sluice::crypto::keyring> keys;
};

/// What a run produced; both competitors must agree on input_bytes and objects.
struct result {
  std::uint64_t input_bytes = 0;  ///< JSON Lines bytes (payloads and newlines)
  std::uint64_t output_bytes = 0; ///< encrypted message bytes
  std::uint64_t objects = 0;
};

/// generator | format::jsonl | codec::zstd | crypto::envelope | a counting sink (sluice.cpp).
result run_sluice(const config& c);
/// The same library calls in a plain loop with reused buffers (baseline.cpp).
result run_baseline(const config& c);

}  // namespace pipeline_overhead
