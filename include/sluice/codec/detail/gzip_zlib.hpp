// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/codec/detail/gzip_common.hpp>
#include <sluice/codec/detail/output_estimate.hpp>
#include <sluice/core/error.hpp>

// The zlib back end of codec::gzip, used when the sluice::gzip target does not define
// SLUICE_GZIP_ISAL (ISA-L absent at configure time); empty otherwise.
#if !defined(SLUICE_GZIP_ISAL)
#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <string_view>

namespace sluice::codec::detail {

inline constexpr int gzip_min_level = 1;
inline constexpr int gzip_max_level = 9;
inline constexpr const char* gzip_backend = "zlib";

// zlib counts bytes in uInt: larger inputs and outputs are fed in pieces of this size.
inline constexpr std::size_t zlib_piece = std::size_t{1} << 30;

/// One deflate stream with a gzip wrapper, allocated once and reset for every member.
class gzip_encoder {
 public:
  explicit gzip_encoder(int level) : zs_(std::make_unique<z_stream>()) {
    // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
    int r = deflateInit2(zs_.get(), level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    if (r == Z_MEM_ERROR) throw std::bad_alloc();
    if (r != Z_OK)
      throw error(boost::system::errc::make_error_code(boost::system::errc::invalid_argument),
                  "gzip: deflateInit2 failed with " + std::to_string(r));
  }
  ~gzip_encoder() { deflateEnd(zs_.get()); }
  gzip_encoder(const gzip_encoder&) = delete;
  gzip_encoder& operator=(const gzip_encoder&) = delete;

  /// The room compress() gives its output for `in` bytes.
  [[nodiscard]] std::size_t output_room(std::size_t in) const noexcept { return gzip_output_room(estimate_, in); }

  /// Compresses `in` as one gzip member into `out`, resized to the member.
  void compress(std::string_view in, std::string& out) {
    z_stream* z = zs_.get();
    deflateReset(z);
    // The size `out` has (bytes written over without a fill) or about what the previous member
    // needed (output_estimate; half the input for the first); grown when the data compresses
    // worse, so a steady stream of objects neither copies nor fills a new buffer.
    out.resize(std::max(out.size(), output_room(in.size())));
    auto* next = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    std::size_t left = in.size(), produced = 0;
    z->avail_in = 0;
    for (;;) {
      if (z->avail_in == 0 && left > 0) {
        std::size_t piece = std::min(left, zlib_piece);
        z->next_in = next;
        z->avail_in = static_cast<uInt>(piece);
        next += piece;
        left -= piece;
      }
      if (produced == out.size()) out.resize(out.size() + out.size() / 2 + 4096);
      std::size_t room = std::min(out.size() - produced, zlib_piece);
      z->next_out = reinterpret_cast<Bytef*>(out.data() + produced);
      z->avail_out = static_cast<uInt>(room);
      int r = deflate(z, left == 0 ? Z_FINISH : Z_NO_FLUSH);
      produced += room - z->avail_out;
      if (r == Z_STREAM_END) break;
      if (r != Z_OK && r != Z_BUF_ERROR)
        throw error(boost::system::errc::make_error_code(boost::system::errc::io_error),
                    "gzip: deflate failed with " + std::to_string(r));
    }
    out.resize(produced);
    estimate_.record(in.size(), produced);
  }

 private:
  std::unique_ptr<z_stream> zs_;
  output_estimate estimate_;
};

/// One inflate stream (gzip wrapper only), allocated once and reset for every member.
class gzip_decoder {
 public:
  gzip_decoder() : zs_(std::make_unique<z_stream>()) {
    int r = inflateInit2(zs_.get(), 15 + 16);
    if (r == Z_MEM_ERROR) throw std::bad_alloc();
    if (r != Z_OK)
      throw error(boost::system::errc::make_error_code(boost::system::errc::invalid_argument),
                  "gzip: inflateInit2 failed with " + std::to_string(r));
  }
  ~gzip_decoder() { inflateEnd(zs_.get()); }
  gzip_decoder(const gzip_decoder&) = delete;
  gzip_decoder& operator=(const gzip_decoder&) = delete;

  error_code decompress(std::string_view in, std::string& out, std::string* reason) {
    out.clear();
    auto fail = [&](errc e, std::string message) {
      if (reason) *reason = std::move(message);
      return make_error_code(e);
    };
    if (in.empty()) return fail(errc::truncated_object, "gzip: the input is empty: expected at least one member");

    out.resize(gzip_size_guess(in));

    z_stream* z = zs_.get();
    inflateReset(z);
    auto* base = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    std::size_t fed = 0, produced = 0, member = 1, member_start = 0;
    z->avail_in = 0;
    for (;;) {
      if (z->avail_in == 0 && fed < in.size()) {
        std::size_t piece = std::min(in.size() - fed, zlib_piece);
        z->next_in = base + fed;
        z->avail_in = static_cast<uInt>(piece);
        fed += piece;
      }
      if (produced == out.size()) out.resize(out.size() + out.size() / 2 + 4096);
      std::size_t room = std::min(out.size() - produced, zlib_piece);
      z->next_out = reinterpret_cast<Bytef*>(out.data() + produced);
      z->avail_out = static_cast<uInt>(room);
      int r = inflate(z, Z_NO_FLUSH);
      produced += room - z->avail_out;
      std::size_t consumed = fed - z->avail_in;
      if (r == Z_MEM_ERROR) throw std::bad_alloc();
      if (r == Z_DATA_ERROR || r == Z_NEED_DICT || r == Z_STREAM_ERROR) {
        out.resize(produced);
        std::string what = r == Z_NEED_DICT ? "the stream needs a preset dictionary"
                           : z->msg         ? std::string(z->msg)
                                            : "invalid deflate data";
        if (what == "incorrect header check" || what == "unknown compression method")
          what = "not a gzip member (bad header: " + what + ")";
        else if (what == "incorrect data check" || what == "incorrect length check")
          what = "the CRC-32 or length in the trailer does not match: the compressed bytes are corrupt (" + what + ")";
        return fail(r == Z_NEED_DICT ? errc::unsupported_format : errc::corrupt_object,
                    "gzip: member " + std::to_string(member) + " starting at byte " + std::to_string(member_start) +
                        ": " + what + " (near byte " + std::to_string(consumed) + ")");
      }
      if (r == Z_STREAM_END) {
        if (consumed == in.size()) break;
        // Concatenated members decode to the concatenation of their contents (RFC 1952 2.2).
        ++member;
        member_start = consumed;
        inflateReset(z);
        fed = consumed;
        z->avail_in = 0;
        continue;
      }
      if (z->avail_in == 0 && fed == in.size() && z->avail_out > 0) {
        out.resize(produced);
        return fail(errc::truncated_object, truncated_reason(member, member_start, in.size()));
      }
    }
    out.resize(produced);
    return {};
  }

 private:
  std::unique_ptr<z_stream> zs_;
};

}  // namespace sluice::codec::detail
#endif  // !SLUICE_GZIP_ISAL
