// SPDX-License-Identifier: Apache-2.0
#pragma once
// Reading a lake back: choosing its objects in a local folder or under an s3:// prefix, and
// decoding each (undo encryption, then each content encoding in reverse order).
#include <sluice/codec/gzip.hpp>
#include <sluice/codec/zstd.hpp>
#include <sluice/crypto/envelope.hpp>
#include <sluice/crypto/keyring.hpp>
#include <sluice/store/local.hpp>
#ifdef SLUICE_HAS_S3
#include <sluice/store/s3_reader.hpp>
#endif

#include <filesystem>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice_cli {

/// The objects of a lake to read and the reader to read them with: every complete object under
/// a prefix, or the one object the path names. `Reader` is store::local_reader or
/// store::s3_reader, which have the same members, so `sluice cat` and `verify` are written once.
template <class Reader>
struct selection {
  Reader reader;
  /// Relative to the reader's folder or `s3://bucket/prefix/`.
  std::vector<std::string> keys;
};

/// A local folder, or a file of one (its sidecar sits beside it, so its folder is the root).
inline selection<sluice::store::local_reader> select_local(const std::string& path, const std::string& prefix) {
  std::filesystem::path p(path);
  if (std::filesystem::is_regular_file(p)) {
    std::filesystem::path root = p.parent_path().empty() ? "." : p.parent_path();
    return {sluice::store::local_reader(root), {p.filename().string()}};
  }
  if (!std::filesystem::is_directory(p)) throw std::runtime_error(path + ": no such lake folder or object file");
  sluice::store::local_reader reader(p);
  auto keys = reader.list(prefix);
  return {std::move(reader), std::move(keys)};
}

#ifdef SLUICE_HAS_S3
/// `s3://bucket/prefix`: the objects under the prefix; `s3://bucket/prefix/KEY`: that one object
/// when an object has exactly that key (found with HeadObject). A url ending in '/' is always a
/// prefix. Connection settings come from the standard AWS environment. S3 has no folders, so a
/// prefix without objects cannot be told from a mistyped one: it is an error.
inline selection<sluice::store::s3_reader> select_s3(const std::string& url, const std::string& prefix) {
  auto where = sluice::store::s3_location::parse(url, "lake");
  sluice::store::s3_reader lake(url);
  if (!url.ends_with('/') && !where.prefix.empty()) {
    std::string key = where.prefix.substr(0, where.prefix.size() - 1);  // parse added the '/'
    if (lake.client().head_object(where.bucket, key)) {
      auto slash = key.rfind('/');
      std::string parent = "s3://" + where.bucket + "/" + (slash == std::string::npos ? "" : key.substr(0, slash + 1));
      return {sluice::store::s3_reader(parent), {key.substr(slash + 1)}};
    }
  }
  auto keys = lake.list(prefix);
  if (keys.empty())
    throw std::runtime_error("no objects under s3://" + where.bucket + "/" + where.prefix + prefix + " (" +
                             lake.client().endpoint() + ")");
  return {std::move(lake), std::move(keys)};
}
#endif

/// Opens the lake or object `where` (a path, or an s3:// url) and returns `f(selection)`.
template <class F>
auto with_lake(const std::string& where, const std::string& prefix, F&& f) {
  if (where.starts_with("s3://")) {
#ifdef SLUICE_HAS_S3
    auto s = select_s3(where, prefix);
    return f(s);
#else
    throw std::runtime_error(where + ": this sluice was built without S3 support (libcurl was not found)");
#endif
  }
  auto s = select_local(where, prefix);
  return f(s);
}

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
