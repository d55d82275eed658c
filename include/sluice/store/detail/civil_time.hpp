// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/detail/civil_time.hpp>
#include <sluice/core/record.hpp>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::store::detail {

// The calendar arithmetic, the strftime subset of key templates and the RFC 3339 writer are
// shared with the generator and transform::partition_by: core/detail/civil_time.hpp.

/// Appends `t` as RFC 3339 UTC with milliseconds: `2024-05-01T13:45:00.123Z`.
inline void append_rfc3339(std::string& out, timestamp t) { sluice::detail::append_rfc3339_ms(out, t); }

/// Parses what append_rfc3339 writes (fraction optional, 1..9 digits; `Z` or `+00:00`).
/// Returns false for anything else. Stricter than transform::detail::parse_rfc3339 (no other
/// offsets, no space for `T`) because sidecars are written by append_rfc3339.
inline bool parse_rfc3339(std::string_view s, timestamp& out) {
  auto number = [&](std::size_t at, std::size_t len, std::int64_t& v) {
    if (at + len > s.size()) return false;
    for (std::size_t i = at; i < at + len; ++i)
      if (s[i] < '0' || s[i] > '9') return false;
    return std::from_chars(s.data() + at, s.data() + at + len, v).ec == std::errc{};
  };
  std::int64_t y, mo, d, h, mi, se;
  if (s.size() < 20 || !number(0, 4, y) || s[4] != '-' || !number(5, 2, mo) || s[7] != '-' ||
      !number(8, 2, d) || (s[10] != 'T' && s[10] != 't') || !number(11, 2, h) || s[13] != ':' ||
      !number(14, 2, mi) || s[16] != ':' || !number(17, 2, se))
    return false;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return false;
  std::size_t at = 19;
  std::int64_t nanos = 0;
  if (s[at] == '.') {
    std::size_t start = ++at;
    while (at < s.size() && s[at] >= '0' && s[at] <= '9') ++at;
    std::size_t digits = at - start;
    if (digits == 0 || digits > 9) return false;
    std::int64_t frac;
    if (!number(start, digits, frac)) return false;
    for (std::size_t i = digits; i < 9; ++i) frac *= 10;
    nanos = frac;
  }
  std::string_view zone = s.substr(at);
  if (zone != "Z" && zone != "z" && zone != "+00:00") return false;
  using namespace std::chrono;
  auto secs = sluice::detail::days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 + mi * 60 + se;
  out = timestamp(duration_cast<timestamp::duration>(seconds(secs) + nanoseconds(nanos)));
  return true;
}

}  // namespace sluice::store::detail
