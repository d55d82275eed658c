// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/codec/detail/encoding_node.hpp>
#include <sluice/core/concepts.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/object.hpp>
#include <sluice/core/pipeline.hpp>
#include <sluice/codec/detail/zstd_context.hpp>

#include <zstd.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace sluice::codec {
using sluice::operator|;

/// Compresses each object's body with zstd: one frame per object, with the content size in the
/// frame, so `zstd -d` and every zstd reader (DuckDB, Spark, Athena) decode it. Appends "zstd"
/// to object::content_encoding.
///
/// Streamed objects (object_piece): each non-empty piece becomes its own complete frame, and the
/// object is the concatenation of its frames, which zstd readers decode as the concatenation of
/// the contents (RFC 8878 section 3.1); an empty piece stays empty. Every piece
/// gets "zstd" in its content_encoding.
///
/// Configuration: `level` 1..22 (1 is fastest; 3 is zstd's default), `workers` 0..64 (0
/// compresses on the calling thread; N > 0 uses zstd's own N worker threads per node, which
/// pays off for objects of several MiB), `checksum` (a content checksum in each frame, see
/// below).
///
/// Why no content checksum by default: the stores record each object's SHA-256 and CRC32C over
/// the bytes they store, and crypto::envelope authenticates them, so corruption on disk or on
/// the wire is caught before decompressing. The frame checksum (XXH64 of the content, which
/// the `zstd` command writes by default) adds only a check of compression itself, for about 5%
/// of level 1's speed; Kafka, Vector and Fluent Bit leave it off too. `.checksum = true` writes it.
///
/// Thread safety: the stage value is immutable configuration; each node owns one compression
/// context and is driven by one thread at a time.
/// Errors: validate() throws config_error for a level or worker count out of range; push()
/// throws std::bad_alloc when zstd runs out of memory.
/// Allocation: one context per node, created at open and reused. The compressed frame is
/// written into a spare buffer that is swapped into the object; the old body becomes the next
/// spare, so objects of a steady size allocate nothing.
/// @code
///   auto p = connector::files{.root = "/data/in"}
///          | batch::by_size{.max_bytes = 64 << 20}
///          | format::jsonl{}
///          | codec::zstd{.level = 3}
///          | store::local{.root = "./lake"};
/// @endcode
struct zstd {
  using stage_concept = stage_tag;
  using input_type = object;
  using output_type = object;
  /// The value object::content_encoding receives.
  static constexpr const char* encoding = "zstd";
  /// The file extension readers expect.
  static constexpr const char* extension = ".zst";

  int level = 3;
  int workers = 0;
  bool checksum = false;

  /// Throws config_error naming the field, its value and the allowed range.
  void validate() const {
    if (level < 1 || level > 22)
      throw config_error("codec::zstd.level = " + std::to_string(level) + ": must be 1..22");
    if (workers < 0 || workers > 64)
      throw config_error("codec::zstd.workers = " + std::to_string(workers) + ": must be 0..64");
  }

  template <class MakeNext>
  auto open(run_context&, MakeNext&& make_next) const {
    validate();
    return detail::encoding_node<detail::zstd_cctx, decltype(make_next())>(encoding, make_next, level, workers, checksum);
  }
};

/// Streaming zstd compression outside pipelines, e.g. by a store that compresses while it
/// uploads: `begin()` starts a frame, `write()` and `finish()` append compressed bytes to the
/// caller's string. The context is reused across frames.
///
/// Thread safety: one thread at a time.
/// Errors: the constructor throws config_error for an invalid configuration; write() and
/// finish() throw std::bad_alloc when zstd runs out of memory, and sluice::error
/// (invalid_argument) from finish() when the bytes written differ from the content size given
/// to begin().
/// Allocation: the context and a staging buffer of ZSTD_CStreamOutSize() bytes, once; `out`
/// grows as strings do.
/// @code
///   codec::zstd_compressor z({.level = 1});
///   std::string frame;
///   z.begin();
///   z.write("{\"a\":1}\n", frame);
///   z.finish(frame);                  // frame now holds one complete zstd frame
/// @endcode
class zstd_compressor {
 public:
  explicit zstd_compressor(const zstd& config = {})
      : cctx_(validated(config).level, config.workers, config.checksum) {}

  /// Starts a frame. With `content_size`, the frame header records it and finish() checks it.
  void begin(std::optional<std::uint64_t> content_size = std::nullopt) {
    ZSTD_CCtx_reset(cctx_.get(), ZSTD_reset_session_only);
    detail::check_zstd(ZSTD_CCtx_setPledgedSrcSize(cctx_.get(), content_size ? *content_size : ZSTD_CONTENTSIZE_UNKNOWN),
                       "starting a frame");
    in_frame_ = true;
    bytes_in_ = 0;
  }

  /// Compresses `in`, appending whatever compressed bytes are ready to `out` (zstd buffers up
  /// to a block, so a small write may append nothing).
  void write(std::string_view in, std::string& out) {
    SLUICE_ASSERT(in_frame_);
    bytes_in_ += in.size();
    run(in, out, ZSTD_e_continue);
  }

  /// Ends the frame, appending the rest of it (and the checksum, when configured) to `out`.
  void finish(std::string& out) {
    SLUICE_ASSERT(in_frame_);
    in_frame_ = false;
    run({}, out, ZSTD_e_end);
  }

  /// Uncompressed bytes written since begin().
  [[nodiscard]] std::uint64_t bytes_in() const noexcept { return bytes_in_; }

 private:
  static const zstd& validated(const zstd& config) {
    config.validate();
    return config;
  }

  void run(std::string_view in, std::string& out, ZSTD_EndDirective mode) {
    if (staging_.empty()) staging_.resize(ZSTD_CStreamOutSize());
    ZSTD_inBuffer input{in.data(), in.size(), 0};
    for (;;) {
      // Through a staging buffer, so `out` is never zero-filled ahead of what zstd writes.
      ZSTD_outBuffer output{staging_.data(), staging_.size(), 0};
      std::size_t left = ZSTD_compressStream2(cctx_.get(), &output, &input, mode);
      if (ZSTD_isError(left)) {
        in_frame_ = false;
        detail::throw_zstd(left, mode == ZSTD_e_end ? "finishing a frame" : "compressing");
      }
      out.append(staging_.data(), output.pos);
      if (mode == ZSTD_e_end ? left == 0 : input.pos == input.size) return;
    }
  }

  detail::zstd_cctx cctx_;
  std::string staging_;
  std::uint64_t bytes_in_ = 0;
  bool in_frame_ = false;
};

/// Decodes zstd data with a context reused across calls: every frame of the input
/// (concatenated frames decode to the concatenation of their contents), with or without a
/// content size in their headers.
///
/// Thread safety: one thread at a time.
/// Errors: errc::corrupt_object when the bytes are not zstd or fail a check,
/// errc::truncated_object when the input ends inside a frame (or is empty),
/// errc::unsupported_format for frames this decoder does not accept (a window above 128 MiB,
/// a dictionary); `reason` receives what was wrong and in which frame at which byte.
class zstd_decompressor {
 public:
  zstd_decompressor() : dctx_(ZSTD_createDCtx()) {
    if (!dctx_) throw std::bad_alloc();
  }

  /// Replaces `out` with the decoded bytes. On error `out` holds what was decoded before it.
  [[nodiscard]] error_code decompress(std::string_view in, std::string& out, std::string* reason = nullptr) {
    return detail::zstd_decode(dctx_.get(), in, out, reason);
  }

  /// Returns the decoded bytes; throws sluice::error whose message says what was wrong.
  [[nodiscard]] std::string decompress(std::string_view in) {
    std::string out, reason;
    error_code ec = decompress(in, out, &reason);
    throw_if(ec, reason);
    return out;
  }

 private:
  std::unique_ptr<ZSTD_DCtx, detail::dctx_deleter> dctx_;
};

/// Decodes zstd data into `out` (see zstd_decompressor; this creates a context per call).
/// Returns errc::corrupt_object / truncated_object / unsupported_format; `reason`, when given,
/// receives what was wrong and where.
[[nodiscard]] inline error_code zstd_decompress(std::string_view in, std::string& out, std::string* reason = nullptr) {
  return zstd_decompressor().decompress(in, out, reason);
}

/// The throwing twin: returns the decoded bytes or throws sluice::error whose message says
/// what was wrong and where ("zstd: frame 1 starting at byte 0: not a zstd frame ...").
[[nodiscard]] inline std::string zstd_decompress(std::string_view in) {
  return zstd_decompressor().decompress(in);
}

}  // namespace sluice::codec
