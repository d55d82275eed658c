// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/codec/detail/output_estimate.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

// What the two gzip back ends (gzip_isal.hpp, gzip_zlib.hpp) share whichever library inflates:
// the first guess of the output size and the wording of a truncated input.

namespace sluice::codec::detail {

/// The room a gzip encoder gives its output for `in` bytes: about what the previous member took
/// (output_estimate), half the input for the first, at most the input and a sixteenth (more is
/// grown into only if needed).
inline std::size_t gzip_output_room(const output_estimate& estimate, std::size_t in) noexcept {
  return estimate.room_for(in, in / 2 + 1024, in + in / 16 + 1024);
}

/// First guess of the decoded size of gzip input `in`: the last member's ISIZE trailer (its
/// length mod 2^32) plus a little, capped at 256 times the input plus 1 MiB because corrupt
/// bytes may claim anything; at least three times the input and 64 bytes. The decoders grow
/// the output from there as needed.
inline std::size_t gzip_size_guess(std::string_view in) noexcept {
  std::size_t guess = in.size() * 3;
  if (in.size() >= 18) {  // the smallest member: 10-byte header, an empty block, 8-byte trailer
    const auto* t = reinterpret_cast<const unsigned char*>(in.data() + in.size() - 4);
    std::size_t isize = std::uint32_t(t[0]) | std::uint32_t(t[1]) << 8 | std::uint32_t(t[2]) << 16 |
                        std::uint32_t(t[3]) << 24;
    guess = std::max(guess, std::min(isize + 64, in.size() * 256 + (std::size_t{1} << 20)));
  }
  return std::max<std::size_t>(guess, 64);
}

/// The reason given when the input (`in_size` bytes) ends inside member `member` (1-based)
/// that starts at byte `member_start`.
inline std::string truncated_reason(std::size_t member, std::size_t member_start, std::size_t in_size) {
  return "gzip: the input ends inside member " + std::to_string(member) + " starting at byte " +
         std::to_string(member_start) + " (" + std::to_string(in_size - member_start) +
         " bytes of it present): the object is truncated";
}

}  // namespace sluice::codec::detail
