// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/concepts.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/object.hpp>
#include <sluice/core/pipeline.hpp>
#include <sluice/core/recycler.hpp>
#include <sluice/crypto/detail/esdk_format.hpp>
#include <sluice/crypto/detail/openssl.hpp>
#include <sluice/crypto/keyring.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

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

/// Writes AWS Encryption SDK messages (format version 2, framed), whole or as they arrive in
/// pieces, and keeps its cipher, KDF and signing contexts for reuse, so encrypting many messages
/// allocates nothing per frame and sets each AES key schedule once per message.
///
/// A message in pieces: `begin` opens it (fresh data key, message id, header); each `write`
/// puts the next bytes of the message in `out`: the header the first time, then every complete
/// frame the plaintext so far fills; `finish` puts the rest: complete frames, the final frame and,
/// for 0x0578, the footer signature. An encryptor holds one open message; to keep several open
/// at once (one per object), use one encryptor each.
/// @code
///   crypto::encryptor e;
///   e.begin(keys, {.frame_length = 4096});
///   e.write(part1, out);  upload(out);   // header + the complete frames of part1
///   e.write(part2, out);  upload(out);   // may be empty: less than a frame is waiting
///   e.finish(part3, out); upload(out);   // the rest, the final frame, the footer
/// @endcode
/// The final frame holds the last 1..frame_length bytes of what `finish` completes; it is empty
/// only when nothing is left, i.e. the message is empty or `finish` gets no bytes after writes
/// that ended on a frame boundary (client-apis/encrypt.md allows both; the SDKs read both).
///
/// Thread safety: one thread at a time; use one encryptor per thread.
/// Errors: begin() throws sluice::config_error for invalid options (frame length, reserved
/// context keys) and sluice::error(errc::record_too_large) when the context is over 64 KiB;
/// write() and finish() throw sluice::error(errc::record_too_large) when the message would need
/// more than 2^32 - 2 frames, and std::logic_error when no message is open (after an exception
/// the message is abandoned: begin again). OpenSSL failures throw std::runtime_error.
/// Allocation: `out` (whose content is replaced) is resized only when it is smaller than what is
/// written, so a buffer reused from call to call is not zero-filled again. Plaintext waiting for
/// its frame is copied (less than frame_length bytes per message); frames the input fills are
/// sealed straight from it.
class encryptor {
 public:
  SLUICE_DECL encryptor();
  /// Encrypts `plaintext` into `message` (replacing its content) under a fresh data key that
  /// `ring` wraps: begin(), then finish(plaintext). A message left open is abandoned.
  SLUICE_DECL void encrypt(const keyring& ring, std::string_view plaintext, std::string& message,
                           const encrypt_options& options);

  /// Opens a message: draws a data key and message id, has `ring` wrap the key, and prepares the
  /// header, which the next write() or finish() outputs first. A message left open is abandoned.
  SLUICE_DECL void begin(const keyring& ring, const encrypt_options& options);
  /// Replaces `out` with the next bytes of the open message for `plaintext`: the header if not
  /// yet output, then every frame now complete (exactly frame_length bytes each). Less than a
  /// frame stays in the encryptor until more comes. `plaintext` must not overlap `out`.
  SLUICE_DECL void write(std::string_view plaintext, std::string& out);
  /// Replaces `out` with the rest of the message given its last bytes `plaintext` (may be
  /// empty): the header if not yet output, the frames, the final frame and the footer (0x0578).
  /// The message is then closed. `plaintext` must not overlap `out`.
  SLUICE_DECL void finish(std::string_view plaintext, std::string& out);

  /// Whether a message is open (begun and not finished).
  [[nodiscard]] bool is_open() const noexcept { return open_; }
  /// Plaintext bytes of the open message waiting for their frame: always less than frame_length.
  [[nodiscard]] std::size_t buffered() const noexcept { return partial_.size(); }
  /// The encryption context of the message begun last, with `aws-crypto-public-key` for 0x0578.
  [[nodiscard]] const std::map<std::string, std::string>& last_context() const noexcept { return context_; }
  /// The key id (`namespace/name`) that wrapped the data key of the message begun last.
  [[nodiscard]] const std::string& last_key_id() const noexcept { return key_id_; }

 private:
  // Writes the header if pending, the frames `plaintext` completes and, when `last`, the final
  // frame and footer; the one routine behind write(), finish() and encrypt().
  SLUICE_DECL void emit(std::string_view plaintext, std::string& out, bool last);

  detail::aes_gcm gcm_;
  detail::hkdf_sha512 hkdf_;
  detail::pkey_ctx_ptr keygen_;
  detail::md_ctx_ptr sign_;
  detail::pkey_ptr signing_;
  std::map<std::string, std::string> context_;
  std::string serialized_context_;
  std::string header_;   // header body and its authentication tag, until output
  std::string partial_;  // plaintext of the frame being filled (< frame_length_)
  std::string key_id_;
  std::array<std::uint8_t, detail::message_id_size> message_id_{};
  std::uint64_t frame_length_ = 0;
  std::uint32_t sequence_ = 0;  // of the next frame
  bool signed_ = false;
  bool header_pending_ = false;
  bool open_ = false;
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
/// A streamed object (object_piece) is one message: its first piece opens the message and
/// carries the header and the frames its bytes fill, each middle piece the frames completed so
/// far (possibly none: its body is then empty), the last piece the rest, the final frame and the
/// footer. The pieces' bodies, concatenated, are the object's message. Pieces of different
/// objects may interleave.
///
/// The encryption context holds `context` plus `sluice:stream` and `sluice:partition` (when the
/// object is partitioned); it is authenticated and readable without the key. It holds nothing
/// known only at the end of an object (a record count), since a streamed object's header is
/// written first. Every object and piece gets `encryption = "aws-encryption-sdk"` and metadata
/// `encryption-suite` (`0x0478`), `encryption-key` (`namespace/name`), `frame-length` and
/// `encryption-context` (the context as a JSON object).
///
/// Thread safety: a node is used by one thread; the keyring is shared and const.
/// Errors: validate() throws sluice::config_error for a missing keyring, a frame length out of
/// 1..2^31 and context keys starting with `aws-crypto-` or `sluice:` (reserved). push() throws
/// std::logic_error for pieces out of protocol (a later piece of an object whose first piece
/// did not come, or a second first piece); the object's message is then abandoned.
/// Allocation: one cipher context per open message, reused by later objects; the output is
/// written into a buffer that is swapped with the object's body, so buffers circulate instead of
/// being allocated. Memory per open object: less than `frame_length` of plaintext.
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
      const object_piece piece = o.piece;
      encryptor* e = &whole_;
      auto it = open_.end();
      if (!piece.whole()) {
        it = open_.find(piece.object_id);
        if (piece.first != (it == open_.end())) {
          if (it != open_.end()) open_.erase(it);
          throw std::logic_error("crypto::envelope: object " + std::to_string(piece.object_id) +
                                 (piece.first ? ": a first piece came while its message was open"
                                              : ": a piece came before its first piece"));
        }
        if (piece.first) it = open_.emplace(piece.object_id, spare()).first;
        e = it->second.get();
      }
      try {
        if (piece.first) {
          options_.context = extra_;
          options_.context["sluice:stream"] = o.stream;
          if (!o.partition.empty()) options_.context["sluice:partition"] = o.partition;
          e->begin(*keyring_, options_);
        }
        // The message is a little larger than its plaintext; the encryptor grows `out` if need be.
        std::string& out = out_.with_room_for(o.body.size());
        if (piece.last)
          e->finish(o.body, out);
        else
          e->write(o.body, out);
      } catch (...) {
        if (it != open_.end()) open_.erase(it);
        throw;
      }
      o.body.swap(out_.get());
      o.encryption = "aws-encryption-sdk";
      o.metadata["encryption-suite"] = to_string(options_.suite);
      o.metadata["encryption-key"] = e->last_key_id();
      o.metadata["frame-length"] = std::to_string(options_.frame_length);
      o.metadata["encryption-context"] = context_json(e->last_context());
      if (it != open_.end() && piece.last) {
        idle_.push_back(std::move(it->second));
        open_.erase(it);
      }
      next_.push(std::move(o));
    }
    // Messages still open stay open: the pipeline drains by sending their last pieces.
    void flush() { next_.flush(); }
    void tick() { next_.tick(); }

    /// Messages open now (streamed objects whose last piece has not come).
    [[nodiscard]] std::size_t open_messages() const noexcept { return open_.size(); }

   private:
    // An encryptor for a new streamed object: one a finished object left, else a new one.
    std::unique_ptr<encryptor> spare() {
      if (idle_.empty()) return std::make_unique<encryptor>();
      auto e = std::move(idle_.back());
      idle_.pop_back();
      return e;
    }

    // Copies of the configuration: the node may outlive the pipeline value it was opened from.
    std::shared_ptr<const crypto::keyring> keyring_;
    std::map<std::string, std::string> extra_;
    encryptor whole_;
    // One encryptor per streamed object whose message is open, by object_id; finished ones
    // wait in idle_ for the next object, so contexts are made once per concurrently open object.
    std::unordered_map<std::uint64_t, std::unique_ptr<encryptor>> open_;
    std::vector<std::unique_ptr<encryptor>> idle_;
    encrypt_options options_;
    spare_buffer out_;
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
