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
    object o;
    take_body(o, spare_, batch.payload_bytes() + (lines ? batch.size() : 0));
    begin_object(ctx_, batch, o, content_type_.c_str());
    // One scan over all payloads instead of one per record: only a batch with a newline
    // somewhere (rare) needs each payload checked.
    const bool check_each = lines && batch.payloads().find('\n') != std::string_view::npos;
    for (const record_ref r : batch) {
      if (check_each && r.payload.find('\n') != std::string_view::npos) {
        ctx_.reject(r, make_error_code(errc::invalid_record), "payload contains a newline", stage_);
        continue;
      }
      o.body.append(r.payload);
      if (lines) o.body += '\n';
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
