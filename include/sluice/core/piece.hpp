// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>

#include <cstdint>

namespace sluice {
inline namespace v0 {

/// Where a record_batch or an object sits in the object it becomes.
///
/// Objects travel whole by default. A batcher that streams (batch::by_size.piece_bytes) hands
/// an object on as a sequence of pieces that share `object_id`, in order: one `first`, any
/// number of middle pieces, one `last` (a one-piece object is simply whole). Pieces of
/// different objects interleave. Every stage keeps the sequence: a format formats each piece
/// (a header only in the first), a codec encodes each piece as its own frame or member (the
/// object is their concatenation, which every zstd and gzip reader decodes), an encryptor keeps
/// one message open per object, and a store appends pieces until the last one, then makes the
/// object durable and acknowledges it.
///
/// The facts a piece carries (record counts and bytes, event times, covered cursors) describe
/// that piece only; the store sums them over the object. The first piece carries the object's
/// stream, partition, content type and encodings, which later pieces repeat.
struct object_piece {
  /// Unique within a run for streamed objects; 0 for whole ones.
  std::uint64_t object_id = 0;
  bool first = true;
  bool last = true;

  [[nodiscard]] constexpr bool whole() const noexcept { return first && last; }
  friend constexpr bool operator==(const object_piece&, const object_piece&) = default;
};

}  // namespace v0
}  // namespace sluice
