// SPDX-License-Identifier: Apache-2.0
#pragma once
// Reading objects of a lake back: undo encryption, then each content encoding in reverse order.
#include <sluice/codec/gzip.hpp>
#include <sluice/codec/zstd.hpp>
#include <sluice/crypto/envelope.hpp>
#include <sluice/crypto/keyring.hpp>
#include <sluice/store/local.hpp>

#include <map>
#include <memory>
#include <string>

namespace sluice_cli {

/// Turns stored bytes back into the format's bytes (JSON Lines, CSV). Keeps its contexts and
/// buffers across objects.
class object_decoder {
 public:
  explicit object_decoder(std::shared_ptr<const sluice::crypto::keyring> keyring) : keyring_(std::move(keyring)) {}

  /// Decodes `o` into `out`. Errors: a clear message in `why` naming the key and the step.
  sluice::error_code decode(const sluice::store::stored_object& o, std::string& out, std::string& why) {
    const std::string& key = o.info.key;
    std::string current = o.body;
    if (!o.info.encryption.empty()) {
      if (o.info.encryption != "aws-encryption-sdk") {
        why = key + ": unknown encryption `" + o.info.encryption + "`";
        return make_error_code(sluice::errc::unsupported_format);
      }
      if (!keyring_) {
        why = key + ": encrypted (key " + value_or(o.info.metadata, "encryption-key", "?") +
              "): give the keyring with --keyring FILE";
        return make_error_code(sluice::errc::key_not_found);
      }
      std::string reason;
      if (auto ec = decryptor_.decrypt(*keyring_, current, scratch_, nullptr, reason)) {
        why = key + ": decrypting: " + reason;
        return ec;
      }
      current.swap(scratch_);
    }
    for (auto it = o.info.content_encoding.rbegin(); it != o.info.content_encoding.rend(); ++it) {
      std::string reason;
      sluice::error_code ec;
      if (*it == "zstd") {
        ec = zstd_.decompress(current, scratch_, &reason);
      } else if (*it == "gzip") {
        ec = gzip_.decompress(current, scratch_, &reason);
      } else {
        why = key + ": unknown content encoding `" + *it + "`";
        return make_error_code(sluice::errc::unsupported_format);
      }
      if (ec) {
        why = key + ": " + *it + " decoding: " + reason;
        return ec;
      }
      current.swap(scratch_);
    }
    out.swap(current);
    return {};
  }

 private:
  static std::string value_or(const std::map<std::string, std::string>& m, const std::string& k, std::string fallback) {
    auto it = m.find(k);
    return it == m.end() ? fallback : it->second;
  }
  std::shared_ptr<const sluice::crypto::keyring> keyring_;
  sluice::crypto::decryptor decryptor_;
  sluice::codec::zstd_decompressor zstd_;
  sluice::codec::gzip_decompressor gzip_;
  std::string scratch_;
};

}  // namespace sluice_cli
