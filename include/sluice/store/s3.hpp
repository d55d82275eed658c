// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/concepts.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/object.hpp>
#include <sluice/core/pipeline.hpp>
#include <sluice/crypto/checksum.hpp>
#include <sluice/store/key_template.hpp>
#include <sluice/store/s3_client.hpp>
#include <sluice/store/sidecar.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::store {
using sluice::operator|;

/// A bucket and a key prefix: `s3://bucket/prefix/`.
struct s3_location {
  std::string bucket;
  std::string prefix;  ///< empty, or ends with '/'

  /// Parses `s3://bucket[/prefix]`; `field` names the setting in errors.
  static s3_location parse(std::string_view url, std::string_view field = "url") {
    auto bad = [&](const std::string& why) {
      return config_error(std::string(field) + " = \"" + std::string(url) + "\": " + why);
    };
    if (!url.starts_with("s3://")) throw bad("must start with s3://");
    std::string_view rest = url.substr(5);
    auto slash = rest.find('/');
    s3_location l;
    l.bucket = std::string(rest.substr(0, slash));
    if (l.bucket.size() < 3 || l.bucket.size() > 63)
      throw bad("bucket name \"" + l.bucket + "\" must be 3 to 63 characters");
    for (char c : l.bucket)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
        throw bad("bucket name \"" + l.bucket + "\" may hold only a-z, 0-9, '-' and '.'");
    if (slash != std::string_view::npos) {
      l.prefix = std::string(rest.substr(slash + 1));
      if (!l.prefix.empty() && l.prefix.back() != '/') l.prefix += '/';
      if (l.prefix.starts_with("/")) throw bad("the prefix must not start with '/'");
    }
    return l;
  }
};

/// Whether the S3 store makes replays write no second copy with conditional writes.
enum class s3_conditional {
  automatic,  ///< probe the server at start-up: If-None-Match if it honours it, else HEAD before PUT
  if_none_match,  ///< `If-None-Match: *` on every PutObject (HEAD before a multipart upload)
  head_first,     ///< HEAD before every write
  off,            ///< overwrite, as the local store does
};

/// The checksum sent with every PutObject and UploadPart, which AWS verifies (radosgw verifies
/// the signed payload hash, which every request carries too).
enum class s3_checksum { crc32c, sha256, md5, none };

/// Server-side encryption of the stored objects.
struct s3_server_side_encryption {
  enum class mode { none, s3, kms, customer };
  mode kind = mode::none;
  /// SSE-KMS: the key id or ARN (empty: the bucket's or account's default KMS key).
  std::string kms_key_id;
  /// SSE-KMS: the encryption context (a JSON object of strings once encoded).
  std::map<std::string, std::string> kms_context;
  /// SSE-C: the 32-byte key itself (raw bytes).
  std::string customer_key;
};

/// An S3-compatible bucket as the landing zone: each object becomes `s3://bucket/prefix/<key>`
/// with the same key templates and facts as store::local (the sidecar's facts as
/// `x-amz-meta-*`, see to_metadata).
///
/// Objects up to `multipart_threshold` go up with one PutObject; larger ones with a multipart
/// upload whose parts go up in parallel (`concurrency` requests in flight over kept-alive
/// connections). An object is acknowledged once S3 answered 200 to its PutObject or
/// CompleteMultipartUpload: S3 stores durably before it answers.
///
/// Exactly-once keys: keys are deterministic, and with `conditional` a replay after a crash finds
/// its key already stored (412 to `If-None-Match: *`, or a HEAD) and acknowledges without writing
/// a second copy. `automatic` probes the server at start-up and says in the log which it uses.
///
/// Resume: with a `resume_dir` (default: beside the pipeline's checkpoint file), each multipart
/// upload keeps its id, its finished parts and a copy of its bytes there until it completes. A
/// pipeline killed mid-upload resumes the upload when it starts again: the parts S3 already has
/// are not sent again. An upload that fails cleanly is aborted.
///
/// Memory: the objects in flight hold at most `part_size * concurrency` bytes (or one object,
/// when a single object is larger); push() waits while that budget is used up.
///
/// Errors: validate() throws config_error for a malformed url, key template, part size,
/// concurrency, tag or SSE-C key. Opening checks the bucket with HeadBucket and fails at
/// start-up naming bucket, endpoint and the server's error code (NoSuchBucket, AccessDenied,
/// InvalidAccessKeyId, SignatureDoesNotMatch, RequestTimeTooSkewed). A key over 1,024 bytes goes
/// to the error output. A request that still fails after `connection.max_attempts` is an
/// s3_error naming bucket, key and code, thrown from the next push() or flush(); nothing after it
/// is acknowledged.
/// Thread safety: each node is used by one thread; completions run on the client's thread.
/// @code
///   auto p = connector::generator{.records = 1'000'000} | batch::by_size{.max_bytes = 64_MiB}
///          | format::jsonl{} | codec::zstd{}
///          | store::s3{.url = "s3://lake/raw", .key = "{stream}/{time:%Y/%m/%d/%H}/"};
/// @endcode
struct s3 {
  using stage_concept = sink_tag;
  using input_type = object;

  /// `s3://bucket/prefix`.
  std::string url;
  /// The key template (key_template), below the url's prefix.
  std::string key = "{stream}/{time:%Y/%m/%d/%H}/";
  /// Endpoint, region, credentials, retries, timeouts, bandwidth cap.
  s3_connection connection;
  /// Objects larger than this go up as multipart uploads (at least 5 MiB).
  std::size_t multipart_threshold = std::size_t{16} << 20;
  /// Part size of multipart uploads: 5 MiB to 5 GiB (S3's limits); at most 10,000 parts.
  std::size_t part_size = std::size_t{8} << 20;
  /// Requests (parts or whole objects) in flight at once.
  unsigned concurrency = 4;
  s3_conditional conditional = s3_conditional::automatic;
  s3_checksum checksum = s3_checksum::crc32c;
  s3_server_side_encryption encryption;
  /// `x-amz-storage-class`, e.g. STANDARD_IA; empty: the bucket's default.
  std::string storage_class;
  /// Object tags.
  std::map<std::string, std::string> tags;
  /// Canned ACL, e.g. bucket-owner-full-control; empty: none sent.
  std::string acl;
  /// Where multipart uploads keep what they need to resume; empty: `<checkpoint>.s3-uploads`
  /// beside the pipeline's checkpoint file, or no resume when the pipeline has none.
  std::filesystem::path resume_dir;

  void validate() const {
    (void)s3_location::parse(url, "store::s3.url");
    (void)key_template::parse(key, "store::s3.key");
    constexpr std::size_t mib = std::size_t{1} << 20;
    if (part_size < 5 * mib || part_size > 5 * 1024 * mib)
      throw config_error("store::s3.part_size = " + std::to_string(part_size) + ": must be 5 MiB to 5 GiB");
    if (multipart_threshold < 5 * mib)
      throw config_error("store::s3.multipart_threshold = " + std::to_string(multipart_threshold) +
                         ": must be at least 5 MiB (S3's smallest part)");
    if (concurrency < 1 || concurrency > 256)
      throw config_error("store::s3.concurrency = " + std::to_string(concurrency) + ": must be 1..256");
    if (encryption.kind == s3_server_side_encryption::mode::customer && encryption.customer_key.size() != 32)
      throw config_error("store::s3.encryption.customer_key: must be 32 bytes (AES-256), got " +
                         std::to_string(encryption.customer_key.size()));
    if (encryption.kind != s3_server_side_encryption::mode::kms &&
        (!encryption.kms_key_id.empty() || !encryption.kms_context.empty()))
      throw config_error("store::s3.encryption: kms_key_id and kms_context need kind = mode::kms");
    for (const auto& [k, v] : tags)
      if (k.empty() || k.size() > 128 || v.size() > 256)
        throw config_error("store::s3.tags[\"" + k + "\"]: keys must be 1..128 characters, values at most 256");
    if (tags.size() > 10) throw config_error("store::s3.tags: at most 10 tags, got " + std::to_string(tags.size()));
  }

  class node;
  node open(run_context& ctx) const;
};

}  // namespace sluice::store

#include <sluice/store/impl/s3.hpp>
