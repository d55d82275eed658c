// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/codec/detail/encoding_node.hpp>
#include <sluice/core/concepts.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/object.hpp>
#include <sluice/core/pipeline.hpp>
// The back end is a build choice of the sluice::gzip target: ISA-L igzip (SLUICE_GZIP_ISAL=1,
// about five times zlib's speed at level 1) or zlib where ISA-L is absent.
#if defined(SLUICE_GZIP_ISAL)
#include <sluice/codec/detail/gzip_isal.hpp>
#else
#include <sluice/codec/detail/gzip_zlib.hpp>
#endif

#include <string>
#include <string_view>
#include <utility>

namespace sluice::codec {
using sluice::operator|;

/// Compresses each object's body as one gzip member (RFC 1952), which `gzip -d`, browsers,
/// Athena, Spark and DuckDB read. Appends "gzip" to object::content_encoding.
///
/// Streamed objects (object_piece): each non-empty piece becomes its own complete member, and
/// the object is the concatenation of its members, which gzip readers decode as the
/// concatenation of the contents (RFC 1952 section 2.2); an empty piece stays empty. Every
/// piece gets "gzip" in its content_encoding.
///
/// Back end: ISA-L igzip when the build found it (levels 0..3; level 1 runs ~5x zlib on JSON
/// events), zlib otherwise (levels 1..9). Prefer codec::zstd where readers support it: it
/// compresses better and faster; gzip is for readers that know nothing else.
///
/// Thread safety: the stage value is immutable configuration; each node owns one compression
/// stream and is driven by one thread at a time.
/// Errors: validate() throws config_error for a level outside the back end's range; push()
/// throws std::bad_alloc when memory runs out.
/// Allocation: the stream and its level buffer once per node; the member is written into a
/// spare buffer that is swapped into the object, and the old body becomes the next spare.
/// @code
///   auto tail = format::jsonl{} | codec::gzip{.level = 1} | store::local{.root = "./lake"};
/// @endcode
struct gzip {
  using stage_concept = stage_tag;
  using input_type = object;
  using output_type = object;
  /// The value object::content_encoding receives.
  static constexpr const char* encoding = "gzip";
  /// The file extension readers expect.
  static constexpr const char* extension = ".gz";
  /// The range of `level` in this build: 0..3 with ISA-L, 1..9 with zlib.
  static constexpr int min_level = detail::gzip_min_level;
  static constexpr int max_level = detail::gzip_max_level;

  int level = 1;

  /// Throws config_error naming the field, its value, the allowed range and the back end.
  void validate() const {
    if (level < min_level || level > max_level)
      throw config_error("codec::gzip.level = " + std::to_string(level) + ": must be " + std::to_string(min_level) +
                         ".." + std::to_string(max_level) + " (" + detail::gzip_backend + ")");
  }

  template <class MakeNext>
  auto open(run_context&, MakeNext&& make_next) const {
    validate();
    return detail::encoding_node<detail::gzip_encoder, decltype(make_next())>(encoding, make_next, level);
  }
};

/// Decodes gzip data with a decoder reused across calls: every member of the input
/// (concatenated members decode to the concatenation of their contents), checking each
/// member's CRC-32 and length.
///
/// Thread safety: one thread at a time.
/// Errors: errc::corrupt_object when the bytes are not gzip or fail a check,
/// errc::truncated_object when the input ends inside a member (or is empty),
/// errc::unsupported_format for a method other than deflate; `reason` receives what was wrong
/// and in which member at which byte. Trailing bytes that are not a gzip member are corrupt.
class gzip_decompressor {
 public:
  /// Replaces `out` with the decoded bytes. On error `out` holds what was decoded before it.
  [[nodiscard]] error_code decompress(std::string_view in, std::string& out, std::string* reason = nullptr) {
    return decoder_.decompress(in, out, reason);
  }

  /// Returns the decoded bytes; throws sluice::error whose message says what was wrong.
  [[nodiscard]] std::string decompress(std::string_view in) {
    std::string out, reason;
    error_code ec = decompress(in, out, &reason);
    throw_if(ec, reason);
    return out;
  }

 private:
  detail::gzip_decoder decoder_;
};

/// Decodes gzip data into `out` (see gzip_decompressor; this creates a decoder per call).
/// Returns errc::corrupt_object / truncated_object / unsupported_format; `reason`, when given,
/// receives what was wrong and where.
[[nodiscard]] inline error_code gzip_decompress(std::string_view in, std::string& out, std::string* reason = nullptr) {
  return gzip_decompressor().decompress(in, out, reason);
}

/// The throwing twin: returns the decoded bytes or throws sluice::error whose message says
/// what was wrong and where ("gzip: member 1 starting at byte 0: not a gzip member ...").
[[nodiscard]] inline std::string gzip_decompress(std::string_view in) {
  return gzip_decompressor().decompress(in);
}

}  // namespace sluice::codec
