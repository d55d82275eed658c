// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/concepts.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/object.hpp>
#include <sluice/core/pipeline.hpp>
#include <sluice/crypto/detail/openssl.hpp>
#include <sluice/crypto/keyring.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace sluice::crypto {
using sluice::operator|;

/// The algorithm suites sluice writes and reads: the two committing suites of message format
/// version 2 that the AWS Encryption SDK's default commitment policy
/// (REQUIRE_ENCRYPT_REQUIRE_DECRYPT) accepts. Both are AES-256-GCM with an HKDF-SHA512
/// derived key and a key commitment.
enum class suite : std::uint16_t {
  /// 0x0478: no signature. The fastest; anyone holding the wrapping key can also write.
  committing = 0x0478,
  /// 0x0578: adds an ECDSA P-384 signature footer made with a per-message key whose public half
  /// is in the encryption context (`aws-crypto-public-key`): readers holding only the wrapping
  /// key cannot forge messages that verify. The SDK's default suite.
  committing_signed = 0x0578,
};

/// `"0x0478"` or `"0x0578"`.
inline std::string to_string(crypto::suite s) {
  return s == crypto::suite::committing_signed ? "0x0578" : "0x0478";
}

/// How to encrypt one message.
struct encrypt_options {
  crypto::suite suite = crypto::suite::committing;
  /// Plaintext bytes per frame: 1..2^31. Larger frames cost fewer tags and IVs (AES-GCM runs
  /// at ~3 GB/s from 16 KiB up); a reader holds one frame at a time.
  std::uint64_t frame_length = 256 * 1024;
  /// Encryption context: authenticated, stored in clear in the header. Keys starting with
  /// `aws-crypto-` are reserved to the SDK.
  std::map<std::string, std::string> context;
};

/// Writes AWS Encryption SDK messages (format version 2, framed) and keeps its cipher, KDF and
/// signing contexts for reuse, so encrypting many messages allocates nothing per frame and
/// sets each AES key schedule once per message.
///
/// Thread safety: one thread at a time; use one encryptor per thread.
/// Errors: throws sluice::config_error for invalid options (frame length, reserved context
/// keys), sluice::error(errc::record_too_large) when the message would not fit the format
/// (more than 2^32 - 1 frames, context over 64 KiB), std::runtime_error on OpenSSL failures.
/// Allocation: `message` is resized only when its size is smaller than the message.
class encryptor {
 public:
  SLUICE_DECL encryptor();
  /// Encrypts `plaintext` into `message` (replacing its content) under a fresh data key that
  /// `ring` wraps.
  SLUICE_DECL void encrypt(const keyring& ring, std::string_view plaintext, std::string& message,
                           const encrypt_options& options);
  /// The encryption context of the last message, with `aws-crypto-public-key` for 0x0578.
  [[nodiscard]] const std::map<std::string, std::string>& last_context() const noexcept { return context_; }
  /// The key id (`namespace/name`) that wrapped the last message's data key.
  [[nodiscard]] const std::string& last_key_id() const noexcept { return key_id_; }

 private:
  detail::aes_gcm gcm_;
  detail::hkdf_sha512 hkdf_;
  detail::pkey_ctx_ptr keygen_;
  detail::md_ctx_ptr sign_;
  std::map<std::string, std::string> context_;
  std::string serialized_context_;
  std::string header_;
  std::string key_id_;
};

/// Reads AWS Encryption SDK messages of format version 2 (suites 0x0478 and 0x0578, framed)
/// and checks everything: the key commitment, the header authentication tag, every frame's tag,
/// sequence number and IV (the IV must equal the sequence number), exactly one final frame,
/// the footer signature for 0x0578, and that nothing follows the message.
///
/// Thread safety: one thread at a time. Errors (as error_code, with a reason that names the
/// part: `header`, `encrypted data key`, `frame N`, `final frame N`, `footer`):
/// errc::truncated_object (with the offset and the field), errc::corrupt_object (malformed or
/// reordered), errc::authentication_failed (a tag, the commitment or the signature does not
/// verify: tampering or the wrong key), errc::key_not_found (the keyring has none of the
/// message's keys), errc::unsupported_format (version 1, another suite, non-framed content).
/// On error the plaintext is cleared: no unauthenticated byte is ever returned.
class decryptor {
 public:
  SLUICE_DECL decryptor();
  SLUICE_DECL error_code decrypt(const keyring& ring, std::string_view message, std::string& plaintext,
                                 std::map<std::string, std::string>* context, std::string& reason);

 private:
  detail::aes_gcm gcm_;
  detail::hkdf_sha512 hkdf_;
  detail::md_ctx_ptr verify_;
};

/// Encrypts `plaintext` into an AWS Encryption SDK message in `message`, which the SDK's
/// `decrypt` reads with the same keyring (e.g. `RawAesKeyringNode`).
/// Errors: as encryptor::encrypt.
/// @code
///   std::string message;
///   crypto::encrypt(keys, "hello", message, {.context = {{"tenant", "acme"}}});
/// @endcode
SLUICE_DECL void encrypt(const keyring& ring, std::string_view plaintext, std::string& message,
                         const encrypt_options& options = {});

/// Decrypts and verifies an AWS Encryption SDK message (written by sluice or by any ESDK);
/// optionally returns its encryption context (all pairs, including `aws-crypto-public-key`).
/// `reason`, when given, receives the sentence that explains an error. Errors: see decryptor.
SLUICE_DECL error_code decrypt(const keyring& ring, std::string_view message, std::string& plaintext,
                               std::map<std::string, std::string>* context = nullptr, std::string* reason = nullptr);

/// Throwing twin of decrypt: returns the plaintext; throws sluice::error whose what() is
/// `decrypting an AWS Encryption SDK message: <reason>: <error>`.
SLUICE_DECL std::string decrypt(const keyring& ring, std::string_view message,
                                std::map<std::string, std::string>* context = nullptr);

/// Envelope encryption stage: encrypts each object's body into an AWS Encryption SDK message
/// under a fresh 256-bit data key wrapped by `keyring`. The SDK for JavaScript, Python, Java or
/// the CLI decrypts the stored objects with the same key (raw AES keyring, same namespace and
/// name).
///
/// The encryption context holds `context` plus `sluice:stream`, `sluice:partition` (when the
/// object is partitioned) and `sluice:records` (the record count); it is authenticated and
/// readable without the key. The object gets `encryption = "aws-encryption-sdk"` and metadata
/// `encryption-suite` (`0x0478`), `encryption-key` (`namespace/name`), `frame-length` and
/// `encryption-context` (the context as a JSON object).
///
/// Thread safety: a node is used by one thread; the keyring is shared and const.
/// Errors: validate() throws sluice::config_error for a missing keyring, a frame length out of
/// 1..2^31 and context keys starting with `aws-crypto-` or `sluice:` (reserved).
/// Allocation: one cipher context per node, reused; the output is written into a buffer that
/// is swapped with the object's body, so buffers circulate instead of being allocated.
/// @code
///   auto keys = std::make_shared<crypto::local_keyring>("keys.json");
///   auto p = connector::files{.root = "/data/in"}
///          | format::jsonl{}
///          | codec::zstd{.level = 3}
///          | crypto::envelope{.keyring = keys, .context = {{"tenant", "acme"}}}
///          | store::local{.root = "./lake"};
/// @endcode
struct envelope {
  using stage_concept = stage_tag;
  using input_type = object;
  using output_type = object;

  /// Wraps each object's data key. Required.
  std::shared_ptr<const crypto::keyring> keyring;
  /// 0x0478 (default) or 0x0578 (signed).
  crypto::suite suite = crypto::suite::committing;
  /// Plaintext bytes per frame: 1..2^31.
  std::uint64_t frame_length = 256 * 1024;
  /// Extra encryption-context pairs for every object.
  std::map<std::string, std::string> context;

  /// Throws sluice::config_error when the configuration is invalid (see the class comment).
  SLUICE_DECL void validate() const;

  template <class Next>
  class node {
   public:
    template <class MakeNext>
    node(const envelope& config, MakeNext&& make_next)
        : keyring_(config.keyring), extra_(config.context), next_(make_next()) {
      options_.suite = config.suite;
      options_.frame_length = config.frame_length;
    }

    void push(object&& o) {
      options_.context = extra_;
      options_.context["sluice:stream"] = o.stream;
      if (!o.partition.empty()) options_.context["sluice:partition"] = o.partition;
      options_.context["sluice:records"] = std::to_string(o.record_count);
      encryptor_.encrypt(*keyring_, o.body, out_, options_);
      o.body.swap(out_);
      o.encryption = "aws-encryption-sdk";
      o.metadata["encryption-suite"] = to_string(options_.suite);
      o.metadata["encryption-key"] = encryptor_.last_key_id();
      o.metadata["frame-length"] = std::to_string(options_.frame_length);
      o.metadata["encryption-context"] = context_json(encryptor_.last_context());
      next_.push(std::move(o));
    }
    void flush() { next_.flush(); }
    void tick() { next_.tick(); }

   private:
    // Copies of the configuration: the node may outlive the pipeline value it was opened from.
    std::shared_ptr<const crypto::keyring> keyring_;
    std::map<std::string, std::string> extra_;
    encryptor encryptor_;
    encrypt_options options_;
    std::string out_;
    Next next_;
  };

  template <class MakeNext>
  auto open(run_context&, MakeNext&& make_next) const {
    return node<decltype(make_next())>(*this, make_next);
  }

  /// A context as a JSON object (keys sorted), for object metadata.
  SLUICE_DECL static std::string context_json(const std::map<std::string, std::string>& context);
};

}  // namespace sluice::crypto

// Definitions: here unless SLUICE_SEPARATE_COMPILATION is set, then in the one translation unit
// that defines SLUICE_SOURCE before including this header.
#if !defined(SLUICE_SEPARATE_COMPILATION) || defined(SLUICE_SOURCE)
#include <sluice/crypto/impl/envelope.hpp>
#endif
