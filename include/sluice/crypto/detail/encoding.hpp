// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

// Hex and base64, one copy for the checksums (checksum.hpp: to_hex, to_base64, from_base64),
// the keyring's key files and the ESDK footer key. No OpenSSL: checksum users need not pull in
// the envelope code.

namespace sluice::crypto::detail {

/// Lower-case hex of `in` (what `sha256sum` prints).
inline std::string hex_encode(std::span<const std::uint8_t> in) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(in.size() * 2, '\0');
  for (std::size_t i = 0; i < in.size(); ++i) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  return out;
}

/// Decodes hex (either case) into exactly out.size() bytes; false for any other length or a
/// character that is not a hex digit.
inline bool hex_decode(std::string_view in, std::span<std::uint8_t> out) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (in.size() != out.size() * 2) return false;
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = nibble(in[2 * i]), lo = nibble(in[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

/// Standard base64 with padding (RFC 4648 section 4): S3's checksum headers and the ESDK's
/// footer verification key both use it.
inline std::string base64_encode(std::span<const std::uint8_t> in) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    std::uint32_t v = (std::uint32_t{in[i]} << 16) | (std::uint32_t{in[i + 1]} << 8) | in[i + 2];
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  if (std::size_t rest = in.size() - i; rest > 0) {
    std::uint32_t v = std::uint32_t{in[i]} << 16;
    if (rest == 2) v |= std::uint32_t{in[i + 1]} << 8;
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
    out += rest == 2 ? alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

/// Why a base64 string was refused.
enum class base64_fault : std::uint8_t {
  none,
  bad_character,       ///< outside A-Z a-z 0-9 + / = (no whitespace, no URL-safe alphabet)
  bad_length,          ///< the length is not a multiple of 4 (padding is required)
  bad_padding,         ///< '=' anywhere but as the last one or two characters of the string
  nonzero_pad_bits,    ///< the bits the padding discards are not zero ("QR==" for "QQ==")
};

// 0..63: the character's value; 64: '='; 128: not in the alphabet.
inline constexpr std::array<std::uint8_t, 256> base64_values = [] {
  std::array<std::uint8_t, 256> t{};
  for (auto& v : t) v = 128;
  constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (std::uint8_t i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = i;
  t['='] = 64;
  return t;
}();

// The same per position in a group, shifted into place: a group decodes to the OR of four
// lookups; bit 31 marks '=' or a character outside the alphabet.
inline constexpr std::array<std::array<std::uint32_t, 256>, 4> base64_shifted = [] {
  std::array<std::array<std::uint32_t, 256>, 4> t{};
  for (int k = 0; k < 4; ++k)
    for (int c = 0; c < 256; ++c) {
      const std::uint32_t v = base64_values[static_cast<std::size_t>(c)];
      t[static_cast<std::size_t>(k)][static_cast<std::size_t>(c)] = v < 64 ? v << (18 - 6 * k) : 0x80000000u;
    }
  return t;
}();

/// Strict decoder of standard padded base64 (RFC 4648 section 4) that takes the string in
/// pieces, as a streaming JSON parser hands it over, and writes the bytes where it is told.
/// The strictness is the service's: AWS refuses a length that is not a multiple of 4, any
/// character outside the alphabet, misplaced '=' and non-zero padding bits, each with a
/// SerializationException (the messages kinesalite recorded from the real service:
/// "Base64 encoded length is expected a multiple of 4 bytes but found: N",
/// "Invalid Base64 character: 'c'", "Invalid last non-pad Base64 character dectected").
///
/// It takes pieces because a streaming JSON parser (the Firehose endpoint's) sees a string in
/// pieces and decodes it into its arena without a copy; base64_decode() below is the
/// whole-string form.
class base64_decoder {
 public:
  void reset() noexcept {
    held_ = 0;
    ended_ = false;
    fault_ = base64_fault::none;
    chars_ = 0;
    size_ = 0;
  }

  /// At most how many bytes feed() of `n` more characters writes.
  [[nodiscard]] std::size_t max_output(std::size_t n) const noexcept { return (held_ + n) / 4 * 3; }

  /// Decodes the next `n` characters. Bytes go to `out[size()]` onwards (`out` is where the
  /// string's first byte goes), or are only counted when `out` is null. False on the first
  /// fault; later calls do nothing.
  bool feed(const char* in, std::size_t n, char* out) noexcept {
    if (fault_ != base64_fault::none) return false;
    const auto* p = reinterpret_cast<const unsigned char*>(in);
    const auto* const end = p + n;
    const std::uint64_t start = chars_;
    chars_ += n;
    if (p == end) return true;
    if (ended_) return fail(base64_fault::bad_padding, *p, start);
    // Complete the group held back from the previous piece.
    if (held_ > 0) {
      while (held_ < 4 && p < end) held_chars_[held_++] = *p++;
      if (held_ < 4) return true;
      held_ = 0;
      if (!group(held_chars_, out, held_pos_)) return false;
      if (ended_ && p < end) return fail(base64_fault::bad_padding, *p, position(start, p, in));
    }
    // Whole groups: the hot loop. A group with '=' or a bad character takes group(). The count
    // lives in a local: stores through `char*` may alias members, which would reload them.
    std::size_t size = size_;
    while (end - p >= 4) {
      const std::uint32_t v = base64_shifted[0][p[0]] | base64_shifted[1][p[1]] | base64_shifted[2][p[2]] |
                              base64_shifted[3][p[3]];
      if ((v & 0x80000000u) == 0) {
        if (out != nullptr) {
          if (end - p >= 8) {
            // Another group follows, so the room reserved for it (max_output counts 3 bytes a
            // group) takes the fourth byte of one 4-byte store, which that group overwrites.
            std::uint32_t be = v << 8;
            if constexpr (std::endian::native == std::endian::little) be = __builtin_bswap32(be);
            std::memcpy(out + size, &be, 4);
          } else {
            out[size] = static_cast<char>(v >> 16);
            out[size + 1] = static_cast<char>(v >> 8);
            out[size + 2] = static_cast<char>(v);
          }
        }
        size += 3;
        p += 4;
        continue;
      }
      size_ = size;
      if (!group(p, out, position(start, p, in))) return false;
      size = size_;
      p += 4;
      if (ended_ && p < end) return fail(base64_fault::bad_padding, *p, position(start, p, in));
    }
    size_ = size;
    if (p < end) {
      held_pos_ = position(start, p, in);
      while (p < end) held_chars_[held_++] = *p++;
    }
    return true;
  }

  /// The string ended. False when its length is not a multiple of 4 (or an earlier fault).
  bool finish() noexcept {
    if (fault_ != base64_fault::none) return false;
    if (held_ != 0) {
      fault_ = base64_fault::bad_length;
      return false;
    }
    return true;
  }

  [[nodiscard]] base64_fault fault() const noexcept { return fault_; }
  /// The character that caused bad_character / bad_padding, and its 0-based position.
  [[nodiscard]] unsigned char fault_char() const noexcept { return fault_char_; }
  [[nodiscard]] std::uint64_t fault_position() const noexcept { return fault_pos_; }
  /// Characters seen so far.
  [[nodiscard]] std::uint64_t chars() const noexcept { return chars_; }
  /// Bytes decoded (written or counted) so far.
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  static std::uint64_t position(std::uint64_t start, const unsigned char* p, const char* in) noexcept {
    return start + static_cast<std::uint64_t>(p - reinterpret_cast<const unsigned char*>(in));
  }

  bool fail(base64_fault f, unsigned char c, std::uint64_t pos) noexcept {
    fault_ = f;
    fault_char_ = c;
    fault_pos_ = pos;
    return false;
  }

  // One group of 4 that is not plain: checks padding ("xx==" or "xxx=" only) and bad
  // characters, writes 1, 2 or 3 bytes.
  bool group(const unsigned char* q, char* out, std::uint64_t pos) noexcept {
    std::uint32_t v[4];
    for (int i = 0; i < 4; ++i) {
      v[i] = base64_values[q[i]];
      if (v[i] == 128) return fail(base64_fault::bad_character, q[i], pos + static_cast<std::uint64_t>(i));
    }
    int bytes = 3;
    if (v[0] == 64 || v[1] == 64) return fail(base64_fault::bad_padding, '=', pos + (v[0] == 64 ? 0 : 1));
    if (v[2] == 64) {
      if (v[3] != 64) return fail(base64_fault::bad_padding, '=', pos + 2);
      if ((v[1] & 0x0F) != 0) return fail(base64_fault::nonzero_pad_bits, q[1], pos + 1);
      bytes = 1;
      v[2] = v[3] = 0;
    } else if (v[3] == 64) {
      if ((v[2] & 0x03) != 0) return fail(base64_fault::nonzero_pad_bits, q[2], pos + 2);
      bytes = 2;
      v[3] = 0;
    }
    const std::uint32_t x = v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3];
    if (out != nullptr) {
      out[size_] = static_cast<char>(x >> 16);
      if (bytes > 1) out[size_ + 1] = static_cast<char>(x >> 8);
      if (bytes > 2) out[size_ + 2] = static_cast<char>(x);
    }
    size_ += static_cast<std::size_t>(bytes);
    ended_ = bytes < 3;  // padding ends the string: nothing may follow it
    return true;
  }

  unsigned char held_chars_[4] = {};
  int held_ = 0;
  bool ended_ = false;
  base64_fault fault_ = base64_fault::none;
  unsigned char fault_char_ = 0;
  std::uint64_t held_pos_ = 0;
  std::uint64_t fault_pos_ = 0;
  std::uint64_t chars_ = 0;
  std::size_t size_ = 0;
};

/// Strict decoding of standard padded base64 into `out` (replacing its contents; empty on
/// failure): false for a length that is not a multiple of 4, a character outside the alphabet
/// (no whitespace, no URL-safe alphabet), `=` anywhere but as the last one or two characters, or
/// padding bits that are not zero. The ESDK reader relies on this to reject a malformed footer
/// key rather than guess at it.
inline bool base64_decode(std::string_view in, std::string& out) {
  base64_decoder d;
  out.resize(d.max_output(in.size()));
  const bool ok = d.feed(in.data(), in.size(), out.data()) && d.finish();
  out.resize(ok ? d.size() : 0);
  return ok;
}

}  // namespace sluice::crypto::detail
