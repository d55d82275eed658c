// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/concepts.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/object.hpp>
#include <sluice/core/pipeline.hpp>
#include <sluice/core/record_batch.hpp>
#include <sluice/format/detail/concat_node.hpp>

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
/// reused for the next object. The node is shared with format::raw (detail::concat_node).
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
  using node = detail::concat_node<Next>;

  template <class MakeNext>
  auto open(run_context& ctx, MakeNext&& make_next) const {
    return node<decltype(make_next())>(ctx, detail::concat_mode::lines, content_type, "format::jsonl", make_next);
  }
};

}  // namespace sluice::format
