// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/concepts.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/object.hpp>
#include <sluice/core/pipeline.hpp>
#include <sluice/core/record_batch.hpp>
#include <sluice/core/recycler.hpp>
#include <sluice/format/detail/object_facts.hpp>

#include <string>
#include <utility>

namespace sluice::format {
using sluice::operator|;

/// JSON Lines: each record's payload followed by a newline, one object per batch. Payloads are
/// taken as they are (validate them with transform::validate first if they may not be JSON); a
/// payload that contains a newline would split into two lines, so it goes to the error output.
///
/// Streamed objects (object_piece): each batch piece becomes an object piece with the same
/// object_piece, formatted on its own (JSON Lines needs no per-object state). A whole batch
/// whose records were all rejected makes no object; a piece always goes on, empty if need be,
/// since it may be the one that ends its object.
///
/// Allocation: the object's body is swapped with a buffer the stage keeps, so its capacity is
/// reused for the next object.
/// @code
///   auto tail = format::jsonl{} | codec::zstd{.level = 1};
/// @endcode
struct jsonl {
  using stage_concept = stage_tag;
  using input_type = record_batch;
  using output_type = object;
  static constexpr const char* content_type = "application/x-ndjson";
  static constexpr const char* extension = ".jsonl";

  template <class Next>
  class node {
   public:
    template <class MakeNext>
    node(run_context& ctx, MakeNext&& make_next) : ctx_(ctx), next_(make_next()) {}

    void push(record_batch&& batch) {
      object o;
      detail::take_body(o, spare_, batch.payload_bytes() + batch.size());
      detail::begin_object(ctx_, batch, o, content_type);
      for (const record_ref r : batch) {
        if (r.payload.find('\n') != std::string_view::npos) {
          ctx_.reject(r, make_error_code(errc::invalid_record), "payload contains a newline", "format::jsonl");
          continue;
        }
        o.body.append(r.payload);
        o.body += '\n';
        detail::add_record(o, r);
      }
      give_recycled(std::move(batch));  // formatted: its capacity serves the batcher again
      if (detail::end_object(o, spare_)) next_.push(std::move(o));
    }
    void flush() { next_.flush(); }
    void tick() { next_.tick(); }

   private:
    run_context& ctx_;
    std::string spare_;
    Next next_;
  };

  template <class MakeNext>
  auto open(run_context& ctx, MakeNext&& make_next) const {
    return node<decltype(make_next())>(ctx, make_next);
  }
};

}  // namespace sluice::format
