// SPDX-License-Identifier: Apache-2.0
#pragma once
// end_to_end: the whole encrypted landing path against raw zstd and raw AES-GCM (see main.cpp).
#include <sluice/crypto/keyring.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace end_to_end {

struct config {
  std::uint64_t records = 1'000'000;
  std::size_t workers = 1;
  std::size_t queue_capacity = 4;
  std::size_t batch_bytes = 8u << 20;
  int level = 1;
  std::uint64_t frame_length = 256 * 1024;
  bool sync = true;
  std::shared_ptr<const sluice::crypto::keyring> keys;
  std::filesystem::path root;  ///< the lake folder (emptied by the caller between runs)
};

struct result {
  std::uint64_t input_bytes = 0;   ///< JSON Lines bytes (payloads and newlines)
  std::uint64_t stored_bytes = 0;  ///< object bytes written
  std::uint64_t objects = 0;
  std::uint64_t errors = 0;
};

/// generator | by_size | queue | jsonl | zstd | envelope | store::local (sluice.cpp).
result run_sluice(const config& c);

/// The generator's events as JSON Lines, in memory (baseline.cpp; untimed preparation).
std::string make_jsonl(std::uint64_t records);

/// ZSTD_compressCCtx at `level` over `in` in pieces of `piece` bytes with one reused context
/// and output buffer per thread; `threads` threads take the pieces in turn. Returns the
/// compressed sizes of the pieces.
std::vector<std::size_t> raw_zstd(const std::string& in, std::size_t piece, int level, unsigned threads = 1);

/// The generator's events made and compressed with no pipeline: `threads` threads take pieces
/// of `piece_records` events in turns, write them as JSON Lines into a reused buffer and
/// ZSTD_compressCCtx it at `level`. Returns the JSON Lines bytes. With two threads, the most
/// any two-worker pipeline over these events can do on this machine, since it must generate
/// them too.
std::uint64_t generate_and_zstd(std::uint64_t records, std::size_t piece_records, int level, unsigned threads);

/// The shape of a one-worker pipeline with nothing else in it: one thread writes the events as
/// JSON Lines into pieces of `piece_records` events (a ring of `slots` reused buffers), another
/// ZSTD_compressCCtx-es them at `level` as they come. Returns the JSON Lines bytes. The most a
/// one-worker pipeline can do here: its worker compresses while its source generates.
std::uint64_t generate_then_zstd(std::uint64_t records, std::size_t piece_records, int level, std::size_t slots);

/// AES-256-GCM (OpenSSL EVP, one reused context, one key per message) over messages of the
/// given sizes, each in frames of `frame` bytes with a fresh IV and tag per frame.
/// Returns the bytes encrypted.
std::uint64_t raw_aes_gcm(const std::vector<std::size_t>& messages, std::size_t frame);

}  // namespace end_to_end
