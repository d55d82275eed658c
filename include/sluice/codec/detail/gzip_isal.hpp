// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/codec/detail/gzip_common.hpp>
#include <sluice/codec/detail/output_estimate.hpp>
#include <sluice/core/error.hpp>

// The ISA-L igzip back end of codec::gzip, used when the sluice::gzip target defines
// SLUICE_GZIP_ISAL (ISA-L found at configure time); empty otherwise.
#if defined(SLUICE_GZIP_ISAL)
#include <isa-l/igzip_lib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <string_view>

namespace sluice::codec::detail {

inline constexpr int gzip_min_level = ISAL_DEF_MIN_LEVEL;
inline constexpr int gzip_max_level = ISAL_DEF_MAX_LEVEL;
inline constexpr const char* gzip_backend = "ISA-L igzip";

// ISA-L counts bytes in uint32_t: larger inputs and outputs are fed in pieces of this size.
inline constexpr std::size_t isal_piece = std::size_t{1} << 30;

/// The level buffer ISA-L needs for each level (its recommended default sizes).
constexpr std::uint32_t isal_level_buf_size(int level) noexcept {
  switch (level) {
    case 1: return ISAL_DEF_LVL1_DEFAULT;
    case 2: return ISAL_DEF_LVL2_DEFAULT;
    case 3: return ISAL_DEF_LVL3_DEFAULT;
    default: return ISAL_DEF_LVL0_DEFAULT;
  }
}

/// One igzip stream and its level buffer, allocated once and reused for every member.
class gzip_encoder {
 public:
  explicit gzip_encoder(int level)
      : stream_(std::make_unique<isal_zstream>()), level_(static_cast<std::uint32_t>(level)),
        level_buf_size_(isal_level_buf_size(level)) {
    if (level_buf_size_ > 0) level_buf_ = std::make_unique<std::uint8_t[]>(level_buf_size_);
  }

  /// The room compress() gives its output for `in` bytes.
  [[nodiscard]] std::size_t output_room(std::size_t in) const noexcept { return gzip_output_room(estimate_, in); }

  /// Compresses `in` as one gzip member into `out`, resized to the member.
  void compress(std::string_view in, std::string& out) {
    isal_zstream* s = stream_.get();
    isal_deflate_init(s);
    s->level = level_;
    s->level_buf = level_buf_.get();
    s->level_buf_size = level_buf_size_;
    s->gzip_flag = IGZIP_GZIP;
    s->flush = NO_FLUSH;

    // The size `out` has (bytes written over without a fill) or about what the previous member
    // needed (output_estimate; half the input for the first); grown when the data compresses
    // worse, so a steady stream of objects neither copies nor fills a new buffer.
    out.resize(std::max(out.size(), output_room(in.size())));
    auto* next = reinterpret_cast<std::uint8_t*>(const_cast<char*>(in.data()));
    std::size_t left = in.size(), produced = 0;
    s->avail_in = 0;
    for (;;) {
      if (s->avail_in == 0 && left > 0) {
        std::size_t piece = std::min(left, isal_piece);
        s->next_in = next;
        s->avail_in = static_cast<std::uint32_t>(piece);
        next += piece;
        left -= piece;
      }
      s->end_of_stream = left == 0 ? 1 : 0;
      if (produced == out.size()) out.resize(out.size() + out.size() / 2 + 4096);
      std::size_t room = std::min(out.size() - produced, isal_piece);
      s->next_out = reinterpret_cast<std::uint8_t*>(out.data() + produced);
      s->avail_out = static_cast<std::uint32_t>(room);
      int r = isal_deflate(s);
      produced += room - s->avail_out;
      if (r != COMP_OK)
        throw error(boost::system::errc::make_error_code(boost::system::errc::invalid_argument),
                    "gzip: isal_deflate failed with " + std::to_string(r));
      if (s->internal_state.state == ZSTATE_END) break;
    }
    out.resize(produced);
    estimate_.record(in.size(), produced);
  }

 private:
  std::unique_ptr<isal_zstream> stream_;  // ~100 KiB of state: on the heap, nodes stay small
  std::unique_ptr<std::uint8_t[]> level_buf_;
  std::uint32_t level_;
  std::uint32_t level_buf_size_;
  output_estimate estimate_;
};

inline errc describe_isal_error(int r, std::string& what) {
  switch (r) {
    case ISAL_INVALID_WRAPPER: what = "not a gzip member (bad header)"; return errc::corrupt_object;
    case ISAL_UNSUPPORTED_METHOD: what = "the compression method is not deflate"; return errc::unsupported_format;
    case ISAL_INCORRECT_CHECKSUM:
      what = "the CRC-32 or length in the trailer does not match: the compressed bytes are corrupt";
      return errc::corrupt_object;
    case ISAL_INVALID_BLOCK: what = "invalid deflate block"; return errc::corrupt_object;
    case ISAL_INVALID_SYMBOL: what = "invalid deflate symbol"; return errc::corrupt_object;
    case ISAL_INVALID_LOOKBACK: what = "invalid back-reference distance"; return errc::corrupt_object;
    case ISAL_NEED_DICT: what = "the stream needs a preset dictionary"; return errc::unsupported_format;
    default: what = "isal_inflate failed with " + std::to_string(r); return errc::corrupt_object;
  }
}

/// One igzip inflate state (~70 KiB), allocated once and reset for every member.
class gzip_decoder {
 public:
  gzip_decoder() : state_(std::make_unique<inflate_state>()) { isal_inflate_init(state_.get()); }

  error_code decompress(std::string_view in, std::string& out, std::string* reason) {
    out.clear();
    auto fail = [&](errc e, std::string message) {
      if (reason) *reason = std::move(message);
      return make_error_code(e);
    };
    if (in.empty()) return fail(errc::truncated_object, "gzip: the input is empty: expected at least one member");

    out.resize(gzip_size_guess(in));

    inflate_state* st = state_.get();
    isal_inflate_reset(st);
    st->crc_flag = ISAL_GZIP;
    auto* base = reinterpret_cast<std::uint8_t*>(const_cast<char*>(in.data()));
    std::size_t fed = 0, produced = 0, member = 1, member_start = 0;
    st->avail_in = 0;
    for (;;) {
      if (st->avail_in == 0 && fed < in.size()) {
        std::size_t piece = std::min(in.size() - fed, isal_piece);
        st->next_in = base + fed;
        st->avail_in = static_cast<std::uint32_t>(piece);
        fed += piece;
      }
      if (produced == out.size()) out.resize(out.size() + out.size() / 2 + 4096);
      std::size_t room = std::min(out.size() - produced, isal_piece);
      st->next_out = reinterpret_cast<std::uint8_t*>(out.data() + produced);
      st->avail_out = static_cast<std::uint32_t>(room);
      std::uint32_t avail_in_before = st->avail_in;
      int r = isal_inflate(st);
      produced += room - st->avail_out;
      std::size_t consumed = fed - st->avail_in;  // input bytes the decoder has taken
      if (r < 0 || r == ISAL_NEED_DICT) {
        out.resize(produced);
        std::string what;
        errc e = describe_isal_error(r, what);
        return fail(e, "gzip: member " + std::to_string(member) + " starting at byte " +
                           std::to_string(member_start) + ": " + what + " (near byte " + std::to_string(consumed) +
                           ")");
      }
      if (st->block_state == ISAL_BLOCK_FINISH) {
        if (consumed == in.size()) break;
        // Concatenated members decode to the concatenation of their contents (RFC 1952 2.2).
        ++member;
        member_start = consumed;
        isal_inflate_reset(st);
        st->crc_flag = ISAL_GZIP;
        fed = consumed;
        st->avail_in = 0;
        continue;
      }
      if (st->avail_in == 0 && fed == in.size() && st->avail_out > 0) {
        out.resize(produced);
        return fail(errc::truncated_object, truncated_reason(member, member_start, in.size()));
      }
      if (st->avail_out > 0 && st->avail_in == avail_in_before && avail_in_before > 0 && room == st->avail_out) {
        out.resize(produced);
        return fail(errc::corrupt_object, "gzip: member " + std::to_string(member) + " starting at byte " +
                                              std::to_string(member_start) + ": the decoder made no progress");
      }
    }
    out.resize(produced);
    return {};
  }

 private:
  std::unique_ptr<inflate_state> state_;
};

}  // namespace sluice::codec::detail
#endif  // SLUICE_GZIP_ISAL
