// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/detail/crc32c.hpp>
#include <sluice/crypto/detail/encoding.hpp>

#include <openssl/evp.h>
#if defined(SLUICE_CRC32C_ISAL)
#include <isa-l/crc.h>
#endif

#include <algorithm>
#include <array>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace sluice::crypto {

/// A SHA-256 digest: 32 bytes.
using sha256_digest = std::array<std::uint8_t, 32>;

/// Incremental SHA-256 over OpenSSL's EVP interface. One context is created with the object and
/// reused for every digest it computes (finish() re-initialises it), so hashing many objects
/// costs no allocation.
///
/// Thread safety: none; one instance per thread.
/// Errors: the constructor throws sluice::error when OpenSSL cannot provide SHA-256 (out of
/// memory, or a provider configuration without it).
/// @code
///   crypto::sha256 h;
///   h.update("abc");
///   std::string hex = crypto::to_hex(h.finish());  // "ba7816bf..."
/// @endcode
class sha256 {
 public:
  sha256() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_) throw error(make_error_code(boost::system::errc::not_enough_memory), "creating a SHA-256 context");
    reset();
  }
  sha256(const sha256&) = delete;
  sha256& operator=(const sha256&) = delete;
  sha256(sha256&& other) noexcept : ctx_(std::exchange(other.ctx_, nullptr)) {}
  sha256& operator=(sha256&& other) noexcept {
    if (this != &other) {
      EVP_MD_CTX_free(ctx_);
      ctx_ = std::exchange(other.ctx_, nullptr);
    }
    return *this;
  }
  ~sha256() { EVP_MD_CTX_free(ctx_); }

  /// Starts a new digest, discarding what was hashed so far.
  void reset() {
    if (EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1)
      throw error(make_error_code(errc::unsupported_format), "initialising SHA-256 (OpenSSL)");
  }
  /// Hashes `size` more bytes.
  void update(const void* data, std::size_t size) noexcept {
    // EVP_DigestUpdate fails only on a context that was not initialised, which reset() rules out.
    (void)EVP_DigestUpdate(ctx_, data, size);
  }
  void update(std::string_view data) noexcept { update(data.data(), data.size()); }
  /// The digest of everything hashed since the last reset; the context is then reset for reuse.
  [[nodiscard]] sha256_digest finish() {
    sha256_digest out{};
    unsigned int n = 0;
    (void)EVP_DigestFinal_ex(ctx_, out.data(), &n);
    reset();
    return out;
  }

  /// One-shot digest of `data`.
  [[nodiscard]] static sha256_digest digest(std::string_view data) {
    sha256 h;
    h.update(data);
    return h.finish();
  }

 private:
  EVP_MD_CTX* ctx_ = nullptr;
};

/// Incremental CRC32C (Castagnoli, as iSCSI, ext4 and S3's `x-amz-checksum-crc32c` use): ISA-L's
/// hardware `crc32_iscsi` when the build found ISA-L (SLUICE_CRC32C_ISAL), else core's CRC32C
/// (the SSE4.2 instruction when the CPU has it, slice-by-8 tables otherwise; the one
/// buffer::disk uses). value() is the standard CRC: "123456789" gives 0xE3069283.
///
/// Thread safety: none; one instance per thread. Allocation: none.
/// @code
///   std::uint32_t c = crypto::crc32c::compute("123456789");   // 0xE3069283
///   std::string s3 = crypto::crc32c_base64(c);                 // "4waSgw=="
/// @endcode
class crc32c {
 public:
  /// Adds `size` more bytes.
  void update(const void* data, std::size_t size) noexcept {
    auto* p = static_cast<const unsigned char*>(data);
#if defined(SLUICE_CRC32C_ISAL)
    // ISA-L takes an int length and works on the raw register: it neither inverts the seed nor
    // the result, so the register is carried between calls as is (init 0xFFFFFFFF, final xor in
    // value()).
    while (size > 0) {
      auto n = static_cast<int>(std::min<std::size_t>(size, std::size_t{1} << 30));
      state_ = crc32_iscsi(const_cast<unsigned char*>(p), n, state_);
      p += n;
      size -= static_cast<std::size_t>(n);
    }
#else
    // Core's CRC takes and returns the finished (inverted) value.
    state_ = ~sluice::detail::crc32c(~state_, p, size);
#endif
  }
  void update(std::string_view data) noexcept { update(data.data(), data.size()); }
  /// The CRC of everything added since the last reset.
  [[nodiscard]] std::uint32_t value() const noexcept { return state_ ^ 0xFFFFFFFFu; }
  void reset() noexcept { state_ = 0xFFFFFFFFu; }

  /// One-shot CRC32C of `data`.
  [[nodiscard]] static std::uint32_t compute(std::string_view data) noexcept {
    crc32c c;
    c.update(data);
    return c.value();
  }

 private:
  std::uint32_t state_ = 0xFFFFFFFFu;
};

/// Lower-case hex of `bytes` (what `sha256sum` prints).
inline std::string to_hex(std::span<const std::uint8_t> bytes) { return detail::hex_encode(bytes); }

/// Standard base64 (RFC 4648, with padding) of `bytes`.
inline std::string to_base64(std::span<const std::uint8_t> bytes) { return detail::base64_encode(bytes); }
inline std::string to_base64(std::string_view bytes) {
  return to_base64(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
}

/// Decodes standard padded base64. Errors: errc::corrupt_object for a character outside the
/// alphabet, a length that is not a multiple of 4, or misplaced padding.
inline std::string from_base64(std::string_view text, error_code& ec) {
  ec = {};
  std::string out;
  if (!detail::base64_decode(text, out)) {
    ec = make_error_code(errc::corrupt_object);
    return {};
  }
  return out;
}
/// Throwing twin of from_base64(text, ec).
inline std::string from_base64(std::string_view text) {
  error_code ec;
  auto out = from_base64(text, ec);
  throw_if(ec, "decoding base64");
  return out;
}

/// The 4 big-endian bytes of a CRC32C in base64: S3's `x-amz-checksum-crc32c` form.
inline std::string crc32c_base64(std::uint32_t crc) {
  const std::array<std::uint8_t, 4> be{static_cast<std::uint8_t>(crc >> 24), static_cast<std::uint8_t>(crc >> 16),
                                       static_cast<std::uint8_t>(crc >> 8), static_cast<std::uint8_t>(crc)};
  return to_base64(be);
}
/// Lower-case hex SHA-256 of `data` (as `sha256sum` prints it).
inline std::string sha256_hex(std::string_view data) { return to_hex(sha256::digest(data)); }
/// Base64 SHA-256 of `data`: S3's `x-amz-checksum-sha256` form.
inline std::string sha256_base64(std::string_view data) { return to_base64(sha256::digest(data)); }

/// SHA-256, CRC32C and size of one object, computed in one pass over its bytes.
struct object_checksums {
  sha256_digest sha256{};
  std::uint32_t crc32c = 0;
  std::uint64_t size = 0;
};

/// Both checksums of an object whose bytes arrive in pieces (a streamed object): update() with
/// each piece in order, finish() once. Each slice is hashed and CRC'd while it is still in cache.
/// Thread safety: one thread at a time.
class object_checksummer {
 public:
  void update(std::string_view data) noexcept {
    constexpr std::size_t slice = 256 * 1024;
    for (std::size_t at = 0; at < data.size(); at += slice) {
      auto part = data.substr(at, slice);
      sha_.update(part);
      crc_.update(part);
    }
    size_ += data.size();
  }
  /// Bytes seen since the last finish().
  [[nodiscard]] std::uint64_t size() const noexcept { return size_; }
  /// The checksums of everything since the last finish(); starts over.
  [[nodiscard]] object_checksums finish() {
    object_checksums out{sha_.finish(), crc_.value(), size_};
    crc_.reset();
    size_ = 0;
    return out;
  }

 private:
  sha256 sha_;
  crc32c crc_;
  std::uint64_t size_ = 0;
};

/// Computes both checksums over `data` in one pass (see object_checksummer).
inline object_checksums compute_checksums(std::string_view data, object_checksummer& c) {
  c.update(data);
  return c.finish();
}

}  // namespace sluice::crypto
