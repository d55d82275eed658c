// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

// UTC calendar arithmetic and digit printing shared by the generator (event `ts` and hour
// partitions), the stores (key templates, sidecar times) and transform::partition_by. Core takes
// no dependency, and <chrono>'s calendar types are slower than this on the generator's hot path.

// Opened inside the inline namespace v0 (as sluice::detail is in core/error.hpp): a plain
// `namespace sluice::detail` seen before error.hpp would be a second, ambiguous sluice::detail.
namespace sluice {
inline namespace v0 {
namespace detail {

/// The time points this header works on: sluice::timestamp.
using utc_time = std::chrono::system_clock::time_point;

/// `a / b` rounded towards negative infinity (`b` > 0): times before 1970 fall on the right day.
constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

/// A proleptic Gregorian date.
struct civil_date {
  std::int64_t year = 1970;
  unsigned month = 1, day = 1;
};

/// The date `z` days after 1970-01-01 (H. Hinnant's civil_from_days).
constexpr civil_date civil_from_days(std::int64_t z) noexcept {
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

/// A UTC time broken into calendar fields (no locale, no time zone database).
struct civil_time {
  std::int64_t year = 1970;
  unsigned month = 1, day = 1, hour = 0, minute = 0, second = 0, millisecond = 0;
  unsigned day_of_year = 1;  ///< 1..366
  std::int64_t epoch_seconds = 0;
};

/// `t` in calendar fields; sub-millisecond parts are dropped (rounded towards the past).
constexpr civil_time to_civil(utc_time t) noexcept {
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
  civil_time c;
  c.epoch_seconds = floor_div(ms, 1000);
  c.millisecond = static_cast<unsigned>(ms - c.epoch_seconds * 1000);
  const std::int64_t days = floor_div(c.epoch_seconds, 86400);
  const auto rest = static_cast<unsigned>(c.epoch_seconds - days * 86400);
  c.hour = rest / 3600;
  c.minute = rest / 60 % 60;
  c.second = rest % 60;
  const civil_date date = civil_from_days(days);
  c.year = date.year;
  c.month = date.month;
  c.day = date.day;
  c.day_of_year = static_cast<unsigned>(days - days_from_civil(c.year, 1, 1)) + 1;
  return c;
}

/// Writes `v` as exactly `width` decimal digits at `p` (the low digits when `v` has more).
constexpr void put_digits(char* p, std::uint64_t v, int width) noexcept {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
}

/// Appends `v` in decimal, zero-padded to at least `width` digits, after a `-` when negative.
inline void append_padded(std::string& out, std::int64_t v, int width) {
  char buf[20];  // 2^64 has 20 digits
  const bool negative = v < 0;
  // Negating in unsigned arithmetic keeps INT64_MIN defined.
  std::uint64_t u = negative ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u != 0);
  if (negative) out += '-';
  for (int k = n; k < width; ++k) out += '0';
  while (n > 0) out += buf[--n];
}

/// Length of what put_rfc3339_ms writes.
inline constexpr std::size_t rfc3339_ms_size = 24;

/// Writes `t` as RFC 3339 UTC with milliseconds, `2024-05-01T13:45:00.123Z` (rfc3339_ms_size
/// bytes), at `p` and returns the end. A system_clock time point is always within years
/// 1677..2262, so the year is four digits. No allocation: the generator writes every event's
/// `ts` with it.
constexpr char* put_rfc3339_ms(char* p, utc_time t) noexcept {
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::int64_t secs = floor_div(ms, 1000);
  const std::int64_t days = floor_div(secs, 86400);
  const auto sod = static_cast<std::uint64_t>(secs - days * 86400);
  const civil_date date = civil_from_days(days);
  put_digits(p, static_cast<std::uint64_t>(date.year), 4), p[4] = '-';
  put_digits(p + 5, date.month, 2), p[7] = '-';
  put_digits(p + 8, date.day, 2), p[10] = 'T';
  put_digits(p + 11, sod / 3600, 2), p[13] = ':';
  put_digits(p + 14, sod / 60 % 60, 2), p[16] = ':';
  put_digits(p + 17, sod % 60, 2), p[19] = '.';
  put_digits(p + 20, static_cast<std::uint64_t>(ms - secs * 1000), 3), p[23] = 'Z';
  return p + rfc3339_ms_size;
}

/// Appends `t` as RFC 3339 UTC with milliseconds (see put_rfc3339_ms).
inline void append_rfc3339_ms(std::string& out, utc_time t) {
  char buf[rfc3339_ms_size];
  out.append(buf, put_rfc3339_ms(buf, t));
}

/// Every conversion format_utc knows (the letter after `%`).
inline constexpr std::string_view utc_conversions = "YymdHMSjFTs%";

/// True when every `%` of `format` is followed by one of `allowed` (a subset of
/// utc_conversions that a component documents); false also for a trailing lone `%`.
constexpr bool utc_format_uses_only(std::string_view format, std::string_view allowed = utc_conversions) noexcept {
  for (std::size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') continue;
    if (++i == format.size() || allowed.find(format[i]) == std::string_view::npos) return false;
  }
  return true;
}

/// Appends `t` in UTC formatted by a strftime subset: %Y (4+ digits) %y %m %d %H %M %S %j
/// (day of the year, 001..366) %F (%Y-%m-%d) %T (%H:%M:%S) %s (seconds since the epoch) %%.
/// Returns false at any other conversion or a trailing `%`, having appended what came
/// before it (check the format once with utc_format_uses_only or a probe call).
inline bool format_utc(std::string& out, utc_time t, std::string_view format) {
  const civil_time c = to_civil(t);
  for (std::size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out += format[i];
      continue;
    }
    if (++i == format.size()) return false;
    switch (format[i]) {
      case 'Y': append_padded(out, c.year, 4); break;
      case 'y': append_padded(out, ((c.year % 100) + 100) % 100, 2); break;
      case 'm': append_padded(out, c.month, 2); break;
      case 'd': append_padded(out, c.day, 2); break;
      case 'H': append_padded(out, c.hour, 2); break;
      case 'M': append_padded(out, c.minute, 2); break;
      case 'S': append_padded(out, c.second, 2); break;
      case 'j': append_padded(out, c.day_of_year, 3); break;
      case 'F':
        append_padded(out, c.year, 4), out += '-', append_padded(out, c.month, 2), out += '-';
        append_padded(out, c.day, 2);
        break;
      case 'T':
        append_padded(out, c.hour, 2), out += ':', append_padded(out, c.minute, 2), out += ':';
        append_padded(out, c.second, 2);
        break;
      case 's': append_padded(out, c.epoch_seconds, 1); break;
      case '%': out += '%'; break;
      default: return false;
    }
  }
  return true;
}

}  // namespace detail
}  // namespace v0
}  // namespace sluice
