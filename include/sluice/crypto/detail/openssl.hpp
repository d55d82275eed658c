// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/crypto/detail/encoding.hpp>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sluice::crypto::detail {

// Owning handles for the OpenSSL objects the envelope code keeps; the deleters are the free
// functions OpenSSL documents for each type.
struct cipher_ctx_free {
  void operator()(EVP_CIPHER_CTX* p) const noexcept { EVP_CIPHER_CTX_free(p); }
};
struct cipher_free {
  void operator()(EVP_CIPHER* p) const noexcept { EVP_CIPHER_free(p); }
};
struct md_ctx_free {
  void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); }
};
struct md_free {
  void operator()(EVP_MD* p) const noexcept { EVP_MD_free(p); }
};
struct kdf_free {
  void operator()(EVP_KDF* p) const noexcept { EVP_KDF_free(p); }
};
struct kdf_ctx_free {
  void operator()(EVP_KDF_CTX* p) const noexcept { EVP_KDF_CTX_free(p); }
};
struct pkey_free {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct pkey_ctx_free {
  void operator()(EVP_PKEY_CTX* p) const noexcept { EVP_PKEY_CTX_free(p); }
};
using cipher_ctx_ptr = std::unique_ptr<EVP_CIPHER_CTX, cipher_ctx_free>;
using cipher_ptr = std::unique_ptr<EVP_CIPHER, cipher_free>;
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, md_ctx_free>;
using md_ptr = std::unique_ptr<EVP_MD, md_free>;
using kdf_ptr = std::unique_ptr<EVP_KDF, kdf_free>;
using kdf_ctx_ptr = std::unique_ptr<EVP_KDF_CTX, kdf_ctx_free>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using pkey_ctx_ptr = std::unique_ptr<EVP_PKEY_CTX, pkey_ctx_free>;

/// The last OpenSSL error as text, for messages of failures that should never happen
/// (allocation, a missing algorithm provider).
inline std::string openssl_error(std::string_view what) {
  std::string s = "OpenSSL: ";
  s += what;
  unsigned long e = ERR_get_error();
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    s += ": ";
    s += buf;
  }
  ERR_clear_error();
  return s;
}

/// Throws std::runtime_error when an OpenSSL call reported failure: these are resource or
/// provider failures, not data errors (data errors are reported through error_code).
inline void check(int ok, std::string_view what) {
  if (ok != 1) throw std::runtime_error(openssl_error(what));
}
template <class T>
T* check_ptr(T* p, std::string_view what) {
  if (p == nullptr) throw std::runtime_error(openssl_error(what));
  return p;
}

/// Fills `out` with cryptographically random bytes.
inline void random_bytes(std::span<std::uint8_t> out) {
  check(RAND_bytes(out.data(), static_cast<int>(out.size())), "RAND_bytes");
}

/// Bytes of key material that are wiped when they go out of scope.
template <std::size_t N>
struct secret {
  std::array<std::uint8_t, N> bytes{};
  secret() = default;
  secret(const secret& other) : bytes(other.bytes) {}
  secret& operator=(const secret& other) {
    bytes = other.bytes;
    return *this;
  }
  ~secret() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
  [[nodiscard]] std::uint8_t* data() noexcept { return bytes.data(); }
  [[nodiscard]] const std::uint8_t* data() const noexcept { return bytes.data(); }
  [[nodiscard]] static constexpr std::size_t size() noexcept { return N; }
};

inline const unsigned char* uc(const char* p) noexcept { return reinterpret_cast<const unsigned char*>(p); }
inline unsigned char* uc(char* p) noexcept { return reinterpret_cast<unsigned char*>(p); }

/// AES-256-GCM with a context that is created once and reused: the key schedule is set once per
/// key, and each operation changes only the IV (EVP_*Init_ex with null cipher and key).
///
/// Thread safety: one thread at a time. Allocation: none after construction.
class aes_gcm {
 public:
  static constexpr std::size_t key_size = 32;
  static constexpr std::size_t iv_size = 12;
  static constexpr std::size_t tag_size = 16;

  aes_gcm()
      : ctx_(check_ptr(EVP_CIPHER_CTX_new(), "EVP_CIPHER_CTX_new")),
        cipher_(check_ptr(EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr), "fetching AES-256-GCM")) {}

  /// Sets the key for encryption (`encrypt = true`) or decryption.
  void set_key(const std::uint8_t* key, bool encrypt) {
    if (encrypt)
      check(EVP_EncryptInit_ex(ctx_.get(), cipher_.get(), nullptr, key, nullptr), "EVP_EncryptInit_ex");
    else
      check(EVP_DecryptInit_ex(ctx_.get(), cipher_.get(), nullptr, key, nullptr), "EVP_DecryptInit_ex");
  }

  /// Encrypts `n` bytes from `in` to `out` (may alias) with `aad`, writes the tag.
  void seal(const std::uint8_t* iv, std::span<const std::uint8_t> aad, const std::uint8_t* in, std::size_t n,
            std::uint8_t* out, std::uint8_t* tag) {
    check(EVP_EncryptInit_ex(ctx_.get(), nullptr, nullptr, nullptr, iv), "EVP_EncryptInit_ex (IV)");
    int len = 0;
    if (!aad.empty())
      check(EVP_EncryptUpdate(ctx_.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())), "GCM AAD");
    update(in, n, out, true);
    check(EVP_EncryptFinal_ex(ctx_.get(), out + n, &len), "EVP_EncryptFinal_ex");
    check(EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag_size), tag), "GCM tag");
  }

  /// Decrypts and verifies; false when the tag does not verify (the output is then garbage and
  /// must not be used).
  [[nodiscard]] bool open(const std::uint8_t* iv, std::span<const std::uint8_t> aad, const std::uint8_t* in,
                          std::size_t n, const std::uint8_t* tag, std::uint8_t* out) {
    check(EVP_DecryptInit_ex(ctx_.get(), nullptr, nullptr, nullptr, iv), "EVP_DecryptInit_ex (IV)");
    int len = 0;
    if (!aad.empty())
      check(EVP_DecryptUpdate(ctx_.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())), "GCM AAD");
    update(in, n, out, false);
    check(EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag_size),
                              const_cast<std::uint8_t*>(tag)),
          "GCM set tag");
    return EVP_DecryptFinal_ex(ctx_.get(), out + n, &len) == 1;
  }

 private:
  // EVP_*Update takes an int length: feed frames over 2 GiB in pieces.
  void update(const std::uint8_t* in, std::size_t n, std::uint8_t* out, bool encrypt) {
    constexpr std::size_t step = std::size_t{1} << 30;
    while (n > 0) {
      int chunk = static_cast<int>(n < step ? n : step), len = 0;
      check(encrypt ? EVP_EncryptUpdate(ctx_.get(), out, &len, in, chunk)
                    : EVP_DecryptUpdate(ctx_.get(), out, &len, in, chunk),
            "GCM update");
      in += chunk;
      out += chunk;
      n -= static_cast<std::size_t>(chunk);
    }
  }

  cipher_ctx_ptr ctx_;
  cipher_ptr cipher_;
};

/// HKDF-SHA512 (RFC 5869) with a fetched implementation kept for reuse.
class hkdf_sha512 {
 public:
  hkdf_sha512() : kdf_(check_ptr(EVP_KDF_fetch(nullptr, "HKDF", nullptr), "fetching HKDF")) {}

  void derive(std::span<const std::uint8_t> ikm, std::span<const std::uint8_t> salt,
              std::span<const std::uint8_t> info, std::span<std::uint8_t> out) {
    kdf_ctx_ptr ctx(check_ptr(EVP_KDF_CTX_new(kdf_.get()), "EVP_KDF_CTX_new"));
    char digest[] = "SHA512";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<std::uint8_t*>(ikm.data()), ikm.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<std::uint8_t*>(salt.data()), salt.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<std::uint8_t*>(info.data()), info.size()),
        OSSL_PARAM_construct_end()};
    check(EVP_KDF_derive(ctx.get(), out.data(), out.size(), params), "HKDF-SHA512");
  }

 private:
  kdf_ptr kdf_;
};

}  // namespace sluice::crypto::detail
