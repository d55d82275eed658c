// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/error.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <string_view>

// Byte-level pieces of the AWS Encryption SDK message format v2 (data-format/message-header.md,
// message-body.md, message-footer.md of the ESDK specification). All integers are big-endian.
namespace sluice::crypto::detail {

inline constexpr std::uint8_t message_version = 2;
inline constexpr std::uint8_t content_type_framed = 2;
inline constexpr std::size_t message_id_size = 32;
inline constexpr std::size_t commit_key_size = 32;
inline constexpr std::uint32_t final_frame_marker = 0xFFFFFFFFu;
inline constexpr std::string_view frame_label = "AWSKMSEncryptionClient Frame";
inline constexpr std::string_view final_frame_label = "AWSKMSEncryptionClient Final Frame";
/// The context key that carries the footer's verification key (base64 compressed P-384 point).
inline constexpr std::string_view public_key_context_key = "aws-crypto-public-key";

inline void put_u16(std::string& s, std::uint16_t v) {
  s += static_cast<char>(v >> 8);
  s += static_cast<char>(v & 0xff);
}
inline void put_u32(std::string& s, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((v >> shift) & 0xff);
}
inline void store_u32(std::uint8_t* p, std::uint32_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}
inline void store_u64(std::uint8_t* p, std::uint64_t v) noexcept {
  store_u32(p, static_cast<std::uint32_t>(v >> 32));
  store_u32(p + 4, static_cast<std::uint32_t>(v));
}
inline std::uint32_t load_u32(const std::uint8_t* p) noexcept {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}
/// A u16-length-prefixed field; the caller has checked that it fits.
inline void put_field(std::string& s, std::string_view v) {
  put_u16(s, static_cast<std::uint16_t>(v.size()));
  s += v;
}

/// The frame IV: the sequence number as a 96-bit big-endian integer.
inline void frame_iv(std::uint8_t* iv, std::uint32_t sequence) noexcept {
  std::memset(iv, 0, 8);
  store_u32(iv + 8, sequence);
}

/// The body AAD (message-body-aad.md): message id ‖ label ‖ u32 sequence ‖ u64 content length.
/// Returns its length; `out` holds at least 32 + 34 + 12 bytes.
inline std::size_t frame_aad(std::uint8_t* out, const std::uint8_t* message_id, bool final, std::uint32_t sequence,
                             std::uint64_t length) noexcept {
  std::string_view label = final ? final_frame_label : frame_label;
  std::memcpy(out, message_id, message_id_size);
  std::memcpy(out + message_id_size, label.data(), label.size());
  std::size_t n = message_id_size + label.size();
  store_u32(out + n, sequence);
  store_u64(out + n + 4, length);
  return n + 12;
}
inline constexpr std::size_t max_frame_aad = message_id_size + final_frame_label.size() + 12;

/// Serialises an encryption context (framework/structures.md): u16 pair count, then each pair
/// as u16 length + key, u16 length + value, sorted by key bytes (std::map orders std::string by
/// unsigned char, which is byte order). Empty context: empty string (the header then has AAD
/// length 0 and nothing else). False with `why` set when a length does not fit in 16 bits.
inline bool serialize_context(const std::map<std::string, std::string>& context, std::string& out,
                              std::string& why) {
  out.clear();
  if (context.empty()) return true;
  if (context.size() > 0xFFFF) {
    why = "encryption context has " + std::to_string(context.size()) + " pairs; at most 65535 fit";
    return false;
  }
  put_u16(out, static_cast<std::uint16_t>(context.size()));
  for (const auto& [k, v] : context) {
    if (k.size() > 0xFFFF || v.size() > 0xFFFF) {
      why = "encryption context pair `" + k.substr(0, 64) + "` is longer than 65535 bytes";
      return false;
    }
    put_field(out, k);
    put_field(out, v);
  }
  if (out.size() > 0xFFFF) {
    why = "serialised encryption context is " + std::to_string(out.size()) + " bytes; at most 65535 fit in the header";
    return false;
  }
  return true;
}

/// Parses a serialised context (without the header's AAD-length prefix). False with `why` set
/// when it is malformed: short, trailing bytes, no pairs, or a duplicate key.
inline bool parse_context(std::string_view in, std::map<std::string, std::string>& out, std::string& why) {
  out.clear();
  if (in.empty()) return true;
  std::size_t pos = 0;
  auto u16 = [&](std::uint16_t& v) {
    if (in.size() - pos < 2) return false;
    v = static_cast<std::uint16_t>(static_cast<std::uint8_t>(in[pos]) << 8 | static_cast<std::uint8_t>(in[pos + 1]));
    pos += 2;
    return true;
  };
  auto field = [&](std::string_view& v) {
    std::uint16_t n = 0;
    if (!u16(n) || in.size() - pos < n) return false;
    v = in.substr(pos, n);
    pos += n;
    return true;
  };
  std::uint16_t count = 0;
  if (!u16(count)) {
    why = "encryption context: too short for its pair count";
    return false;
  }
  if (count == 0) {
    why = "encryption context: AAD length is not 0 but the pair count is 0";
    return false;
  }
  for (std::uint16_t i = 0; i < count; ++i) {
    std::string_view k, v;
    if (!field(k) || !field(v)) {
      why = "encryption context: pair " + std::to_string(i + 1) + " of " + std::to_string(count) +
            " runs past the AAD length";
      return false;
    }
    if (!out.emplace(std::string(k), std::string(v)).second) {
      why = "encryption context: duplicate key `" + std::string(k) + "`";
      return false;
    }
  }
  if (pos != in.size()) {
    why = "encryption context: " + std::to_string(in.size() - pos) + " bytes after the last pair";
    return false;
  }
  return true;
}

}  // namespace sluice::crypto::detail
