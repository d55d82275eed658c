// SPDX-License-Identifier: Apache-2.0
#pragma once
// Reading the SigV4 test vectors: raw HTTP requests as the suites write them.
#include <sluice/aws/sigv4.hpp>

#include <sluice_test/support.hpp>

#include <algorithm>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace aws_test {

namespace aws = sluice::aws;

inline constexpr std::string_view suite_key_id = "AKIDEXAMPLE";
inline constexpr std::string_view suite_secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

/// How a suite writes a header value folded over several lines.
enum class folding {
  separate_values,  ///< the 2015 AWS suite: each continuation line is one more value (joined with ',')
  one_value,        ///< aws-c-auth: the lines are one value (whitespace runs collapse to one space)
};

/// A request file: "METHOD target HTTP/1.1", headers "Name:value", a blank line, the body.
/// The target may contain spaces and raw UTF-8 (the suites send them unencoded); it ends at
/// the last " HTTP/". Lines end with LF or CRLF.
struct parsed_request {
  aws::http_request request;
  std::string body;
};

inline parsed_request parse_request(std::string_view text, folding fold) {
  parsed_request out;
  auto next_line = [&](std::string_view& rest) {
    std::size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
  };
  std::string_view rest = text;
  const std::string_view first = next_line(rest);
  const std::size_t sp = first.find(' ');
  const std::size_t version = first.rfind(" HTTP/");
  REQUIRE(sp != std::string_view::npos);
  REQUIRE(version != std::string_view::npos);
  REQUIRE(version > sp);
  out.request.method = std::string(first.substr(0, sp));
  const std::string_view target = first.substr(sp + 1, version - sp - 1);
  const std::size_t q = target.find('?');
  out.request.path = std::string(target.substr(0, q));
  out.request.query = q == std::string_view::npos ? std::string{} : std::string(target.substr(q + 1));
  while (!rest.empty()) {
    const std::string_view line = next_line(rest);
    if (line.empty()) break;
    if (line.front() == ' ' || line.front() == '\t') {
      REQUIRE(!out.request.headers.empty());
      if (fold == folding::separate_values) {
        std::string_view v = line;
        while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
        out.request.headers.push_back({out.request.headers.back().name, std::string(v)});
      } else {
        out.request.headers.back().value += "\n";
        out.request.headers.back().value += line;
      }
      continue;
    }
    const std::size_t colon = line.find(':');
    REQUIRE(colon != std::string_view::npos);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    out.request.headers.push_back({std::string(line.substr(0, colon)), std::string(value)});
  }
  out.body = std::string(rest);
  out.request.payload_hash = aws::payload_hash(out.body);
  return out;
}

/// The file's text, without one trailing newline (some vector files end with one, some not).
inline std::string read_vector(const std::filesystem::path& p) {
  INFO("reading " << p);
  REQUIRE(std::filesystem::exists(p));
  std::string s = sluice_test::read_file(p);
  if (!s.empty() && s.back() == '\n') s.pop_back();
  if (!s.empty() && s.back() == '\r') s.pop_back();
  return s;
}

/// Headers as sorted (lower-case name, value) pairs, for comparing two requests.
inline std::vector<std::pair<std::string, std::string>> header_set(const aws::http_request& r) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& h : r.headers) {
    std::string n = h.name;
    for (char& c : n) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    out.emplace_back(n, h.value);
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// The query's '&'-separated parts, sorted, for comparing two presigned queries.
inline std::vector<std::string> query_parts(std::string_view q) {
  std::vector<std::string> out;
  while (!q.empty()) {
    std::size_t amp = q.find('&');
    out.emplace_back(q.substr(0, amp));
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// Every folder under `root` (recursively) holding a file named `marker` (or, when `marker` is
/// empty, a file named after the folder with extension `extension`), sorted.
inline std::vector<std::filesystem::path> case_folders(const std::filesystem::path& root, std::string_view marker,
                                                       std::string_view extension = {}) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    if (!e.is_directory()) continue;
    const auto name = e.path().filename().string();
    const auto file = marker.empty() ? e.path() / (name + std::string(extension)) : e.path() / std::string(marker);
    if (std::filesystem::exists(file)) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// A secret lookup that knows one key.
inline aws::secret_lookup one_key(std::string id, std::string secret) {
  return [id = std::move(id), secret = std::move(secret)](std::string_view k) -> std::optional<std::string> {
    if (k == id) return secret;
    return std::nullopt;
  };
}

}  // namespace aws_test
