// SPDX-License-Identifier: Apache-2.0
#pragma once
// Small pieces shared by the request parsers and the response writers of
// <sluice/connector/http_stream/api.hpp>: JSON text output, and the validation messages in the
// form the AWS JSON services write them.
#include <sluice/core/config.hpp>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::connector::http_stream::detail {

/// Appends `s` as a JSON string: quotes, `"` and `\` escaped, control characters as \u00XX.
/// Other bytes go through as they are (the text is UTF-8 already).
inline void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  std::size_t run = 0;  // start of the bytes not yet copied
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 15];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

inline void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

/// `v` in decimal, zero-padded on the left to `width` digits.
inline void append_padded(std::string& out, std::uint64_t v, std::size_t width) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  const auto n = static_cast<std::size_t>(r.ptr - buf);
  if (n < width) out.append(width - n, '0');
  out.append(buf, n);
}

/// Length of a UTF-8 string as Java counts it (UTF-16 code units): the AWS services are Java,
/// and their `min`/`max` on strings count this way. Four-byte sequences count 2.
inline std::size_t java_length(std::string_view s) noexcept {
  std::size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;  // a lead byte or ASCII
    if (c >= 0xF0) ++n;           // a supplementary character is a surrogate pair
  }
  return n;
}

/// The validation messages of a request, in the form AWS writes them:
/// "2 validation errors detected: Value null at 'records' failed to satisfy constraint:
/// Member must not be null; Value '' at 'deliveryStreamName' ...". AWS lists at most 10
/// (kinesalite's tests, recorded against the real Kinesis, show the eleventh dropped).
class validation_log {
 public:
  static constexpr std::size_t max_listed = 10;
  static constexpr std::size_t no_record = static_cast<std::size_t>(-1);

  /// `value` is how AWS prints the offending value: `'text'` quoted, `null`, or empty to leave
  /// it out. `record` is the 0-based index of the record it concerns (or no_record).
  void add(std::string_view value, std::string_view path, std::string_view constraint,
           std::size_t record = no_record, bool front = false) {
    if (record != no_record && record < first_record_) first_record_ = record;
    std::string item = "Value ";
    if (!value.empty()) {
      item += value;
      item += ' ';
    }
    item += "at '";
    item += path;
    item += "' failed to satisfy constraint: ";
    item += constraint;
    if (front) {
      items_.insert(items_.begin(), std::move(item));
      if (items_.size() > max_listed) items_.pop_back();
    } else if (items_.size() < max_listed) {
      items_.push_back(std::move(item));
    }
  }
  [[nodiscard]] bool empty() const noexcept { return items_.empty(); }
  [[nodiscard]] std::size_t first_record() const noexcept { return first_record_; }
  [[nodiscard]] std::string message() const {
    std::string m;
    append_uint(m, items_.size());
    m += items_.size() == 1 ? " validation error detected: " : " validation errors detected: ";
    for (std::size_t i = 0; i < items_.size(); ++i) {
      if (i) m += "; ";
      m += items_[i];
    }
    return m;
  }
  void clear() noexcept {
    items_.clear();
    first_record_ = no_record;
  }

 private:
  std::vector<std::string> items_;
  std::size_t first_record_ = no_record;
};

/// How AWS prints a string value in a validation message: quoted. Very long values are cut
/// (AWS echoes them whole; a cap keeps an error response small) at a UTF-8 boundary.
inline std::string quoted(std::string_view s) {
  constexpr std::size_t cap = 1024;
  std::string q = "'";
  if (s.size() <= cap) {
    q += s;
  } else {
    std::size_t n = cap;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    q += s.substr(0, n);
    q += "...";
  }
  q += '\'';
  return q;
}

/// How AWS prints a blob in a validation message: its Java buffer, e.g.
/// 'java.nio.HeapByteBuffer[pos=0 lim=1024001 cap=1024001]' (seen in real Firehose and Kinesis
/// errors quoted in postmates/cernan#210 and osquery/osquery#3568).
inline std::string quoted_blob(std::size_t size) {
  std::string q = "'java.nio.HeapByteBuffer[pos=0 lim=";
  append_uint(q, size);
  q += " cap=";
  append_uint(q, size);
  q += "]'";
  return q;
}

/// The constraint texts AWS uses.
inline std::string at_most(std::size_t n) {
  std::string s = "Member must have length less than or equal to ";
  append_uint(s, n);
  return s;
}
inline std::string at_least(std::size_t n) {
  std::string s = "Member must have length greater than or equal to ";
  append_uint(s, n);
  return s;
}
inline std::string pattern(std::string_view p) {
  return std::string("Member must satisfy regular expression pattern: ").append(p);
}
inline constexpr std::string_view not_null = "Member must not be null";

/// `[a-zA-Z0-9_.-]+`: delivery stream and Kinesis stream names.
inline bool is_stream_name(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

/// `arn:aws.*:kinesis:.*:\d{12}:stream/\S+` (Kinesis StreamARN), matched by hand: std::regex
/// backtracks and recurses on long untrusted input. `.` is any character but CR and LF, as in
/// ECMAScript; `\S` any character but ASCII whitespace. Linear per candidate ":stream/".
inline bool is_stream_arn(std::string_view s) noexcept {
  constexpr std::string_view head = "arn:aws", kinesis = ":kinesis:", stream = ":stream/";
  if (!s.starts_with(head)) return false;
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; };
  for (auto j = s.find(stream, head.size()); j != std::string_view::npos; j = s.find(stream, j + 1)) {
    if (j < head.size() + kinesis.size() + 13) continue;
    // ":" then 12 digits just before ":stream/"
    const std::size_t digits = j - 12;
    if (s[digits - 1] != ':') continue;
    bool ok = true;
    for (std::size_t i = digits; i < j && ok; ++i) ok = s[i] >= '0' && s[i] <= '9';
    // \S+ to the end
    const auto tail = s.substr(j + stream.size());
    ok = ok && !tail.empty();
    for (std::size_t i = 0; i < tail.size() && ok; ++i) ok = !is_space(tail[i]);
    // the two `.*` around ":kinesis:": no line breaks, and ":kinesis:" inside
    const auto middle = s.substr(head.size(), digits - 1 - head.size());
    ok = ok && middle.find_first_of("\r\n") == std::string_view::npos && middle.find(kinesis) != std::string_view::npos;
    if (ok) return true;
  }
  return false;
}

/// `0|([1-9]\d{0,max_more})`: Kinesis hash keys (38) and sequence numbers (128).
inline bool is_decimal(std::string_view s, std::size_t max_more) noexcept {
  if (s == "0") return true;
  if (s.empty() || s.size() > max_more + 1 || s[0] < '1' || s[0] > '9') return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace sluice::connector::http_stream::detail
