// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/detail/civil_time.hpp>
#include <sluice/core/record.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::transform::detail {

// Calendar arithmetic and the strftime subset are shared with the stores and the generator
// (core/detail/civil_time.hpp). partition_by documents a smaller set of conversions than
// format_utc knows: see partition_by_conversions.
using sluice::detail::format_utc;

/// The conversions transform::partition_by accepts in time_format.
inline constexpr std::string_view partition_by_conversions = "YmdHMSj%";

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
  std::int64_t secs = sluice::detail::days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 +
                      std::min(second, 59u) - offset;  // a leap second counts as :59
  return timestamp{} + std::chrono::duration_cast<timestamp::duration>(std::chrono::seconds(secs) +
                                                                       std::chrono::nanoseconds(nanos));
}

}  // namespace sluice::transform::detail
