// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace sluice::crypto::detail {

/// Slice-by-8 tables of the reflected Castagnoli polynomial 0x82F63B78, built at compile time.
struct crc32c_tables {
  std::uint32_t t[8][256]{};
  constexpr crc32c_tables() {
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[0][i] = c;
    }
    for (std::uint32_t i = 0; i < 256; ++i)
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  }
};
inline constexpr crc32c_tables crc32c_table{};

/// Software CRC32C over `size` bytes, continuing from the raw register `crc` (not inverted):
/// the caller starts with 0xFFFFFFFF and inverts at the end. Used where ISA-L is absent, and by
/// the tests as a reference for the ISA-L path.
inline std::uint32_t crc32c_software(std::uint32_t crc, const unsigned char* p, std::size_t size) noexcept {
  const auto& t = crc32c_table.t;
  while (size > 0 && (reinterpret_cast<std::uintptr_t>(p) & 7) != 0) {
    crc = t[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    --size;
  }
  while (std::endian::native == std::endian::little && size >= 8) {
    std::uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    // Little-endian loads; big-endian machines take the bytewise loop below.
    lo ^= crc;
    crc = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
          t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
    p += 8;
    size -= 8;
  }
  while (size-- > 0) crc = t[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
  return crc;
}

}  // namespace sluice::crypto::detail
