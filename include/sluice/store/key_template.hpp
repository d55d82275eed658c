// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/cursor.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/object.hpp>
#include <sluice/core/record.hpp>
#include <sluice/core/detail/civil_time.hpp>

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::store {

/// The longest key a store accepts, in bytes (S3's limit).
inline constexpr std::size_t max_key_bytes = 1024;

/// Appends the file extension of an object to `out`: the format's (`.jsonl`, `.csv`,
/// `.parquet`, `.json`, else `.bin`), then one per content encoding (`.zst`, `.gz`, else
/// `.<name>`), then `.esdk` when encrypted.
inline void append_extension(const object& o, std::string& out) {
  std::string_view type = o.content_type;
  if (auto semi = type.find(';'); semi != std::string_view::npos) type = type.substr(0, semi);
  if (type == "application/x-ndjson" || type == "application/jsonl" || type == "application/x-jsonlines")
    out += ".jsonl";
  else if (type == "text/csv")
    out += ".csv";
  else if (type == "application/vnd.apache.parquet" || type == "application/x-parquet")
    out += ".parquet";
  else if (type == "application/json")
    out += ".json";
  else
    out += ".bin";
  for (const auto& e : o.content_encoding) {
    if (e == "zstd") out += ".zst";
    else if (e == "gzip") out += ".gz";
    else if (!e.empty() && e != "identity") (out += '.') += e;
  }
  if (!o.encryption.empty()) out += ".esdk";
}

/// An object key template, parsed once (at validate/open time) and rendered per object.
///
/// Placeholders:
/// - `{stream}`: the object's stream (the pipeline's options.stream).
/// - `{time:FMT}`: the first event time of the object (its arrival time when the records carry
///   none), UTC, formatted with a strftime subset: `%Y %y %m %d %H %M %S %j %F %T %s %%`.
/// - `{arrival:FMT}`: the arrival time, same format.
/// - `{partition:NAME}`: the value of partition key NAME (hive form, see partition_keys);
///   `__none__` when the object has no such key, `__empty__` when the value is empty.
/// - `{partition_path:NAME}`: the value of partition key NAME as a path: split at `/`, each
///   segment escaped as a value is (below) except that `=` stays (hive folders such as
///   `customer_id=42/`), and a trailing `/` kept, so `prefix=logs%2Fday%3D01%2F` renders
///   `logs/day=01/`. The value is glued to what follows (`{partition_path:prefix}{stream}-{seq}{ext}`:
///   Firehose's `<evaluated prefix><suffix>`); an empty value renders nothing, a missing key
///   `__none__/`.
///   An empty, `.` or `..` segment in the value is the per-object invalid_argument error.
/// - `{partition}`: the whole hive-form partition string (`event_type=click/hour=13`),
///   `__none__` when unpartitioned.
/// - `{seq}`: `<lowest position>-<highest position>-<source digest>`: the positions the object
///   covers, zero-padded to 20 digits so keys sort, and 8 hex digits of a hash of the names of
///   the sources it covers (two files of a folder both have an object covering offsets 0..100).
///   It is derived from the cursors, never a counter, so a replay after a crash rewrites the
///   same key instead of adding a duplicate.
/// - `{ext}`: the extension from the content type and encodings (append_extension).
///
/// A template that is empty or ends in `/` gets the default file name `{stream}-{seq}{ext}`.
/// Values that come from data (stream, partition values) are escaped so each stays one path
/// segment: `/`, `\`, `=`, `%`, control bytes and a whole-value `.` or `..` become `%XX`.
///
/// Errors: parse() throws config_error naming the template and the 0-based position for an
/// unknown placeholder, an unclosed or stray brace, an unsupported time format, an empty,
/// `.` or `..` path segment, an absolute path, or a template without `{seq}` (objects would
/// overwrite each other). render() reports a per-object error
/// (`boost::system::errc::filename_too_long`) for a key over max_key_bytes.
/// Thread safety: render() is const and may be called from several threads.
/// @code
///   auto t = store::key_template::parse("{stream}/{time:%Y/%m/%d/%H}/");
///   std::string key = t.render(object, ctx.tracker());
///   // "clicks/2024/05/01/13/clicks-00000000000000000001-00000000000000004096-5f0c2a1e.jsonl"
/// @endcode
class key_template {
 public:
  /// A template of the default file name only: `{stream}-{seq}{ext}`.
  key_template() : key_template(parse("")) {}

  /// Parses `text`; `field` names it in errors (e.g. `store::local.key`).
  [[nodiscard]] static key_template parse(std::string_view text, std::string_view field = "key");

  /// Renders the key of `o` into `out` (replacing its content). `names` gives the source names
  /// of `o.covered` for `{seq}`. Errors: errc filename_too_long for a key over max_key_bytes,
  /// invalid_argument when data made an empty or dot segment.
  error_code render(const object& o, const cursor_tracker& names, std::string& out) const;
  /// Throwing twin.
  [[nodiscard]] std::string render(const object& o, const cursor_tracker& names) const {
    std::string out;
    if (auto ec = render(o, names, out))
      throw error(ec, "rendering key template \"" + text_ + "\" (" + std::to_string(out.size()) + " bytes)");
    return out;
  }

  /// The template as given.
  [[nodiscard]] const std::string& text() const noexcept { return text_; }

  /// Appends `value` escaped as one key segment (see the class comment).
  static void append_segment(std::string& out, std::string_view value);
  /// Appends `path` with each `/`-separated segment escaped as append_segment escapes a value,
  /// except that `=` is kept (hive-form folders) and empty and dot segments are kept as they
  /// are (render() refuses them).
  static void append_path(std::string& out, std::string_view path);
  /// Appends the `{seq}` of a cursor set: lowest-highest position and the source digest.
  static void append_seq(std::string& out, const cursor_set& covered, const cursor_tracker& names);

 private:
  struct empty_tag {};
  explicit key_template(empty_tag) {}
  enum class kind { literal, stream, time, arrival, partition_value, partition_path, partition, seq, ext };
  struct part {
    kind k;
    std::string text;  // literal text, time format or partition key name
  };
  static void append_time(std::string& out, std::string_view format, timestamp t);
  std::string text_;
  std::vector<part> parts_;
};

// ---- definitions ------------------------------------------------------------------------------

inline key_template key_template::parse(std::string_view text, std::string_view field) {
  key_template t{empty_tag{}};
  t.text_ = std::string(text);
  auto fail = [&](std::size_t pos, const std::string& what) {
    throw config_error(std::string(field) + " = \"" + std::string(text) + "\": " + what + " at position " +
                       std::to_string(pos));
  };
  // Path shape first: relative, no empty, `.` or `..` segment.
  if (!text.empty() && text.front() == '/') fail(0, "absolute key (starts with `/`); keys are relative to the store");
  for (std::size_t start = 0; start < text.size();) {
    std::size_t slash = text.find('/', start);
    std::size_t end = slash == std::string_view::npos ? text.size() : slash;
    std::string_view seg = text.substr(start, end - start);
    if (seg == "..") fail(start, "`..` path segment");
    if (seg == ".") fail(start, "`.` path segment");
    if (seg.empty() && slash != std::string_view::npos) fail(start, "empty path segment (`//`)");
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  std::string full(text);
  if (full.empty() || full.back() == '/') full += "{stream}-{seq}{ext}";
  std::string literal;
  bool has_seq = false;
  for (std::size_t i = 0; i < full.size(); ++i) {
    char c = full[i];
    if (c == '}') fail(i, "`}` without `{`");
    if (c == '\0') fail(i, "NUL byte");
    if (c != '{') {
      literal += c;
      continue;
    }
    std::size_t close = full.find('}', i);
    std::size_t nested = full.find('{', i + 1);
    if (close == std::string::npos || (nested != std::string::npos && nested < close))
      fail(i, "unclosed `{`");
    std::string_view inner = std::string_view(full).substr(i + 1, close - i - 1);
    std::string_view name = inner.substr(0, inner.find(':'));
    bool has_arg = inner.find(':') != std::string_view::npos;
    std::string_view arg = has_arg ? inner.substr(name.size() + 1) : std::string_view{};
    part p{kind::literal, std::string(arg)};
    if (name == "stream" && !has_arg) p.k = kind::stream;
    else if (name == "seq" && !has_arg) p.k = kind::seq, has_seq = true;
    else if (name == "ext" && !has_arg) p.k = kind::ext;
    else if (name == "partition" && !has_arg) p.k = kind::partition;
    else if (name == "partition") {
      if (arg.empty()) fail(i, "`{partition:}` needs a key name");
      p.k = kind::partition_value;
    } else if (name == "partition_path") {
      if (arg.empty()) fail(i, "`{partition_path:NAME}` needs a key name");
      p.k = kind::partition_path;
    } else if (name == "time" || name == "arrival") {
      if (!has_arg || arg.empty()) fail(i, "`{" + std::string(name) + ":FMT}` needs a format, e.g. {" +
                                               std::string(name) + ":%Y/%m/%d}");
      for (std::size_t k = 0; k < arg.size(); ++k) {
        if (arg[k] != '%') continue;
        if (k + 1 == arg.size()) fail(i + 1 + name.size() + 1 + k, "time format ends with `%`");
        char spec = arg[++k];
        if (sluice::detail::utc_conversions.find(spec) == std::string_view::npos)
          fail(i + 1 + name.size() + k, std::string("unsupported time format `%") + spec +
                                            "` (supported: %Y %y %m %d %H %M %S %j %F %T %s %%)");
      }
      p.k = name == "time" ? kind::time : kind::arrival;
    } else {
      fail(i, "unknown placeholder `{" + std::string(inner) +
                  "}` (known: {stream} {time:FMT} {arrival:FMT} {partition} {partition:NAME} "
                  "{partition_path:NAME} {seq} {ext})");
    }
    if (!literal.empty()) t.parts_.push_back({kind::literal, std::move(literal)}), literal.clear();
    t.parts_.push_back(std::move(p));
    i = close;
  }
  if (!literal.empty()) t.parts_.push_back({kind::literal, std::move(literal)});
  if (!has_seq)
    fail(text.size(), "no `{seq}`: every object would get the same key; add {seq} or end the template with `/`");
  return t;
}

namespace detail {
// How append_escaped treats a value: a segment of its own, a dot segment (every byte escaped),
// or a segment of a path (`=` kept: `customer_id=42/` is the hive form readers look for).
enum class escape_as { segment, dots, path_segment };

// Appends `value` with the bytes a key segment cannot hold as it is (`/`, `\\`, `=`, `%`,
// control bytes) escaped as %XX.
inline void append_escaped(std::string& out, std::string_view value, escape_as how) {
  static constexpr char hex[] = "0123456789ABCDEF";
  for (char ch : value) {
    auto c = static_cast<unsigned char>(ch);
    if (how == escape_as::dots || c < 0x20 || c == 0x7F || c == '/' || c == '\\' || c == '%' ||
        (c == '=' && how != escape_as::path_segment)) {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += ch;
    }
  }
}
}  // namespace detail

inline void key_template::append_segment(std::string& out, std::string_view value) {
  if (value.empty()) {
    out += "__empty__";
    return;
  }
  detail::append_escaped(out, value,
                         value == "." || value == ".." ? detail::escape_as::dots : detail::escape_as::segment);
}

inline void key_template::append_path(std::string& out, std::string_view path) {
  while (true) {
    auto slash = path.find('/');
    detail::append_escaped(out, path.substr(0, slash), detail::escape_as::path_segment);
    if (slash == std::string_view::npos) return;
    out += '/';
    path.remove_prefix(slash + 1);
  }
}

inline void key_template::append_seq(std::string& out, const cursor_set& covered, const cursor_tracker& names) {
  auto [lo, hi] = covered.position_span();
  char buf[24];
  auto put = [&](std::uint64_t v) {
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    (void)ec;
    for (auto n = end - buf; n < 20; ++n) out += '0';
    out.append(buf, end);
  };
  put(lo);
  out += '-';
  put(hi);
  // FNV-1a over the distinct source names in order of first appearance.
  std::uint64_t h = 0xcbf29ce484222325ULL;
  std::vector<std::uint32_t> seen;
  for (const cursor_range& r : covered.ranges()) {
    bool again = false;
    for (auto s : seen) again = again || s == r.source;
    if (again) continue;
    seen.push_back(r.source);
    for (unsigned char c : names.source_name(r.source)) h = (h ^ c) * 0x100000001b3ULL;
    h = (h ^ 0xFF) * 0x100000001b3ULL;  // separator: {"ab","c"} differs from {"a","bc"}
  }
  static constexpr char hex[] = "0123456789abcdef";
  out += '-';
  auto folded = static_cast<std::uint32_t>(h ^ (h >> 32));
  for (int shift = 28; shift >= 0; shift -= 4) out += hex[(folded >> shift) & 15];
}

inline void key_template::append_time(std::string& out, std::string_view format, timestamp t) {
  // parse() accepted only conversions format_utc knows, so it cannot fail here.
  (void)sluice::detail::format_utc(out, t, format);
}

inline error_code key_template::render(const object& o, const cursor_tracker& names, std::string& out) const {
  out.clear();
  for (const part& p : parts_) {
    switch (p.k) {
      case kind::literal: out += p.text; break;
      case kind::stream: append_segment(out, o.stream); break;
      case kind::time:
        append_time(out, p.text, o.first_event_time != timestamp{} ? o.first_event_time : o.arrival_time);
        break;
      case kind::arrival: append_time(out, p.text, o.arrival_time); break;
      case kind::partition_value:
      case kind::partition_path: {
        bool found = false;
        std::string value = partition_value(o.partition, p.text, &found);
        bool path = p.k == kind::partition_path;
        if (!found) out += path ? "__none__/" : "__none__";
        else if (path) append_path(out, value);
        else append_segment(out, value);
        break;
      }
      case kind::partition:
        if (o.partition.empty()) {
          out += "__none__";
          break;
        }
        // Already escaped hive form; only dot segments and control bytes need care.
        for (std::string_view rest = o.partition; !rest.empty();) {
          auto slash = rest.find('/');
          auto seg = rest.substr(0, slash);
          if (seg.empty() || seg == "." || seg == "..") append_segment(out, seg);
          else
            for (char ch : seg) {
              auto c = static_cast<unsigned char>(ch);
              if (c < 0x20 || c == 0x7F || c == '\\') {
                static constexpr char hex[] = "0123456789ABCDEF";
                out += '%', out += hex[c >> 4], out += hex[c & 15];
              } else {
                out += ch;
              }
            }
          if (slash == std::string_view::npos) break;
          out += '/';
          rest = rest.substr(slash + 1);
        }
        break;
      case kind::seq: append_seq(out, o.covered, names); break;
      case kind::ext: append_extension(o, out); break;
    }
  }
  if (out.size() > max_key_bytes) return make_error_code(boost::system::errc::filename_too_long);
  // Belt and braces: whatever the data, a key stays relative and free of dot segments.
  for (std::size_t start = 0;;) {
    std::size_t slash = out.find('/', start);
    std::string_view seg = std::string_view(out).substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (seg.empty() || seg == "." || seg == "..") return make_error_code(boost::system::errc::invalid_argument);
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return {};
}

/// Sends an object whose key could not be made (`ec` from render(), or a key over
/// max_key_bytes) to the error output with its body as the payload, and acknowledges its
/// records: they are handled there, so they do not hold back the source's checkpoint.
inline void reject_unkeyable(run_context& ctx, const object& o, error_code ec, const std::string& key,
                             std::string_view template_text, std::string_view stage) {
  std::string reason = "object key of " + std::to_string(key.size()) + " bytes from template \"" +
                       std::string(template_text) + "\"";
  reason += ec == boost::system::errc::filename_too_long ? " exceeds " + std::to_string(max_key_bytes) + " bytes"
                                                          : " has an empty, `.` or `..` segment";
  reason += " (starts \"" + key.substr(0, 120) + "\"); " + std::to_string(o.record_count) + " records not stored";
  cursor first{};
  if (!o.covered.empty()) {
    const cursor_range& r = o.covered.ranges().front();
    first = {r.source, r.first_position, r.first_seq};
  }
  ctx.reject(record_ref{o.body, o.partition, o.first_event_time, first}, ec, std::move(reason), stage);
  ctx.tracker().ack(o.covered);
}

}  // namespace sluice::store
