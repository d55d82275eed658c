// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/record.hpp>

#include <boost/json.hpp>

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

/// JSON helpers shared by format::csv and the transform:: stages (component sluice::json):
/// a parser that reuses its memory from record to record, lookups by dotted path, and a compact
/// writer. Records are JSON objects; everything here works on Boost.JSON values.
namespace sluice::format {

/// The type of a JSON value, as transform::validate names it. `number` accepts integers and
/// decimals; `integer` only values written without a fraction or exponent.
enum class json_kind { null, boolean, number, integer, string, array, object };

/// "null", "boolean", "number", "integer", "string", "array" or "object".
[[nodiscard]] constexpr const char* kind_name(json_kind k) noexcept {
  switch (k) {
    case json_kind::null: return "null";
    case json_kind::boolean: return "boolean";
    case json_kind::number: return "number";
    case json_kind::integer: return "integer";
    case json_kind::string: return "string";
    case json_kind::array: return "array";
    case json_kind::object: return "object";
  }
  return "unknown";
}

/// The kind of `v`; integers report json_kind::integer, decimals json_kind::number.
[[nodiscard]] inline json_kind kind_of(const boost::json::value& v) noexcept {
  switch (v.kind()) {
    case boost::json::kind::null: return json_kind::null;
    case boost::json::kind::bool_: return json_kind::boolean;
    case boost::json::kind::int64:
    case boost::json::kind::uint64: return json_kind::integer;
    case boost::json::kind::double_: return json_kind::number;
    case boost::json::kind::string: return json_kind::string;
    case boost::json::kind::array: return json_kind::array;
    case boost::json::kind::object: return json_kind::object;
  }
  return json_kind::null;
}

/// Whether `v` is of kind `expected` (an integer is a number too).
[[nodiscard]] inline bool is_kind(const boost::json::value& v, json_kind expected) noexcept {
  json_kind k = kind_of(v);
  return k == expected || (expected == json_kind::number && k == json_kind::integer);
}

/// The value at `path` in `o`: a key as it is if `o` has it, otherwise a dotted path through
/// nested objects (`card.number`); nullptr when absent. Arrays are not indexed.
[[nodiscard]] inline const boost::json::value* find_path(const boost::json::object& o, std::string_view path) noexcept {
  if (const auto* v = o.if_contains(path)) return v;
  const boost::json::object* at = &o;
  while (true) {
    auto dot = path.find('.');
    const auto* v = at->if_contains(path.substr(0, dot));
    if (v == nullptr || dot == std::string_view::npos) return v;
    at = v->if_object();
    if (at == nullptr) return nullptr;
    path.remove_prefix(dot + 1);
  }
}
[[nodiscard]] inline boost::json::value* find_path(boost::json::object& o, std::string_view path) noexcept {
  return const_cast<boost::json::value*>(find_path(std::as_const(o), path));
}

/// Why `v` (a lookup's result, nullptr when absent) cannot be a partition value: "missing",
/// "null", "an array" or "an object"; nullptr when it can (a string, number or boolean).
[[nodiscard]] inline const char* partition_value_problem(const boost::json::value* v) noexcept {
  return v == nullptr      ? "missing"
         : v->is_null()    ? "null"
         : v->is_array()   ? "an array"
         : v->is_object()  ? "an object"
                           : nullptr;
}

namespace detail {
inline void append_number(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "null";  // JSON has no NaN
    return;
  }
  if (std::isinf(d)) {
    out += d < 0 ? "-1e99999" : "1e99999";  // what Boost.JSON reads back as infinity
    return;
  }
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, d);  // shortest text that reads back exactly
  out.append(buf, res.ptr);
}
template <class Int>
void append_integer(std::string& out, Int i) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, i);
  out.append(buf, res.ptr);
}
inline void append_quoted(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  std::size_t run = 0;  // start of the stretch that needs no escape
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.substr(run, i - run));
    run = i + 1;
    out += '\\';
    switch (c) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '\n': out += 'n'; break;
      case '\r': out += 'r'; break;
      case '\t': out += 't'; break;
      case '\b': out += 'b'; break;
      case '\f': out += 'f'; break;
      default:
        out += "u00";
        out += hex[c >> 4];
        out += hex[c & 15];
    }
  }
  out.append(s.substr(run));
  out += '"';
}
}  // namespace detail

inline void append_json(std::string& out, const boost::json::object& o);

/// Appends `v` as compact JSON. Decimals are written in their shortest exact form (`19.99`,
/// not `1.999E1`), strings with the escapes JSON requires; bytes above 0x7F are copied.
inline void append_json(std::string& out, const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: out += "null"; return;
    case boost::json::kind::bool_: out += v.get_bool() ? "true" : "false"; return;
    case boost::json::kind::int64: detail::append_integer(out, v.get_int64()); return;
    case boost::json::kind::uint64: detail::append_integer(out, v.get_uint64()); return;
    case boost::json::kind::double_: detail::append_number(out, v.get_double()); return;
    case boost::json::kind::string: detail::append_quoted(out, v.get_string()); return;
    case boost::json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out += ',';
        first = false;
        append_json(out, e);
      }
      out += ']';
      return;
    }
    case boost::json::kind::object: append_json(out, v.get_object()); return;
  }
}

/// Appends `o` as a compact JSON object.
inline void append_json(std::string& out, const boost::json::object& o) {
  out += '{';
  bool first = true;
  for (const auto& kv : o) {
    if (!first) out += ',';
    first = false;
    detail::append_quoted(out, kv.key());
    out += ':';
    append_json(out, kv.value());
  }
  out += '}';
}

/// Appends `v` as text for a CSV field or a partition value: strings as they are, numbers and
/// booleans as JSON text, nothing for null, arrays and objects as compact JSON.
inline void append_text(std::string& out, const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: return;
    case boost::json::kind::string: out.append(v.get_string()); return;
    default: append_json(out, v);
  }
}

namespace detail {
/// A bump allocator for parsed records: reset() rewinds it and keeps its blocks, so parsing a
/// stream of records reaches a steady state with no allocation. Deallocation is a no-op.
class arena_resource final : public boost::json::memory_resource {
 public:
  /// Forgets every allocation. Blocks are kept unless together they exceed `keep` bytes (one
  /// huge record must not pin its memory forever); then one block of `keep` bytes is kept.
  void reset(std::size_t keep = 1 << 20) {
    current_ = 0;
    used_ = 0;
    std::size_t total = 0;
    for (const auto& b : blocks_) total += b.size;
    if (total > keep) {
      blocks_.clear();
      add_block(keep);
    }
  }

 private:
  struct block {
    std::unique_ptr<unsigned char[]> data;
    std::size_t size;
  };
  void add_block(std::size_t size) { blocks_.push_back({std::make_unique<unsigned char[]>(size), size}); }

  void* do_allocate(std::size_t bytes, std::size_t align) override {
    while (true) {
      if (current_ < blocks_.size()) {
        block& b = blocks_[current_];
        std::size_t start = (used_ + align - 1) & ~(align - 1);
        if (start + bytes <= b.size) {
          used_ = start + bytes;
          return b.data.get() + start;
        }
        ++current_;  // the rest of this block is wasted until reset()
        used_ = 0;
        continue;
      }
      std::size_t last = blocks_.empty() ? 16 * 1024 : blocks_.back().size;
      add_block(std::max(last * 2, bytes + align));
    }
  }
  void do_deallocate(void*, std::size_t, std::size_t) override {}
  bool do_is_equal(const boost::json::memory_resource& other) const noexcept override { return this == &other; }

  std::vector<block> blocks_;
  std::size_t current_ = 0;
  std::size_t used_ = 0;
};
}  // namespace detail

}  // namespace sluice::format

// Values in the arena need no destructor walk: the arena is rewound as a whole.
template <>
struct boost::json::is_deallocate_trivial<sluice::format::detail::arena_resource> : std::true_type {};

namespace sluice::format {

/// Parses record payloads as JSON with one parser and one arena reused for every record.
///
/// The value returned by parse() lives until the next call (or the reader's destruction); it
/// is mutable so transforms edit it in place, and what they add lives in the same arena.
///
/// Errors: parse() returns nullptr and error() / error_offset() tell what and at which byte;
/// parse_object() turns both a parse error and a value that is not an object into a reject
/// with errc::invalid_record and a reason naming the byte (`invalid JSON at byte 11: syntax
/// error`) or the kind (`the record is a JSON array, not an object`).
/// Allocation: none per record once the arena and the parser's stack have grown to the
/// largest record seen (up to 1 MiB is kept).
/// Thread safety: one thread at a time.
class json_reader {
 public:
  json_reader() = default;
  json_reader(const json_reader&) = delete;
  json_reader& operator=(const json_reader&) = delete;

  /// Parses `text`, a complete JSON text; nullptr on error.
  [[nodiscard]] boost::json::value* parse(std::string_view text) {
    value_.reset();  // before the arena forgets its memory
    arena_.reset();
    parser_.reset(boost::json::storage_ptr(&arena_));
    error_ = {};
    error_offset_ = parser_.write(text.data(), text.size(), error_);
    if (error_) return nullptr;
    value_.emplace(parser_.release());  // a move: the value keeps the arena
    return &*value_;
  }

  /// The object in `r`'s payload, or nullptr after rejecting `r` through `ctx` on behalf of
  /// `stage` (errc::invalid_record).
  [[nodiscard]] boost::json::object* parse_object(const record_ref& r, run_context& ctx, std::string_view stage) {
    boost::json::value* v = parse(r.payload);
    if (v == nullptr) {
      ctx.reject(r, make_error_code(errc::invalid_record),
                 "invalid JSON at byte " + std::to_string(error_offset_) + ": " + error_.message(), stage);
      return nullptr;
    }
    if (!v->is_object()) {
      ctx.reject(r, make_error_code(errc::invalid_record),
                 std::string("the record is a JSON ") + kind_name(kind_of(*v)) + ", not an object", stage);
      return nullptr;
    }
    return &v->get_object();
  }

  /// The error of the last parse() and the byte offset where it was found.
  [[nodiscard]] const boost::json::error_code& error() const noexcept { return error_; }
  [[nodiscard]] std::size_t error_offset() const noexcept { return error_offset_; }

 private:
  detail::arena_resource arena_;
  unsigned char stack_[4096];  // the parser's first stack buffer; deeper values grow it once
  boost::json::parser parser_{boost::json::storage_ptr(), boost::json::parse_options(), stack_, sizeof stack_};
  std::optional<boost::json::value> value_;
  boost::json::error_code error_;
  std::size_t error_offset_ = 0;
};

}  // namespace sluice::format
