// SPDX-License-Identifier: Apache-2.0
#pragma once
// Definitions of the verification half of <sluice/aws/sigv4.hpp>; included by it after
// impl/sigv4.hpp, whose canonical request, key derivation and signature it reuses.
#include <sluice/core/config.hpp>
#include <sluice/core/error.hpp>
#include <sluice/aws/impl/sigv4.hpp>

#include <openssl/crypto.h>

#include <charconv>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

namespace sluice::aws {

SLUICE_DECL std::string_view aws_error_code(auth_failure failure, error_style style, bool presigned) noexcept {
  using enum auth_failure;
  switch (style) {
    case error_style::json:
      switch (failure) {
        case none: return {};
        case missing_authentication: return "MissingAuthenticationTokenException";
        case malformed:
        case header_not_signed:
        case content_sha256_invalid: return "IncompleteSignatureException";
        case unknown_access_key: return "UnrecognizedClientException";
        case scope_mismatch:
        case signature_mismatch:
        case request_time_skewed:
        case presign_expired:
        case content_sha256_mismatch: return "InvalidSignatureException";
      }
      break;
    case error_style::query:
      switch (failure) {
        case none: return {};
        case missing_authentication: return "MissingAuthenticationToken";
        case malformed:
        case header_not_signed:
        case content_sha256_invalid: return "IncompleteSignature";
        case unknown_access_key: return "InvalidClientTokenId";
        case scope_mismatch:
        case signature_mismatch:
        case content_sha256_mismatch: return "SignatureDoesNotMatch";
        case request_time_skewed:
        case presign_expired: return "RequestExpired";
      }
      break;
    case error_style::s3:
      switch (failure) {
        case none: return {};
        case missing_authentication:
        case header_not_signed:
        case presign_expired: return "AccessDenied";
        case malformed:
        case scope_mismatch: return presigned ? "AuthorizationQueryParametersError" : "AuthorizationHeaderMalformed";
        case unknown_access_key: return "InvalidAccessKeyId";
        case signature_mismatch: return "SignatureDoesNotMatch";
        case request_time_skewed: return "RequestTimeTooSkewed";
        case content_sha256_mismatch: return "XAmzContentSHA256Mismatch";
        case content_sha256_invalid: return "InvalidArgument";
      }
      break;
  }
  return "InternalFailure";
}

SLUICE_DECL int http_status(auth_failure failure, error_style style) noexcept {
  using enum auth_failure;
  if (failure == none) return 200;
  switch (style) {
    case error_style::json: return 400;
    case error_style::query:
      switch (failure) {
        case missing_authentication:
        case unknown_access_key:
        case scope_mismatch:
        case signature_mismatch:
        case content_sha256_mismatch: return 403;
        default: return 400;
      }
    case error_style::s3:
      switch (failure) {
        case malformed:
        case scope_mismatch:
        case content_sha256_mismatch:
        case content_sha256_invalid: return 400;
        default: return 403;
      }
  }
  return 400;
}

struct verifier::key_cache {
  std::mutex mutex;
  std::unordered_map<std::string, detail::signing_key> keys;
};

SLUICE_DECL verifier::verifier(secret_lookup lookup, verify_options options)
    : lookup_(std::move(lookup)), options_(std::move(options)), cache_(std::make_shared<key_cache>()) {
  if (!lookup_) throw config_error("aws::verifier: the secret lookup is empty");
  if (options_.service.empty()) throw config_error("aws::verifier: verify_options.service must be set");
  if (options_.max_skew.count() < 0)
    throw config_error("aws::verifier: verify_options.max_skew = " + std::to_string(options_.max_skew.count()) +
                       " s: must not be negative");
}

SLUICE_DECL std::array<std::uint8_t, 32> verifier::key_for(const std::string& secret, std::string_view date,
                                                           std::string_view region) const {
  // Keyed by a hash of the secret, not the secret itself, and bounded: a server sees few keys,
  // and a flood of distinct ones only costs re-derivation.
  const auto secret_hash = detail::sha256(secret);
  std::string id(reinterpret_cast<const char*>(secret_hash.data()), secret_hash.size());
  id.append("\n").append(date).append("\n").append(region);
  std::lock_guard lock(cache_->mutex);
  if (auto it = cache_->keys.find(id); it != cache_->keys.end()) return it->second.bytes;
  if (cache_->keys.size() >= 1024) cache_->keys.clear();
  auto& slot = cache_->keys[id];
  slot.bytes = derive_signing_key(secret, date, region, options_.service);
  return slot.bytes;
}

SLUICE_DECL verify_result verifier::verify(const http_request& req, std::chrono::system_clock::time_point now) const {
  return verify_with(req, req.payload_hash, now);
}

SLUICE_DECL verify_result verifier::verify(const http_request& req, std::string_view body,
                                           std::chrono::system_clock::time_point now) const {
  return verify_with(req, detail::sha256_hex(body), now);
}

SLUICE_DECL verify_result verifier::verify_with(const http_request& req, std::string_view body_hash,
                                                std::chrono::system_clock::time_point now) const {
  using detail::trim;
  verify_result r;
  auto fail = [&](auth_failure f, std::string message) -> verify_result& {
    r.failure = f;
    r.code = std::string(aws_error_code(f, options_.style, r.presigned));
    r.http_status = http_status(f, options_.style);
    r.message = std::move(message);
    return r;
  };
  auto quoted = [](std::string_view s) { return "'" + std::string(s) + "'"; };

  // Which mechanism: an Authorization header or presigned query parameters, never both.
  const http_header* auth = nullptr;
  int auth_headers = 0;
  for (const auto& h : req.headers)
    if (detail::iequals(trim(h.name), "authorization")) {
      auth = &h;
      ++auth_headers;
    }
  const auto params = detail::parse_query(req.query);
  auto param = [&](std::string_view name, int& count) -> const std::string* {
    const std::string* found = nullptr;
    count = 0;
    for (const auto& p : params)
      if (p.name == name) {
        found = &p.value;
        ++count;
      }
    return found;
  };
  int n = 0;
  const bool query_auth = param("X-Amz-Algorithm", n) || param("X-Amz-Signature", n) || param("X-Amz-Credential", n);
  if (auth == nullptr && !query_auth)
    return fail(auth_failure::missing_authentication,
                options_.style == error_style::json
                    ? "Request is missing Authentication Token: no Authorization header and no X-Amz-Signature "
                      "query parameter"
                    : "Request is not signed: no Authorization header and no X-Amz-Signature query parameter");
  r.presigned = auth == nullptr;
  if (auth != nullptr && query_auth)
    return fail(auth_failure::malformed,
                "Only one auth mechanism allowed; the request has both an Authorization header and X-Amz-* "
                "query-string authentication parameters");
  if (auth_headers > 1) return fail(auth_failure::malformed, "The request has more than one Authorization header");

  std::string credential, signed_headers_text, signature, amz_date_text;
  std::int64_t expires = 0;
  if (!r.presigned) {
    std::string_view v = trim(auth->value);
    const std::size_t space = v.find(' ');
    const std::string_view algorithm = v.substr(0, space);
    if (algorithm != sigv4_algorithm)
      return fail(auth_failure::malformed, "Unsupported Authorization algorithm " + quoted(algorithm) +
                                               "; only AWS4-HMAC-SHA256 (Signature Version 4) is accepted");
    std::string_view rest = space == std::string_view::npos ? std::string_view{} : v.substr(space + 1);
    bool have_credential = false, have_signed_headers = false, have_signature = false;
    while (!rest.empty()) {
      const std::size_t comma = rest.find(',');
      const std::string_view part = trim(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      if (part.empty()) continue;
      const std::size_t eq = part.find('=');
      if (eq == std::string_view::npos)
        return fail(auth_failure::malformed, quoted(part) +
                                                 " not a valid key=value pair (missing equal-sign) in Authorization "
                                                 "header: " +
                                                 quoted(v));
      const std::string_view key = trim(part.substr(0, eq)), value = trim(part.substr(eq + 1));
      bool* seen = key == "Credential"      ? &have_credential
                   : key == "SignedHeaders" ? &have_signed_headers
                   : key == "Signature"     ? &have_signature
                                            : nullptr;
      if (seen == nullptr)
        return fail(auth_failure::malformed, "Unknown component " + quoted(key) +
                                                 " in Authorization header; expected Credential, SignedHeaders and "
                                                 "Signature");
      if (*seen) return fail(auth_failure::malformed, "Authorization header has " + quoted(key) + " twice");
      *seen = true;
      (key == "Credential" ? credential : key == "SignedHeaders" ? signed_headers_text : signature) = std::string(value);
    }
    std::string missing;
    if (!have_credential) missing += "Authorization header requires 'Credential' parameter. ";
    if (!have_signature) missing += "Authorization header requires 'Signature' parameter. ";
    if (!have_signed_headers) missing += "Authorization header requires 'SignedHeaders' parameter. ";
    int dates = 0;
    for (const auto& h : req.headers)
      if (detail::iequals(trim(h.name), "x-amz-date")) {
        amz_date_text = std::string(trim(h.value));
        ++dates;
      }
    if (dates == 0) missing += "Authorization header requires existence of an 'X-Amz-Date' header. ";
    if (!missing.empty()) {
      missing.pop_back();
      return fail(auth_failure::malformed, missing + " Authorization=" + std::string(v));
    }
    if (dates > 1) return fail(auth_failure::malformed, "The request has more than one X-Amz-Date header");
  } else {
    std::string missing;
    const std::string* algorithm = nullptr;
    const std::string* expires_text = nullptr;
    struct wanted {
      std::string_view name;
      const std::string** value;
      std::string* copy;
    } wanted_params[] = {{"X-Amz-Algorithm", &algorithm, nullptr},
                         {"X-Amz-Credential", nullptr, &credential},
                         {"X-Amz-Signature", nullptr, &signature},
                         {"X-Amz-Date", nullptr, &amz_date_text},
                         {"X-Amz-SignedHeaders", nullptr, &signed_headers_text},
                         {"X-Amz-Expires", &expires_text, nullptr}};
    for (auto& w : wanted_params) {
      const std::string* value = param(w.name, n);
      if (n > 1) return fail(auth_failure::malformed, "Query parameter " + std::string(w.name) + " appears twice");
      if (value == nullptr) {
        missing += missing.empty() ? "" : ", ";
        missing += w.name;
        continue;
      }
      if (w.value != nullptr) *w.value = value;
      if (w.copy != nullptr) *w.copy = *value;
    }
    if (!missing.empty())
      return fail(auth_failure::malformed,
                  "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
                  "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters; missing: " +
                      missing);
    if (*algorithm != sigv4_algorithm)
      return fail(auth_failure::malformed, "X-Amz-Algorithm " + quoted(*algorithm) +
                                               " is not supported; only AWS4-HMAC-SHA256 is accepted");
    const auto [end, ec] = std::from_chars(expires_text->data(), expires_text->data() + expires_text->size(), expires);
    if (ec != std::errc{} || end != expires_text->data() + expires_text->size() || expires < 1 ||
        expires > max_presign_expiry.count())
      return fail(auth_failure::malformed, "X-Amz-Expires " + quoted(*expires_text) +
                                               " must be a number of seconds from 1 to 604800 (7 days)");
  }
  const char* where = r.presigned ? "X-Amz-" : "Authorization ";

  // The parts: signature, credential, date, signed headers.
  r.signature = signature;
  if (!detail::is_hex64(signature))
    return fail(auth_failure::malformed, std::string(where) + "Signature " + quoted(signature) +
                                             " must be 64 lower-case hex digits");
  std::vector<std::string_view> cred_parts;
  for (std::string_view c = credential;;) {
    const std::size_t slash = c.find('/');
    cred_parts.push_back(c.substr(0, slash));
    if (slash == std::string_view::npos) break;
    c = c.substr(slash + 1);
  }
  if (cred_parts.size() != 5 || cred_parts[0].empty())
    return fail(auth_failure::malformed, std::string(where) + "Credential " + quoted(credential) +
                                             " must have the form <access key id>/<YYYYMMDD>/<region>/"
                                             "<service>/aws4_request");
  r.access_key_id = std::string(cred_parts[0]);
  const auto signed_at = parse_amz_date(amz_date_text);
  if (!signed_at)
    return fail(auth_failure::malformed, "X-Amz-Date " + quoted(amz_date_text) +
                                             " must be an ISO 8601 basic UTC time, YYYYMMDD'T'HHMMSS'Z'");
  r.amz_date = amz_date_text;
  r.scope = credential.substr(cred_parts[0].size() + 1);
  std::vector<std::string> signed_names;
  {
    std::string_view s = signed_headers_text;
    bool ok = !s.empty();
    while (ok && !s.empty()) {
      const std::size_t semi = s.find(';');
      const std::string_view name = s.substr(0, semi);
      s = semi == std::string_view::npos ? std::string_view{} : s.substr(semi + 1);
      ok = !name.empty() && (semi == std::string_view::npos || !s.empty()) && detail::lower(name) == name &&
           (signed_names.empty() || signed_names.back() < name);
      signed_names.emplace_back(name);
    }
    if (!ok)
      return fail(auth_failure::malformed, std::string(where) + "SignedHeaders " + quoted(signed_headers_text) +
                                               " must be lower-case header names, sorted, unique and separated by "
                                               "';'");
  }

  // The credential scope.
  if (cred_parts[1] != std::string_view(amz_date_text).substr(0, 8))
    return fail(auth_failure::scope_mismatch, "Date in Credential scope does not match YYYYMMDD from X-Amz-Date: " +
                                                  quoted(cred_parts[1]) + " != " +
                                                  quoted(std::string_view(amz_date_text).substr(0, 8)));
  if (cred_parts[2].empty() || (!options_.region.empty() && cred_parts[2] != options_.region))
    return fail(auth_failure::scope_mismatch,
                "Credential should be scoped to a valid region, not " + quoted(cred_parts[2]) +
                    (options_.region.empty() ? std::string{} : "; this endpoint expects " + quoted(options_.region)));
  if (cred_parts[3] != options_.service)
    return fail(auth_failure::scope_mismatch, "Credential should be scoped to correct service: " +
                                                  quoted(options_.service) + ", not " + quoted(cred_parts[3]));
  if (cred_parts[4] != "aws4_request")
    return fail(auth_failure::scope_mismatch,
                "Credential should be scoped with a valid terminator: 'aws4_request', not " + quoted(cred_parts[4]));

  // What must be signed, and what is signed must be there.
  auto is_signed = [&](std::string_view name) {
    return std::binary_search(signed_names.begin(), signed_names.end(), name);
  };
  if (!is_signed("host"))
    return fail(auth_failure::header_not_signed,
                "'Host' must be a signed header; SignedHeaders=" + signed_headers_text);
  if (!r.presigned && !is_signed("x-amz-date"))
    return fail(auth_failure::header_not_signed,
                "'X-Amz-Date' must be a signed header; SignedHeaders=" + signed_headers_text);
  std::string unsigned_amz;
  for (const auto& h : req.headers) {
    const std::string name = detail::lower(trim(h.name));
    if (name.starts_with("x-amz-") && !is_signed(name) && unsigned_amz.find(name) == std::string::npos) {
      unsigned_amz += unsigned_amz.empty() ? "" : ", ";
      unsigned_amz += name;
    }
  }
  if (!unsigned_amz.empty())
    return fail(auth_failure::header_not_signed,
                "There were headers present in the request which were not signed: " + unsigned_amz);
  for (const auto& name : signed_names)
    if (req.find(name) == nullptr)
      return fail(auth_failure::malformed, "Signed header " + quoted(name) + " is not in the request");

  // Time: clock skew for header authentication, expiry for presigned URLs.
  const auto skew = options_.max_skew;
  const auto now_s = std::chrono::floor<std::chrono::seconds>(now);
  if (r.presigned) {
    if (*signed_at > now_s + skew)
      return fail(auth_failure::request_time_skewed,
                  "Request is not yet valid: X-Amz-Date " + amz_date_text + " is later than " +
                      format_amz_date(now_s + skew) + " (" + format_amz_date(now_s) + " + " +
                      detail::describe_skew(skew) + ")");
    if (now_s > *signed_at + std::chrono::seconds(expires))
      return fail(auth_failure::presign_expired,
                  "Request has expired: X-Amz-Date " + amz_date_text + " + X-Amz-Expires " + std::to_string(expires) +
                      " s = " + format_amz_date(*signed_at + std::chrono::seconds(expires)) + " is before " +
                      format_amz_date(now_s));
  } else {
    if (*signed_at < now_s - skew)
      return fail(auth_failure::request_time_skewed,
                  "Signature expired: " + amz_date_text + " is now earlier than " + format_amz_date(now_s - skew) +
                      " (" + format_amz_date(now_s) + " - " + detail::describe_skew(skew) + ")");
    if (*signed_at > now_s + skew)
      return fail(auth_failure::request_time_skewed,
                  "Signature not yet current: " + amz_date_text + " is still later than " +
                      format_amz_date(now_s + skew) + " (" + format_amz_date(now_s) + " + " +
                      detail::describe_skew(skew) + ")");
  }

  // Who signed.
  const std::optional<std::string> secret = lookup_(r.access_key_id);
  if (!secret)
    return fail(auth_failure::unknown_access_key,
                (options_.style == error_style::s3 ? "The AWS Access Key Id you provided does not exist in our "
                                                     "records: "
                                                   : "The security token included in the request is invalid: unknown "
                                                     "access key id ") +
                    quoted(r.access_key_id));

  // The payload hash of the canonical request.
  std::string payload;
  int sha_headers = 0;
  const http_header* sha = nullptr;
  for (const auto& h : req.headers)
    if (detail::iequals(trim(h.name), "x-amz-content-sha256")) {
      sha = &h;
      ++sha_headers;
    }
  if (sha_headers > 1) return fail(auth_failure::malformed, "The request has more than one x-amz-content-sha256 header");
  if (sha != nullptr) {
    const std::string_view v = trim(sha->value);
    if (detail::is_hex64(v)) {
      if (!body_hash.empty() && body_hash != v)
        return fail(auth_failure::content_sha256_mismatch,
                    "The provided 'x-amz-content-sha256' header does not match what was computed: header " +
                        quoted(v) + ", body " + quoted(body_hash));
    } else if (v != unsigned_payload && !v.starts_with("STREAMING-")) {
      return fail(auth_failure::content_sha256_invalid,
                  "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD or a "
                  "lower-case hex SHA-256; got " +
                      quoted(v));
    }
    payload = std::string(v);
  } else if (options_.require_content_sha256 && !r.presigned) {
    fail(auth_failure::content_sha256_invalid, "Missing required header for this request: x-amz-content-sha256");
    if (options_.style == error_style::s3) r.code = "InvalidRequest";
    return r;
  } else if (r.presigned && options_.style == error_style::s3) {
    payload = std::string(unsigned_payload);
  } else if (body_hash.empty()) {
    throw std::invalid_argument(
        "aws::verifier::verify: no payload hash: pass the body, or set http_request.payload_hash to its hex "
        "SHA-256");
  } else {
    payload = std::string(body_hash);
  }

  // The signature.
  r.canonical_request =
      detail::build_canonical_request(req.method, req.path, detail::canonical_query(params, "X-Amz-Signature"),
                                      req.headers, signed_names, payload, options_.normalize_path,
                                      options_.double_encode_path);
  r.string_to_sign = string_to_sign(amz_date_text, r.scope, r.canonical_request);
  auto key = key_for(*secret, cred_parts[1], cred_parts[2]);
  const std::string expected = sign_string(key, r.string_to_sign);
  OPENSSL_cleanse(key.data(), key.size());
  if (!detail::constant_time_equal(expected, signature))
    return fail(auth_failure::signature_mismatch,
                "The request signature we calculated does not match the signature you provided. Check your AWS "
                "Secret Access Key and signing method.");
  return r;
}

}  // namespace sluice::aws
