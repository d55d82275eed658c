// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// Percent-encoding as SigV4 defines it (RFC 3986 unreserved characters stay, every other byte
// becomes %XX with upper-case hex), and the path and query rules of the canonical request.

namespace sluice::aws::detail {

/// A-Z a-z 0-9 - _ . ~ : the only bytes SigV4 leaves unencoded.
constexpr bool is_unreserved(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '~';
}

constexpr int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

inline void append_percent(std::string& out, unsigned char c) {
  static constexpr char digits[] = "0123456789ABCDEF";
  out += '%';
  out += digits[c >> 4];
  out += digits[c & 15];
}

/// Appends `in` with every byte but the unreserved ones (and '/' when `keep_slash`) encoded.
inline void append_encoded(std::string& out, std::string_view in, bool keep_slash = false) {
  for (char c : in) {
    if (is_unreserved(c) || (keep_slash && c == '/'))
      out += c;
    else
      append_percent(out, static_cast<unsigned char>(c));
  }
}
inline std::string encode(std::string_view in, bool keep_slash = false) {
  std::string out;
  out.reserve(in.size());
  append_encoded(out, in, keep_slash);
  return out;
}

/// Decodes %XX sequences. A '%' not followed by two hex digits stays as it is, and '+' stays a
/// plus (RFC 3986, not HTML forms: the SDKs send a space as %20).
inline std::string decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    int hi = 0, lo = 0;
    if (in[i] == '%' && i + 2 < in.size() && (hi = hex_value(in[i + 1])) >= 0 && (lo = hex_value(in[i + 2])) >= 0) {
      out += static_cast<char>(hi << 4 | lo);
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

/// Removes empty and "." segments and resolves ".." (never above the root), keeping a trailing
/// slash when the path had one: the rule of the AWS SDKs for services other than S3.
inline std::string normalize_path(std::string_view path) {
  std::vector<std::string_view> segments;
  std::size_t at = 0;
  while (at <= path.size()) {
    std::size_t end = path.find('/', at);
    if (end == std::string_view::npos) end = path.size();
    std::string_view seg = path.substr(at, end - at);
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segments.push_back(seg);
    }
    at = end + 1;
  }
  std::string out = "/";
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) out += '/';
    out += segments[i];
  }
  if (!segments.empty() && !path.empty() && path.back() == '/') out += '/';
  return out;
}

/// The canonical URI of a path as sent on the wire.
/// - `double_encode` (every service but S3): the wire path, normalised first when `normalize`,
///   is encoded once more, so "%20" on the wire becomes "%2520".
/// - otherwise (S3): the wire path is already encoded and is kept, except that bytes the client
///   left unencoded and SigV4 does not (such as '$' or a raw space) are encoded; '%XX' stays.
inline std::string canonical_uri(std::string_view path, bool normalize, bool double_encode) {
  std::string normalized;
  if (normalize) {
    normalized = normalize_path(path);
    path = normalized;
  }
  if (path.empty()) return "/";
  std::string out;
  out.reserve(path.size() + 8);
  if (double_encode) {
    append_encoded(out, path, true);
    return out;
  }
  for (std::size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '%' && i + 2 < path.size() && hex_value(path[i + 1]) >= 0 && hex_value(path[i + 2]) >= 0) {
      out.append(path.substr(i, 3));
      i += 2;
    } else if (is_unreserved(c) || c == '/') {
      out += c;
    } else {
      append_percent(out, static_cast<unsigned char>(c));
    }
  }
  return out;
}

/// One query parameter, percent-decoded.
struct query_param {
  std::string name, value;
};

/// Splits a raw query string (no '?') at '&' and the first '=' of each part, decoding both
/// sides. Empty parts ("a=1&&b=2", a trailing '&') are dropped.
inline std::vector<query_param> parse_query(std::string_view query) {
  std::vector<query_param> out;
  std::size_t at = 0;
  while (at <= query.size()) {
    std::size_t end = query.find('&', at);
    if (end == std::string_view::npos) end = query.size();
    std::string_view part = query.substr(at, end - at);
    if (!part.empty()) {
      std::size_t eq = part.find('=');
      if (eq == std::string_view::npos)
        out.push_back({decode(part), {}});
      else
        out.push_back({decode(part.substr(0, eq)), decode(part.substr(eq + 1))});
    }
    at = end + 1;
  }
  return out;
}

/// The canonical query string: each name and value encoded, sorted by name then value (byte
/// order), joined as name=value with '&'. `skip` names one parameter to leave out (the
/// X-Amz-Signature of a presigned URL).
inline std::string canonical_query(const std::vector<query_param>& params, std::string_view skip = {}) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(params.size());
  for (const auto& p : params)
    if (skip.empty() || p.name != skip) encoded.emplace_back(encode(p.name), encode(p.value));
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [k, v] : encoded) {
    if (!out.empty()) out += '&';
    out += k;
    out += '=';
    out += v;
  }
  return out;
}

}  // namespace sluice::aws::detail
