// SPDX-License-Identifier: Apache-2.0
#pragma once
// Definitions for keyring.hpp.
#include <sluice/crypto/detail/esdk_format.hpp>
#include <sluice/crypto/detail/openssl.hpp>

#include <boost/json.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

namespace sluice::crypto {
namespace detail {

inline constexpr std::uint32_t raw_aes_tag_bits = 128;
inline constexpr std::size_t raw_aes_info_trailer = 4 + 4 + aes_gcm::iv_size;

/// Raw AES keyring wrap (framework/raw-aes-keyring.md, OnEncrypt).
SLUICE_DECL encrypted_data_key raw_aes_wrap(const wrapping_key& key, std::string_view key_namespace,
                                            std::string_view key_name, const data_key& plain,
                                            std::string_view serialized_context) {
  encrypted_data_key edk;
  edk.provider_id = key_namespace;
  std::uint8_t iv[aes_gcm::iv_size];
  random_bytes(iv);
  edk.provider_info.reserve(key_name.size() + raw_aes_info_trailer);
  edk.provider_info = key_name;
  put_u32(edk.provider_info, raw_aes_tag_bits);
  put_u32(edk.provider_info, static_cast<std::uint32_t>(aes_gcm::iv_size));
  edk.provider_info.append(reinterpret_cast<const char*>(iv), sizeof iv);
  edk.ciphertext.resize(plain.size() + aes_gcm::tag_size);
  auto* out = uc(edk.ciphertext.data());
  aes_gcm gcm;
  gcm.set_key(key.data(), true);
  gcm.seal(iv, {uc(serialized_context.data()), serialized_context.size()}, plain.data(), plain.size(), out,
           out + plain.size());
  return edk;
}

/// Raw AES keyring unwrap (OnDecrypt) over the keys `find(name)` returns (nullptr: not held).
/// `held` describes the keyring's keys for the key_not_found message.
template <class Find>
data_key raw_aes_unwrap(std::span<const encrypted_data_key> edks, std::string_view serialized_context,
                        std::string_view key_namespace, Find&& find, const std::string& held, error_code& ec,
                        std::string& reason) {
  data_key out;
  std::string seen, failed;
  std::optional<aes_gcm> gcm;
  for (const encrypted_data_key& edk : edks) {
    std::string_view info = edk.provider_info;
    std::string_view name = info.size() >= raw_aes_info_trailer ? info.substr(0, info.size() - raw_aes_info_trailer)
                                                                 : std::string_view{};
    if (!seen.empty()) seen += ", ";
    seen += edk.provider_id;
    seen += '/';
    seen += name.empty() ? std::string_view("?") : name;
    if (edk.provider_id != key_namespace || name.empty()) continue;
    const auto* trailer = uc(info.data()) + name.size();
    if (load_u32(trailer) != raw_aes_tag_bits || load_u32(trailer + 4) != aes_gcm::iv_size ||
        edk.ciphertext.size() != out.size() + aes_gcm::tag_size)
      continue;
    const wrapping_key* key = find(name);
    if (key == nullptr) continue;
    if (!gcm) gcm.emplace();
    gcm->set_key(key->data(), false);
    const auto* ct = uc(edk.ciphertext.data());
    if (gcm->open(trailer + 8, {uc(serialized_context.data()), serialized_context.size()}, ct, out.size(),
                  ct + out.size(), out.data()))
      return out;
    if (!failed.empty()) failed += ", ";
    failed += std::string(key_namespace) + "/" + std::string(name);
  }
  out = data_key{};
  if (!failed.empty()) {
    ec = make_error_code(errc::authentication_failed);
    reason = "the encrypted data key for " + failed +
             " does not decrypt with the keyring's key of that name (wrong key material, or the message's "
             "encryption context was altered)";
  } else {
    ec = make_error_code(errc::key_not_found);
    reason = "the message's data key is wrapped for " + (seen.empty() ? std::string("no key") : seen) +
             "; the keyring holds " + held;
  }
  return out;
}

inline std::string describe_keys(std::string_view key_namespace, const std::vector<std::string_view>& names) {
  std::string s;
  for (std::string_view n : names) {
    if (!s.empty()) s += ", ";
    s += key_namespace;
    s += '/';
    s += n;
  }
  return s;
}

/// Line and column (1-based) of a byte offset, for JSON syntax errors.
inline std::string line_column(std::string_view text, std::size_t offset) {
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

/// Writes `data` to `file` with mode 0600; `exclusive` refuses an existing file. Returns the
/// errno of the failure (0 on success).
inline int write_private_file(const std::filesystem::path& file, std::string_view data, bool exclusive) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC), 0600);
  if (fd < 0) return errno;
  // An existing file (rotation's temporary) keeps its mode through O_TRUNC: force 0600.
  if (::fchmod(fd, 0600) != 0) {
    int e = errno;
    ::close(fd);
    return e;
  }
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return e;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  int e = ::fsync(fd) == 0 ? 0 : errno;
  if (::close(fd) != 0 && e == 0) e = errno;
  return e;
}

inline wrapping_key random_wrapping_key() {
  wrapping_key k;
  random_bytes(k.bytes);
  return k;
}

}  // namespace detail

// ---- raw_aes_keyring --------------------------------------------------------------------------

SLUICE_DECL raw_aes_keyring::raw_aes_keyring(std::string key_namespace, std::string key_name,
                                             std::span<const std::uint8_t> key)
    : namespace_(std::move(key_namespace)), name_(std::move(key_name)) {
  if (namespace_.empty() || namespace_.size() > 0xFFFF)
    throw config_error("crypto::raw_aes_keyring.key_namespace = \"" + namespace_ + "\": must be 1..65535 bytes");
  if (name_.empty() || name_.size() > 0xFFFF - detail::raw_aes_info_trailer)
    throw config_error("crypto::raw_aes_keyring.key_name = \"" + name_ + "\": must be 1..65515 bytes");
  if (key.size() != key_.size())
    throw config_error("crypto::raw_aes_keyring(" + namespace_ + "/" + name_ + ").key: " +
                       std::to_string(key.size()) + " bytes: must be 32 bytes (AES-256)");
  std::memcpy(key_.data(), key.data(), key_.size());
}

SLUICE_DECL raw_aes_keyring raw_aes_keyring::from_hex(std::string key_namespace, std::string key_name,
                                                      std::string_view hex) {
  wrapping_key k;
  if (!detail::hex_decode(hex, k.bytes))
    throw config_error("crypto::raw_aes_keyring(" + key_namespace + "/" + key_name + ").key: " +
                       std::to_string(hex.size()) + " characters: must be 64 hex characters (32 bytes)");
  return raw_aes_keyring(std::move(key_namespace), std::move(key_name), k.bytes);
}

SLUICE_DECL encrypted_data_key raw_aes_keyring::wrap(const data_key& key, std::string_view serialized_context) const {
  return detail::raw_aes_wrap(key_, namespace_, name_, key, serialized_context);
}

SLUICE_DECL data_key raw_aes_keyring::do_unwrap(std::span<const encrypted_data_key> edks,
                                                std::string_view serialized_context, error_code& ec,
                                                std::string& reason) const {
  return detail::raw_aes_unwrap(
      edks, serialized_context, namespace_,
      [this](std::string_view name) { return name == name_ ? &key_ : nullptr; }, key_id(), ec, reason);
}

// ---- local_keyring ----------------------------------------------------------------------------

SLUICE_DECL local_keyring::local_keyring(std::string key_namespace, std::string current,
                                         std::map<std::string, wrapping_key> keys)
    : namespace_(std::move(key_namespace)), current_(std::move(current)), keys_(std::move(keys)) {
  if (namespace_.empty() || namespace_.size() > 0xFFFF)
    throw config_error("crypto::local_keyring.namespace = \"" + namespace_ + "\": must be 1..65535 bytes");
  for (const auto& [name, key] : keys_)
    if (name.empty() || name.size() > 0xFFFF - detail::raw_aes_info_trailer)
      throw config_error("crypto::local_keyring.keys: key name \"" + name + "\": must be 1..65515 bytes");
  if (keys_.find(current_) == keys_.end())
    throw config_error("crypto::local_keyring.current = \"" + current_ + "\": not one of the keys (" +
                       detail::describe_keys(namespace_, [&] {
                         std::vector<std::string_view> v;
                         for (const auto& kv : keys_) v.push_back(kv.first);
                         return v;
                       }()) +
                       ")");
}

SLUICE_DECL local_keyring::local_keyring(const std::filesystem::path& file) {
  const std::string where = "crypto::local_keyring: " + file.string();
  std::string text;
  {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw error(make_error_code(errc::io_failure), where + ": cannot open: " + std::strerror(errno));
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw error(make_error_code(errc::io_failure), where + ": read failed");
    text = std::move(ss).str();
  }
  boost::json::stream_parser parser;
  error_code ec;
  std::size_t used = parser.write(text.data(), text.size(), ec);
  if (!ec) parser.finish(ec);
  if (ec)
    throw config_error(where + ": not valid JSON at " + detail::line_column(text, used) + " (byte " +
                       std::to_string(used) + "): " + ec.message());
  boost::json::value doc = parser.release();
  const boost::json::object* root = doc.if_object();
  if (root == nullptr) throw config_error(where + ": must hold a JSON object {\"namespace\", \"current\", \"keys\"}");
  for (const auto& kv : *root)
    if (kv.key() != "namespace" && kv.key() != "current" && kv.key() != "keys")
      throw config_error(where + ": field `" + std::string(kv.key()) +
                         "`: unknown (expected `namespace`, `current`, `keys`)");
  auto string_field = [&](const char* name) {
    const boost::json::value* v = root->if_contains(name);
    if (v == nullptr) throw config_error(where + ": field `" + name + "`: missing");
    if (!v->is_string()) throw config_error(where + ": field `" + name + "`: must be a string");
    if (v->get_string().empty()) throw config_error(where + ": field `" + name + "`: must not be empty");
    return std::string(v->get_string());
  };
  namespace_ = string_field("namespace");
  current_ = string_field("current");
  const boost::json::value* keys = root->if_contains("keys");
  if (keys == nullptr) throw config_error(where + ": field `keys`: missing");
  if (!keys->is_object() || keys->get_object().empty())
    throw config_error(where + ": field `keys`: must be an object of key name -> 64 hex characters, with at least one key");
  for (const auto& kv : keys->get_object()) {
    std::string name(kv.key());
    std::string field = where + ": field `keys." + name + "`: ";
    if (!kv.value().is_string()) throw config_error(field + "must be a string of 64 hex characters");
    std::string_view hex = kv.value().get_string();
    wrapping_key k;
    if (!detail::hex_decode(hex, k.bytes))
      throw config_error(field + "must be 64 hex characters (a 32-byte AES-256 key), got " +
                         std::to_string(hex.size()) + " characters" +
                         (hex.size() == 64 ? " with a non-hex character" : ""));
    keys_.emplace(std::move(name), k);
  }
  if (keys_.find(current_) == keys_.end()) {
    std::vector<std::string_view> names;
    for (const auto& kv : keys_) names.push_back(kv.first);
    throw config_error(where + ": field `current` = \"" + current_ + "\": not one of the keys (" +
                       detail::describe_keys(namespace_, names) + ")");
  }
}

SLUICE_DECL std::vector<std::string> local_keyring::key_names() const {
  std::vector<std::string> v;
  for (const auto& kv : keys_) v.push_back(kv.first);
  return v;
}

SLUICE_DECL void local_keyring::save(const std::filesystem::path& file) const {
  auto quoted = [](std::string_view s) { return boost::json::serialize(boost::json::string(s)); };
  std::string text = "{\n  \"namespace\": " + quoted(namespace_) + ",\n  \"current\": " + quoted(current_) +
                     ",\n  \"keys\": {";
  bool first = true;
  for (const auto& [name, key] : keys_) {
    text += first ? "\n    " : ",\n    ";
    first = false;
    text += quoted(name) + ": \"" + detail::hex_encode(key.bytes) + "\"";
  }
  text += "\n  }\n}\n";
  std::filesystem::path tmp = file;
  tmp += ".tmp";
  int e = detail::write_private_file(tmp, text, false);
  OPENSSL_cleanse(text.data(), text.size());
  if (e != 0)
    throw error(make_error_code(errc::io_failure),
                "crypto::local_keyring: writing " + tmp.string() + ": " + std::strerror(e));
  std::error_code fs_ec;
  std::filesystem::rename(tmp, file, fs_ec);
  if (fs_ec)
    throw error(make_error_code(errc::io_failure),
                "crypto::local_keyring: renaming " + tmp.string() + " to " + file.string() + ": " + fs_ec.message());
}

SLUICE_DECL void local_keyring::create(const std::filesystem::path& file, std::string_view key_namespace,
                                       std::string_view key_name) {
  std::map<std::string, wrapping_key> keys;
  keys.emplace(std::string(key_name), detail::random_wrapping_key());
  local_keyring ring(std::string(key_namespace), std::string(key_name), std::move(keys));
  // Refuse to overwrite: an existing keyring file holds keys that old objects need.
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    throw error(make_error_code(errc::io_failure),
                "crypto::local_keyring::create: " + file.string() + ": " + std::strerror(errno));
  ::close(fd);
  ring.save(file);
}

SLUICE_DECL std::string local_keyring::rotate(const std::filesystem::path& file, std::string_view new_name) {
  local_keyring ring(file);
  std::string name(new_name);
  if (name.empty()) {
    for (std::size_t n = ring.keys_.size() + 1;; ++n) {
      name = "key-" + std::to_string(n);
      if (ring.keys_.find(name) == ring.keys_.end()) break;
    }
  } else if (ring.keys_.find(name) != ring.keys_.end()) {
    throw config_error("crypto::local_keyring::rotate: " + file.string() + ": key `" + name +
                       "` already exists; pick a new name");
  }
  ring.keys_.emplace(name, detail::random_wrapping_key());
  ring.current_ = name;
  ring.save(file);
  return name;
}

SLUICE_DECL encrypted_data_key local_keyring::wrap(const data_key& key, std::string_view serialized_context) const {
  return detail::raw_aes_wrap(keys_.at(current_), namespace_, current_, key, serialized_context);
}

SLUICE_DECL data_key local_keyring::do_unwrap(std::span<const encrypted_data_key> edks,
                                              std::string_view serialized_context, error_code& ec,
                                              std::string& reason) const {
  std::vector<std::string_view> names;
  for (const auto& kv : keys_) names.push_back(kv.first);
  return detail::raw_aes_unwrap(
      edks, serialized_context, namespace_,
      [this](std::string_view name) -> const wrapping_key* {
        auto it = keys_.find(std::string(name));
        return it == keys_.end() ? nullptr : &it->second;
      },
      detail::describe_keys(namespace_, names), ec, reason);
}

}  // namespace sluice::crypto
