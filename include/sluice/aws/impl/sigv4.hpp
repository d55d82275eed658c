// SPDX-License-Identifier: Apache-2.0
#pragma once
// Definitions of <sluice/aws/sigv4.hpp>; included by it.
#include <sluice/core/config.hpp>
#include <sluice/core/detail/civil_time.hpp>
#include <sluice/core/error.hpp>
#include <sluice/aws/detail/digest.hpp>
#include <sluice/aws/detail/uri.hpp>

#include <openssl/crypto.h>

#include <algorithm>
#include <charconv>
#include <mutex>
#include <stdexcept>

namespace sluice::aws {
namespace detail {

constexpr char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

constexpr bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

inline std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

/// Appends a header value trimmed, with every run of whitespace (folded lines too) made one
/// space: SigV4's "trimall".
inline void append_trimmed_value(std::string& out, std::string_view v) {
  v = trim(v);
  bool in_space = false;
  for (char c : v) {
    if (is_space(c)) {
      in_space = true;
      continue;
    }
    if (in_space) out += ' ';
    in_space = false;
    out += c;
  }
}

/// Headers the SDKs never sign: hop-by-hop headers a proxy may change, and the ones that vary
/// per attempt without meaning (user agent, trace id).
inline bool is_unsignable(std::string_view lname) noexcept {
  constexpr std::string_view names[] = {"authorization", "connection", "expect",  "keep-alive",
                                        "proxy-authorization", "te", "trailer", "transfer-encoding",
                                        "upgrade", "user-agent", "x-amzn-trace-id"};
  return std::find(std::begin(names), std::end(names), lname) != std::end(names);
}

/// Lower-case names of the headers of `req` to sign, sorted and unique.
inline std::vector<std::string> headers_to_sign(const http_request& req, bool skip_security_token) {
  std::vector<std::string> names;
  names.reserve(req.headers.size());
  for (const auto& h : req.headers) {
    std::string n = lower(trim(h.name));
    if (is_unsignable(n) || (skip_security_token && n == "x-amz-security-token")) continue;
    names.push_back(std::move(n));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

inline std::string join(std::span<const std::string> names, char sep) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += sep;
    out += n;
  }
  return out;
}

/// The canonical request from its parts; `query` is already canonical.
inline std::string build_canonical_request(std::string_view method, std::string_view path, std::string_view query,
                                           const std::vector<http_header>& headers,
                                           std::span<const std::string> signed_headers, std::string_view payload,
                                           bool normalize, bool double_encode) {
  std::string out;
  out.reserve(256);
  out += method;
  out += '\n';
  out += canonical_uri(path, normalize, double_encode);
  out += '\n';
  out += query;
  out += '\n';
  for (const auto& name : signed_headers) {
    out += name;
    out += ':';
    bool first = true;
    for (const auto& h : headers) {
      if (!iequals(trim(h.name), name)) continue;
      if (!first) out += ',';
      first = false;
      append_trimmed_value(out, h.value);
    }
    out += '\n';
  }
  out += '\n';
  out += join(signed_headers, ';');
  out += '\n';
  out += payload;
  return out;
}

/// "5 min." for whole minutes (as AWS writes it), "90 s" otherwise.
inline std::string describe_skew(std::chrono::seconds s) {
  if (s.count() % 60 == 0) return std::to_string(s.count() / 60) + " min.";
  return std::to_string(s.count()) + " s";
}

}  // namespace detail

SLUICE_DECL const http_header* http_request::find(std::string_view name) const noexcept {
  for (const auto& h : headers)
    if (detail::iequals(detail::trim(h.name), name)) return &h;
  return nullptr;
}

SLUICE_DECL void http_request::set(std::string_view name, std::string value) {
  auto it = std::find_if(headers.begin(), headers.end(),
                         [&](const http_header& h) { return detail::iequals(detail::trim(h.name), name); });
  if (it == headers.end()) {
    headers.push_back({std::string(name), std::move(value)});
    return;
  }
  it->value = std::move(value);
  headers.erase(std::remove_if(std::next(it), headers.end(),
                               [&](const http_header& h) { return detail::iequals(detail::trim(h.name), name); }),
                headers.end());
}

SLUICE_DECL void http_request::remove(std::string_view name) {
  headers.erase(std::remove_if(headers.begin(), headers.end(),
                               [&](const http_header& h) { return detail::iequals(detail::trim(h.name), name); }),
                headers.end());
}

SLUICE_DECL std::string format_amz_date(std::chrono::system_clock::time_point t) {
  const auto c = sluice::detail::to_civil(t);
  std::string s(16, '\0');
  sluice::detail::put_digits(s.data(), static_cast<std::uint64_t>(c.year), 4);
  sluice::detail::put_digits(s.data() + 4, c.month, 2);
  sluice::detail::put_digits(s.data() + 6, c.day, 2);
  s[8] = 'T';
  sluice::detail::put_digits(s.data() + 9, c.hour, 2);
  sluice::detail::put_digits(s.data() + 11, c.minute, 2);
  sluice::detail::put_digits(s.data() + 13, c.second, 2);
  s[15] = 'Z';
  return s;
}

SLUICE_DECL std::optional<std::chrono::system_clock::time_point> parse_amz_date(std::string_view s) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
  auto number = [&](std::size_t at, std::size_t len, unsigned& v) {
    v = 0;
    for (std::size_t i = at; i < at + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      v = v * 10 + static_cast<unsigned>(s[i] - '0');
    }
    return true;
  };
  unsigned y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!number(0, 4, y) || !number(4, 2, mo) || !number(6, 2, d) || !number(9, 2, h) || !number(11, 2, mi) ||
      !number(13, 2, sec))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59) return std::nullopt;
  const std::int64_t days = sluice::detail::days_from_civil(y, mo, d);
  // Reject days past the end of the month (20150231 would otherwise become March 3rd).
  const auto back = sluice::detail::civil_from_days(days);
  if (back.month != mo || back.day != d) return std::nullopt;
  const std::int64_t secs = days * 86400 + std::int64_t{h} * 3600 + std::int64_t{mi} * 60 + sec;
  return std::chrono::system_clock::time_point(std::chrono::seconds(secs));
}

SLUICE_DECL std::string canonical_uri(std::string_view path, bool normalize, bool double_encode) {
  return detail::canonical_uri(path, normalize, double_encode);
}

SLUICE_DECL std::string canonical_query(std::string_view query) {
  return detail::canonical_query(detail::parse_query(query));
}

SLUICE_DECL std::string canonical_request(const http_request& req, std::span<const std::string> signed_headers,
                                          bool normalize_path, bool double_encode_path) {
  return detail::build_canonical_request(req.method, req.path, canonical_query(req.query), req.headers, signed_headers,
                                         req.payload_hash, normalize_path, double_encode_path);
}

SLUICE_DECL std::string credential_scope(std::string_view date, std::string_view region, std::string_view service) {
  std::string s;
  s.reserve(date.size() + region.size() + service.size() + 16);
  s.append(date).append("/").append(region).append("/").append(service).append("/aws4_request");
  return s;
}

SLUICE_DECL std::string string_to_sign(std::string_view amz_date, std::string_view scope,
                                       std::string_view canonical_request) {
  std::string s;
  s.reserve(sigv4_algorithm.size() + amz_date.size() + scope.size() + 68);
  s.append(sigv4_algorithm).append("\n").append(amz_date).append("\n").append(scope).append("\n");
  s += detail::sha256_hex(canonical_request);
  return s;
}

SLUICE_DECL std::array<std::uint8_t, 32> derive_signing_key(std::string_view secret, std::string_view date,
                                                            std::string_view region, std::string_view service) {
  std::string k = "AWS4";
  k += secret;
  detail::signing_key key;
  key.bytes = detail::hmac_sha256(k.data(), k.size(), date);
  OPENSSL_cleanse(k.data(), k.size());
  key.bytes = detail::hmac_sha256(key.bytes, region);
  key.bytes = detail::hmac_sha256(key.bytes, service);
  key.bytes = detail::hmac_sha256(key.bytes, "aws4_request");
  return key.bytes;
}

SLUICE_DECL std::string sign_string(const std::array<std::uint8_t, 32>& key, std::string_view string_to_sign) {
  return detail::hex(detail::hmac_sha256(key, string_to_sign));
}

// ---- chunk_signer ---------------------------------------------------------------------------

SLUICE_DECL chunk_signer::chunk_signer(const std::array<std::uint8_t, 32>& key, std::string amz_date,
                                       std::string scope, std::string seed_signature)
    : amz_date_(std::move(amz_date)), scope_(std::move(scope)), previous_(std::move(seed_signature)) {
  key_.bytes = key;
}

SLUICE_DECL std::string chunk_signer::sign(std::string_view chunk) {
  std::string sts;
  sts.reserve(24 + amz_date_.size() + scope_.size() + 3 * 64 + 5);
  sts.append("AWS4-HMAC-SHA256-PAYLOAD\n").append(amz_date_).append("\n").append(scope_).append("\n");
  sts.append(previous_).append("\n").append(empty_payload_hash).append("\n");
  sts += detail::sha256_hex(chunk);
  previous_ = detail::hex(detail::hmac_sha256(key_.bytes, sts));
  return previous_;
}

SLUICE_DECL void chunk_signer::frame(std::string& out, std::string_view chunk) {
  const std::string sig = sign(chunk);
  char size[17];
  auto [end, ec] = std::to_chars(size, size + sizeof size, static_cast<std::uint64_t>(chunk.size()), 16);
  (void)ec;  // 17 bytes hold any 64-bit value in hex
  out.reserve(out.size() + framed_size(chunk.size()));
  out.append(size, end).append(";chunk-signature=").append(sig).append("\r\n");
  out.append(chunk).append("\r\n");
}

// ---- signer ---------------------------------------------------------------------------------

struct signer::key_cache {
  std::mutex mutex;
  std::string date;
  detail::signing_key key;
};

SLUICE_DECL signer::signer(credentials creds, signing_options options)
    : creds_(std::move(creds)), options_(std::move(options)), cache_(std::make_shared<key_cache>()) {
  if (creds_.access_key_id.empty() || creds_.secret_access_key.empty())
    throw config_error("aws::signer: credentials need an access key id and a secret access key");
  if (options_.region.empty() || options_.service.empty())
    throw config_error("aws::signer: signing_options.region and .service must be set (region = \"" +
                       options_.region + "\", service = \"" + options_.service + "\")");
}

SLUICE_DECL std::array<std::uint8_t, 32> signer::key_for(std::string_view date) const {
  std::lock_guard lock(cache_->mutex);
  if (cache_->date != date) {
    cache_->key.bytes = derive_signing_key(creds_.secret_access_key, date, options_.region, options_.service);
    cache_->date = std::string(date);
  }
  return cache_->key.bytes;
}

SLUICE_DECL signed_parts signer::sign_common(http_request& req, std::string_view amz_date,
                                             std::span<const std::string> signed_headers) const {
  signed_parts p;
  p.amz_date = std::string(amz_date);
  p.scope = credential_scope(amz_date.substr(0, 8), options_.region, options_.service);
  p.signed_headers = detail::join(signed_headers, ';');
  p.canonical_request = canonical_request(req, signed_headers, options_.normalize_path, options_.double_encode_path);
  p.string_to_sign = string_to_sign(p.amz_date, p.scope, p.canonical_request);
  auto key = key_for(amz_date.substr(0, 8));
  p.signature = sign_string(key, p.string_to_sign);
  OPENSSL_cleanse(key.data(), key.size());
  return p;
}

namespace detail {
inline void check_signable(const http_request& req, std::string_view what) {
  if (req.find("host") == nullptr)
    throw config_error(std::string(what) + ": the request has no Host header (SigV4 always signs host)");
  if (req.payload_hash.empty())
    throw config_error(std::string(what) +
                       ": http_request.payload_hash is empty; set payload_hash(body), unsigned_payload or "
                       "streaming_payload");
}
}  // namespace detail

SLUICE_DECL signed_parts signer::sign(http_request& req, std::chrono::system_clock::time_point now) const {
  detail::check_signable(req, "aws::signer::sign");
  const std::string amz_date = format_amz_date(now);
  const bool token = !creds_.session_token.empty();
  req.remove("authorization");
  req.set("x-amz-date", amz_date);
  if (token && options_.sign_session_token) req.set("x-amz-security-token", creds_.session_token);
  if (options_.add_content_sha256) req.set("x-amz-content-sha256", req.payload_hash);
  const auto names = detail::headers_to_sign(req, !options_.sign_session_token);
  signed_parts p = sign_common(req, amz_date, names);
  std::string authorization;
  authorization.reserve(200);
  authorization.append(sigv4_algorithm).append(" Credential=").append(creds_.access_key_id).append("/");
  authorization.append(p.scope).append(", SignedHeaders=").append(p.signed_headers);
  authorization.append(", Signature=").append(p.signature);
  req.headers.push_back({"Authorization", std::move(authorization)});
  if (token && !options_.sign_session_token) req.set("x-amz-security-token", creds_.session_token);
  return p;
}

SLUICE_DECL signed_parts signer::presign(http_request& req, std::chrono::system_clock::time_point now,
                                         std::chrono::seconds expires) const {
  detail::check_signable(req, "aws::signer::presign");
  if (expires.count() < 1 || expires > max_presign_expiry)
    throw config_error("aws::signer::presign: expires = " + std::to_string(expires.count()) +
                       " s: must be 1..604800 (7 days)");
  const std::string amz_date = format_amz_date(now);
  const bool token = !creds_.session_token.empty();
  const auto names = detail::headers_to_sign(req, false);
  auto add = [&](std::string_view name, std::string_view value) {
    if (!req.query.empty()) req.query += '&';
    req.query.append(name).append("=");
    detail::append_encoded(req.query, value);
  };
  // In the canonical (sorted) order, which is also the order of S3's documented example.
  add("X-Amz-Algorithm", sigv4_algorithm);
  add("X-Amz-Credential",
      creds_.access_key_id + "/" + credential_scope(std::string_view(amz_date).substr(0, 8), options_.region,
                                                    options_.service));
  add("X-Amz-Date", amz_date);
  add("X-Amz-Expires", std::to_string(expires.count()));
  if (token && options_.sign_session_token) add("X-Amz-Security-Token", creds_.session_token);
  add("X-Amz-SignedHeaders", detail::join(names, ';'));
  signed_parts p = sign_common(req, amz_date, names);
  if (token && !options_.sign_session_token) add("X-Amz-Security-Token", creds_.session_token);
  add("X-Amz-Signature", p.signature);
  return p;
}

SLUICE_DECL chunk_signer signer::chunks(const signed_parts& seed) const {
  auto key = key_for(std::string_view(seed.amz_date).substr(0, 8));
  chunk_signer c(key, seed.amz_date, seed.scope, seed.signature);
  OPENSSL_cleanse(key.data(), key.size());
  return c;
}

}  // namespace sluice::aws
