// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

// CRC32C (Castagnoli): the checksum of buffer::disk's write-ahead log frames, and of
// crypto::crc32c (S3's x-amz-checksum-crc32c) when the build has no ISA-L. Core takes no
// dependency, so this is our own: the SSE4.2 instruction where the CPU has it (checked once at
// run time), slicing-by-8 tables otherwise.

// Opened inside the inline namespace v0 (as sluice::detail is in core/error.hpp): a plain
// `namespace sluice::detail` seen before error.hpp would be a second, ambiguous sluice::detail.
namespace sluice {
inline namespace v0 {
namespace detail {

inline constexpr std::uint32_t crc32c_polynomial = 0x82F63B78u;  // reflected

inline constexpr auto crc32c_tables = [] {
  std::array<std::array<std::uint32_t, 256>, 8> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ crc32c_polynomial : c >> 1;
    t[0][i] = c;
  }
  for (std::size_t i = 0; i < 256; ++i)
    for (std::size_t s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFFu];
  return t;
}();

/// Continues a CRC32C over `size` bytes in software; `crc` is the running value (0 to start,
/// the finished CRC of the bytes so far to continue). Also the tests' reference for the SSE4.2
/// and ISA-L paths: "123456789" gives 0xE3069283.
inline std::uint32_t crc32c_software(std::uint32_t crc, const void* data, std::size_t size) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  const auto& t = crc32c_tables;
  crc = ~crc;
  while (size >= 8) {
    // Byte-wise loads keep this independent of alignment and endianness.
    std::uint32_t lo = crc ^ (std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 |
                              std::uint32_t(p[3]) << 24);
    crc = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^ t[3][p[4]] ^
          t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
    p += 8;
    size -= 8;
  }
  while (size-- > 0) crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xFFu];
  return ~crc;
}

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
__attribute__((target("sse4.2"))) inline std::uint32_t crc32c_sse42(std::uint32_t crc, const void* data,
                                                                     std::size_t size) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t c = ~crc;
  while (size >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    c = __builtin_ia32_crc32di(c, word);
    p += 8;
    size -= 8;
  }
  auto c32 = static_cast<std::uint32_t>(c);
  while (size-- > 0) c32 = __builtin_ia32_crc32qi(c32, *p++);
  return ~c32;
}
inline bool crc32c_has_sse42() noexcept {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}
#endif

/// Continues a CRC32C over `size` bytes with the fastest code the CPU runs; `crc` is the running
/// value as for crc32c_software.
inline std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t size) noexcept {
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
  if (crc32c_has_sse42()) return crc32c_sse42(crc, data, size);
#endif
  return crc32c_software(crc, data, size);
}

}  // namespace detail
}  // namespace v0
}  // namespace sluice
