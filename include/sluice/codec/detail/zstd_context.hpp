// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/error.hpp>
#include <sluice/codec/detail/output_estimate.hpp>

#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <string_view>

namespace sluice::codec::detail {

/// Throws for a failed zstd compression call: std::bad_alloc when zstd ran out of memory,
/// sluice::error otherwise (invalid_argument for a wrong parameter or a pledged size that the
/// data does not match, io_error for anything else, which would be a zstd bug).
[[noreturn]] inline void throw_zstd(std::size_t code, const char* doing) {
  switch (ZSTD_getErrorCode(code)) {
    case ZSTD_error_memory_allocation: throw std::bad_alloc();
    case ZSTD_error_parameter_unsupported:
    case ZSTD_error_parameter_outOfBound:
    case ZSTD_error_srcSize_wrong:
      throw error(boost::system::errc::make_error_code(boost::system::errc::invalid_argument),
                  std::string("zstd: ") + doing + ": " + ZSTD_getErrorName(code));
    default:
      throw error(boost::system::errc::make_error_code(boost::system::errc::io_error),
                  std::string("zstd: ") + doing + ": " + ZSTD_getErrorName(code));
  }
}

inline std::size_t check_zstd(std::size_t code, const char* doing) {
  if (ZSTD_isError(code)) throw_zstd(code, doing);
  return code;
}

struct cctx_deleter {
  void operator()(ZSTD_CCtx* c) const noexcept { ZSTD_freeCCtx(c); }
};
struct dctx_deleter {
  void operator()(ZSTD_DCtx* d) const noexcept { ZSTD_freeDCtx(d); }
};

/// A compression context configured once (level, workers, content checksum) and reused for
/// every frame. The caller validates level and workers first.
class zstd_cctx {
 public:
  zstd_cctx(int level, int workers, bool checksum) : ctx_(ZSTD_createCCtx()) {
    if (!ctx_) throw std::bad_alloc();
    check_zstd(ZSTD_CCtx_setParameter(ctx_.get(), ZSTD_c_compressionLevel, level), "setting the level");
    check_zstd(ZSTD_CCtx_setParameter(ctx_.get(), ZSTD_c_checksumFlag, checksum ? 1 : 0), "setting the checksum");
    check_zstd(ZSTD_CCtx_setParameter(ctx_.get(), ZSTD_c_contentSizeFlag, 1), "enabling the content size");
    if (workers > 0) {
      std::size_t r = ZSTD_CCtx_setParameter(ctx_.get(), ZSTD_c_nbWorkers, workers);
      if (ZSTD_isError(r))
        throw config_error("codec::zstd.workers = " + std::to_string(workers) +
                           ": this libzstd cannot use worker threads (" + ZSTD_getErrorName(r) + ")");
    }
  }

  [[nodiscard]] ZSTD_CCtx* get() const noexcept { return ctx_.get(); }

  /// The room compress() gives its output for `in` bytes.
  [[nodiscard]] std::size_t output_room(std::size_t in) const noexcept {
    const std::size_t bound = ZSTD_compressBound(in);
    return estimate_.room_for(in, bound, bound);
  }

  /// Compresses `in` as one frame (content size in its header) into `out`, which is resized to
  /// the frame.
  ///
  /// Allocation: `out` keeps the size it has (bytes it held are written over without a fill) or
  /// grows to about what the previous frame needs (output_estimate), not to zstd's worst-case
  /// bound: growing a std::string fills it first. A frame that does not fit is compressed again
  /// at the bound, which happens only when the data compresses much worse than before.
  void compress(std::string_view in, std::string& out) {
    out.resize(std::max(out.size(), output_room(in.size())));
    std::size_t n = ZSTD_compress2(ctx_.get(), out.data(), out.size(), in.data(), in.size());
    if (ZSTD_isError(n) && ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall) {
      out.resize(ZSTD_compressBound(in.size()));
      n = ZSTD_compress2(ctx_.get(), out.data(), out.size(), in.data(), in.size());
    }
    out.resize(check_zstd(n, "compressing an object"));
    estimate_.record(in.size(), n);
  }

 private:
  std::unique_ptr<ZSTD_CCtx, cctx_deleter> ctx_;
  output_estimate estimate_;
};

/// Describes a zstd decoding error for the `reason` of zstd_decompress.
inline errc describe_zstd_error(std::size_t code, std::string& what) {
  switch (ZSTD_getErrorCode(code)) {
    case ZSTD_error_prefix_unknown: what = "not a zstd frame (unknown magic number)"; return errc::corrupt_object;
    case ZSTD_error_checksum_wrong:
      what = "content checksum does not match: the compressed bytes are corrupt";
      return errc::corrupt_object;
    case ZSTD_error_corruption_detected: what = "corrupt compressed block"; return errc::corrupt_object;
    case ZSTD_error_frameParameter_windowTooLarge:
      what = "the frame's window is larger than this decoder accepts (made with --long?)";
      return errc::unsupported_format;
    case ZSTD_error_frameParameter_unsupported:
      what = std::string("unsupported frame parameter: ") + ZSTD_getErrorName(code);
      return errc::unsupported_format;
    case ZSTD_error_dictionary_wrong:
      what = "the frame needs a dictionary";
      return errc::unsupported_format;
    case ZSTD_error_memory_allocation: throw std::bad_alloc();
    default: what = ZSTD_getErrorName(code); return errc::corrupt_object;
  }
}

/// Decodes every frame of `in` into `out` (replacing its contents) with a reused context.
/// Streaming, so frames without a content size decode too; skippable frames are skipped.
inline error_code zstd_decode(ZSTD_DCtx* dctx, std::string_view in, std::string& out, std::string* reason) {
  out.clear();
  auto fail = [&](errc e, std::string message) {
    if (reason) *reason = std::move(message);
    return make_error_code(e);
  };
  if (in.empty()) return fail(errc::truncated_object, "zstd: the input is empty: expected at least one frame");
  ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);

  // First guess of the size: the first frame's content size when its header has one (capped,
  // because a corrupt header may claim anything), else four times the input; grown as needed.
  unsigned long long declared = ZSTD_getFrameContentSize(in.data(), in.size());
  std::size_t guess = in.size() * 4;
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != ZSTD_CONTENTSIZE_ERROR)
    guess = static_cast<std::size_t>(std::min<unsigned long long>(declared, in.size() * 256ULL + (1u << 20)));
  out.resize(std::max<std::size_t>(guess, 64));

  ZSTD_inBuffer input{in.data(), in.size(), 0};
  std::size_t produced = 0;
  std::size_t frame = 1, frame_start = 0;
  for (;;) {
    if (produced == out.size()) out.resize(out.size() * 2);
    ZSTD_outBuffer output{out.data(), out.size(), produced};
    std::size_t r = ZSTD_decompressStream(dctx, &output, &input);
    produced = output.pos;
    if (ZSTD_isError(r)) {
      out.resize(produced);
      std::string what;
      errc e = describe_zstd_error(r, what);
      return fail(e, "zstd: frame " + std::to_string(frame) + " starting at byte " + std::to_string(frame_start) +
                         ": " + what);
    }
    if (r == 0) {  // a frame is complete and flushed
      if (input.pos == input.size) break;
      ++frame;
      frame_start = input.pos;
      continue;
    }
    if (input.pos == input.size && output.pos < output.size) {
      out.resize(produced);
      return fail(errc::truncated_object,
                  "zstd: the input ends inside frame " + std::to_string(frame) + " starting at byte " +
                      std::to_string(frame_start) + " (" + std::to_string(in.size() - frame_start) +
                      " bytes of it present): the object is truncated");
    }
  }
  out.resize(produced);
  return {};
}

}  // namespace sluice::codec::detail
