// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/concepts.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/pipeline.hpp>
#include <sluice/core/record.hpp>
#include <sluice/core/record_batch.hpp>
#include <sluice/format/json.hpp>
#include <sluice/format/transform/detail/survivors.hpp>
#include <sluice/format/transform/detail/time.hpp>

#include <boost/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sluice::transform {
using sluice::operator|;

/// How transform::partition_by reads a numeric event time.
enum class epoch_unit {
  /// Seconds below 10^11 (before the year 5138), milliseconds from there on.
  detect,
  seconds,
  milliseconds,
};

/// Sets each record's partition keys, and optionally its event time, from fields of the JSON
/// record: Firehose's dynamic partitioning, ahead of batch::by_size (which groups by these
/// keys) and a store whose key template names them.
///
/// The keys are, in order, each of `fields` (`name=value`, the value as format::append_text
/// writes it; dotted paths reach into nested objects and name the key as written), then
/// `time_key` with the event time in UTC formatted by `time_format` (%Y %m %d %H %M %S %j %%).
/// They replace the record's previous keys (sluice::partition_keys escapes `/`, `=`, `%`). The
/// event time comes from `time_field`: an RFC 3339 string (`2024-05-01T13:45:00.5+02:00`) or
/// a number of seconds or milliseconds since the epoch (`epoch`).
///
/// Errors: a record that is not a JSON object is rejected with errc::invalid_record naming the
/// byte of the parse error; a missing, null, array or object partition field, or a missing or
/// unreadable time field, rejects the record with errc::invalid_record naming the field — as
/// Firehose sends such records to its error output. Invalid configuration throws config_error
/// from validate().
/// Allocation: records are parsed into an arena reused from record to record; keys are built
/// in a reused string and the input batch is updated in place when nothing is rejected.
///
/// @code
///   auto p = connector::files{.path = "/data/in"}
///          | transform::partition_by{.fields = {"event_type"}, .time_field = "ts", .time_key = "hour",
///                                    .time_format = "%Y-%m-%d-%H"}
///          | batch::by_size{.max_partitions = 500}
///          | format::jsonl{}
///          | store::local{.root = "./lake"};
///   // {"event_type":"click","ts":"2024-05-01T13:45:00Z"} -> partition "event_type=click/hour=2024-05-01-13"
/// @endcode
struct partition_by {
  using stage_concept = stage_tag;
  using input_type = record_batch;
  using output_type = record_batch;

  /// Keys or dotted paths whose values become partition keys.
  std::vector<std::string> fields;
  /// Key or dotted path of the event time; empty: event times are left as they are.
  std::string time_field;
  /// Name of the partition key holding the formatted event time; empty: no time key.
  std::string time_key;
  /// strftime-like format of the time key, in UTC.
  std::string time_format = "%Y-%m-%d-%H";
  /// Unit of numeric event times.
  epoch_unit epoch = epoch_unit::detect;

  /// Throws config_error naming the field and what is wrong.
  void validate() const {
    if (fields.empty() && time_field.empty())
      throw config_error("transform::partition_by: .fields and .time_field are both empty: nothing to partition by");
    for (const auto& f : fields)
      if (f.empty()) throw config_error("transform::partition_by.fields: a field name is empty");
    if (!time_key.empty() && time_field.empty())
      throw config_error("transform::partition_by.time_key = \"" + time_key + "\": needs .time_field to read the time from");
    if (!sluice::detail::utc_format_uses_only(time_format, detail::partition_by_conversions))
      throw config_error("transform::partition_by.time_format = \"" + time_format +
                         "\": only %Y %m %d %H %M %S %j and %% are supported");
  }

  template <class Next>
  class node;

  template <class MakeNext>
  auto open(run_context& ctx, MakeNext&& make_next) const {
    validate();
    return node<decltype(make_next())>(*this, ctx, make_next);
  }
};

/// The running partition_by stage.
template <class Next>
class partition_by::node {
 public:
  template <class MakeNext>
  node(const partition_by& config, run_context& ctx, MakeNext&& make_next)
      : config_(config), ctx_(ctx), next_(make_next()) {}
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  void push(record_batch&& in) {
    in.set_partition(std::string_view{});  // records now carry their own keys
    out_.begin(in);
    for (std::size_t i = 0; i < in.size(); ++i) {
      const record_ref r = in[i];
      const boost::json::object* o = reader_.parse_object(r, ctx_, "transform::partition_by");
      if (o == nullptr || !extract(r, *o)) {
        out_.remove(i);
        continue;
      }
      out_.keep_with(i, keys_, event_time_);
    }
    out_.finish(next_);
  }
  void flush() { next_.flush(); }
  void tick() { next_.tick(); }

 private:
  /// Fills keys_ and event_time_ from `o`; rejects `r` and returns false when it cannot.
  bool extract(const record_ref& r, const boost::json::object& o) {
    keys_.clear();
    for (const auto& field : config_.fields) {
      const boost::json::value* v = format::find_path(o, field);
      const char* problem = format::partition_value_problem(v);
      if (problem != nullptr) {
        ctx_.reject(r, make_error_code(errc::invalid_record),
                    "partition field `" + field + "` is " + problem + " (needed for the partition key)",
                    "transform::partition_by");
        return false;
      }
      value_.clear();
      format::append_text(value_, *v);
      add_key(field, value_);
    }
    event_time_ = r.event_time;
    if (config_.time_field.empty()) return true;
    const boost::json::value* t = format::find_path(o, config_.time_field);
    std::optional<timestamp> parsed;
    if (t != nullptr) parsed = read_time(*t);
    if (!parsed) {
      value_.clear();
      if (t != nullptr) format::append_json(value_, *t);
      ctx_.reject(r, make_error_code(errc::invalid_record),
                  "time field `" + config_.time_field + "` " +
                      (t == nullptr ? std::string("is missing")
                                    : "= " + value_ + " is not an RFC 3339 time or epoch seconds/milliseconds"),
                  "transform::partition_by");
      return false;
    }
    event_time_ = *parsed;
    if (!config_.time_key.empty()) {
      value_.clear();
      detail::format_utc(value_, event_time_, config_.time_format);
      add_key(config_.time_key, value_);
    }
    return true;
  }

  // partition_keys' escaping, into a reused string instead of a new one per record.
  void add_key(std::string_view name, std::string_view value) { partition_keys::append(keys_, name, value); }

  std::optional<timestamp> read_time(const boost::json::value& t) const {
    if (const auto* s = t.if_string()) return detail::parse_rfc3339(*s);
    double n;
    if (t.is_int64()) {
      n = static_cast<double>(t.get_int64());
    } else if (t.is_uint64()) {
      n = static_cast<double>(t.get_uint64());
    } else if (t.is_double()) {
      n = t.get_double();
    } else {
      return std::nullopt;
    }
    bool millis = config_.epoch == epoch_unit::milliseconds ||
                  (config_.epoch == epoch_unit::detect && std::fabs(n) >= 1e11);
    double seconds = millis ? n / 1000.0 : n;
    if (!std::isfinite(seconds) || std::fabs(seconds) > 1e12) return std::nullopt;  // beyond year 30000
    if (t.is_int64() && millis)  // exact for integral milliseconds
      return timestamp{} + std::chrono::duration_cast<timestamp::duration>(std::chrono::milliseconds(t.get_int64()));
    if (t.is_int64())
      return timestamp{} + std::chrono::duration_cast<timestamp::duration>(std::chrono::seconds(t.get_int64()));
    // Whole seconds and the fraction apart: a double of nanoseconds since 1970 loses digits.
    double whole = std::floor(seconds);
    auto nanos = std::llround((seconds - whole) * 1e9);
    return timestamp{} + std::chrono::duration_cast<timestamp::duration>(
                             std::chrono::seconds(static_cast<std::int64_t>(whole)) + std::chrono::nanoseconds(nanos));
  }

  const partition_by config_;
  run_context& ctx_;
  format::json_reader reader_;
  std::string keys_, value_;
  timestamp event_time_{};
  detail::survivors out_;
  Next next_;
};

}  // namespace sluice::transform
