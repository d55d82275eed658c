// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

// SHA-256, HMAC-SHA256 and hex for SigV4. sluice::crypto has a SHA-256 class and hex too, but
// sluice::aws links only OpenSSL (crypto also needs Boost.JSON), so it keeps these few lines.

namespace sluice::aws::detail {

/// 32 bytes: a SHA-256 digest, an HMAC-SHA256 value or a SigV4 signing key.
using digest32 = std::array<std::uint8_t, 32>;

/// Appends lower-case hex of `n` bytes at `p` to `out`.
inline void append_hex(std::string& out, const std::uint8_t* p, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
}
inline std::string hex(const digest32& d) {
  std::string s;
  s.reserve(64);
  append_hex(s, d.data(), d.size());
  return s;
}

/// SHA-256 of `data`. Throws std::runtime_error only when OpenSSL cannot provide SHA-256.
inline digest32 sha256(std::string_view data) {
  digest32 out{};
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &n, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("OpenSSL: SHA-256 failed");
  return out;
}
inline std::string sha256_hex(std::string_view data) { return hex(sha256(data)); }

/// HMAC-SHA256 of `data` under `key`.
inline digest32 hmac_sha256(const void* key, std::size_t key_size, std::string_view data) {
  digest32 out{};
  unsigned int n = 0;
  if (HMAC(EVP_sha256(), key, static_cast<int>(key_size), reinterpret_cast<const unsigned char*>(data.data()),
           data.size(), out.data(), &n) == nullptr)
    throw std::runtime_error("OpenSSL: HMAC-SHA256 failed");
  return out;
}
inline digest32 hmac_sha256(const digest32& key, std::string_view data) {
  return hmac_sha256(key.data(), key.size(), data);
}

/// Equality of two strings in time that depends only on their lengths (signature checks).
inline bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

/// True for exactly 64 lower-case hex digits (a SigV4 signature or a hex SHA-256).
inline bool is_hex64(std::string_view s) noexcept {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

/// A derived signing key that is wiped when it goes out of scope.
struct signing_key {
  digest32 bytes{};
  signing_key() = default;
  signing_key(const signing_key&) = default;
  signing_key& operator=(const signing_key&) = default;
  ~signing_key() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

}  // namespace sluice::aws::detail
