// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/concepts.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/object.hpp>
#include <sluice/core/pipeline.hpp>
#include <sluice/core/record_batch.hpp>
#include <sluice/format/detail/concat_node.hpp>

#include <string>

namespace sluice::format {
using sluice::operator|;

/// Records written back to back exactly as they are, one object per batch: what Firehose puts
/// in its S3 objects (the records concatenated, with no delimiter unless a stage before it
/// appended one, e.g. connector::http_stream::processing's `newline_delimiter`).
///
/// `content_type` is the object's media type, which also picks the store's file extension
/// (store::append_extension): `application/octet-stream` gives `.bin`; a stream of JSON lines
/// can say `application/x-ndjson` and get `.jsonl` keys.
///
/// Streamed objects (object_piece): each batch piece becomes an object piece with the same
/// object_piece, formatted on its own, as format::jsonl does (they share their node).
/// Errors: none per record (any bytes are a valid payload). Invalid configuration throws
/// config_error from validate().
/// Allocation: the object's body is swapped with a buffer the stage keeps, so its capacity is
/// reused for the next object.
/// @code
///   auto tail = format::raw{.content_type = "application/x-ndjson"} | codec::gzip{};
///   // records "{\"a\":1}\n" and "{\"a\":2}\n" -> one object "{\"a\":1}\n{\"a\":2}\n", key ....jsonl.gz
/// @endcode
struct raw {
  using stage_concept = stage_tag;
  using input_type = record_batch;
  using output_type = object;

  /// The objects' media type (Content-Type); a type, optionally with parameters.
  std::string content_type = "application/octet-stream";

  /// Throws config_error when content_type is empty or holds a byte an HTTP header cannot carry.
  void validate() const {
    bool bad = content_type.empty() || content_type.find('/') == std::string::npos;
    for (char c : content_type) bad = bad || static_cast<unsigned char>(c) < 0x20 || c == 0x7F;
    if (bad)
      throw config_error("format::raw.content_type = \"" + content_type +
                         "\": must be a media type such as application/octet-stream or application/x-ndjson "
                         "(type/subtype, no control characters)");
  }

  /// The running stage: format::jsonl's node, writing payloads without a delimiter.
  template <class Next>
  using node = detail::concat_node<Next>;

  template <class MakeNext>
  auto open(run_context& ctx, MakeNext&& make_next) const {
    validate();
    return node<decltype(make_next())>(ctx, detail::concat_mode::raw, content_type, "format::raw", make_next);
  }
};

}  // namespace sluice::format
