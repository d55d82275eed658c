// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/aws/detail/digest.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// AWS Signature Version 4: one implementation for signing (the S3 store) and for verifying
// (servers that accept what the AWS SDKs send). The request is described as it is on the wire,
// so a signer and a verifier build the same canonical request from the same bytes.

namespace sluice::aws {

/// An access key, its secret and, for temporary credentials, the session token.
struct credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  ///< empty for long-term keys
};

/// The only algorithm SigV4 defines for HMAC: `AWS4-HMAC-SHA256`.
inline constexpr std::string_view sigv4_algorithm = "AWS4-HMAC-SHA256";
/// Payload hash of a request whose body is not signed (S3 and presigned URLs).
inline constexpr std::string_view unsigned_payload = "UNSIGNED-PAYLOAD";
/// Payload hash of an S3 upload sent in signed chunks (see chunk_signer).
inline constexpr std::string_view streaming_payload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
/// Hex SHA-256 of the empty body.
inline constexpr std::string_view empty_payload_hash =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// The longest X-Amz-Expires AWS accepts: 7 days.
inline constexpr std::chrono::seconds max_presign_expiry{604800};

/// Hex SHA-256 of a request body, the usual http_request::payload_hash.
[[nodiscard]] inline std::string payload_hash(std::string_view body) { return detail::sha256_hex(body); }

/// One header line as sent. Names compare case-insensitively; duplicates are allowed (SigV4
/// joins their values with ',' in the order they appear).
struct http_header {
  std::string name;
  std::string value;
};

/// A request exactly as it goes on (or came off) the wire.
struct http_request {
  std::string method = "GET";
  std::string path = "/";   ///< as sent: already percent-encoded, without the query
  std::string query;        ///< raw query string as sent, without '?'
  std::vector<http_header> headers;
  /// Hex SHA-256 of the body, unsigned_payload or streaming_payload. The signer puts it in the
  /// canonical request; the verifier compares it with x-amz-content-sha256 when that is sent.
  std::string payload_hash;

  /// The first header named `name` (any case), or nullptr.
  [[nodiscard]] SLUICE_DECL const http_header* find(std::string_view name) const noexcept;
  /// Sets header `name` to `value`: the first header of that name (any case) takes the value
  /// and later ones are removed; without one, a header is appended.
  SLUICE_DECL void set(std::string_view name, std::string value);
  /// Removes every header named `name` (any case).
  SLUICE_DECL void remove(std::string_view name);
};

/// How the canonical request and the signature are built.
struct signing_options {
  std::string region;              ///< e.g. "us-east-1"
  std::string service;             ///< signing name: "s3", "firehose", ...
  bool normalize_path = true;      ///< remove "." / ".." / empty segments (not S3)
  bool double_encode_path = true;  ///< encode the wire path again (not S3)
  bool add_content_sha256 = false; ///< send and sign x-amz-content-sha256 (S3 requires it)
  /// Sign X-Amz-Security-Token (most services) or add it after signing (services documented
  /// to want it unsigned; aws-c-auth's omit_session_token).
  bool sign_session_token = true;

  /// The S3 settings: no normalisation, no double encoding, x-amz-content-sha256 sent.
  [[nodiscard]] static signing_options s3(std::string region) {
    return {std::move(region), "s3", false, false, true, true};
  }
};

/// `YYYYMMDD'T'HHMMSS'Z'`, the X-Amz-Date form of `t` (UTC, whole seconds).
[[nodiscard]] SLUICE_DECL std::string format_amz_date(std::chrono::system_clock::time_point t);
/// Parses the X-Amz-Date form; nullopt for anything else (including impossible dates).
[[nodiscard]] SLUICE_DECL std::optional<std::chrono::system_clock::time_point> parse_amz_date(std::string_view s);

/// The canonical URI of `path` as sent (see signing_options for the two flags).
[[nodiscard]] SLUICE_DECL std::string canonical_uri(std::string_view path, bool normalize, bool double_encode);
/// The canonical query of a raw query string: decoded, re-encoded, sorted by name then value.
[[nodiscard]] SLUICE_DECL std::string canonical_query(std::string_view query);
/// The canonical request of `req` signing the headers `signed_headers` (lower-case, sorted,
/// unique; each must be present in `req`). Its last line is req.payload_hash.
[[nodiscard]] SLUICE_DECL std::string canonical_request(const http_request& req,
                                                        std::span<const std::string> signed_headers,
                                                        bool normalize_path, bool double_encode_path);
/// `<date>/<region>/<service>/aws4_request`.
[[nodiscard]] SLUICE_DECL std::string credential_scope(std::string_view date, std::string_view region,
                                                       std::string_view service);
/// `AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256(canonical_request)>`.
[[nodiscard]] SLUICE_DECL std::string string_to_sign(std::string_view amz_date, std::string_view scope,
                                                     std::string_view canonical_request);
/// The signing key: HMAC chain of "AWS4"+secret over date, region, service, "aws4_request".
[[nodiscard]] SLUICE_DECL std::array<std::uint8_t, 32> derive_signing_key(std::string_view secret,
                                                                          std::string_view date,
                                                                          std::string_view region,
                                                                          std::string_view service);
/// Hex HMAC-SHA256 of `string_to_sign` under `key`: the signature.
[[nodiscard]] SLUICE_DECL std::string sign_string(const std::array<std::uint8_t, 32>& key,
                                                  std::string_view string_to_sign);

/// Everything one signing produced, for logging, tests and chunked uploads.
struct signed_parts {
  std::string amz_date;           ///< X-Amz-Date
  std::string scope;              ///< credential scope
  std::string signed_headers;     ///< "host;x-amz-date"
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;          ///< hex; the seed signature of a chunked upload
};

/// Signs the chunks of a `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` upload. Each chunk's signature
/// covers its data and the previous signature (the first chunk chains from the seed signature
/// of the request), and the upload ends with a zero-length chunk.
///
/// Thread safety: one upload, one thread. Errors: none beyond OpenSSL failures.
/// @code
///   http_request put{.method = "PUT", .path = "/bucket/key", .headers = {{"host", "s3.amazonaws.com"}},
///                    .payload_hash = std::string(streaming_payload)};
///   put.set("content-encoding", "aws-chunked");
///   put.set("x-amz-decoded-content-length", std::to_string(data.size()));
///   put.set("content-length", std::to_string(chunked_content_length(data.size(), 65536)));
///   auto seed = s3_signer.sign(put, now);
///   auto chunks = s3_signer.chunks(seed);
///   std::string body;
///   for (std::size_t at = 0; at < data.size(); at += 65536) chunks.frame(body, data.substr(at, 65536));
///   chunks.frame(body, {});  // the final, empty chunk
/// @endcode
class chunk_signer {
 public:
  SLUICE_DECL chunk_signer(const std::array<std::uint8_t, 32>& key, std::string amz_date, std::string scope,
                           std::string seed_signature);
  /// Signs the next chunk and returns its hex signature.
  SLUICE_DECL std::string sign(std::string_view chunk);
  /// Signs the next chunk and appends it framed: `hex(size);chunk-signature=<sig>\r\n<data>\r\n`.
  SLUICE_DECL void frame(std::string& out, std::string_view chunk);
  /// The signature of the last chunk signed (the seed before the first).
  [[nodiscard]] const std::string& previous_signature() const noexcept { return previous_; }
  /// Bytes frame() appends for a chunk of `size` bytes.
  [[nodiscard]] static constexpr std::uint64_t framed_size(std::uint64_t size) noexcept {
    std::uint64_t digits = 1;
    for (std::uint64_t v = size >> 4; v != 0; v >>= 4) ++digits;
    return digits + 17 /* ;chunk-signature= */ + 64 + 2 + size + 2;
  }

 private:
  detail::signing_key key_;
  std::string amz_date_, scope_, previous_;
};

/// Content-Length of a chunked upload of `payload_size` bytes sent in chunks of `chunk_size`
/// (the last one shorter), including the final empty chunk: 66560 bytes in chunks of 65536
/// give 66824. `chunk_size` must be > 0.
[[nodiscard]] constexpr std::uint64_t chunked_content_length(std::uint64_t payload_size,
                                                             std::uint64_t chunk_size) noexcept {
  std::uint64_t full = payload_size / chunk_size, rest = payload_size % chunk_size;
  return full * chunk_signer::framed_size(chunk_size) + (rest ? chunk_signer::framed_size(rest) : 0) +
         chunk_signer::framed_size(0);
}

/// Signs requests with one set of credentials for one region and service.
///
/// The derived signing key (four HMACs) is cached for the current date, so a request costs
/// one SHA-256 of the canonical request and one HMAC.
/// Thread safety: sign and presign may be called from several threads at once.
/// Errors: std::invalid_argument (sluice::config_error) for a request without a Host header or
/// a payload hash, and for presign expiries outside 1 s .. 7 days.
/// @code
///   aws::signer s3({.access_key_id = "AKID", .secret_access_key = "..."}, aws::signing_options::s3("us-east-1"));
///   aws::http_request get{.method = "GET", .path = "/bucket/key", .headers = {{"host", "127.0.0.1:9000"}},
///                         .payload_hash = std::string(aws::empty_payload_hash)};
///   s3.sign(get, std::chrono::system_clock::now());   // adds x-amz-date, x-amz-content-sha256, Authorization
/// @endcode
class signer {
 public:
  SLUICE_DECL signer(credentials creds, signing_options options);

  /// Signs `req` in place: sets x-amz-date, x-amz-security-token (with a session token),
  /// x-amz-content-sha256 (when configured) and Authorization, replacing any earlier values.
  /// Every header present is signed except hop-by-hop ones and user-agent/x-amzn-trace-id.
  SLUICE_DECL signed_parts sign(http_request& req, std::chrono::system_clock::time_point now) const;

  /// Presigns `req`: appends X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders,
  /// (-Security-Token) and -Signature to req.query. The headers present are signed.
  SLUICE_DECL signed_parts presign(http_request& req, std::chrono::system_clock::time_point now,
                                   std::chrono::seconds expires) const;

  /// A chunk signer chained from the seed signature of a signed streaming request.
  [[nodiscard]] SLUICE_DECL chunk_signer chunks(const signed_parts& seed) const;

  [[nodiscard]] const signing_options& options() const noexcept { return options_; }
  [[nodiscard]] const std::string& access_key_id() const noexcept { return creds_.access_key_id; }

 private:
  SLUICE_DECL std::array<std::uint8_t, 32> key_for(std::string_view date) const;
  SLUICE_DECL signed_parts sign_common(http_request& req, std::string_view amz_date,
                                       std::span<const std::string> signed_headers) const;

  struct key_cache;
  credentials creds_;
  signing_options options_;
  std::shared_ptr<key_cache> cache_;
};

/// Why a request failed verification. Callers answer with result.code / result.http_status,
/// which depend on the error_style; the enum is for logic and metrics.
enum class auth_failure {
  none = 0,
  missing_authentication,   ///< no Authorization header and no X-Amz-Signature query parameter
  malformed,                ///< Authorization / presigned parameters missing parts or badly formed
  scope_mismatch,           ///< credential scope date, region, service or terminator wrong
  header_not_signed,        ///< host, x-amz-date or an x-amz-* header sent is not signed
  unknown_access_key,       ///< the lookup does not know the access key id
  signature_mismatch,       ///< the signature differs (wrong secret or a changed request)
  request_time_skewed,      ///< X-Amz-Date further from now than the allowed skew
  presign_expired,          ///< a presigned URL past X-Amz-Date + X-Amz-Expires
  content_sha256_mismatch,  ///< x-amz-content-sha256 differs from the hash of the body received
  content_sha256_invalid,   ///< x-amz-content-sha256 missing where required or not a valid value
};

/// Which AWS protocol family's error codes to report.
/// | failure | json (Firehose, Kinesis, DynamoDB) | query (STS, SQS query) | s3 |
/// |---|---|---|---|
/// | missing_authentication | MissingAuthenticationTokenException 400 | MissingAuthenticationToken 403 | AccessDenied 403 |
/// | malformed | IncompleteSignatureException 400 | IncompleteSignature 400 | AuthorizationHeaderMalformed / AuthorizationQueryParametersError 400 |
/// | scope_mismatch | InvalidSignatureException 400 | SignatureDoesNotMatch 403 | AuthorizationHeaderMalformed / AuthorizationQueryParametersError 400 |
/// | header_not_signed | IncompleteSignatureException 400 | IncompleteSignature 400 | AccessDenied 403 |
/// | unknown_access_key | UnrecognizedClientException 400 | InvalidClientTokenId 403 | InvalidAccessKeyId 403 |
/// | signature_mismatch | InvalidSignatureException 400 | SignatureDoesNotMatch 403 | SignatureDoesNotMatch 403 |
/// | request_time_skewed | InvalidSignatureException 400 ("Signature expired") | RequestExpired 400 | RequestTimeTooSkewed 403 |
/// | presign_expired | InvalidSignatureException 400 | RequestExpired 400 | AccessDenied 403 ("Request has expired") |
/// | content_sha256_mismatch | InvalidSignatureException 400 | SignatureDoesNotMatch 403 | XAmzContentSHA256Mismatch 400 |
/// | content_sha256_invalid | IncompleteSignatureException 400 | IncompleteSignature 400 | InvalidArgument / InvalidRequest 400 |
/// The JSON services send the `...Exception` names in `__type` (what the SDKs report as the
/// error code), and report an expired signature as InvalidSignatureException with the message
/// "Signature expired: ... is now earlier than ... (... - 5 min.)".
enum class error_style { json, query, s3 };

/// The AWS error code a client sees for `failure` (empty for none). `presigned` selects S3's
/// AuthorizationQueryParametersError over AuthorizationHeaderMalformed.
[[nodiscard]] SLUICE_DECL std::string_view aws_error_code(auth_failure failure, error_style style,
                                                          bool presigned = false) noexcept;
/// The HTTP status that goes with aws_error_code().
[[nodiscard]] SLUICE_DECL int http_status(auth_failure failure, error_style style) noexcept;

/// What the verifier accepts.
struct verify_options {
  std::string region;             ///< expected scope region; empty accepts any non-empty region
  std::string service;            ///< expected scope service, e.g. "firehose"
  bool normalize_path = true;     ///< as signing_options (false for S3)
  bool double_encode_path = true; ///< as signing_options (false for S3)
  error_style style = error_style::json;
  std::chrono::seconds max_skew{300};  ///< AWS allows 5 minutes each way (15 for some services)
  bool require_content_sha256 = false; ///< header auth must send x-amz-content-sha256 (S3)

  /// What S3 accepts: S3 path rules, S3 error codes, x-amz-content-sha256 required.
  [[nodiscard]] static verify_options s3(std::string region) {
    return {std::move(region), "s3", false, false, error_style::s3, std::chrono::seconds{300}, true};
  }
};

/// The outcome of verifier::verify. True when the signature verified.
struct verify_result {
  auth_failure failure = auth_failure::none;
  std::string code;        ///< AWS error code for the configured style; empty on success
  int http_status = 200;
  std::string message;     ///< names what was wrong ("... requires 'Signature' parameter")
  bool presigned = false;  ///< authenticated by query parameters rather than a header
  std::string access_key_id;      ///< as sent (set once the credential parsed)
  std::string amz_date, scope;    ///< as sent (set once parsed)
  std::string signature;          ///< as sent; the seed signature of a chunked upload
  std::string canonical_request;  ///< as this side computed it (set once it could be)
  std::string string_to_sign;     ///< as this side computed it (set once it could be)

  [[nodiscard]] explicit operator bool() const noexcept { return failure == auth_failure::none; }
};

/// Looks up the secret access key of an access key id; nullopt when the key is unknown.
using secret_lookup = std::function<std::optional<std::string>(std::string_view access_key_id)>;

/// Verifies SigV4 requests (Authorization header or presigned query) as AWS does: the
/// algorithm, the credential scope (date equal to X-Amz-Date's, region, service,
/// `aws4_request`), that host, x-amz-date and every x-amz-* header sent are signed, the clock
/// skew or presign expiry, x-amz-content-sha256 against the body, and the signature (compared
/// in constant time).
///
/// Thread safety: verify may be called from several threads at once (the lookup must allow
/// that too). Derived keys are cached per secret, date, region and service.
/// Errors: failures are results, not exceptions; std::invalid_argument when neither the request
/// nor an x-amz-content-sha256 header gives a payload hash (a caller bug).
/// @code
///   aws::verifier v([](std::string_view id) -> std::optional<std::string> {
///                     if (id == "AKID") return "secret"; return std::nullopt; },
///                   {.region = "us-east-1", .service = "firehose"});
///   auto r = v.verify(request, body, std::chrono::system_clock::now());
///   if (!r) reply(r.http_status, r.code, r.message);
/// @endcode
class verifier {
 public:
  SLUICE_DECL verifier(secret_lookup lookup, verify_options options);

  /// Verifies `req`, whose payload_hash is the hash of the body received (or empty to trust
  /// x-amz-content-sha256, for streaming and unsigned payloads).
  [[nodiscard]] SLUICE_DECL verify_result verify(const http_request& req,
                                                 std::chrono::system_clock::time_point now) const;
  /// Verifies `req` with the hash of `body` as its payload hash.
  [[nodiscard]] SLUICE_DECL verify_result verify(const http_request& req, std::string_view body,
                                                 std::chrono::system_clock::time_point now) const;

  [[nodiscard]] const verify_options& options() const noexcept { return options_; }

 private:
  SLUICE_DECL verify_result verify_with(const http_request& req, std::string_view body_hash,
                                        std::chrono::system_clock::time_point now) const;
  SLUICE_DECL std::array<std::uint8_t, 32> key_for(const std::string& secret, std::string_view date,
                                                   std::string_view region) const;

  struct key_cache;
  secret_lookup lookup_;
  verify_options options_;
  std::shared_ptr<key_cache> cache_;
};

}  // namespace sluice::aws

// Definitions: here unless SLUICE_SEPARATE_COMPILATION is set, then in the one translation unit
// that defines SLUICE_SOURCE before including this header.
#if !defined(SLUICE_SEPARATE_COMPILATION) || defined(SLUICE_SOURCE)
#include <sluice/aws/impl/sigv4.hpp>
#include <sluice/aws/impl/verifier.hpp>
#endif
