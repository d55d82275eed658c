// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/object.hpp>
#include <sluice/core/record_batch.hpp>
#include <sluice/core/recycler.hpp>

#include <chrono>
#include <string>

namespace sluice::format::detail {

/// Starts `o`'s body in the stage's spare buffer or, when the spare went downstream with the last
/// object, in a body a store gave back: the capacity circulates instead of being faulted in anew.
inline void take_body(object& o, spare_buffer& spare, std::size_t wanted) {
  o.body.swap(spare.with_room_for(wanted));
  o.body.clear();
}

/// Fills the facts every format copies from its batch (stream, partition, arrival).
inline void begin_object(run_context& ctx, const record_batch& batch, object& o, const char* type) {
  o.stream = ctx.stream();
  o.partition = batch.partition();
  o.content_type = type;
  o.content_encoding.clear();
  o.encryption.clear();
  o.metadata.clear();
  o.key.clear();
  o.covered.clear();
  o.record_count = 0;
  o.record_bytes = 0;
  o.first_event_time = o.last_event_time = {};
  o.opened_at = batch.opened_at();
  o.piece = batch.piece();
  o.arrival_time = std::chrono::system_clock::now() -
                   std::chrono::duration_cast<std::chrono::system_clock::duration>(
                       batch.opened_at() == std::chrono::steady_clock::time_point{}
                           ? std::chrono::steady_clock::duration{}
                           : std::chrono::steady_clock::now() - batch.opened_at());
  if (o.partition.empty() && batch.size() > 0) o.partition = std::string(batch[0].partition);
}
/// Ends a formatted object and says whether it goes on: a whole object without records is
/// dropped, a piece of a streamed object always goes on (even empty: it may be the piece that
/// ends its object). A body without records keeps its buffer here, as the stage's spare.
[[nodiscard]] inline bool end_object(object& o, spare_buffer& spare) {
  if (o.record_count > 0) return true;
  spare.get().swap(o.body);
  o.body.clear();
  return !o.piece.whole();
}
/// Counts a record into the object: its cursor, bytes and event time.
inline void add_record(object& o, const record_ref& r) {
  ++o.record_count;
  o.record_bytes += r.payload.size();
  o.covered.add(r.cursor);
  if (r.event_time != timestamp{}) {
    if (o.first_event_time == timestamp{} || r.event_time < o.first_event_time) o.first_event_time = r.event_time;
    if (r.event_time > o.last_event_time) o.last_event_time = r.event_time;
  }
}

}  // namespace sluice::format::detail
