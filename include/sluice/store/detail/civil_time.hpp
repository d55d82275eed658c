// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/record.hpp>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::store::detail {

/// A UTC calendar time broken into fields (no locale, no time zone database).
struct civil_time {
  std::int64_t year = 1970;
  unsigned month = 1, day = 1, hour = 0, minute = 0, second = 0, millisecond = 0;
  unsigned day_of_year = 1;  ///< 1..366
  std::int64_t epoch_seconds = 0;
};

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

inline civil_time to_civil(timestamp t) noexcept {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  std::int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  civil_time c;
  c.millisecond = static_cast<unsigned>(ms - secs * 1000);
  c.epoch_seconds = secs;
  std::int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  auto rem = static_cast<unsigned>(secs - days * 86400);
  c.hour = rem / 3600;
  c.minute = rem / 60 % 60;
  c.second = rem % 60;
  // civil_from_days
  std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  c.day = doy - (153 * mp + 2) / 5 + 1;
  c.month = mp < 10 ? mp + 3 : mp - 9;
  c.year = static_cast<std::int64_t>(yoe) + era * 400 + (c.month <= 2);
  c.day_of_year = static_cast<unsigned>(days - days_from_civil(c.year, 1, 1)) + 1;
  return c;
}

/// Appends `v` zero-padded to `width` digits.
inline void append_padded(std::string& out, std::int64_t v, int width) {
  char buf[24];
  bool negative = v < 0;
  std::uint64_t u = negative ? static_cast<std::uint64_t>(-(v + 1)) + 1 : static_cast<std::uint64_t>(v);
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, u);
  (void)ec;
  if (negative) out += '-';
  for (auto n = end - buf; n < width; ++n) out += '0';
  out.append(buf, end);
}

/// Appends `t` as RFC 3339 UTC with milliseconds: `2024-05-01T13:45:00.123Z`.
inline void append_rfc3339(std::string& out, timestamp t) {
  civil_time c = to_civil(t);
  append_padded(out, c.year, 4);
  out += '-';
  append_padded(out, c.month, 2);
  out += '-';
  append_padded(out, c.day, 2);
  out += 'T';
  append_padded(out, c.hour, 2);
  out += ':';
  append_padded(out, c.minute, 2);
  out += ':';
  append_padded(out, c.second, 2);
  out += '.';
  append_padded(out, c.millisecond, 3);
  out += 'Z';
}

/// Parses what append_rfc3339 writes (fraction optional, 1..9 digits; `Z` or `+00:00`).
/// Returns false for anything else.
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
  auto secs = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 + mi * 60 + se;
  out = timestamp(duration_cast<timestamp::duration>(seconds(secs) + nanoseconds(nanos)));
  return true;
}

}  // namespace sluice::store::detail
