// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/record.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::transform::detail {

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

/// Year, month, day of a count of days since 1970-01-01 (H. Hinnant's civil_from_days).
struct civil {
  std::int64_t year;
  unsigned month, day;
};
constexpr civil civil_from_days(std::int64_t z) noexcept {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

/// Parses an RFC 3339 date-time: `2024-05-01T13:45:00Z`, `2024-05-01t13:45:00.250+02:00`,
/// `2024-05-01 13:45:00Z` (the space RFC 3339 allows). nullopt when `s` is not one.
inline std::optional<timestamp> parse_rfc3339(std::string_view s) noexcept {
  std::size_t i = 0;
  auto digits = [&](std::size_t n, unsigned& out) {
    if (i + n > s.size()) return false;
    out = 0;
    for (std::size_t k = 0; k < n; ++k) {
      char c = s[i + k];
      if (c < '0' || c > '9') return false;
      out = out * 10 + static_cast<unsigned>(c - '0');
    }
    i += n;
    return true;
  };
  auto expect = [&](auto pred) {
    if (i >= s.size() || !pred(s[i])) return false;
    ++i;
    return true;
  };
  unsigned year, month, day, hour, minute, second;
  if (!digits(4, year) || !expect([](char c) { return c == '-'; }) || !digits(2, month) ||
      !expect([](char c) { return c == '-'; }) || !digits(2, day) ||
      !expect([](char c) { return c == 'T' || c == 't' || c == ' '; }) || !digits(2, hour) ||
      !expect([](char c) { return c == ':'; }) || !digits(2, minute) || !expect([](char c) { return c == ':'; }) ||
      !digits(2, second))
    return std::nullopt;
  static constexpr unsigned month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month < 1 || month > 12 || day < 1 || day > month_days[month - 1] || (month == 2 && day == 29 && !leap) ||
      hour > 23 || minute > 59 || second > 60)
    return std::nullopt;
  std::int64_t nanos = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    std::size_t start = i;
    std::int64_t scale = 100'000'000;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      nanos += (s[i] - '0') * scale;  // digits past nanoseconds are dropped
      scale /= 10;
      ++i;
    }
    if (i == start) return std::nullopt;
  }
  std::int64_t offset = 0;  // seconds east of UTC
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int sign = s[i] == '-' ? -1 : 1;
    ++i;
    unsigned oh, om;
    if (!digits(2, oh) || !expect([](char c) { return c == ':'; }) || !digits(2, om) || oh > 23 || om > 59)
      return std::nullopt;
    offset = sign * static_cast<std::int64_t>(oh * 3600 + om * 60);
  } else {
    return std::nullopt;  // RFC 3339 requires the offset
  }
  if (i != s.size()) return std::nullopt;
  std::int64_t secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 +
                      std::min(second, 59u) - offset;  // a leap second counts as :59
  return timestamp{} + std::chrono::duration_cast<timestamp::duration>(std::chrono::seconds(secs) +
                                                                       std::chrono::nanoseconds(nanos));
}

/// Appends `t` in UTC formatted by `format`, which may use %Y %m %d %H %M %S %j and %%.
/// Returns false at an unsupported conversion (validate the format once with it).
inline bool format_utc(std::string& out, timestamp t, std::string_view format) {
  auto total = std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
  std::int64_t days = total >= 0 ? total / 86400 : -((-total + 86399) / 86400);
  std::int64_t rest = total - days * 86400;
  civil c = civil_from_days(days);
  auto put = [&](std::int64_t v, int width) {
    char buf[24];
    int n = 0;
    bool negative = v < 0;
    std::uint64_t u = negative ? static_cast<std::uint64_t>(-v) : static_cast<std::uint64_t>(v);
    do {
      buf[n++] = static_cast<char>('0' + u % 10);
      u /= 10;
    } while (u != 0);
    if (negative) out += '-';
    for (int k = n; k < width; ++k) out += '0';
    while (n > 0) out += buf[--n];
  };
  for (std::size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out += format[i];
      continue;
    }
    if (++i == format.size()) return false;
    switch (format[i]) {
      case 'Y': put(c.year, 4); break;
      case 'm': put(c.month, 2); break;
      case 'd': put(c.day, 2); break;
      case 'H': put(rest / 3600, 2); break;
      case 'M': put(rest / 60 % 60, 2); break;
      case 'S': put(rest % 60, 2); break;
      case 'j': put(days - days_from_civil(c.year, 1, 1) + 1, 3); break;
      case '%': out += '%'; break;
      default: return false;
    }
  }
  return true;
}

}  // namespace sluice::transform::detail
