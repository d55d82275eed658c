// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/error.hpp>
#include <sluice/crypto/detail/openssl.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::crypto {

/// A 256-bit data key: the key each message is encrypted under (through HKDF). Wiped when it
/// goes out of scope.
using data_key = detail::secret<32>;

/// A 256-bit AES key-wrapping key held by a keyring. Wiped when it goes out of scope.
using wrapping_key = detail::secret<32>;

/// One wrapped copy of a message's data key, as stored in the message header
/// (framework/structures.md of the ESDK specification).
struct encrypted_data_key {
  /// Who can unwrap it: the key namespace for raw AES keys.
  std::string provider_id;
  /// Which key and how: for raw AES, key name ‖ u32 tag bits ‖ u32 IV length ‖ IV.
  std::string provider_info;
  /// The wrapped data key followed by its authentication tag.
  std::string ciphertext;
};

/// Wraps and unwraps message data keys: the key-management half of envelope encryption. Called
/// once per message, never per record, so a virtual interface costs nothing measurable.
///
/// Thread safety: every member is const and safe to call from several threads at once (a
/// keyring is shared by the workers of a pipeline).
/// Errors: `wrap` throws only on resource failures; `unwrap` reports errc::key_not_found when
/// no encrypted data key names a key it holds, and errc::authentication_failed when one does but
/// does not decrypt (wrong key material, or an altered encryption context), with a reason that
/// names the key as `namespace/name`.
class keyring {
 public:
  virtual ~keyring() = default;

  /// Wraps `key` for storage in a header whose serialised encryption context (without its
  /// 2-byte length prefix; empty for an empty context) is `serialized_context`; the context is
  /// authenticated with the key.
  [[nodiscard]] virtual encrypted_data_key wrap(const data_key& key, std::string_view serialized_context) const = 0;

  /// The `namespace/name` of the key that wrap() uses, for object metadata.
  [[nodiscard]] virtual std::string key_id() const = 0;

  /// Unwraps the first encrypted data key this keyring can decrypt. On failure `ec` is set and
  /// `reason` says which keys were looked for and why none worked.
  [[nodiscard]] data_key unwrap(std::span<const encrypted_data_key> edks, std::string_view serialized_context,
                                error_code& ec, std::string& reason) const {
    ec = {};
    reason.clear();
    return do_unwrap(edks, serialized_context, ec, reason);
  }
  /// As above, without the reason.
  [[nodiscard]] data_key unwrap(std::span<const encrypted_data_key> edks, std::string_view serialized_context,
                                error_code& ec) const {
    std::string reason;
    return unwrap(edks, serialized_context, ec, reason);
  }
  /// Throwing twin: sluice::error with the reason.
  [[nodiscard]] data_key unwrap(std::span<const encrypted_data_key> edks, std::string_view serialized_context) const {
    error_code ec;
    std::string reason;
    data_key key = unwrap(edks, serialized_context, ec, reason);
    throw_if(ec, "unwrapping the data key: " + reason);
    return key;
  }

 private:
  virtual data_key do_unwrap(std::span<const encrypted_data_key> edks, std::string_view serialized_context,
                             error_code& ec, std::string& reason) const = 0;
};

/// The raw AES keyring of the AWS Encryption SDK (framework/raw-aes-keyring.md) with one
/// AES-256 wrapping key: messages it writes are read by the SDK's `RawAesKeyringNode` with the
/// same namespace, name and key, and the other way round.
///
/// The wrapped key is AES-256-GCM(wrapping key, random 12-byte IV, AAD = serialised context)
/// ‖ tag; the provider info is key name ‖ u32 128 (tag bits) ‖ u32 12 (IV bytes) ‖ IV.
/// @code
///   auto keys = std::make_shared<crypto::raw_aes_keyring>("lake", "key-1", key_bytes);
///   auto tail = format::jsonl{} | crypto::envelope{.keyring = keys};
/// @endcode
class raw_aes_keyring final : public keyring {
 public:
  /// Errors: sluice::config_error when the key is not 32 bytes or a name is empty.
  SLUICE_DECL raw_aes_keyring(std::string key_namespace, std::string key_name, std::span<const std::uint8_t> key);
  /// The key as 64 hex characters. Errors: sluice::config_error when it is not.
  SLUICE_DECL static raw_aes_keyring from_hex(std::string key_namespace, std::string key_name, std::string_view hex);

  [[nodiscard]] SLUICE_DECL encrypted_data_key wrap(const data_key& key,
                                                    std::string_view serialized_context) const override;
  [[nodiscard]] std::string key_id() const override { return namespace_ + "/" + name_; }
  [[nodiscard]] const std::string& key_namespace() const noexcept { return namespace_; }
  [[nodiscard]] const std::string& key_name() const noexcept { return name_; }

 private:
  SLUICE_DECL data_key do_unwrap(std::span<const encrypted_data_key> edks, std::string_view serialized_context,
                                 error_code& ec, std::string& reason) const override;

  std::string namespace_;
  std::string name_;
  wrapping_key key_;
};

/// A keyring kept in a local JSON file, with key rotation: it wraps with the current key and
/// unwraps with any key it holds, so messages written before a rotation stay readable.
///
/// File format (mode 0600; keys are 64 hex characters, i.e. AES-256):
/// @code
///   {"namespace": "lake", "current": "key-2",
///    "keys": {"key-1": "00112233...", "key-2": "8899aabb..."}}
/// @endcode
/// Each key is a raw AES key of the ESDK with that namespace and name, so the SDK reads what
/// this keyring writes with `RawAesKeyringNode({keyNamespace, keyName, unencryptedMasterKey})`.
///
/// Errors: loading throws sluice::config_error naming the file and the field (missing
/// `current`, a key that is not 64 hex characters, a current key not in `keys`, JSON syntax
/// with its line and column), or sluice::error(errc::io_failure) when the file cannot be read.
/// @code
///   crypto::local_keyring::create("keys.json", "lake");          // once: a random key-1
///   crypto::local_keyring::rotate("keys.json");                   // later: key-2 is current
///   auto keys = std::make_shared<crypto::local_keyring>("keys.json");
/// @endcode
class local_keyring final : public keyring {
 public:
  /// Loads a keyring file (see the class comment for errors).
  SLUICE_DECL explicit local_keyring(const std::filesystem::path& file);
  /// An in-memory keyring. Errors: sluice::config_error when `current` is not in `keys`.
  SLUICE_DECL local_keyring(std::string key_namespace, std::string current, std::map<std::string, wrapping_key> keys);

  /// Writes a new keyring file with one random key named `key_name` (mode 0600). Errors:
  /// sluice::error(errc::io_failure) when the file exists or cannot be written.
  SLUICE_DECL static void create(const std::filesystem::path& file, std::string_view key_namespace,
                                 std::string_view key_name = "key-1");
  /// Adds a random key to the file and makes it current; old keys stay for decryption. The
  /// file is replaced atomically (a temporary file renamed over it). Returns the new key's
  /// name: `new_name` or, when empty, `key-N` with the first unused N > number of keys.
  /// Errors: as loading; sluice::config_error when `new_name` already exists.
  SLUICE_DECL static std::string rotate(const std::filesystem::path& file, std::string_view new_name = {});

  [[nodiscard]] SLUICE_DECL encrypted_data_key wrap(const data_key& key,
                                                    std::string_view serialized_context) const override;
  [[nodiscard]] std::string key_id() const override { return namespace_ + "/" + current_; }
  [[nodiscard]] const std::string& key_namespace() const noexcept { return namespace_; }
  [[nodiscard]] const std::string& current() const noexcept { return current_; }
  /// The key names, in order.
  [[nodiscard]] SLUICE_DECL std::vector<std::string> key_names() const;

 private:
  SLUICE_DECL data_key do_unwrap(std::span<const encrypted_data_key> edks, std::string_view serialized_context,
                                 error_code& ec, std::string& reason) const override;
  SLUICE_DECL void save(const std::filesystem::path& file) const;

  std::string namespace_;
  std::string current_;
  std::map<std::string, wrapping_key> keys_;
};

}  // namespace sluice::crypto

// Definitions: here unless SLUICE_SEPARATE_COMPILATION is set, then in the one translation unit
// that defines SLUICE_SOURCE before including this header.
#if !defined(SLUICE_SEPARATE_COMPILATION) || defined(SLUICE_SOURCE)
#include <sluice/crypto/impl/keyring.hpp>
#endif
