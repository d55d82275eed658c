// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/crypto/checksum.hpp>
#include <sluice/store/local.hpp>
#include <sluice/store/s3.hpp>
#include <sluice/store/s3_client.hpp>
#include <sluice/store/sidecar.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace sluice::store {

/// Reads what store::s3 wrote, with the same members as local_reader: lists objects under the
/// url's prefix, reads an object with its facts (from its `x-amz-meta-*`), verifies size,
/// SHA-256 and CRC32C. What `sluice cat s3://…` and `sluice verify s3://…` use.
///
/// Keys are relative to the url's prefix, as local_reader's are relative to its root.
/// Errors: as local_reader's; request failures are s3_error naming bucket, key and code.
/// Thread safety: const members may be called from several threads.
class s3_reader : public basic_reader<s3_reader> {
 public:
  explicit s3_reader(std::string url, s3_connection connection = {},
                     const aws::environment_lookup& env = aws::process_environment)
      : where_(s3_location::parse(url, "s3_reader url")), url_(std::move(url)),
        client_(std::make_unique<s3_client>(std::move(connection), env)) {}

  [[nodiscard]] const std::string& url() const noexcept { return url_; }
  [[nodiscard]] s3_client& client() const noexcept { return *client_; }

  /// Where `key` is, for messages: `s3://bucket/prefix/key`.
  [[nodiscard]] std::string location(std::string_view key) const {
    return "s3://" + where_.bucket + "/" + where_.prefix + std::string(key);
  }

  /// Keys of the objects whose key starts with `prefix` (below the url's prefix), sorted.
  [[nodiscard]] std::vector<std::string> list(std::string_view prefix = {}) const {
    std::vector<std::string> keys;
    for (auto& o : client_->list_objects(where_.bucket, where_.prefix + std::string(prefix)))
      keys.push_back(o.key.substr(where_.prefix.size()));
    return keys;
  }

 private:
  friend class basic_reader<s3_reader>;
  static constexpr std::string_view reader_name = "store::s3_reader";

  stored_object read_object(std::string_view key, error_code& ec, std::string& why) const {
    stored_object out;
    ec = {};
    std::string full = where_.prefix + std::string(key);
    detail::http_response r;
    try {
      r = client_->send({.method = "GET", .bucket = where_.bucket, .key = full});
    } catch (const s3_error& e) {
      ec = e.code();
      why = e.what();
      return out;
    }
    out.body = std::move(r.body);
    std::map<std::string, std::string> metadata;
    for (const auto& [name, value] : r.headers)
      if (name.starts_with("x-amz-meta-")) metadata[name.substr(11)] = value;
    std::string reason;
    if ((ec = parse_metadata(metadata, full, out.info, reason))) {
      why = "object " + location(key) + ": " + reason;
      return out;
    }
    if (out.info.size != out.body.size()) {
      ec = make_error_code(errc::corrupt_object);
      why = "object " + location(key) + " has " + std::to_string(out.body.size()) + " bytes but its metadata says " +
            std::to_string(out.info.size);
    }
    return out;
  }

  s3_location where_;
  std::string url_;
  std::unique_ptr<s3_client> client_;
};

}  // namespace sluice::store
