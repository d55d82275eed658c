// SPDX-License-Identifier: Apache-2.0
#pragma once
// Firehose's S3 prefix expressions for connector::http_stream::processing: the Java
// DateTimeFormatter subset of `!{timestamp:...}`, and `Prefix` / `ErrorOutputPrefix` templates
// parsed once and rendered per record with the time-dependent parts cached.
#include <sluice/core/config.hpp>
#include <sluice/core/detail/civil_time.hpp>
#include <sluice/core/detail/splitmix64.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/record.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::connector::http_stream::detail {

/// Firehose's limit on an evaluated Prefix or ErrorOutputPrefix, in characters.
inline constexpr std::size_t max_prefix_chars = 512;
/// The length of `!{firehose:random-string}`'s value.
inline constexpr std::size_t random_string_chars = 11;

/// A Java DateTimeFormatter pattern (`yyyy/MM/dd/HH`, `'year='yyyy`), compiled once and
/// rendered in UTC. The letters supported are y u (year; `yy` two digits), M L (month: `M`,
/// `MM`, `MMM` Sep, `MMMM` September, `MMMMM` S), d, D (day of year), H, h, k, K, m, s, S
/// (fraction, 1-9 digits), a (AM/PM) and E (`E`-`EEE` Wed, `EEEE` Wednesday, `EEEEE` W), with
/// Java's width rules; text in single quotes is literal (`''` is a quote); other characters are
/// literal except the reserved `[ ] { } #`.
class java_time_format {
 public:
  /// Compiles `pattern`; on error returns false with `why` and the 0-based `at` in the pattern.
  [[nodiscard]] bool parse(std::string_view pattern, std::string& why, std::size_t& at) {
    fields_.clear();
    for (std::size_t i = 0; i < pattern.size();) {
      char c = pattern[i];
      if (c == '\'') {
        std::size_t start = i++;
        std::string text;
        while (true) {
          if (i >= pattern.size()) {
            why = "unterminated quote";
            at = start;
            return false;
          }
          if (pattern[i] == '\'') {
            if (i + 1 < pattern.size() && pattern[i + 1] == '\'') {
              text += '\'';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          text += pattern[i++];
        }
        if (text.empty() && i - start == 2) text = "'";  // `''` outside quotes: one quote
        add_literal(text);
        continue;
      }
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        std::size_t start = i;
        while (i < pattern.size() && pattern[i] == c) ++i;
        auto count = static_cast<unsigned>(i - start);
        if (!accept(c, count, why)) {
          at = start;
          return false;
        }
        fields_.push_back({c, count, {}});
        if (c == 'S') subsecond_ = true;
        continue;
      }
      if (c == '[' || c == ']' || c == '{' || c == '}' || c == '#') {
        why = std::string("reserved character `") + c + "` (quote it: '" + c + "')";
        at = i;
        return false;
      }
      add_literal(std::string_view(&pattern[i], 1));
      ++i;
    }
    return true;
  }

  /// Appends `t` (UTC) as the pattern says.
  void render(std::string& out, timestamp t) const {
    using sluice::detail::append_padded;
    const sluice::detail::civil_time c = sluice::detail::to_civil(t);
    for (const field& f : fields_) {
      switch (f.letter) {
        case 0: out += f.literal; break;
        case 'y':
        case 'u':
          if (f.count == 2) append_padded(out, ((c.year % 100) + 100) % 100, 2);
          else append_padded(out, c.year, static_cast<int>(f.count));
          break;
        case 'M':
        case 'L':
          if (f.count <= 2) append_padded(out, c.month, static_cast<int>(f.count));
          else text(out, month_names[c.month - 1], f.count);
          break;
        case 'd': append_padded(out, c.day, static_cast<int>(f.count)); break;
        case 'D': append_padded(out, c.day_of_year, static_cast<int>(f.count)); break;
        case 'H': append_padded(out, c.hour, static_cast<int>(f.count)); break;
        case 'k': append_padded(out, c.hour == 0 ? 24 : c.hour, static_cast<int>(f.count)); break;
        case 'K': append_padded(out, c.hour % 12, static_cast<int>(f.count)); break;
        case 'h': append_padded(out, c.hour % 12 == 0 ? 12 : c.hour % 12, static_cast<int>(f.count)); break;
        case 'm': append_padded(out, c.minute, static_cast<int>(f.count)); break;
        case 's': append_padded(out, c.second, static_cast<int>(f.count)); break;
        case 'a': out += c.hour < 12 ? "AM" : "PM"; break;
        case 'E': {
          // 1970-01-01 was a Thursday; Monday is 0.
          auto days = sluice::detail::floor_div(c.epoch_seconds, 86400);
          text(out, day_names[static_cast<std::size_t>(((days + 3) % 7 + 7) % 7)], f.count <= 3 ? 3 : f.count);
          break;
        }
        case 'S': {
          auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count() % 1'000'000'000;
          if (nanos < 0) nanos += 1'000'000'000;
          char digits[9];
          sluice::detail::put_digits(digits, static_cast<std::uint64_t>(nanos), 9);
          out.append(digits, f.count);
          break;
        }
        default: break;
      }
    }
  }

  /// The most characters render() writes for a time in years 1000..9999.
  [[nodiscard]] std::size_t max_size() const noexcept {
    std::size_t n = 0;
    for (const field& f : fields_) {
      switch (f.letter) {
        case 0: n += f.literal.size(); break;
        case 'y':
        case 'u': n += f.count == 2 ? 2 : (f.count > 4 ? f.count : 4); break;
        case 'M':
        case 'L': n += f.count <= 2 ? 2 : f.count == 3 ? 3 : f.count == 4 ? 9 : 1; break;
        case 'D': n += 3; break;
        case 'E': n += f.count <= 3 ? 3 : f.count == 4 ? 9 : 1; break;
        case 'S': n += f.count; break;
        default: n += 2; break;
      }
    }
    return n;
  }
  /// Whether the pattern shows fractions of a second (so a rendering holds for less than one).
  [[nodiscard]] bool subsecond() const noexcept { return subsecond_; }

 private:
  struct field {
    char letter;  // 0: literal
    unsigned count;
    std::string literal;
  };
  static constexpr std::string_view month_names[] = {"January", "February", "March",     "April",   "May",      "June",
                                                     "July",    "August",   "September", "October", "November", "December"};
  static constexpr std::string_view day_names[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                                   "Friday", "Saturday", "Sunday"};

  // Java's text styles: 3 letters short, 4 full, 5 narrow.
  static void text(std::string& out, std::string_view name, unsigned count) {
    out += count == 4 ? name : name.substr(0, count == 3 ? 3 : 1);
  }

  void add_literal(std::string_view text) {
    if (!fields_.empty() && fields_.back().letter == 0) fields_.back().literal += text;
    else fields_.push_back({0, 0, std::string(text)});
  }

  // Java's rules for how many letters each field takes (DateTimeFormatterBuilder.appendPattern).
  static bool accept(char c, unsigned count, std::string& why) {
    unsigned most = 0;
    switch (c) {
      case 'y':
      case 'u': most = 19; break;
      case 'M':
      case 'L':
      case 'E': most = 5; break;
      case 'D': most = 3; break;
      case 'd':
      case 'H':
      case 'h':
      case 'k':
      case 'K':
      case 'm':
      case 's': most = 2; break;
      case 'S': most = 9; break;
      case 'a': most = 1; break;
      default:
        why = std::string("pattern letter `") + c +
              "` is not supported (supported: y u M L d D H h k K m s S a E; quote literal text: 'T')";
        return false;
    }
    if (count > most) {
      why = "too many pattern letters `" + std::string(count, c) + "` (at most " + std::to_string(most) + ")";
      return false;
    }
    return true;
  }

  std::vector<field> fields_;
  bool subsecond_ = false;
};

/// What a part of a prefix template is.
enum class prefix_part_kind { literal, timestamp, query_key, lambda_key, error_output_type, random_string };

/// A parsed `Prefix` or `ErrorOutputPrefix`.
struct prefix_template {
  struct part {
    prefix_part_kind kind;
    std::string text;       ///< literal text, or the partition key's name
    std::size_t index = 0;  ///< the timestamp format, query key or random-string instance
  };
  std::vector<part> parts;
  std::vector<java_time_format> times;
  std::size_t randoms = 0;
  bool has_timestamp = false, has_query = false, has_lambda = false, has_error_type = false;

  [[nodiscard]] bool has_expressions() const noexcept {
    return has_timestamp || has_query || has_lambda || has_error_type || randoms > 0;
  }
  /// Whether the rendering depends on the record's data (not only on its arrival time).
  [[nodiscard]] bool data_dependent() const noexcept { return has_query || has_lambda; }
  /// The most characters the parts that do not come from data render to.
  [[nodiscard]] std::size_t static_max_size() const noexcept {
    std::size_t n = randoms * random_string_chars;
    for (const part& p : parts) {
      if (p.kind == prefix_part_kind::literal) n += p.text.size();
      else if (p.kind == prefix_part_kind::timestamp) n += times[p.index].max_size();
      else if (p.kind == prefix_part_kind::error_output_type) n += 19;  // partitioning-failed
    }
    return n;
  }

  /// Parses `text`. `field` names the option in errors (`connector::http_stream::processing.prefix`);
  /// `query_keys` are the configured partitionKeyFromQuery names. Throws config_error naming the
  /// field, the expression and its position for: `!{` outside an expression or unclosed, an
  /// unknown namespace or firehose value, a timestamp pattern Java would refuse (or this subset
  /// lacks), an unconfigured query key, an empty key name.
  static prefix_template parse(std::string_view text, std::string_view field, std::span<const std::string> query_keys) {
    prefix_template t;
    auto fail = [&](std::size_t pos, std::string_view expression, const std::string& what) {
      std::string where = expression.empty() ? std::string() : " in `" + std::string(expression) + "`";
      throw config_error(std::string(field) + " = \"" + std::string(text) + "\": " + what + where + " at position " +
                         std::to_string(pos));
    };
    std::string literal;
    auto flush_literal = [&] {
      if (!literal.empty()) t.parts.push_back({prefix_part_kind::literal, std::move(literal)}), literal.clear();
    };
    for (std::size_t i = 0; i < text.size();) {
      if (text.compare(i, 2, "!{") != 0) {
        literal += text[i++];
        continue;
      }
      std::size_t close = text.find('}', i);
      if (close == std::string_view::npos) fail(i, text.substr(i), "`!{` without a closing `}`");
      std::string_view expression = text.substr(i, close + 1 - i);
      std::string_view inner = text.substr(i + 2, close - i - 2);
      if (inner.find("!{") != std::string_view::npos) fail(i, expression, "`!{` inside an expression");
      auto colon = inner.find(':');
      if (colon == std::string_view::npos)
        fail(i, expression, "expression without `namespace:value` (namespaces: timestamp, firehose, "
                            "partitionKeyFromQuery, partitionKeyFromLambda)");
      std::string_view ns = inner.substr(0, colon), value = inner.substr(colon + 1);
      flush_literal();
      if (ns == "timestamp") {
        java_time_format f;
        std::string why;
        std::size_t at = 0;
        if (value.empty()) fail(i, expression, "empty timestamp pattern");
        if (!f.parse(value, why, at)) fail(i + 2 + colon + 1 + at, expression, "timestamp pattern: " + why);
        t.parts.push_back({prefix_part_kind::timestamp, {}, t.times.size()});
        t.times.push_back(std::move(f));
        t.has_timestamp = true;
      } else if (ns == "firehose") {
        if (value == "error-output-type") {
          t.parts.push_back({prefix_part_kind::error_output_type, {}});
          t.has_error_type = true;
        } else if (value == "random-string") {
          t.parts.push_back({prefix_part_kind::random_string, {}, t.randoms++});
        } else {
          fail(i, expression, "unknown firehose value `" + std::string(value) +
                                  "` (known: error-output-type, random-string)");
        }
      } else if (ns == "partitionKeyFromQuery" || ns == "partitionKeyFromLambda") {
        if (value.empty()) fail(i, expression, "empty partition key name");
        bool query = ns == "partitionKeyFromQuery";
        std::size_t index = 0;
        if (query) {
          while (index < query_keys.size() && query_keys[index] != value) ++index;
          if (index == query_keys.size())
            fail(i, expression, "partition key `" + std::string(value) +
                                    "` is not configured (add it to .query_keys with its query)");
          t.has_query = true;
        } else {
          t.has_lambda = true;
        }
        t.parts.push_back({query ? prefix_part_kind::query_key : prefix_part_kind::lambda_key, std::string(value), index});
      } else {
        fail(i, expression, "unknown namespace `" + std::string(ns) +
                                "` (known: timestamp, firehose, partitionKeyFromQuery, partitionKeyFromLambda)");
      }
      i = close + 1;
    }
    flush_literal();
    return t;
  }
};

/// Renders a prefix_template. The parts that depend only on the arrival time (timestamps and
/// random strings) are rendered once per second of arrival (per exact time when a pattern shows
/// fractions) and reused.
///
/// `!{firehose:random-string}` is not random: it is 11 hex digits of a hash of the arrival
/// second and the instance's place in the template, so a replay renders the same prefix (and
/// the same object keys), and records arriving in the same second share it.
/// Thread safety: one thread at a time (a node's).
class prefix_renderer {
 public:
  explicit prefix_renderer(const prefix_template& t)
      : t_(&t), times_(t.times.size()), randoms_(t.randoms),
        subsecond_(std::any_of(t.times.begin(), t.times.end(), [](const auto& f) { return f.subsecond(); })) {}

  /// Makes the time-dependent parts those of `at`; returns true when they changed.
  bool set_time(timestamp at) {
    auto since = at.time_since_epoch();
    std::int64_t key = subsecond_
                           ? static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(since).count())
                           : static_cast<std::int64_t>(std::chrono::floor<std::chrono::seconds>(since).count());
    if (primed_ && key == key_) return false;
    primed_ = true;
    key_ = key;
    for (std::size_t k = 0; k < times_.size(); ++k) {
      times_[k].clear();
      t_->times[k].render(times_[k], at);
    }
    auto seconds = static_cast<std::uint64_t>(std::chrono::floor<std::chrono::seconds>(since).count());
    for (std::size_t k = 0; k < randoms_.size(); ++k) {
      // splitmix64 of the second and the instance: well mixed, the same on every replay.
      const std::uint64_t z = sluice::detail::splitmix64(seconds * sluice::detail::splitmix64_gamma +
                                                         (k + 1) * 0xD1B54A32D192ED03ULL);
      static constexpr char hex[] = "0123456789abcdef";
      randoms_[k].clear();
      for (std::size_t d = 0; d < random_string_chars; ++d) randoms_[k] += hex[(z >> (4 * d)) & 15];
    }
    return true;
  }

  /// Appends the prefix to `out`: `query` holds the partitionKeyFromQuery values by index,
  /// `lambda(name)` returns a `const std::string*` to a partitionKeyFromLambda value (nullptr
  /// when absent). Returns the name of a lambda key that was absent, or an empty view.
  template <class Lambda>
  std::string_view render(std::string& out, std::span<const std::string> query, Lambda&& lambda,
                          std::string_view error_type) const {
    for (const auto& p : t_->parts) {
      switch (p.kind) {
        case prefix_part_kind::literal: out += p.text; break;
        case prefix_part_kind::timestamp: out += times_[p.index]; break;
        case prefix_part_kind::random_string: out += randoms_[p.index]; break;
        case prefix_part_kind::error_output_type: out += error_type; break;
        case prefix_part_kind::query_key: out += query[p.index]; break;
        case prefix_part_kind::lambda_key: {
          const std::string* v = lambda(p.text);
          if (v == nullptr) return p.text;
          out += *v;
          break;
        }
      }
    }
    return {};
  }

 private:
  const prefix_template* t_;
  std::vector<std::string> times_, randoms_;
  bool subsecond_;  // some timestamp shows fractions of a second: the time changes every instant
  std::int64_t key_ = 0;
  bool primed_ = false;
};

/// Where a rendered prefix would break an object key: the 0-based offset of an empty, `.` or
/// `..` path segment before its last `/` (the part after it is glued to the file name), or npos.
[[nodiscard]] inline std::size_t bad_segment(std::string_view prefix) noexcept {
  for (std::size_t start = 0;;) {
    std::size_t slash = prefix.find('/', start);
    if (slash == std::string_view::npos) return std::string_view::npos;
    std::string_view seg = prefix.substr(start, slash - start);
    if (seg.empty() || seg == "." || seg == "..") return start;
    start = slash + 1;
  }
}

}  // namespace sluice::connector::http_stream::detail
