// SPDX-License-Identifier: Apache-2.0
#pragma once
// Definitions for envelope.hpp: the AWS Encryption SDK message format v2 (framed), following
// data-format/message-header.md, message-body.md, message-footer.md and client-apis/encrypt.md
// and decrypt.md of the ESDK specification.
#include <sluice/crypto/detail/esdk_format.hpp>
#include <sluice/crypto/detail/openssl.hpp>

#include <boost/json.hpp>

#include <openssl/ec.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

namespace sluice::crypto {
namespace detail {

inline constexpr std::uint64_t max_frame_length = std::uint64_t{1} << 31;
/// DER ECDSA P-384 signatures are at most 104 bytes.
inline constexpr std::size_t max_signature = 104;
inline constexpr std::size_t p384_compressed_point = 49;

inline std::string hex16(std::uint16_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s = "0x";
  for (int shift = 12; shift >= 0; shift -= 4) s += digits[(v >> shift) & 15];
  return s;
}

/// HKDF info for the derived key: u16 suite id ‖ "DERIVEKEY"; for the commit key: "COMMITKEY".
inline void derive_keys(hkdf_sha512& hkdf, const data_key& key, const std::uint8_t* message_id, std::uint16_t suite_id,
                        std::uint8_t* derived, std::uint8_t* commit) {
  std::uint8_t info[2 + 9] = {static_cast<std::uint8_t>(suite_id >> 8), static_cast<std::uint8_t>(suite_id & 0xff),
                              'D', 'E', 'R', 'I', 'V', 'E', 'K', 'E', 'Y'};
  static constexpr std::uint8_t commit_info[] = {'C', 'O', 'M', 'M', 'I', 'T', 'K', 'E', 'Y'};
  hkdf.derive(key.bytes, {message_id, message_id_size}, info, {derived, 32});
  hkdf.derive(key.bytes, {message_id, message_id_size}, commit_info, {commit, commit_key_size});
}

/// Checks options shared by the stage and the function API; throws sluice::config_error.
inline void check_options(std::string_view who, crypto::suite s, std::uint64_t frame_length,
                          const std::map<std::string, std::string>& context) {
  if (s != crypto::suite::committing && s != crypto::suite::committing_signed)
    throw config_error(std::string(who) + ".suite = " + hex16(static_cast<std::uint16_t>(s)) +
                       ": must be crypto::suite::committing (0x0478) or committing_signed (0x0578)");
  if (frame_length < 1 || frame_length > max_frame_length)
    throw config_error(std::string(who) + ".frame_length = " + std::to_string(frame_length) +
                       ": must be 1..2147483648 (2^31)");
  for (const auto& kv : context)
    if (kv.first.starts_with("aws-crypto-"))
      throw config_error(std::string(who) + ".context[\"" + kv.first +
                         "\"]: keys starting with `aws-crypto-` are reserved to the AWS Encryption SDK");
}

/// Appends `more` to `s`, whose capacity stays within `cap` (>= the new size): the plaintext
/// waiting for its frame holds at most one frame of memory, not the up to twice that of
/// std::string's doubling.
inline void append_capped(std::string& s, std::string_view more, std::size_t cap) {
  const std::size_t need = s.size() + more.size();
  if (need > s.capacity()) {
    std::string grown;
    grown.reserve(std::min(cap, std::max(need, 2 * s.capacity())));
    grown = s;
    s.swap(grown);
  }
  s.append(more);
}

}  // namespace detail

// ---- encryptor ---------------------------------------------------------------------------------

SLUICE_DECL encryptor::encryptor() : sign_(detail::check_ptr(EVP_MD_CTX_new(), "EVP_MD_CTX_new")) {}

SLUICE_DECL void encryptor::encrypt(const keyring& ring, std::string_view plaintext, std::string& message,
                                    const encrypt_options& options) {
  begin(ring, options);
  finish(plaintext, message);
}

SLUICE_DECL void encryptor::begin(const keyring& ring, const encrypt_options& options) {
  using namespace detail;
  open_ = false;
  partial_.clear();
  check_options("crypto::encrypt_options", options.suite, options.frame_length, options.context);
  const auto suite_id = static_cast<std::uint16_t>(options.suite);
  signed_ = options.suite == crypto::suite::committing_signed;
  frame_length_ = options.frame_length;

  data_key key;
  random_bytes(key.bytes);
  random_bytes(message_id_);
  secret<32> derived;
  std::uint8_t commit[commit_key_size];
  derive_keys(hkdf_, key, message_id_.data(), suite_id, derived.data(), commit);

  // The signing key is per message; its public half goes into the authenticated context.
  signing_.reset();
  context_ = options.context;
  if (signed_) {
    if (!keygen_) {
      keygen_.reset(check_ptr(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr), "EVP_PKEY_CTX_new_from_name(EC)"));
      check(EVP_PKEY_keygen_init(keygen_.get()), "EVP_PKEY_keygen_init");
      char group[] = "P-384";
      OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
                             OSSL_PARAM_construct_end()};
      check(EVP_PKEY_CTX_set_params(keygen_.get(), params), "EC P-384 key parameters");
    }
    EVP_PKEY* generated = nullptr;
    check(EVP_PKEY_generate(keygen_.get(), &generated), "generating the P-384 signing key");
    signing_.reset(generated);
    // OpenSSL encodes the point uncompressed (04 ‖ X ‖ Y); the SDK stores it compressed
    // (02 or 03 by the parity of Y, ‖ X): SEC 1 section 2.3.3.
    std::uint8_t point[1 + 2 * 48];
    std::size_t point_size = 0;
    check(EVP_PKEY_get_octet_string_param(signing_.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, sizeof point,
                                          &point_size),
          "encoding the P-384 public key");
    if (point_size != sizeof point || point[0] != 4)
      throw std::runtime_error("OpenSSL: the P-384 public key is not an uncompressed point");
    point[0] = static_cast<std::uint8_t>(2 | (point[sizeof point - 1] & 1));
    context_[std::string(public_key_context_key)] = base64_encode({point, p384_compressed_point});
  }
  std::string why;
  if (!serialize_context(context_, serialized_context_, why))
    throw error(make_error_code(errc::record_too_large), "crypto::encrypt: " + why);

  encrypted_data_key edk = ring.wrap(key, serialized_context_);
  key_id_ = ring.key_id();
  if (edk.provider_id.size() > 0xFFFF || edk.provider_info.size() > 0xFFFF || edk.ciphertext.size() > 0xFFFF)
    throw error(make_error_code(errc::record_too_large),
                "crypto::encrypt: the keyring's encrypted data key has a field over 65535 bytes");

  // Header body (message-header.md, version 2).
  header_.clear();
  header_ += static_cast<char>(message_version);
  put_u16(header_, suite_id);
  header_.append(reinterpret_cast<const char*>(message_id_.data()), message_id_size);
  put_u16(header_, static_cast<std::uint16_t>(serialized_context_.size()));
  header_ += serialized_context_;
  put_u16(header_, 1);
  put_field(header_, edk.provider_id);
  put_field(header_, edk.provider_info);
  put_field(header_, edk.ciphertext);
  header_ += static_cast<char>(content_type_framed);
  put_u32(header_, static_cast<std::uint32_t>(frame_length_));
  header_.append(reinterpret_cast<const char*>(commit), commit_key_size);

  // Header authentication: GCM over nothing with AAD = header body and a zero IV.
  gcm_.set_key(derived.data(), true);
  static constexpr std::uint8_t zero_iv[aes_gcm::iv_size] = {};
  std::uint8_t tag[aes_gcm::tag_size];
  gcm_.seal(zero_iv, {uc(header_.data()), header_.size()}, nullptr, 0, tag, tag);
  header_.append(reinterpret_cast<const char*>(tag), sizeof tag);

  if (signed_) {
    // The footer signs SHA-384(header ‖ body): the digest takes each output as it is made.
    // Reset first: a context re-initialised after a finished signature would keep the old key.
    EVP_MD_CTX_reset(sign_.get());
    check(EVP_DigestSignInit_ex(sign_.get(), nullptr, "SHA384", nullptr, nullptr, signing_.get(), nullptr),
          "EVP_DigestSignInit_ex");
  }
  sequence_ = 1;
  header_pending_ = true;
  open_ = true;
}

SLUICE_DECL void encryptor::write(std::string_view plaintext, std::string& out) { emit(plaintext, out, false); }

SLUICE_DECL void encryptor::finish(std::string_view plaintext, std::string& out) { emit(plaintext, out, true); }

SLUICE_DECL void encryptor::emit(std::string_view plaintext, std::string& out, bool last) {
  using namespace detail;
  // Sealing without an open message would reuse a finished message's key and IVs.
  if (!open_)
    throw std::logic_error(std::string("crypto::encryptor::") + (last ? "finish" : "write") +
                           ": no message is open; call begin() first");
  constexpr std::size_t iv = aes_gcm::iv_size, tag = aes_gcm::tag_size;
  const std::size_t frame = static_cast<std::size_t>(frame_length_);
  const std::size_t held = partial_.size();
  const std::uint64_t total = std::uint64_t{held} + plaintext.size();
  // Before the end, every complete frame goes out (client-apis/encrypt.md: "process as much of
  // the consumable bytes as possible"); at the end, the last 1..frame bytes make the final frame.
  std::uint64_t regular = total / frame;
  std::size_t final_length = 0;
  if (last) {
    regular = total == 0 ? 0 : (total - 1) / frame;
    final_length = static_cast<std::size_t>(total - regular * frame);
  }
  // Sequence numbers run to 0xFFFFFFFE: the final frame needs one after the regular frames.
  if (regular > final_frame_marker - 1 - sequence_) {
    open_ = false;
    throw error(make_error_code(errc::record_too_large),
                "crypto::encrypt: the message needs more than 2^32 - 2 frames of " + std::to_string(frame) +
                    " bytes; use a larger frame_length");
  }
  try {
    const std::size_t bound = (header_pending_ ? header_.size() : 0) +
                              static_cast<std::size_t>(regular) * (4 + iv + frame + tag) +
                              (last ? 4 + 4 + iv + 4 + final_length + tag + (signed_ ? 2 + max_signature : 0) : 0);
    // Grow only: a buffer reused from the previous call usually has the room already, and
    // growing zero-fills only the new part.
    if (out.size() < bound) out.resize(bound);
    auto* const base = uc(out.data());
    std::uint8_t* w = base;
    if (header_pending_) {
      std::memcpy(w, header_.data(), header_.size());
      w += header_.size();
      header_pending_ = false;
    }

    std::uint8_t aad[max_frame_aad];
    auto seal_regular = [&](const std::uint8_t* in) {
      store_u32(w, sequence_);
      frame_iv(w + 4, sequence_);
      std::size_t aad_size = frame_aad(aad, message_id_.data(), false, sequence_, frame);
      gcm_.seal(w + 4, {aad, aad_size}, in, frame, w + 4 + iv, w + 4 + iv + frame);
      w += 4 + iv + frame + tag;
      ++sequence_;
    };
    const auto* in = uc(plaintext.data());
    std::size_t left = plaintext.size();
    if (regular > 0 && held > 0) {
      // The waiting bytes and the head of the input make the first frame.
      const std::size_t need = frame - held;
      append_capped(partial_, plaintext.substr(0, need), frame);
      in += need;
      left -= need;
      seal_regular(uc(partial_.data()));
      partial_.clear();
      --regular;
    }
    // Frames the input fills alone are sealed from it, without a copy.
    for (; regular > 0; --regular, in += frame, left -= frame) seal_regular(in);

    const std::string_view rest = plaintext.substr(plaintext.size() - left);
    if (!last) {
      append_capped(partial_, rest, frame);
    } else {
      const std::uint8_t* content = in;
      if (!partial_.empty()) {  // no regular frame took the waiting bytes: they open the final frame
        append_capped(partial_, rest, frame);
        content = uc(partial_.data());
      }
      store_u32(w, final_frame_marker);
      store_u32(w + 4, sequence_);
      frame_iv(w + 8, sequence_);
      store_u32(w + 8 + iv, static_cast<std::uint32_t>(final_length));
      std::size_t aad_size = frame_aad(aad, message_id_.data(), true, sequence_, final_length);
      gcm_.seal(w + 8, {aad, aad_size}, content, final_length, w + 12 + iv, w + 12 + iv + final_length);
      w += 12 + iv + final_length + tag;
      partial_.clear();
    }

    if (signed_) {
      check(EVP_DigestSignUpdate(sign_.get(), base, static_cast<std::size_t>(w - base)), "EVP_DigestSignUpdate");
      if (last) {
        // Footer: u16 length ‖ DER ECDSA signature over SHA-384(header ‖ body).
        std::size_t sig_size = max_signature;
        check(EVP_DigestSignFinal(sign_.get(), w + 2, &sig_size), "ECDSA P-384 signing");
        w[0] = static_cast<std::uint8_t>(sig_size >> 8);
        w[1] = static_cast<std::uint8_t>(sig_size & 0xff);
        w += 2 + sig_size;
        signing_.reset();
      }
    }
    out.resize(static_cast<std::size_t>(w - base));
    if (last) open_ = false;
  } catch (...) {
    // A half-made output cannot be resumed: the message is abandoned.
    open_ = false;
    partial_.clear();
    throw;
  }
}

// ---- decryptor ---------------------------------------------------------------------------------

SLUICE_DECL decryptor::decryptor() : verify_(detail::check_ptr(EVP_MD_CTX_new(), "EVP_MD_CTX_new")) {}

namespace detail {

/// A cursor over the message that reports truncation with the offset and the field.
struct message_reader {
  std::string_view data;
  std::size_t pos = 0;
  error_code& ec;
  std::string& reason;

  [[nodiscard]] std::size_t left() const noexcept { return data.size() - pos; }
  /// Takes n bytes; false (errc::truncated_object) when the message ends first.
  bool take(std::size_t n, const std::uint8_t*& p, std::string_view part, std::string_view field) {
    if (left() < n) {
      ec = make_error_code(errc::truncated_object);
      reason = std::string(part) + ": the message ends at byte " + std::to_string(data.size()) + " inside " +
               std::string(field) + " (at offset " + std::to_string(pos) + ", " + std::to_string(n) +
               " bytes needed, " + std::to_string(left()) + " left)";
      return false;
    }
    p = uc(data.data()) + pos;
    pos += n;
    return true;
  }
  bool u8(std::uint8_t& v, std::string_view part, std::string_view field) {
    const std::uint8_t* p;
    if (!take(1, p, part, field)) return false;
    v = *p;
    return true;
  }
  bool u16(std::uint16_t& v, std::string_view part, std::string_view field) {
    const std::uint8_t* p;
    if (!take(2, p, part, field)) return false;
    v = static_cast<std::uint16_t>(p[0] << 8 | p[1]);
    return true;
  }
  bool u32(std::uint32_t& v, std::string_view part, std::string_view field) {
    const std::uint8_t* p;
    if (!take(4, p, part, field)) return false;
    v = load_u32(p);
    return true;
  }
  bool field16(std::string& v, std::string_view part, std::string_view field) {
    std::uint16_t n = 0;
    const std::uint8_t* p;
    if (!u16(n, part, field) || !take(n, p, part, field)) return false;
    v.assign(reinterpret_cast<const char*>(p), n);
    return true;
  }
};

inline error_code fail(error_code& ec, std::string& reason, errc e, std::string text) {
  ec = make_error_code(e);
  reason = std::move(text);
  return ec;
}

/// Imports the footer's verification key: base64 of a compressed P-384 point.
inline pkey_ptr import_public_key(std::string_view base64) {
  std::string point;
  if (!base64_decode(base64, point) || point.size() != p384_compressed_point) return nullptr;
  pkey_ctx_ptr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return nullptr;
  char group[] = "P-384";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
                         OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
                         OSSL_PARAM_construct_end()};
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  return pkey_ptr(key);
}

}  // namespace detail

SLUICE_DECL error_code decryptor::decrypt(const keyring& ring, std::string_view message, std::string& plaintext,
                                          std::map<std::string, std::string>* context, std::string& reason) {
  using namespace detail;
  error_code ec;
  reason.clear();
  message_reader r{message, 0, ec, reason};
  auto failed = [&]() -> error_code {
    plaintext.clear();
    return ec;
  };
  auto fail_with = [&](errc e, std::string text) -> error_code {
    fail(ec, reason, e, std::move(text));
    return failed();
  };

  // ---- header
  std::uint8_t version = 0;
  if (!r.u8(version, "header", "the version")) return failed();
  if (version == 1)
    return fail_with(errc::unsupported_format,
                     "header: message format version 1 (algorithm suites without key commitment) is not supported; "
                     "only version 2 (suites 0x0478 and 0x0578) is read");
  if (version != message_version)
    return fail_with(errc::corrupt_object, "header: the first byte is " + hex16(version).replace(2, 2, "") +
                                               ": not an AWS Encryption SDK message (version must be 2)");
  std::uint16_t suite_id = 0;
  if (!r.u16(suite_id, "header", "the algorithm suite id")) return failed();
  if (suite_id != static_cast<std::uint16_t>(crypto::suite::committing) &&
      suite_id != static_cast<std::uint16_t>(crypto::suite::committing_signed))
    return fail_with(errc::unsupported_format, "header: algorithm suite " + hex16(suite_id) +
                                                   " is not supported; sluice reads 0x0478 and 0x0578");
  const bool signed_suite = suite_id == static_cast<std::uint16_t>(crypto::suite::committing_signed);
  const std::uint8_t* message_id = nullptr;
  if (!r.take(message_id_size, message_id, "header", "the message id")) return failed();
  std::uint16_t aad_length = 0;
  const std::uint8_t* aad = nullptr;
  if (!r.u16(aad_length, "header", "the AAD length") || !r.take(aad_length, aad, "header", "the encryption context"))
    return failed();
  const std::string_view serialized_context(reinterpret_cast<const char*>(aad), aad_length);
  std::map<std::string, std::string> pairs;
  std::string why;
  if (!parse_context(serialized_context, pairs, why)) return fail_with(errc::corrupt_object, "header: " + why);
  std::uint16_t edk_count = 0;
  if (!r.u16(edk_count, "header", "the encrypted data key count")) return failed();
  if (edk_count == 0) return fail_with(errc::corrupt_object, "header: the encrypted data key count is 0");
  std::vector<encrypted_data_key> edks(edk_count);
  for (auto& edk : edks)
    if (!r.field16(edk.provider_id, "header", "an encrypted data key's provider id") ||
        !r.field16(edk.provider_info, "header", "an encrypted data key's provider info") ||
        !r.field16(edk.ciphertext, "header", "an encrypted data key's ciphertext"))
      return failed();
  std::uint8_t content_type = 0;
  if (!r.u8(content_type, "header", "the content type")) return failed();
  if (content_type == 1)
    return fail_with(errc::unsupported_format, "header: non-framed content (content type 1) is not supported");
  if (content_type != content_type_framed)
    return fail_with(errc::corrupt_object,
                     "header: content type " + std::to_string(content_type) + " is neither 1 nor 2 (framed)");
  std::uint32_t frame_length = 0;
  if (!r.u32(frame_length, "header", "the frame length")) return failed();
  if (frame_length == 0) return fail_with(errc::corrupt_object, "header: the frame length is 0");
  const std::uint8_t* commit = nullptr;
  if (!r.take(commit_key_size, commit, "header", "the commit key")) return failed();
  const std::size_t header_size = r.pos;
  const std::uint8_t* header_tag = nullptr;
  if (!r.take(aes_gcm::tag_size, header_tag, "header", "the header authentication tag")) return failed();

  // ---- data key, commitment, header authentication
  std::string unwrap_reason;
  data_key key = ring.unwrap(edks, serialized_context, ec, unwrap_reason);
  if (ec) {
    reason = "encrypted data key: " + unwrap_reason;
    return failed();
  }
  secret<32> derived;
  std::uint8_t expected_commit[commit_key_size];
  derive_keys(hkdf_, key, message_id, suite_id, derived.data(), expected_commit);
  if (CRYPTO_memcmp(expected_commit, commit, commit_key_size) != 0)
    return fail_with(errc::authentication_failed,
                     "header: the key commitment does not match (the message id, suite or commit key was altered, "
                     "or the data key does not belong to this message)");
  gcm_.set_key(derived.data(), false);
  static constexpr std::uint8_t zero_iv[aes_gcm::iv_size] = {};
  if (!gcm_.open(zero_iv, {uc(message.data()), header_size}, nullptr, 0, header_tag, nullptr))
    return fail_with(errc::authentication_failed,
                     "header: the header authentication tag does not verify (the header was altered)");

  pkey_ptr verification;
  if (signed_suite) {
    auto it = pairs.find(std::string(public_key_context_key));
    if (it == pairs.end())
      return fail_with(errc::corrupt_object,
                       "header: suite 0x0578 but the encryption context has no aws-crypto-public-key");
    verification = import_public_key(it->second);
    if (!verification)
      return fail_with(errc::corrupt_object,
                       "header: aws-crypto-public-key is not a base64 compressed P-384 point");
  }

  // ---- body: regular frames, then exactly one final frame
  // Plaintext never exceeds the message: size the output once, trim at the end.
  if (plaintext.size() < message.size()) plaintext.resize(message.size());
  auto* out = uc(plaintext.data());
  std::size_t produced = 0;
  std::uint8_t frame_aad_bytes[max_frame_aad];
  std::uint8_t iv[aes_gcm::iv_size];
  for (std::uint32_t expected = 1;; ++expected) {
    const std::string part = "frame " + std::to_string(expected);
    const std::size_t frame_start = r.pos;
    std::uint32_t sequence = 0;
    if (!r.u32(sequence, part, "the sequence number (no final frame yet)")) return failed();
    const bool final = sequence == final_frame_marker;
    const std::string where = final ? "final frame " + std::to_string(expected) : part;
    if (final && !r.u32(sequence, where, "the sequence number")) return failed();
    if (sequence != expected)
      return fail_with(errc::corrupt_object, where + " (offset " + std::to_string(frame_start) +
                                                 "): sequence number " + std::to_string(sequence) + ", expected " +
                                                 std::to_string(expected) +
                                                 " (frames were reordered, dropped or duplicated)");
    if (!final && expected == final_frame_marker - 1)
      return fail_with(errc::corrupt_object, where + ": no final frame before the sequence numbers run out");
    const std::uint8_t* frame_iv_bytes = nullptr;
    if (!r.take(aes_gcm::iv_size, frame_iv_bytes, where, "the IV")) return failed();
    detail::frame_iv(iv, sequence);
    if (std::memcmp(iv, frame_iv_bytes, sizeof iv) != 0)
      return fail_with(errc::corrupt_object, where + ": the IV is not the sequence number (the format requires it)");
    std::uint32_t length = frame_length;
    if (final) {
      if (!r.u32(length, where, "the content length")) return failed();
      if (length > frame_length)
        return fail_with(errc::corrupt_object, where + ": content length " + std::to_string(length) +
                                                   " exceeds the frame length " + std::to_string(frame_length));
    }
    const std::uint8_t *ciphertext = nullptr, *tag = nullptr;
    if (!r.take(length, ciphertext, where, "the ciphertext") || !r.take(aes_gcm::tag_size, tag, where, "the tag"))
      return failed();
    std::size_t aad_size = frame_aad(frame_aad_bytes, message_id, final, sequence, length);
    if (!gcm_.open(iv, {frame_aad_bytes, aad_size}, ciphertext, length, tag, out + produced))
      return fail_with(errc::authentication_failed,
                       where + ": the authentication tag does not verify (the frame was altered or moved)");
    produced += length;
    if (final) break;
  }

  // ---- footer
  if (signed_suite) {
    const std::size_t signed_size = r.pos;
    std::uint16_t sig_size = 0;
    const std::uint8_t* sig = nullptr;
    if (!r.u16(sig_size, "footer", "the signature length") || !r.take(sig_size, sig, "footer", "the signature"))
      return failed();
    EVP_MD_CTX_reset(verify_.get());
    if (EVP_DigestVerifyInit_ex(verify_.get(), nullptr, "SHA384", nullptr, nullptr, verification.get(), nullptr) != 1)
      throw std::runtime_error(openssl_error("EVP_DigestVerifyInit_ex"));
    int ok = EVP_DigestVerify(verify_.get(), sig, sig_size, uc(message.data()), signed_size);
    ERR_clear_error();
    if (ok != 1)
      return fail_with(errc::authentication_failed,
                       "footer: the ECDSA P-384 signature does not verify (the message was altered)");
  }
  if (r.left() != 0)
    return fail_with(errc::corrupt_object, std::to_string(r.left()) + " unexpected bytes after the end of the message " +
                                               "at offset " + std::to_string(r.pos));
  plaintext.resize(produced);
  if (context) *context = std::move(pairs);
  return {};
}

// ---- function API ------------------------------------------------------------------------------

SLUICE_DECL void encrypt(const keyring& ring, std::string_view plaintext, std::string& message,
                         const encrypt_options& options) {
  encryptor e;
  e.encrypt(ring, plaintext, message, options);
}

SLUICE_DECL error_code decrypt(const keyring& ring, std::string_view message, std::string& plaintext,
                               std::map<std::string, std::string>* context, std::string* reason) {
  decryptor d;
  std::string why;
  error_code ec = d.decrypt(ring, message, plaintext, context, why);
  if (reason) *reason = std::move(why);
  return ec;
}

SLUICE_DECL std::string decrypt(const keyring& ring, std::string_view message,
                                std::map<std::string, std::string>* context) {
  std::string plaintext, reason;
  error_code ec = decrypt(ring, message, plaintext, context, &reason);
  throw_if(ec, "decrypting an AWS Encryption SDK message: " + reason);
  return plaintext;
}

// ---- envelope ----------------------------------------------------------------------------------

SLUICE_DECL void envelope::validate() const {
  if (!keyring) throw config_error("crypto::envelope.keyring = null: must be set (e.g. a crypto::local_keyring)");
  detail::check_options("crypto::envelope", suite, frame_length, context);
  for (const auto& kv : context)
    if (kv.first.starts_with("sluice:"))
      throw config_error("crypto::envelope.context[\"" + kv.first +
                         "\"]: keys starting with `sluice:` are reserved (the stage sets sluice:stream "
                         "and sluice:partition)");
}

SLUICE_DECL std::string envelope::context_json(const std::map<std::string, std::string>& context) {
  boost::json::object o;
  for (const auto& [k, v] : context) o[k] = v;
  return boost::json::serialize(o);
}

}  // namespace sluice::crypto
