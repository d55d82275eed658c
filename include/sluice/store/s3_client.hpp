// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/aws/credentials.hpp>
#include <sluice/aws/sigv4.hpp>
#include <sluice/core/error.hpp>
#include <sluice/crypto/checksum.hpp>
#include <sluice/store/detail/s3_http.hpp>
#include <sluice/store/detail/s3_xml.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::store {

/// Which request bodies go into their SigV4 signature (`x-amz-content-sha256`).
enum class s3_payload_signing {
  /// botocore's rule: every body over plain HTTP, where the signed hash is what lets the server
  /// find a changed byte; over HTTPS, a body that carries a checksum header (`x-amz-checksum-*`,
  /// `Content-MD5`) goes as `UNSIGNED-PAYLOAD`: TLS guards its bytes on the way and the checksum
  /// lets S3 check them, and the client saves a SHA-256 pass over every byte it sends (the
  /// server one over every byte it receives).
  automatic,
  /// Every body, over HTTPS too.
  always,
};

/// How to reach an S3-compatible service, and how hard to try.
///
/// Empty fields are found the way the AWS CLI finds them (aws::resolve_config): credentials from
/// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN or the profile's files, region
/// from AWS_REGION / AWS_DEFAULT_REGION or the profile, endpoint from AWS_ENDPOINT_URL_S3 /
/// AWS_ENDPOINT_URL or the profile's endpoint_url, else AWS's own `https://s3.REGION.amazonaws.com`.
struct s3_connection {
  std::string endpoint;
  std::string region;
  /// The profile in the shared config and credentials files; empty: AWS_PROFILE, else "default".
  std::string profile;
  /// Explicit credentials; empty: found as described above.
  aws::credentials credentials;
  /// How bucket names go into URLs; `automatic`: the profile's `s3 = addressing_style`, else
  /// virtual-hosted for AWS endpoints and path-style for custom ones (most S3-compatible servers
  /// have no wildcard DNS).
  aws::addressing_style addressing = aws::addressing_style::automatic;
  /// Connections kept open, and so requests in flight at once.
  unsigned max_connections = 8;
  /// Attempts per request, the first included, on 5xx, SlowDown, resets and timeouts.
  unsigned max_attempts = 8;
  /// Backoff before retry n is random in [0, min(max_delay, base_delay * 2^n)] (full jitter).
  std::chrono::milliseconds base_delay{100};
  std::chrono::milliseconds max_delay{20'000};
  std::chrono::milliseconds connect_timeout{10'000};
  /// A request that moves no byte for this long is a timeout (and is retried).
  std::chrono::milliseconds stall_timeout{30'000};
  /// Upload bytes per second over all requests; 0 for no cap (rclone's --bwlimit).
  std::uint64_t bytes_per_second = 0;
  bool verify_tls = true;
  /// CA bundle for HTTPS; empty: libcurl's default (or AWS_CA_BUNDLE when set).
  std::string ca_file;
  s3_payload_signing payload_signing = s3_payload_signing::automatic;
  /// The time requests are signed with; empty: the system clock. (A clock off by more than 15
  /// minutes gets RequestTimeTooSkewed, which the tests check.)
  std::function<std::chrono::system_clock::time_point()> clock;
};

/// An S3 request that failed: the bucket, key, HTTP status and the server's error code (or the
/// transport failure), after the retries ran out.
class s3_error : public error {
 public:
  s3_error(error_code ec, const std::string& what, std::string code, long status)
      : error(ec, what), code_(std::move(code)), status_(status), reason_(what) {}
  /// The server's error code (`NoSuchBucket`, `SlowDown`, ...); empty for transport failures.
  [[nodiscard]] const std::string& server_code() const noexcept { return code_; }
  /// The HTTP status; 0 when no response came.
  [[nodiscard]] long status() const noexcept { return status_; }
  /// The message without the error code's text that what() appends: for wrapping in another
  /// error without repeating it.
  [[nodiscard]] const std::string& reason() const noexcept { return reason_; }

 private:
  std::string code_;
  long status_;
  std::string reason_;
};

/// What HeadObject says about an object.
struct s3_object_head {
  std::uint64_t size = 0;
  std::string etag;
  std::string content_type;
  std::string content_encoding;
  /// The `x-amz-meta-*` headers, without the prefix.
  std::map<std::string, std::string> metadata;
  detail::header_list headers;
};

/// One entry of ListObjectsV2.
struct s3_listed_object {
  std::string key;
  std::uint64_t size = 0;
  std::string etag;
  std::string last_modified;
};

/// One part of a multipart upload.
struct s3_part {
  int number = 0;
  std::string etag;
  std::uint64_t size = 0;
  /// Base64 checksum sent with the part (x-amz-checksum-*), repeated in the Complete request.
  std::string checksum;
};

/// One multipart upload in progress (ListMultipartUploads).
struct s3_upload {
  std::string key;
  std::string upload_id;
  std::string initiated;
};

/// A request as the client builds it: what to send and which object it is about (for errors).
struct s3_call {
  std::string method = "GET";
  std::string bucket;
  std::string key;  ///< empty for bucket-level calls
  std::vector<std::pair<std::string, std::string>> query;  ///< decoded; encoded when sent
  detail::header_list headers;
  std::string_view body;
  bool send_body = false;
  /// The hex SHA-256 of `body` when the caller has it already (saves hashing it again).
  std::string payload_hash;
  /// The hex MD5 of `body` when the answer's ETag must equal it (PutObject and UploadPart
  /// without SSE-KMS or SSE-C); a different ETag fails the request.
  std::string expected_etag;
  /// The answer may be 200 and still carry an <Error> (CompleteMultipartUpload, CopyObject).
  bool error_in_ok_answer = false;
  /// Answers the caller takes as success although they are not 2xx (a 404 to a HEAD, a 412 to
  /// `If-None-Match: *`); they are neither retried nor turned into an s3_error.
  std::function<bool(const detail::http_response&)> accept;
};

/// The outcome of an s3_call: the response, or the error after the last attempt.
struct s3_result {
  detail::http_response response;
  std::exception_ptr failure;  ///< an s3_error; null on success
  unsigned attempts = 0;
};

/// A client of the S3 REST API on libcurl: signs with SigV4, retries with backoff and jitter,
/// runs requests in parallel over kept-alive connections.
///
/// Thread safety: every member may be called from any thread. Completions of the `_async`
/// calls run on the client's HTTP thread and must not block.
class s3_client {
 public:
  /// Resolves what `config` leaves empty from `env` and the AWS files; throws config_error for
  /// missing credentials, a malformed endpoint or a profile that does not exist.
  explicit s3_client(s3_connection config, const aws::environment_lookup& env = aws::process_environment)
      : config_(resolve(std::move(config), env)),
        signer_(config_.credentials, aws::signing_options::s3(config_.region)),
        http_({.max_connections = config_.max_connections,
               .connect_timeout = config_.connect_timeout,
               .stall_timeout = config_.stall_timeout,
               .bytes_per_second = config_.bytes_per_second,
               .verify_tls = config_.verify_tls,
               .ca_file = config_.ca_file}) {
    parse_endpoint();
  }

  [[nodiscard]] const s3_connection& connection() const noexcept { return config_; }
  [[nodiscard]] const std::string& endpoint() const noexcept { return config_.endpoint; }

  /// Sends `call` with retries; `done` runs once with the final outcome.
  void send_async(s3_call call, std::function<void(s3_result&&)> done) {
    auto state = std::make_shared<attempt_state>(std::move(call), std::move(done));
    attempt(std::move(state), {});
  }
  /// Sends `call` with retries and returns the response; throws s3_error when it fails.
  detail::http_response send(s3_call call) {
    std::promise<s3_result> promise;
    auto future = promise.get_future();
    send_async(std::move(call), [&](s3_result&& r) { promise.set_value(std::move(r)); });
    s3_result r = future.get();
    if (r.failure) std::rethrow_exception(r.failure);
    return std::move(r.response);
  }

  /// Checks that the bucket exists and the credentials may list `prefix` in it: the start-up
  /// check. (A GET, not a HEAD: the answer carries the server's error code.)
  void check_bucket(const std::string& bucket, const std::string& prefix) {
    send({.method = "GET", .bucket = bucket, .query = {{"list-type", "2"}, {"max-keys", "1"}, {"prefix", prefix}}});
  }

  /// HeadObject; nullopt when the object does not exist.
  std::optional<s3_object_head> head_object(const std::string& bucket, const std::string& key,
                                            detail::header_list headers = {}) {
    s3_call call{.method = "HEAD", .bucket = bucket, .key = key, .headers = std::move(headers)};
    call.accept = [](const detail::http_response& r) { return r.status == 404; };
    detail::http_response r = send(std::move(call));
    if (r.status == 404) return std::nullopt;
    s3_object_head head;
    head.size = std::stoull(r.header("content-length").empty() ? "0" : r.header("content-length"));
    head.etag = r.header("etag");
    head.content_type = r.header("content-type");
    head.content_encoding = r.header("content-encoding");
    for (const auto& [name, value] : r.headers)
      if (name.starts_with("x-amz-meta-")) head.metadata[name.substr(11)] = value;
    head.headers = std::move(r.headers);
    return head;
  }

  /// GetObject, the whole object or bytes [first, last] of it.
  std::string get_object(const std::string& bucket, const std::string& key,
                         std::optional<std::pair<std::uint64_t, std::uint64_t>> range = std::nullopt,
                         detail::header_list headers = {}) {
    if (range)
      headers.emplace_back("range", "bytes=" + std::to_string(range->first) + "-" + std::to_string(range->second));
    return send({.method = "GET", .bucket = bucket, .key = key, .headers = std::move(headers)}).body;
  }

  /// ListObjectsV2 over every page: the objects whose key starts with `prefix`, in key order.
  /// `page_size` is max-keys (0: the server's default, 1,000 on S3).
  std::vector<s3_listed_object> list_objects(const std::string& bucket, const std::string& prefix,
                                             unsigned page_size = 0) {
    std::vector<s3_listed_object> out;
    std::string token;
    for (;;) {
      s3_call call{.method = "GET", .bucket = bucket, .query = {{"list-type", "2"}, {"prefix", prefix}}};
      if (page_size) call.query.emplace_back("max-keys", std::to_string(page_size));
      if (!token.empty()) call.query.emplace_back("continuation-token", token);
      std::string body = send(std::move(call)).body;
      detail::xml_reader doc(body);
      while (auto contents = doc.next("Contents")) {
        s3_listed_object o;
        o.key = detail::xml_text(*contents, "Key");
        o.last_modified = detail::xml_text(*contents, "LastModified");
        o.etag = detail::xml_text(*contents, "ETag");
        o.size = std::stoull(detail::xml_reader(*contents).text("Size", "0"));
        out.push_back(std::move(o));
      }
      if (detail::xml_text(body, "IsTruncated") != "true") break;
      token = detail::xml_text(body, "NextContinuationToken");
      if (token.empty()) throw_protocol(bucket, prefix, "ListObjectsV2 is truncated but has no NextContinuationToken");
    }
    return out;
  }

  /// DeleteObjects, 1,000 keys per request. Throws naming the first key the server refused.
  void delete_objects(const std::string& bucket, const std::vector<std::string>& keys) {
    for (std::size_t at = 0; at < keys.size(); at += 1000) {
      std::string xml = "<Delete><Quiet>true</Quiet>";
      for (std::size_t i = at; i < std::min(keys.size(), at + 1000); ++i) {
        xml += "<Object><Key>";
        detail::xml_escape(xml, keys[i]);
        xml += "</Key></Object>";
      }
      xml += "</Delete>";
      s3_call call{.method = "POST", .bucket = bucket, .query = {{"delete", ""}},
                   .headers = {{"content-md5", md5_base64(xml)}, {"content-type", "application/xml"}},
                   .body = xml, .send_body = true};
      std::string body = send(std::move(call)).body;
      detail::xml_reader doc(body);
      if (auto failed = doc.next("Error")) {
        std::string key = detail::xml_text(*failed, "Key");
        std::string code = detail::xml_text(*failed, "Code");
        throw s3_error(make_error_code(errc::store_refused),
                       "s3: DeleteObjects " + bucket + "/" + key + ": " + code + ": " +
                           detail::xml_text(*failed, "Message"),
                       code, 200);
      }
    }
  }

  /// CreateMultipartUpload: the new upload id.
  std::string create_multipart_upload(const std::string& bucket, const std::string& key, detail::header_list headers) {
    std::string body =
        send({.method = "POST", .bucket = bucket, .key = key, .query = {{"uploads", ""}}, .headers = std::move(headers),
              .send_body = true})
            .body;
    std::string id = detail::xml_text(body, "UploadId");
    if (id.empty()) throw_protocol(bucket, key, "CreateMultipartUpload answered without an UploadId");
    return id;
  }

  /// CompleteMultipartUpload with `parts` in order, with their checksums when
  /// `checksum_algorithm` (CRC32C, SHA256) was named at CreateMultipartUpload; `done` gets the
  /// outcome. A 200 answer that carries an <Error> (S3 may fail after sending the status) is a
  /// failure too.
  void complete_multipart_upload_async(const std::string& bucket, const std::string& key,
                                       const std::string& upload_id, const std::vector<s3_part>& parts,
                                       const std::string& checksum_algorithm, detail::header_list headers,
                                       std::function<void(s3_result&&)> done) {
    auto xml = std::make_shared<std::string>("<CompleteMultipartUpload>");
    for (const auto& p : parts) {
      *xml += "<Part><PartNumber>" + std::to_string(p.number) + "</PartNumber><ETag>";
      detail::xml_escape(*xml, p.etag);
      *xml += "</ETag>";
      if (!checksum_algorithm.empty() && !p.checksum.empty())
        *xml += "<Checksum" + checksum_algorithm + ">" + p.checksum + "</Checksum" + checksum_algorithm + ">";
      *xml += "</Part>";
    }
    *xml += "</CompleteMultipartUpload>";
    headers.emplace_back("content-type", "application/xml");
    s3_call call{.method = "POST", .bucket = bucket, .key = key, .query = {{"uploadId", upload_id}},
                 .headers = std::move(headers), .body = *xml, .send_body = true, .error_in_ok_answer = true};
    // The completion keeps the body alive until the last attempt is answered.
    send_async(std::move(call), [xml, done = std::move(done)](s3_result&& r) { done(std::move(r)); });
  }
  /// The same, waiting; returns the object's ETag (radosgw 16 answers an empty one for parts
  /// listed by ListParts).
  std::string complete_multipart_upload(const std::string& bucket, const std::string& key,
                                        const std::string& upload_id, const std::vector<s3_part>& parts,
                                        const std::string& checksum_algorithm = {},
                                        detail::header_list headers = {}) {
    std::promise<s3_result> promise;
    auto future = promise.get_future();
    complete_multipart_upload_async(bucket, key, upload_id, parts, checksum_algorithm, std::move(headers),
                                    [&](s3_result&& r) { promise.set_value(std::move(r)); });
    s3_result r = future.get();
    if (r.failure) std::rethrow_exception(r.failure);
    return detail::xml_text(r.response.body, "ETag");
  }

  /// AbortMultipartUpload; an upload that no longer exists counts as aborted.
  void abort_multipart_upload(const std::string& bucket, const std::string& key, const std::string& upload_id) {
    s3_call call{.method = "DELETE", .bucket = bucket, .key = key, .query = {{"uploadId", upload_id}}};
    call.accept = [](const detail::http_response& r) { return r.status == 404; };
    send(std::move(call));
  }

  /// ListParts over every page; nullopt when the upload does not exist (completed or aborted).
  std::optional<std::vector<s3_part>> list_parts(const std::string& bucket, const std::string& key,
                                                 const std::string& upload_id) {
    std::vector<s3_part> parts;
    std::string marker;
    for (;;) {
      s3_call call{.method = "GET", .bucket = bucket, .key = key, .query = {{"uploadId", upload_id}}};
      if (!marker.empty()) call.query.emplace_back("part-number-marker", marker);
      call.accept = [](const detail::http_response& r) { return r.status == 404; };
      detail::http_response r = send(std::move(call));
      if (r.status == 404) return std::nullopt;
      detail::xml_reader doc(r.body);
      while (auto part = doc.next("Part")) {
        s3_part p;
        p.number = std::stoi(detail::xml_reader(*part).text("PartNumber", "0"));
        p.etag = detail::xml_text(*part, "ETag");
        p.size = std::stoull(detail::xml_reader(*part).text("Size", "0"));
        parts.push_back(std::move(p));
      }
      if (detail::xml_text(r.body, "IsTruncated") != "true") break;
      marker = detail::xml_text(r.body, "NextPartNumberMarker");
      if (marker.empty()) break;
    }
    return parts;
  }

  /// ListMultipartUploads over every page: the uploads in progress under `prefix`.
  std::vector<s3_upload> list_multipart_uploads(const std::string& bucket, const std::string& prefix) {
    std::vector<s3_upload> out;
    std::string key_marker, id_marker;
    for (;;) {
      s3_call call{.method = "GET", .bucket = bucket, .query = {{"uploads", ""}, {"prefix", prefix}}};
      if (!key_marker.empty()) {
        call.query.emplace_back("key-marker", key_marker);
        call.query.emplace_back("upload-id-marker", id_marker);
      }
      std::string body = send(std::move(call)).body;
      detail::xml_reader doc(body);
      while (auto upload = doc.next("Upload")) {
        s3_upload u;
        u.key = detail::xml_text(*upload, "Key");
        u.upload_id = detail::xml_text(*upload, "UploadId");
        u.initiated = detail::xml_text(*upload, "Initiated");
        out.push_back(std::move(u));
      }
      if (detail::xml_text(body, "IsTruncated") != "true") break;
      key_marker = detail::xml_text(body, "NextKeyMarker");
      id_marker = detail::xml_text(body, "NextUploadIdMarker");
      if (key_marker.empty()) break;
    }
    return out;
  }

  /// The MD5 of `data` (Content-MD5, and the ETag of an object stored whole without SSE-KMS
  /// or SSE-C).
  static std::array<std::uint8_t, 16> md5(std::string_view data) {
    std::array<std::uint8_t, 16> digest{};
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), digest.data(), &len, EVP_md5(), nullptr);
    return digest;
  }
  /// Base64 of the MD5 of `data`: the Content-MD5 header.
  static std::string md5_base64(std::string_view data) { return crypto::to_base64(md5(data)); }

  /// Percent-encodes as S3 wants: every byte but A-Z a-z 0-9 - . _ ~ (and '/' when `keep_slash`).
  static std::string uri_encode(std::string_view s, bool keep_slash) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size() + 16);
    for (unsigned char c : s) {
      if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
          c == '_' || c == '~' || (keep_slash && c == '/')) {
        out += static_cast<char>(c);
      } else {
        out += '%';
        out += hex[c >> 4];
        out += hex[c & 15];
      }
    }
    return out;
  }

 private:
  struct attempt_state {
    attempt_state(s3_call c, std::function<void(s3_result&&)> d) : call(std::move(c)), done(std::move(d)) {}
    s3_call call;
    std::function<void(s3_result&&)> done;
    unsigned attempts = 0;
    std::string payload_hash;  // computed once, reused by every attempt
  };

  static s3_connection resolve(s3_connection c, const aws::environment_lookup& env) {
    bool need_credentials = c.credentials.access_key_id.empty();
    if (need_credentials || c.region.empty() || c.endpoint.empty() ||
        c.addressing == aws::addressing_style::automatic) {
      aws::resolved_config found = aws::resolve_config({.service = "s3", .profile = c.profile, .environment = env});
      if (need_credentials) {
        if (!found.credentials)
          throw config_error("store::s3: no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
                             "keys for profile \"" + found.profile + "\" in " + found.credentials_file + " or " +
                             found.config_file);
        c.credentials = *found.credentials;
      }
      if (c.region.empty()) c.region = found.region;
      if (c.endpoint.empty()) c.endpoint = found.endpoint_url;
      if (c.addressing == aws::addressing_style::automatic) c.addressing = found.s3_addressing_style;
    }
    if (c.region.empty()) c.region = "us-east-1";
    if (c.endpoint.empty()) c.endpoint = "https://s3." + c.region + ".amazonaws.com";
    bool ca_from_env = c.ca_file.empty() && env("AWS_CA_BUNDLE");
    if (c.ca_file.empty()) c.ca_file = env("AWS_CA_BUNDLE").value_or("");
    // libcurl would only say "error setting certificate file" at the first request.
    if (c.verify_tls && !c.ca_file.empty() && !std::filesystem::is_regular_file(c.ca_file))
      throw config_error(std::string(ca_from_env ? "AWS_CA_BUNDLE" : "store::s3.connection.ca_file") + " = \"" +
                         c.ca_file + "\": no such file (the CA bundle that verifies the server's TLS certificate)");
    if (c.max_attempts == 0) throw config_error("store::s3.max_attempts = 0: must be at least 1");
    if (c.max_connections == 0) throw config_error("store::s3.max_connections = 0: must be at least 1");
    return c;
  }

  void parse_endpoint() {
    std::string_view e = config_.endpoint;
    auto scheme_end = e.find("://");
    if (scheme_end == std::string_view::npos || (e.substr(0, scheme_end) != "http" && e.substr(0, scheme_end) != "https"))
      throw config_error("store::s3.endpoint = \"" + config_.endpoint + "\": must start with http:// or https://");
    scheme_ = std::string(e.substr(0, scheme_end));
    std::string_view rest = e.substr(scheme_end + 3);
    auto slash = rest.find('/');
    host_ = std::string(rest.substr(0, slash));
    if (slash != std::string_view::npos) {
      base_path_ = std::string(rest.substr(slash));
      while (!base_path_.empty() && base_path_.back() == '/') base_path_.pop_back();
    }
    if (host_.empty()) throw config_error("store::s3.endpoint = \"" + config_.endpoint + "\": has no host");
    if (config_.addressing == aws::addressing_style::automatic)
      config_.addressing = host_.ends_with(".amazonaws.com") ? aws::addressing_style::virtual_ : aws::addressing_style::path;
  }

  /// Builds, signs and starts one attempt of `s`.
  void attempt(std::shared_ptr<attempt_state> s, std::chrono::steady_clock::time_point not_before) {
    ++s->attempts;
    const s3_call& c = s->call;
    detail::http_request r;
    r.method = c.method;
    r.send_body = c.send_body;
    r.body = c.body;
    std::string host = host_;
    std::string path = base_path_;
    if (!c.bucket.empty()) {
      if (config_.addressing == aws::addressing_style::virtual_) host = c.bucket + "." + host_;
      else path += "/" + c.bucket;
    }
    path += "/" + uri_encode(c.key, true);
    r.origin = scheme_ + "://" + host;
    r.path = std::move(path);
    for (const auto& [k, v] : c.query) {
      if (!r.query.empty()) r.query += '&';
      r.query += uri_encode(k, false);
      if (!v.empty() || (k != "uploads" && k != "delete")) {
        r.query += '=';
        r.query += uri_encode(v, false);
      }
    }
    r.headers = c.headers;
    r.headers.push_back({"host", host});
    if (s->payload_hash.empty()) s->payload_hash = payload_hash(c);
    r.payload_hash = s->payload_hash;
    signer_.sign(r, config_.clock ? config_.clock() : std::chrono::system_clock::now());
    http_.start(std::move(r), [this, s](detail::http_response&& resp) { completed(s, std::move(resp)); }, not_before);
  }

  /// What `c` is signed with (s3_payload_signing). A hash the caller has already costs nothing
  /// to sign with, so it is used over HTTPS too. Header names are matched in lower case, as the
  /// store writes them: any other spelling is signed, the safe side.
  [[nodiscard]] std::string payload_hash(const s3_call& c) const {
    if (!c.payload_hash.empty()) return c.payload_hash;
    auto is_checksum = [](const aws::http_header& h) {
      return h.name.starts_with("x-amz-checksum-") || h.name == "content-md5";
    };
    if (config_.payload_signing == s3_payload_signing::automatic && scheme_ == "https" &&
        std::ranges::any_of(c.headers, is_checksum))
      return std::string(aws::unsigned_payload);
    return crypto::sha256_hex(c.body);
  }

  static bool retryable_transport(CURLcode code) {
    switch (code) {
      case CURLE_COULDNT_CONNECT:
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_SEND_ERROR:
      case CURLE_RECV_ERROR:
      case CURLE_OPERATION_TIMEDOUT:
      case CURLE_PARTIAL_FILE:
      case CURLE_GOT_NOTHING:
      case CURLE_HTTP2:
      case CURLE_HTTP2_STREAM:
      case CURLE_SSL_CONNECT_ERROR:
        return true;
      default:
        return false;
    }
  }

  void completed(const std::shared_ptr<attempt_state>& s, detail::http_response&& r) {
    bool ok = r.transport == CURLE_OK && r.status >= 200 && r.status < 300;
    std::string code, message;
    if (ok && s->call.error_in_ok_answer && r.body.find("<Error>") != std::string::npos) {
      ok = false;
      code = detail::xml_text(r.body, "Code");
      message = detail::xml_text(r.body, "Message");
    }
    if (ok && !s->call.expected_etag.empty() && r.status == 200) {
      std::string etag = r.header("etag");
      std::erase(etag, '"');
      std::transform(etag.begin(), etag.end(), etag.begin(), [](unsigned char ch) { return std::tolower(ch); });
      if (etag != s->call.expected_etag) {
        ok = false;
        code = "ETagMismatch";
        message = "the ETag " + etag + " differs from the MD5 " + s->call.expected_etag + " of the bytes sent";
      }
    }
    if (!ok && r.transport == CURLE_OK && s->call.accept && s->call.accept(r)) ok = true;
    if (ok) {
      s->done({std::move(r), nullptr, s->attempts});
      return;
    }
    bool retry;
    if (r.transport != CURLE_OK) {
      retry = retryable_transport(r.transport);
    } else {
      if (code.empty()) {
        code = detail::xml_text(r.body, "Code");
        message = detail::xml_text(r.body, "Message");
      }
      retry = code != "ETagMismatch" && (r.status >= 500 || r.status == 429 || r.status == 408 || code == "SlowDown" ||
              code == "RequestTimeout" || code == "InternalError" || code == "ThrottlingException");
    }
    if (retry && s->attempts < config_.max_attempts) {
      auto cap = std::min<std::int64_t>(config_.max_delay.count(),
                                        config_.base_delay.count() << std::min(s->attempts, 20u));
      std::int64_t delay;
      {
        std::lock_guard lock(rng_mutex_);
        delay = std::uniform_int_distribution<std::int64_t>(0, std::max<std::int64_t>(cap, 1))(rng_);
      }
      retries_.fetch_add(1, std::memory_order_relaxed);
      attempt(s, std::chrono::steady_clock::now() + std::chrono::milliseconds(delay));
      return;
    }
    std::string what = "s3: " + s->call.method + " " + s->call.bucket + (s->call.key.empty() ? "" : "/" + s->call.key) + ": ";
    error_code ec;
    if (r.transport != CURLE_OK) {
      ec = make_error_code(errc::store_unreachable);
      if (r.transport == CURLE_PEER_FAILED_VERIFICATION)
        what += "the TLS certificate of " + config_.endpoint + " could not be verified (" + r.transport_error +
                "); trusted CAs: " + (config_.ca_file.empty() ? std::string("libcurl's default store") : config_.ca_file) +
                ". Set connection.ca_file (or AWS_CA_BUNDLE) to the CA that signed it, or verify_tls = false for "
                "a self-signed development server";
      else
        what += r.transport_error + " (" + config_.endpoint + ")";
    } else {
      ec = make_error_code(errc::store_refused);
      if (r.status == 404 && code.empty()) code = s->call.key.empty() ? "NoSuchBucket" : "NoSuchKey";
      if (r.status == 403 && code.empty()) code = "AccessDenied";
      what += "HTTP " + std::to_string(r.status) + " " + (code.empty() ? "(no error code)" : code);
      if (!message.empty()) what += ": " + message;
    }
    if (s->attempts > 1) what += " (after " + std::to_string(s->attempts) + " attempts)";
    auto failure = std::make_exception_ptr(s3_error(ec, what, code, r.status));
    s->done({std::move(r), std::move(failure), s->attempts});
  }

  [[noreturn]] static void throw_protocol(const std::string& bucket, const std::string& key, const std::string& why) {
    throw s3_error(make_error_code(errc::store_refused), "s3: " + bucket + "/" + key + ": " + why, "", 200);
  }

 public:
  /// Requests sent again after a retryable failure, since the client was made.
  [[nodiscard]] std::uint64_t retries() const noexcept { return retries_.load(std::memory_order_relaxed); }

 private:
  s3_connection config_;
  std::string scheme_, host_, base_path_;
  std::mutex rng_mutex_;
  std::mt19937_64 rng_{std::random_device{}()};
  std::atomic<std::uint64_t> retries_{0};
  aws::signer signer_;
  detail::http_engine http_;  // last: its thread runs completions that use the members above
};

}  // namespace sluice::store
