// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/cursor.hpp>
#include <sluice/core/piece.hpp>
#include <sluice/core/record.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sluice {
inline namespace v0 {

/// Finished bytes on their way to an object store, with the facts a reader needs.
///
/// A format stage creates the object from a record_batch; codecs and encryptors replace its
/// body and record what they did; the store gives it a key, computes its checksums, writes it
/// and acknowledges `covered` once the bytes are durable.
///
/// Allocation: stages swap `body` with a buffer they keep, so the capacity of both is reused
/// from object to object instead of being allocated (and page-faulted) again.
struct object {
  /// Bytes to store.
  std::string body;
  /// Set by the store from its key template; empty before.
  std::string key;
  /// The name of the stream the records came from (the pipeline's options.stream).
  std::string stream;
  /// Partition keys shared by every record (hive form), empty when unpartitioned.
  std::string partition;

  /// MIME type of the format, e.g. `application/x-ndjson`.
  std::string content_type;
  /// Codings applied after the format, in order, e.g. {"zstd"}; as in HTTP Content-Encoding.
  std::vector<std::string> content_encoding;
  /// Encryption description when encrypted (`aws-encryption-sdk` + suite and key facts in
  /// metadata); empty otherwise.
  std::string encryption;

  /// Free-form facts (key id, encryption context, frame length, ...), stored in the sidecar and
  /// as x-amz-meta-* by the S3 store.
  std::map<std::string, std::string> metadata;

  /// Number of records and their payload bytes before formatting.
  std::uint64_t record_count = 0;
  std::uint64_t record_bytes = 0;
  /// Earliest and latest event time of the records (default when unknown).
  timestamp first_event_time{};
  timestamp last_event_time{};
  /// When the first record of the batch arrived in the pipeline (system and steady clocks).
  timestamp arrival_time{};
  std::chrono::steady_clock::time_point opened_at{};

  /// The cursors of the records inside: acknowledged when the object is durable.
  cursor_set covered;

  /// Whole, or which piece of a streamed object this is (object_piece); the counts, bytes,
  /// event times and cursors above then describe this piece.
  object_piece piece;
};

/// Adds the facts of `piece` (a later piece of the object `whole` started as) to `whole`:
/// records, bytes, the event-time range and the covered cursors. What a store does with each
/// piece of a streamed object; the body is not touched.
inline void add_piece_facts(object& whole, const object& piece) {
  whole.record_count += piece.record_count;
  whole.record_bytes += piece.record_bytes;
  if (piece.first_event_time != timestamp{} &&
      (whole.first_event_time == timestamp{} || piece.first_event_time < whole.first_event_time))
    whole.first_event_time = piece.first_event_time;
  if (piece.last_event_time > whole.last_event_time) whole.last_event_time = piece.last_event_time;
  whole.covered.add(piece.covered);
  for (const auto& [name, value] : piece.metadata) whole.metadata.insert_or_assign(name, value);
  whole.piece.last = piece.piece.last;
}

}  // namespace v0
}  // namespace sluice
