// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/cursor.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/object.hpp>
#include <sluice/core/record.hpp>
#include <sluice/crypto/checksum.hpp>
#include <sluice/store/detail/civil_time.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::store {

/// The positions one source's records in an object span.
struct cursor_info {
  std::string source;               ///< the source's position stream name (file path, "generator")
  std::uint64_t first_position = 0; ///< lowest position covered
  std::uint64_t last_position = 0;  ///< highest position covered
  std::uint64_t records = 0;        ///< records of this source in the object
  friend bool operator==(const cursor_info&, const cursor_info&) = default;
};

/// What a store records about an object beside its bytes: the sidecar `<key>.meta.json` of the
/// local store, and the facts the S3 store puts in `x-amz-meta-*`.
struct object_info {
  std::string key;
  std::string stream;
  std::string partition;                      ///< hive form, empty when unpartitioned
  std::string content_type;
  std::vector<std::string> content_encoding;  ///< in the order applied
  std::string encryption;                     ///< empty when not encrypted
  std::map<std::string, std::string> metadata;
  std::uint64_t record_count = 0;
  std::uint64_t record_bytes = 0;             ///< payload bytes before formatting
  std::uint64_t size = 0;                     ///< stored bytes
  std::string sha256;                         ///< lower-case hex of the stored bytes
  std::string crc32c;                         ///< base64 of the big-endian CRC32C (S3's form)
  timestamp first_event_time{};               ///< default when the records carry none
  timestamp last_event_time{};
  timestamp arrival_time{};
  std::vector<cursor_info> cursors;           ///< one entry per source, in order of appearance
};

/// The facts of `o` (with its key set) and its checksums; `names` resolves the source ids of
/// `o.covered`.
inline object_info describe(const object& o, const crypto::object_checksums& sums, const cursor_tracker& names) {
  object_info info;
  info.key = o.key;
  info.stream = o.stream;
  info.partition = o.partition;
  info.content_type = o.content_type;
  info.content_encoding = o.content_encoding;
  info.encryption = o.encryption;
  info.metadata = o.metadata;
  info.record_count = o.record_count;
  info.record_bytes = o.record_bytes;
  info.size = sums.size;
  info.sha256 = crypto::to_hex(sums.sha256);
  info.crc32c = crypto::crc32c_base64(sums.crc32c);
  info.first_event_time = o.first_event_time;
  info.last_event_time = o.last_event_time;
  info.arrival_time = o.arrival_time;
  std::vector<std::uint32_t> ids;
  for (const cursor_range& r : o.covered.ranges()) {
    std::size_t i = 0;
    while (i < ids.size() && ids[i] != r.source) ++i;
    if (i == ids.size()) {
      ids.push_back(r.source);
      info.cursors.push_back({names.source_name(r.source), r.first_position, r.last_position, 0});
    }
    cursor_info& c = info.cursors[i];
    c.first_position = std::min(c.first_position, r.first_position);
    c.last_position = std::max(c.last_position, r.last_position);
    c.records += r.end_seq - r.first_seq;
  }
  return info;
}

/// The sidecar JSON of `info` (one object, keys in a fixed order, times in RFC 3339 UTC with
/// milliseconds or null, `format` = 1).
inline std::string to_json(const object_info& info) {
  namespace json = boost::json;
  auto time = [](timestamp t) -> json::value {
    if (t == timestamp{}) return nullptr;
    std::string s;
    detail::append_rfc3339(s, t);
    return json::string(s);
  };
  json::object o;
  o["format"] = 1;
  o["key"] = info.key;
  o["stream"] = info.stream;
  o["partition"] = info.partition;
  o["content_type"] = info.content_type;
  json::array enc;
  for (const auto& e : info.content_encoding) enc.emplace_back(e);
  o["content_encoding"] = std::move(enc);
  o["encryption"] = info.encryption;
  json::object meta;
  for (const auto& [k, v] : info.metadata) meta[k] = v;
  o["metadata"] = std::move(meta);
  o["record_count"] = info.record_count;
  o["record_bytes"] = info.record_bytes;
  o["size"] = info.size;
  o["sha256"] = info.sha256;
  o["crc32c"] = info.crc32c;
  o["first_event_time"] = time(info.first_event_time);
  o["last_event_time"] = time(info.last_event_time);
  o["arrival_time"] = time(info.arrival_time);
  json::array cursors;
  for (const auto& c : info.cursors) {
    json::object jc;
    jc["source"] = c.source;
    jc["first_position"] = c.first_position;
    jc["last_position"] = c.last_position;
    jc["records"] = c.records;
    cursors.emplace_back(std::move(jc));
  }
  o["cursors"] = std::move(cursors);
  std::string out = json::serialize(o);
  out += '\n';
  return out;
}

/// Parses a sidecar written by to_json. Errors: errc::corrupt_object, with `why` naming the
/// field that is missing or of the wrong type (or the JSON syntax error and its offset).
inline error_code parse_sidecar(std::string_view text, object_info& out, std::string& why) {
  namespace json = boost::json;
  auto corrupt = [&](std::string reason) {
    why = std::move(reason);
    return make_error_code(errc::corrupt_object);
  };
  error_code ec;
  json::parser p;
  std::size_t used = p.write_some(text.data(), text.size(), ec);
  if (ec) return corrupt("invalid JSON at byte " + std::to_string(used) + ": " + ec.message());
  for (; used < text.size(); ++used)
    if (text[used] != ' ' && text[used] != '\n' && text[used] != '\r' && text[used] != '\t')
      return corrupt("invalid JSON at byte " + std::to_string(used) + ": data after the object");
  json::value v = p.release();
  if (!v.is_object()) return corrupt("not a JSON object");
  const json::object& o = v.get_object();
  object_info info;
  auto str = [&](const char* name, std::string& dst) {
    auto* f = o.if_contains(name);
    if (!f || !f->is_string()) return false;
    dst = std::string(f->get_string());
    return true;
  };
  auto u64 = [&](const json::object& from, const char* name, std::uint64_t& dst) {
    auto* f = from.if_contains(name);
    if (!f) return false;
    if (f->is_uint64()) dst = f->get_uint64();
    else if (f->is_int64() && f->get_int64() >= 0) dst = static_cast<std::uint64_t>(f->get_int64());
    else return false;
    return true;
  };
  auto time = [&](const char* name, timestamp& dst) {
    auto* f = o.if_contains(name);
    if (!f) return false;
    if (f->is_null()) return dst = {}, true;
    return f->is_string() && detail::parse_rfc3339(f->get_string(), dst);
  };
  for (auto [name, dst] : {std::pair{"key", &info.key}, {"stream", &info.stream}, {"partition", &info.partition},
                           {"content_type", &info.content_type}, {"encryption", &info.encryption},
                           {"sha256", &info.sha256}, {"crc32c", &info.crc32c}})
    if (!str(name, *dst)) return corrupt(std::string("field `") + name + "`: missing or not a string");
  for (auto [name, dst] : {std::pair{"record_count", &info.record_count}, {"record_bytes", &info.record_bytes},
                           {"size", &info.size}})
    if (!u64(o, name, *dst)) return corrupt(std::string("field `") + name + "`: missing or not an unsigned integer");
  for (auto [name, dst] : {std::pair{"first_event_time", &info.first_event_time},
                           {"last_event_time", &info.last_event_time}, {"arrival_time", &info.arrival_time}})
    if (!time(name, *dst)) return corrupt(std::string("field `") + name + "`: missing or not an RFC 3339 time");
  if (info.sha256.size() != 64) return corrupt("field `sha256`: not 64 hex digits");
  auto* enc = o.if_contains("content_encoding");
  if (!enc || !enc->is_array()) return corrupt("field `content_encoding`: missing or not an array");
  for (const auto& e : enc->get_array()) {
    if (!e.is_string()) return corrupt("field `content_encoding`: an element is not a string");
    info.content_encoding.emplace_back(e.get_string());
  }
  auto* meta = o.if_contains("metadata");
  if (!meta || !meta->is_object()) return corrupt("field `metadata`: missing or not an object");
  for (const auto& [k, mv] : meta->get_object()) {
    if (!mv.is_string()) return corrupt("field `metadata." + std::string(k) + "`: not a string");
    info.metadata.emplace(std::string(k), std::string(mv.get_string()));
  }
  auto* cursors = o.if_contains("cursors");
  if (!cursors || !cursors->is_array()) return corrupt("field `cursors`: missing or not an array");
  for (const auto& c : cursors->get_array()) {
    cursor_info ci;
    const json::object* jc = c.if_object();
    auto* src = jc ? jc->if_contains("source") : nullptr;
    if (!jc || !src || !src->is_string() || !u64(*jc, "first_position", ci.first_position) ||
        !u64(*jc, "last_position", ci.last_position) || !u64(*jc, "records", ci.records))
      return corrupt("field `cursors`: an element lacks source, first_position, last_position or records");
    ci.source = std::string(src->get_string());
    info.cursors.push_back(std::move(ci));
  }
  out = std::move(info);
  return {};
}


/// One stored object read back: its bytes and its facts (the local store's sidecar, the S3
/// store's metadata).
struct stored_object {
  std::string body;
  object_info info;
};

/// Checks the bytes of `o` against its facts: SHA-256 and CRC32C (readers check the size when
/// reading). `name` names the object in `why`. Errors: errc::corrupt_object.
inline error_code verify_checksums(const stored_object& o, const std::string& name, std::string& why) {
  crypto::object_checksummer c;
  auto sums = crypto::compute_checksums(o.body, c);
  if (crypto::to_hex(sums.sha256) != o.info.sha256) {
    why = name + ": SHA-256 " + crypto::to_hex(sums.sha256) + " differs from its recorded " + o.info.sha256;
    return make_error_code(errc::corrupt_object);
  }
  if (crypto::crc32c_base64(sums.crc32c) != o.info.crc32c) {
    why = name + ": CRC32C " + crypto::crc32c_base64(sums.crc32c) + " differs from its recorded " + o.info.crc32c;
    return make_error_code(errc::corrupt_object);
  }
  return {};
}

/// The reading members every store reader shares (local_reader, s3_reader): the error_code and
/// throwing forms of read(), and verify(). `Reader` provides `read_object(key, ec, why)`, which
/// reads bytes and facts and checks the size, `location(key)` for messages, and `reader_name`.
template <class Reader>
class basic_reader {
 public:
  /// The bytes of `key` and its facts; checks the stored size against them.
  [[nodiscard]] stored_object read(std::string_view key, error_code& ec) const {
    std::string why;
    return self().read_object(key, ec, why);
  }
  /// Throwing twin: the message names the object and what was wrong.
  [[nodiscard]] stored_object read(std::string_view key) const {
    error_code ec;
    std::string why;
    auto o = self().read_object(key, ec, why);
    throw_if(ec, std::string(Reader::reader_name) + ": " + why);
    return o;
  }

  /// Reads `key` and checks its size, SHA-256 and CRC32C against its facts.
  [[nodiscard]] error_code verify(std::string_view key) const {
    std::string why;
    return verify(key, why);
  }
  /// Same, with `why` naming the object and the check that failed.
  [[nodiscard]] error_code verify(std::string_view key, std::string& why) const {
    error_code ec;
    stored_object o = self().read_object(key, ec, why);
    if (ec) return ec;
    return verify_checksums(o, "object " + self().location(key), why);
  }

 private:
  const Reader& self() const { return static_cast<const Reader&>(*this); }
};

namespace detail {
/// Sidecar fields whose values are JSON (arrays, objects) and numbers: how a metadata header
/// value turns back into the sidecar's JSON.
inline constexpr std::string_view json_valued_fields[] = {"content_encoding", "metadata", "cursors"};
inline constexpr std::string_view number_fields[] = {"format", "record_count", "record_bytes", "size"};
inline constexpr std::string_view time_fields[] = {"first_event_time", "last_event_time", "arrival_time"};

/// Header values carry printable ASCII only: other bytes and '%' become %XX.
inline std::string header_escape(std::string_view v) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : v) {
    if (c < 0x20 || c > 0x7E || c == '%') (out += '%', out += hex[c >> 4]) += hex[c & 15];
    else out += static_cast<char>(c);
  }
  return out;
}
inline std::string header_unescape(std::string_view v) {
  std::string out;
  auto digit = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '%' && i + 2 < v.size() && std::isxdigit(static_cast<unsigned char>(v[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(v[i + 2]))) {
      out += static_cast<char>(digit(v[i + 1]) * 16 + digit(v[i + 2]));
      i += 2;
    } else {
      out += v[i];
    }
  }
  return out;
}
}  // namespace detail

/// The facts of `info` as object metadata (the S3 store's `x-amz-meta-*`): one entry per
/// sidecar field but the key, named with `-` for `_` (`record-count`), arrays and objects as
/// compact JSON, times as RFC 3339 (empty when unknown), values escaped to printable ASCII.
inline std::vector<std::pair<std::string, std::string>> to_metadata(const object_info& info) {
  boost::json::value doc = boost::json::parse(to_json(info));
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, value] : doc.get_object()) {
    if (name == "key") continue;
    std::string header(name);
    std::replace(header.begin(), header.end(), '_', '-');
    std::string text = value.is_string() ? std::string(value.get_string())
                       : value.is_null() ? std::string()
                                         : boost::json::serialize(value);
    out.emplace_back(std::move(header), detail::header_escape(text));
  }
  return out;
}

/// Reads back what to_metadata wrote (`metadata` holds the headers without their prefix) for
/// the object `key`. Errors as parse_sidecar's, naming the header.
inline error_code parse_metadata(const std::map<std::string, std::string>& metadata, std::string_view key,
                                 object_info& out, std::string& why) {
  namespace json = boost::json;
  json::object doc;
  doc["key"] = key;
  for (const auto& [header, raw] : metadata) {
    std::string name = header;
    std::replace(name.begin(), name.end(), '-', '_');
    std::string value = detail::header_unescape(raw);
    auto is = [&](const auto& list) { return std::find(std::begin(list), std::end(list), name) != std::end(list); };
    if (is(detail::json_valued_fields) || is(detail::number_fields)) {
      error_code ec;
      json::value v = json::parse(value, ec);
      if (ec) {
        why = "metadata x-amz-meta-" + header + ": not JSON: " + ec.message();
        return make_error_code(errc::corrupt_object);
      }
      doc[name] = std::move(v);
    } else if (is(detail::time_fields) && value.empty()) {
      doc[name] = nullptr;
    } else {
      doc[name] = value;
    }
  }
  if (!doc.contains("format")) {
    why = "no x-amz-meta-format: not an object written by sluice";
    return make_error_code(errc::corrupt_object);
  }
  return parse_sidecar(json::serialize(doc), out, why);
}

}  // namespace sluice::store
