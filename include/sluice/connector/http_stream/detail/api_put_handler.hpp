// SPDX-License-Identifier: Apache-2.0
#pragma once
// The Boost.JSON SAX handler behind request_parser (<sluice/connector/http_stream/api.hpp>):
// it follows the put calls' members, decodes base64 straight into the request's arena and
// collects the validation errors the service would report. Reached through api.hpp (which
// includes the definitions after its declarations), like the library's other impl headers.
#include <sluice/core/config.hpp>
#include <sluice/core/error.hpp>
#include <sluice/connector/http_stream/api.hpp>
#include <sluice/connector/http_stream/detail/api_bytes.hpp>
#include <sluice/connector/http_stream/detail/api_json.hpp>

#include <boost/json/string_view.hpp>
#include <boost/system/error_code.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace sluice::connector::http_stream {
namespace detail {

// What the next JSON value fills.
enum class slot : std::uint8_t {
  ignore,                 // a member the call does not have: skipped, whatever its type
  stream_name,            // DeliveryStreamName / StreamName
  stream_arn,             // StreamARN
  sequence_for_ordering,  // SequenceNumberForOrdering
  record,                 // Firehose PutRecord's Record
  records,                // Records
  record_element,         // an element of Records
  data,                   // Data
  partition_key,          // PartitionKey
  explicit_hash_key,      // ExplicitHashKey
};

// The JSON containers the handler is inside of (unknown members are skipped by depth alone).
enum class frame : std::uint8_t { root, record, records };

inline constexpr std::string_view stream_name_pattern = "[a-zA-Z0-9_.-]+";
inline constexpr std::string_view hash_key_pattern = "0|([1-9]\\d{0,38})";
inline constexpr std::string_view sequence_pattern = "0|([1-9]\\d{0,128})";
inline constexpr std::string_view stream_arn_pattern = "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+";
// 2^128 - 1: the largest ExplicitHashKey (kinesalite actions/putRecords.js, from the service).
inline constexpr std::string_view max_hash_key = "340282366920938463463374607431768211455";

inline std::string join(std::string_view a, std::string_view b) { return std::string(a).append(b); }

/// The Boost.JSON basic_parser handler for PutRecord, PutRecordBatch and Kinesis PutRecord(s).
/// Type errors and bad base64 stop the parse (SerializationException); constraint violations
/// are collected (ValidationException) and checked with the rest in finish().
struct put_handler {
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);

  // ---- the request -------------------------------------------------------------------------
  put_request* out = nullptr;
  operation op = operation::unknown;
  bool kinesis = false;
  bool batch = false;
  std::size_t max_records = 1;
  std::size_t max_record = 0;   // per record: Data (Firehose), Data + PartitionKey (Kinesis)
  std::size_t budget = 0;       // the most Data bytes a valid request holds: the arena's bound

  // ---- where the parser is -----------------------------------------------------------------
  frame stack[4] = {};
  int depth = 0;
  std::size_t skip = 0;     // nesting inside an ignored value; 0: not skipping
  slot next = slot::ignore; // what the value after the last key fills
  std::string key;          // a key that arrives in pieces
  bool in_string = false;
  slot str = slot::ignore;

  // ---- what was seen (null counts as absent) -----------------------------------------------
  bool has_stream_name = false, has_stream_arn = false, has_sequence = false;
  bool has_record = false, has_records = false;
  std::size_t records_seen = 0;     // elements of Records so far, null ones included
  std::uint64_t data_total = 0;     // decoded Data of every record, written or only counted
  std::uint64_t key_total = 0;      // partition key bytes

  struct current_record {
    std::size_t index = 0;
    bool has_data = false;
    bool writing = false;   // decoding into the arena (false: counting only; the request fails)
    std::size_t data_offset = 0;
    std::uint64_t data_size = 0;
    bool has_key = false, has_hash_key = false;
    std::string key, hash_key;
  } rec;
  base64_decoder b64;

  // ---- outcome -------------------------------------------------------------------------------
  bool failed = false;
  api_error error;
  validation_log log;
  std::size_t bad_hash_key_record = api_error::no_record;
  std::string bad_hash_key;

  void begin(operation o, put_request& r) {
    out = &r;
    op = o;
    kinesis = o == operation::kinesis_put_record || o == operation::kinesis_put_records;
    batch = o == operation::firehose_put_record_batch || o == operation::kinesis_put_records;
    max_records = !batch ? 1 : kinesis ? limits::kinesis_max_records : limits::firehose_max_records;
    max_record = kinesis ? limits::kinesis_max_record_bytes : limits::firehose_max_record_bytes;
    budget = !batch ? max_record : kinesis ? limits::kinesis_max_batch_bytes : limits::firehose_max_batch_bytes;
    depth = 0;
    skip = 0;
    next = slot::ignore;
    key.clear();
    in_string = false;
    has_stream_name = has_stream_arn = has_sequence = has_record = has_records = false;
    records_seen = 0;
    data_total = key_total = 0;
    rec = {};
    failed = false;
    error = {};
    log.clear();
    bad_hash_key_record = api_error::no_record;
    bad_hash_key.clear();
  }

  // ---- paths, in the form AWS's messages use ('records.3.member.data', counting from 1) -------
  [[nodiscard]] std::string record_prefix(std::size_t index) const {
    if (batch) {
      std::string p = "records.";
      append_uint(p, index + 1);
      return p + ".member.";
    }
    return op == operation::firehose_put_record ? "record." : "";
  }
  [[nodiscard]] std::string path(slot s) const {
    switch (s) {
      case slot::stream_name: return kinesis ? "streamName" : "deliveryStreamName";
      case slot::stream_arn: return "streamARN";
      case slot::sequence_for_ordering: return "sequenceNumberForOrdering";
      case slot::record: return "record";
      case slot::records: return "records";
      case slot::record_element: {
        std::string p = record_prefix(records_seen);
        p.pop_back();
        return p;
      }
      case slot::data: return record_prefix(rec.index) + "data";
      case slot::partition_key: return record_prefix(rec.index) + "partitionKey";
      case slot::explicit_hash_key: return record_prefix(rec.index) + "explicitHashKey";
      case slot::ignore: break;
    }
    return {};
  }
  [[nodiscard]] std::size_t record_of(slot s) const noexcept {
    switch (s) {
      case slot::data:
      case slot::partition_key:
      case slot::explicit_hash_key: return batch ? rec.index : api_error::no_record;
      case slot::record_element: return records_seen;
      default: return api_error::no_record;
    }
  }
  static std::string_view expected(slot s) noexcept {
    switch (s) {
      case slot::data: return "a base64 string (Blob)";
      case slot::record:
      case slot::record_element: return "a structure (JSON object)";
      case slot::records: return "a list (JSON array)";
      default: return "a string";
    }
  }

  // ---- failing ------------------------------------------------------------------------------
  bool fail(boost::system::error_code& ec, std::string message, std::size_t record = api_error::no_record) {
    failed = true;
    error = {error_type::serialization, std::move(message), record};
    ec = make_error_code(errc::invalid_record);  // stops the parser; `error` says why
    return false;
  }
  bool type_error(boost::system::error_code& ec, slot s, std::string_view found) {
    std::string m = "Expected ";
    m.append(expected(s)).append(" at '").append(path(s)).append("' but found ").append(found);
    return fail(ec, std::move(m), record_of(s));
  }
  bool top_type_error(boost::system::error_code& ec, std::string_view found) {
    return fail(ec, join("Expected a JSON object as the request body but found ", found));
  }
  bool base64_error(boost::system::error_code& ec) {
    std::string m = "Value at '" + path(slot::data) + "' can not be converted to a Blob: ";
    const auto c = b64.fault_char();
    auto show_char = [&] {
      if (c >= 0x20 && c < 0x7F) {
        m += '\'';
        m += static_cast<char>(c);
        m += '\'';
      } else {
        static constexpr char hex[] = "0123456789ABCDEF";
        m += "byte 0x";
        m += hex[c >> 4];
        m += hex[c & 15];
      }
      m += " at position ";
      append_uint(m, b64.fault_position());
    };
    switch (b64.fault()) {
      case base64_fault::bad_character:
        m += "Invalid Base64 character ";
        show_char();
        break;
      case base64_fault::bad_length:
        m += "Base64 encoded length is expected a multiple of 4 bytes but found: ";
        append_uint(m, b64.chars());
        break;
      case base64_fault::bad_padding:
        m += "Invalid Base64 padding: '=' may only end the string, as its last one or two characters; found ";
        show_char();
        break;
      case base64_fault::nonzero_pad_bits:
        m += "Invalid last non-pad Base64 character detected: ";
        show_char();
        break;
      case base64_fault::none: break;
    }
    return fail(ec, std::move(m), record_of(slot::data));
  }

  // ---- containers ----------------------------------------------------------------------------
  [[nodiscard]] slot value_slot() const noexcept {
    return stack[depth - 1] == frame::records ? slot::record_element : next;
  }
  void push(frame f) noexcept { stack[depth++] = f; }

  [[nodiscard]] slot key_slot(std::string_view k) const noexcept {
    if (stack[depth - 1] == frame::root) {
      if (!kinesis) {
        if (k == "DeliveryStreamName") return slot::stream_name;
        if (batch && k == "Records") return slot::records;
        if (!batch && k == "Record") return slot::record;
        return slot::ignore;
      }
      if (k == "StreamName") return slot::stream_name;
      if (k == "StreamARN") return slot::stream_arn;
      if (batch) return k == "Records" ? slot::records : slot::ignore;
      if (k == "SequenceNumberForOrdering") return slot::sequence_for_ordering;
      // Kinesis PutRecord: the record's members sit in the root.
    }
    if (k == "Data") return slot::data;
    if (kinesis && k == "PartitionKey") return slot::partition_key;
    if (kinesis && k == "ExplicitHashKey") return slot::explicit_hash_key;
    return slot::ignore;
  }

  void open_record(std::size_t index) {
    rec.index = index;
    rec.has_data = false;
    rec.writing = false;
    rec.data_offset = out->data_.size();
    rec.data_size = 0;
    rec.has_key = rec.has_hash_key = false;
    rec.key.clear();
    rec.hash_key.clear();
  }

  // Drops the current record's Data (a repeated or null Data member).
  void drop_data() {
    if (!rec.has_data) return;
    out->data_.truncate(rec.data_offset);
    data_total -= rec.data_size;
    rec.data_size = 0;
    rec.has_data = false;
  }

  void close_record() {
    const std::size_t i = rec.index;
    const std::size_t where = batch ? i : api_error::no_record;
    if (!rec.has_data) {
      log.add("null", path(slot::data), not_null, where);
    } else if (!kinesis && rec.data_size > max_record) {
      log.add(quoted_blob(rec.data_size), path(slot::data), at_most(max_record), where);
    }
    if (kinesis) {
      if (!rec.has_key) {
        log.add("null", path(slot::partition_key), not_null, where);
      } else {
        const std::size_t n = java_length(rec.key);
        if (n < 1) log.add(detail::quoted(rec.key), path(slot::partition_key), at_least(1), where);
        if (n > limits::kinesis_max_partition_key)
          log.add(detail::quoted(rec.key), path(slot::partition_key), at_most(limits::kinesis_max_partition_key), where);
      }
      if (rec.has_hash_key) {
        if (!is_decimal(rec.hash_key, 38)) {
          log.add(detail::quoted(rec.hash_key), path(slot::explicit_hash_key), pattern(hash_key_pattern), where);
        } else if (bad_hash_key_record == api_error::no_record &&
                   (rec.hash_key.size() > max_hash_key.size() ||
                    (rec.hash_key.size() == max_hash_key.size() && rec.hash_key > max_hash_key))) {
          bad_hash_key_record = i;
          bad_hash_key = rec.hash_key;
        }
      }
      // The record limit counts Data and PartitionKey together; the service words both cases as
      // a Data length error (getmoto/moto test_kinesis_stream_limits.py).
      if (rec.has_data && rec.data_size > max_record) {
        log.add(quoted_blob(rec.data_size), path(slot::data), at_most(max_record), where);
      } else if (rec.has_data && rec.data_size + rec.key.size() > max_record) {
        log.add("", path(slot::data), at_most(max_record), where);
      }
    }
    if (i < max_records) {
      auto cap = [](std::uint64_t v) {
        return static_cast<std::uint32_t>(std::min<std::uint64_t>(v, std::numeric_limits<std::uint32_t>::max()));
      };
      out->entries_.push_back({cap(rec.data_offset), cap(rec.data_size), cap(out->keys_.size()), cap(rec.key.size()),
                               cap(rec.hash_key.size())});
      out->keys_ += rec.key;
      out->keys_ += rec.hash_key;
    }
    key_total += rec.key.size();
    if (batch) ++records_seen;
  }

  // Records seen a second time: the last one wins.
  void restart_records() {
    out->entries_.clear();
    out->data_.clear();
    out->keys_.clear();
    records_seen = 0;
    data_total = key_total = 0;
    log.clear();
    bad_hash_key_record = api_error::no_record;
    bad_hash_key.clear();
  }

  // ---- strings --------------------------------------------------------------------------------
  bool string_begin(boost::system::error_code& ec) {
    switch (str) {
      case slot::ignore: return true;
      case slot::stream_name:
        has_stream_name = true;
        out->stream_name_.clear();
        return true;
      case slot::stream_arn:
        has_stream_arn = true;
        out->stream_arn_.clear();
        return true;
      case slot::sequence_for_ordering:
        has_sequence = true;
        out->sequence_for_ordering_.clear();
        return true;
      case slot::partition_key:
        rec.has_key = true;
        rec.key.clear();
        return true;
      case slot::explicit_hash_key:
        rec.has_hash_key = true;
        rec.hash_key.clear();
        return true;
      case slot::data:
        drop_data();
        rec.has_data = true;
        rec.writing = rec.index < max_records;
        b64.reset();
        return true;
      case slot::record:
      case slot::records:
      case slot::record_element: break;
    }
    return type_error(ec, str, "a string");
  }

  bool data_piece(std::string_view s, boost::system::error_code& ec) {
    if (rec.writing) {
      const std::size_t most = b64.max_output(s.size());
      // Write only while the request can still be valid: past either limit it fails anyway
      // (the slack of 2 covers the padding a last group may still take away).
      if (b64.size() + most > max_record + 2 || out->data_.size() + most > budget + 2) {
        rec.writing = false;
      } else {
        out->data_.reserve_more(most);
        const std::size_t before = b64.size();
        const bool ok = b64.feed(s.data(), s.size(), out->data_.data() + rec.data_offset);
        out->data_.commit(b64.size() - before);
        return ok || base64_error(ec);
      }
    }
    return b64.feed(s.data(), s.size(), nullptr) || base64_error(ec);
  }

  bool string_piece(std::string_view s, bool last, boost::system::error_code& ec) {
    if (skip) return true;
    if (!in_string) {
      if (depth == 0) return top_type_error(ec, "a string");
      str = value_slot();
      in_string = true;
      if (!string_begin(ec)) return false;
    }
    switch (str) {
      case slot::data:
        if (!data_piece(s, ec)) return false;
        break;
      case slot::stream_name: out->stream_name_.append(s); break;
      case slot::stream_arn: out->stream_arn_.append(s); break;
      case slot::sequence_for_ordering: out->sequence_for_ordering_.append(s); break;
      case slot::partition_key: rec.key.append(s); break;
      case slot::explicit_hash_key: rec.hash_key.append(s); break;
      default: break;
    }
    if (!last) return true;
    in_string = false;
    if (str == slot::data) {
      if (!b64.finish()) return base64_error(ec);
      rec.data_size = b64.size();
      data_total += rec.data_size;
    }
    return true;
  }

  bool scalar(boost::system::error_code& ec, std::string_view found) {
    if (skip) return true;
    if (depth == 0) return top_type_error(ec, found);
    const slot s = value_slot();
    return s == slot::ignore || type_error(ec, s, found);
  }

  // ---- basic_parser's handler interface -------------------------------------------------------
  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }

  bool on_object_begin(boost::system::error_code& ec) {
    if (skip) return ++skip, true;
    if (depth == 0) {
      push(frame::root);
      if (op == operation::kinesis_put_record) open_record(0);
      return true;
    }
    switch (const slot s = value_slot()) {
      case slot::ignore: skip = 1; return true;
      case slot::record:
        has_record = true;
        push(frame::record);
        open_record(0);
        return true;
      case slot::record_element:
        push(frame::record);
        open_record(records_seen);
        return true;
      default: return type_error(ec, s, "an object");
    }
  }
  bool on_object_end(std::size_t, boost::system::error_code&) {
    if (skip) return --skip, true;
    const frame f = stack[--depth];
    if (f == frame::record || (f == frame::root && op == operation::kinesis_put_record)) close_record();
    return true;
  }
  bool on_array_begin(boost::system::error_code& ec) {
    if (skip) return ++skip, true;
    if (depth == 0) return top_type_error(ec, "a list");
    switch (const slot s = value_slot()) {
      case slot::ignore: skip = 1; return true;
      case slot::records:
        if (has_records) restart_records();
        has_records = true;
        push(frame::records);
        return true;
      default: return type_error(ec, s, "a list");
    }
  }
  bool on_array_end(std::size_t, boost::system::error_code&) {
    if (skip) return --skip, true;
    --depth;
    return true;
  }
  bool on_key_part(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    if (!skip) key.append(s.data(), s.size());
    return true;
  }
  bool on_key(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    if (skip) return true;
    if (key.empty()) {
      next = key_slot({s.data(), s.size()});
    } else {
      key.append(s.data(), s.size());
      next = key_slot(key);
      key.clear();
    }
    return true;
  }
  bool on_string_part(boost::json::string_view s, std::size_t, boost::system::error_code& ec) {
    return string_piece({s.data(), s.size()}, false, ec);
  }
  bool on_string(boost::json::string_view s, std::size_t, boost::system::error_code& ec) {
    return string_piece({s.data(), s.size()}, true, ec);
  }
  bool on_number_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_int64(std::int64_t, boost::json::string_view, boost::system::error_code& ec) {
    return scalar(ec, "a number");
  }
  bool on_uint64(std::uint64_t, boost::json::string_view, boost::system::error_code& ec) {
    return scalar(ec, "a number");
  }
  bool on_double(double, boost::json::string_view, boost::system::error_code& ec) { return scalar(ec, "a number"); }
  bool on_bool(bool, boost::system::error_code& ec) { return scalar(ec, "a boolean"); }
  bool on_null(boost::system::error_code& ec) {
    if (skip) return true;
    if (depth == 0) return top_type_error(ec, "null");
    switch (value_slot()) {
      case slot::stream_name: has_stream_name = false; out->stream_name_.clear(); break;
      case slot::stream_arn: has_stream_arn = false; out->stream_arn_.clear(); break;
      case slot::sequence_for_ordering: has_sequence = false; out->sequence_for_ordering_.clear(); break;
      case slot::record: has_record = false; break;
      case slot::records:
        if (has_records) restart_records();
        has_records = false;
        break;
      case slot::record_element:
        log.add("null", path(slot::record_element), not_null, records_seen);
        ++records_seen;
        break;
      case slot::data: drop_data(); break;
      case slot::partition_key: rec.has_key = false; rec.key.clear(); break;
      case slot::explicit_hash_key: rec.has_hash_key = false; rec.hash_key.clear(); break;
      case slot::ignore: break;
    }
    return true;
  }
  bool on_comment_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(boost::json::string_view, boost::system::error_code&) { return true; }

  // ---- after the document: the checks of the whole request -----------------------------------
  void check_name(std::string_view value, std::string_view where, std::size_t max) {
    if (!is_stream_name(value)) log.add(detail::quoted(value), where, pattern(stream_name_pattern));
    const std::size_t n = java_length(value);
    if (n < 1) log.add(detail::quoted(value), where, at_least(1));
    if (n > max) log.add(detail::quoted(value), where, at_most(max));
  }

  bool invalid_argument(std::string message, std::size_t record = api_error::no_record) {
    error = {error_type::invalid_argument, std::move(message), record};
    return false;
  }

  bool finish() {
    // The list's own constraints come first in AWS's messages.
    if (batch) {
      if (!has_records) {
        log.add("null", "records", not_null, api_error::no_record, true);
      } else if (records_seen == 0) {
        log.add("'[]'", "records", at_least(1), api_error::no_record, true);
      } else if (records_seen > max_records) {
        log.add("", "records", at_most(max_records), api_error::no_record, true);
      }
    }
    if (op == operation::firehose_put_record && !has_record) log.add("null", "record", not_null);
    if (!kinesis) {
      if (!has_stream_name) log.add("null", path(slot::stream_name), not_null);
      else check_name(out->stream_name_, path(slot::stream_name), limits::firehose_max_stream_name);
    } else {
      if (has_stream_name) check_name(out->stream_name_, path(slot::stream_name), limits::kinesis_max_stream_name);
      if (has_stream_arn) {
        const auto& a = out->stream_arn_;
        const std::size_t n = java_length(a);
        // The pattern is checked on ARNs of a valid length only: it costs more on longer ones.
        if (n <= limits::kinesis_max_stream_arn && !is_stream_arn(a))
          log.add(detail::quoted(a), path(slot::stream_arn), pattern(stream_arn_pattern));
        if (n < 1) log.add(detail::quoted(a), path(slot::stream_arn), at_least(1));
        if (n > limits::kinesis_max_stream_arn)
          log.add(detail::quoted(a), path(slot::stream_arn), at_most(limits::kinesis_max_stream_arn));
      }
      if (has_sequence && !is_decimal(out->sequence_for_ordering_, 128))
        log.add(detail::quoted(out->sequence_for_ordering_), path(slot::sequence_for_ordering), pattern(sequence_pattern));
    }
    if (!log.empty()) {
      error = {error_type::validation, log.message(), log.first_record()};
      return false;
    }

    // Past the model's constraints: the service's own checks (InvalidArgumentException).
    if (kinesis) {
      if (!has_stream_name && !has_stream_arn)
        return invalid_argument("Either StreamName or StreamARN must be provided, and neither is");
      if (has_stream_arn) {
        const auto& a = out->stream_arn_;
        const std::string_view arn_name = std::string_view(a).substr(a.rfind('/') + 1);
        if (!has_stream_name) {
          out->stream_name_.assign(arn_name);
        } else if (arn_name != out->stream_name_) {
          return invalid_argument("StreamARN '" + a + "' and StreamName '" + out->stream_name_ +
                                  "' name different streams");
        }
      }
      if (bad_hash_key_record != api_error::no_record) {
        std::string m = "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
                        "Specified value was " + bad_hash_key;
        rec.index = bad_hash_key_record;
        m += " (at '" + path(slot::explicit_hash_key) + "')";
        return invalid_argument(std::move(m), batch ? bad_hash_key_record : api_error::no_record);
      }
    }
    if (batch) {
      const std::uint64_t total = data_total + (kinesis ? key_total : 0);
      if (total > budget) {
        std::string m = kinesis ? "Records size exceeds 5 MB limit" : "Records size exceeds 4 MB limit";
        m += kinesis ? " (the Data and PartitionKey of the " : " (the Data of the ";
        append_uint(m, records_seen);
        m += " records add up to ";
        append_uint(m, total);
        m += " bytes; at most ";
        append_uint(m, budget);
        m += ")";
        return invalid_argument(std::move(m));
      }
    }
    SLUICE_ASSERT(out->data_.size() == data_total);
    return true;
  }
};

}  // namespace detail
}  // namespace sluice::connector::http_stream
