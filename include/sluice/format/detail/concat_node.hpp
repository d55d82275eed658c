// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/object.hpp>
#include <sluice/core/record_batch.hpp>
#include <sluice/core/recycler.hpp>
#include <sluice/format/detail/object_facts.hpp>

#include <string>
#include <string_view>
#include <utility>

namespace sluice::format::detail {

/// How concat_node separates records: format::jsonl ends each with a newline (and refuses a
/// payload holding one, which would read back as two records); format::raw writes them back to
/// back as they are.
enum class concat_mode { lines, raw };

/// The running node of a format whose object is its records' payloads concatenated, one object
/// (or object piece) per batch: format::jsonl and format::raw.
///
/// Streamed objects (object_piece): each batch piece becomes an object piece with the same
/// object_piece, formatted on its own (no per-object state). A whole batch whose records were
/// all rejected makes no object; a piece always goes on, empty if need be, since it may be the
/// one that ends its object.
/// Allocation: the object's body is swapped with a buffer the node keeps (or one a store gave
/// back), so its capacity is reused for the next object; the batch goes back to the recycler.
///
/// In place: when the next stage takes a body it does not own (push_borrowed(), as the codecs
/// do) and no payload of a batch holds a newline, JSON Lines are the batch's lines() as they
/// are: the codec reads them there and no body is written. Why: copying each batch into a body
/// took about a tenth of a worker's time.
template <class Next>
class concat_node {
 public:
  /// `stage` must outlive the node (a string literal).
  template <class MakeNext>
  concat_node(run_context& ctx, concat_mode mode, std::string content_type, std::string_view stage,
              MakeNext&& make_next)
      : ctx_(ctx), mode_(mode), content_type_(std::move(content_type)), stage_(stage), next_(make_next()) {}

  void push(record_batch&& batch) {
    const bool lines = mode_ == concat_mode::lines;
    if constexpr (requires(object&& o) { next_.push_borrowed(std::move(o), std::string_view{}); }) {
      if (lines && !batch.empty() && !batch.newline_in_payload()) {
        object o;
        begin_object(ctx_, batch, o, content_type_.c_str());
        for (const record_ref r : batch) add_record(o, r);
        next_.push_borrowed(std::move(o), batch.lines());
        give_recycled(std::move(batch));  // read: its capacity serves the batcher again
        return;
      }
    }
    object o;
    take_body(o, spare_, batch.payload_bytes() + (lines ? batch.size() : 0));
    begin_object(ctx_, batch, o, content_type_.c_str());
    // The batch knows whether any payload holds a newline: only then (rare) is each one checked.
    const bool check_each = lines && batch.newline_in_payload();
    for (const record_ref r : batch) {
      if (check_each && r.payload.find('\n') != std::string_view::npos) {
        ctx_.reject(r, make_error_code(errc::invalid_record), "payload contains a newline", stage_);
        continue;
      }
      if (lines)
        o.body.append(r.payload.data(), r.payload.size() + 1);  // and its newline, which follows it in the batch
      else
        o.body.append(r.payload);
      add_record(o, r);
    }
    give_recycled(std::move(batch));  // formatted: its capacity serves the batcher again
    if (end_object(o, spare_)) next_.push(std::move(o));
  }
  void flush() { next_.flush(); }
  void tick() { next_.tick(); }

 private:
  run_context& ctx_;
  concat_mode mode_;
  std::string content_type_;
  std::string_view stage_;
  spare_buffer spare_;
  Next next_;
};

}  // namespace sluice::format::detail
