// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/concepts.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/cursor.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/pipeline.hpp>
#include <sluice/core/record.hpp>
#include <sluice/core/record_batch.hpp>
#include <sluice/connector/http_stream/detail/processing_prefix.hpp>
#include <sluice/crypto/detail/encoding.hpp>
#include <sluice/format/json.hpp>
#include <sluice/format/transform/detail/survivors.hpp>

#include <boost/json.hpp>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::connector::http_stream {
using sluice::operator|;

/// What a processing transform says of a record: Firehose's Lambda `result`.
enum class transform_result {
  ok,                 ///< "Ok": the record goes on with transform_output::data
  dropped,            ///< "Dropped": intentionally removed; acknowledged, counted as dropped
  processing_failed,  ///< "ProcessingFailed": goes to the error output prefix as processing-failed
};

/// A record as the transform sees it: the `records[]` entry of Firehose's Lambda event.
struct transform_input {
  std::string_view data;                    ///< the record's bytes (decoded, not base64)
  timestamp approximate_arrival_timestamp;  ///< when the request that carried it arrived
  std::string_view record_id;               ///< `<source>-<position>` of its cursor: stable on replay
};

/// Partition keys a transform returns for a record: Firehose's `metadata.partitionKeys`, read by
/// `!{partitionKeyFromLambda:NAME}`. Setting a name again replaces its value.
/// Allocation: clear() keeps the strings, so a steady transform stops allocating.
class transform_partition_keys {
 public:
  void set(std::string_view name, std::string_view value) {
    for (std::size_t i = 0; i < used_; ++i)
      if (entries_[i].first == name) {
        entries_[i].second.assign(value);
        return;
      }
    if (used_ == entries_.size()) entries_.emplace_back();
    entries_[used_].first.assign(name);
    entries_[used_].second.assign(value);
    ++used_;
  }
  /// The value of `name`, or nullptr.
  [[nodiscard]] const std::string* find(std::string_view name) const noexcept {
    for (std::size_t i = 0; i < used_; ++i)
      if (entries_[i].first == name) return &entries_[i].second;
    return nullptr;
  }
  [[nodiscard]] std::size_t size() const noexcept { return used_; }
  void clear() noexcept { used_ = 0; }

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
  std::size_t used_ = 0;
};

/// What a transform returns besides its result: Firehose's `data` and `metadata`.
struct transform_output {
  /// The record's new bytes; it holds the input's bytes when the transform is called, so a
  /// transform that only adds partition keys leaves it alone.
  std::string data;
  transform_partition_keys partition_keys;
};

/// The Lambda-shaped transform: reads the record, fills `out`, returns the result. An exception
/// counts as processing_failed with the exception's text as the error message.
using transform_function = std::function<transform_result(const transform_input& in, transform_output& out)>;

/// A partition key from the JSON record (Firehose's MetadataExtraction processor): `name` is
/// what `!{partitionKeyFromQuery:NAME}` names, `query` a JQ path into the record (`.customer_id`,
/// `.type.device`). Only paths of plain names are supported.
struct query_key {
  std::string name;
  std::string query;
};

/// Counters of the processing stage, readable from any thread (the endpoint's /metrics).
struct processing_counters {
  std::atomic<std::uint64_t> ok{0};                   ///< records that went on under the prefix
  std::atomic<std::uint64_t> dropped{0};              ///< records the transform dropped
  std::atomic<std::uint64_t> processing_failed{0};    ///< error records under processing-failed
  std::atomic<std::uint64_t> partitioning_failed{0};  ///< error records under partitioning-failed
};

/// What Firehose does to a record between receiving it and buffering it for S3, as one record
/// stage: an optional Lambda-shaped transform, dynamic partitioning from JSON fields, and the
/// evaluation of `Prefix` / `ErrorOutputPrefix` into the record's partition.
///
/// Per record, in order:
/// 1. `transform` (if set) gets the record and returns Ok (new data, optional partition keys),
///    Dropped (acknowledged with run_context::drop) or ProcessingFailed; a throw counts as
///    ProcessingFailed with the exception's message.
/// 2. `query_keys` (if any) are read from the record (the transform's output) parsed as a JSON
///    object; a record that is not one, or lacks a key's value (missing, null, array, object),
///    fails partitioning.
/// 3. `prefix` is rendered: `!{timestamp:PATTERN}` (Java DateTimeFormatter, UTC, of the arrival
///    time: the record's event_time), `!{partitionKeyFromQuery:NAME}`,
///    `!{partitionKeyFromLambda:NAME}` (absent from the transform's keys: partitioning fails),
///    `!{firehose:random-string}`. An evaluated prefix over 512 characters, or one whose data
///    made an empty, `.` or `..` folder, fails partitioning.
/// 4. The record leaves with one partition key, `prefix=<rendered prefix>` (sluice::partition_keys
///    escapes `/`), so batch::by_size groups records by prefix and a store whose key template is
///    `{partition_path:prefix}{stream}-{seq}{ext}` writes each group under it; with
///    `newline_delimiter`, a `\n` is appended to its data.
/// A record that failed processing or partitioning is not lost and not rejected: it is replaced
/// by Firehose's error record (one JSON line: attemptsMade, arrivalTimestamp, errorCode,
/// errorMessage, attemptEndingTimestamp, rawData = base64 of the data that failed, lambdaArn
/// when `transform_arn` is set) under `error_output_prefix` rendered with
/// `!{firehose:error-output-type}` = `processing-failed` or `partitioning-failed`, and flows on.
///
/// Firehose's rules, checked by validate(): an empty `prefix` means `!{timestamp:yyyy/MM/dd/HH/}`,
/// and a prefix with no timestamp and no partition key gets it appended; `prefix` may not use
/// `!{firehose:error-output-type}`, `error_output_prefix` may not use partition keys and, when it
/// has expressions, must use `!{firehose:error-output-type}`; an empty `error_output_prefix` is
/// allowed only when `prefix` has no expressions (it is then the prefix followed by
/// `!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH/}`); `!{partitionKeyFromQuery:NAME}`
/// needs NAME in `query_keys`, configured `query_keys` need a prefix that uses them, and
/// `!{partitionKeyFromLambda:NAME}` needs a `transform`; neither prefix may render more than 512
/// characters.
///
/// Errors: invalid configuration throws config_error from validate() naming the field, the
/// expression and its position. Records never become errors of the pipeline.
/// Thread safety: the node is used by one thread; `counters` may be read from any thread.
/// Allocation: none per record in steady state (the transform's output, the JSON arena, key
/// strings and the output batch are reused). With only a prefix that depends on nothing but the
/// arrival time, a record costs a comparison of its arrival second and setting its partition.
///
/// @code
///   auto counters = std::make_shared<http_stream::processing_counters>();
///   auto p = source
///          | buffer::disk{.dir = "./wal"}
///          | http_stream::processing{
///                .query_keys = {{"customer_id", ".customer_id"}},
///                .prefix = "customer_id=!{partitionKeyFromQuery:customer_id}/!{timestamp:yyyy/MM/dd}/",
///                .error_output_prefix = "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/",
///                .newline_delimiter = true,
///                .counters = counters}
///          | batch::by_size{.max_bytes = 64_MiB, .max_age = 60s}
///          | format::raw{.content_type = "application/x-ndjson"}
///          | store::local{.root = "./lake", .key = "{partition_path:prefix}{stream}-{seq}{ext}"};
///   // {"customer_id":"42"} arriving 2024-05-01T13:45Z -> ./lake/customer_id=42/2024/05/01/<stream>-<seq>.jsonl
/// @endcode
struct processing {
  using stage_concept = stage_tag;
  using input_type = record_batch;
  using output_type = record_batch;

  /// Firehose's Lambda processor; empty: records are not transformed.
  transform_function transform;
  /// Written as `lambdaArn` into processing-failed error records when not empty.
  std::string transform_arn;
  /// Firehose's MetadataExtraction query, one key per entry.
  std::vector<query_key> query_keys;
  /// Firehose's `Prefix`; empty: `!{timestamp:yyyy/MM/dd/HH/}`.
  std::string prefix;
  /// Firehose's `ErrorOutputPrefix`.
  std::string error_output_prefix;
  /// Firehose's AppendDelimiterToRecord: a `\n` after each successful record.
  bool newline_delimiter = false;
  /// Where the counts go; null: the node keeps its own (see node::counters()).
  std::shared_ptr<processing_counters> counters;

  /// Throws config_error naming the field, the expression and its position (see the class
  /// comment for the rules).
  void validate() const { (void)compile(); }

  template <class Next>
  class node;

  template <class MakeNext>
  auto open(run_context& ctx, MakeNext&& make_next) const {
    return node<decltype(make_next())>(*this, compile(), ctx, make_next);
  }

  /// The templates and queries, parsed: what the node renders from.
  struct compiled {
    detail::prefix_template prefix, error;
    std::vector<std::vector<std::string>> query_paths;  ///< the names along each query
  };

 private:
  static constexpr std::string_view stage_name = "connector::http_stream::processing";

  compiled compile() const;
  static std::vector<std::string> compile_query(const query_key& k);
};

// ---- definitions ------------------------------------------------------------------------------

inline std::vector<std::string> processing::compile_query(const query_key& k) {
  auto fail = [&](std::size_t pos, const std::string& what) {
    throw config_error(std::string(stage_name) + ".query_keys[\"" + k.name + "\"] = \"" + k.query + "\": " + what +
                       " at position " + std::to_string(pos) +
                       "; only paths of names are supported (`.customer_id`, `.type.device`)");
  };
  std::vector<std::string> names;
  std::string_view q = k.query;
  if (q.empty()) fail(0, "empty query");
  std::size_t i = 0;
  while (i < q.size()) {
    if (q[i] != '.') fail(i, std::string("`") + q[i] + "` where a `.` was expected");
    std::size_t start = ++i;
    auto is_name = [](char c, bool first) {
      return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (!first && c >= '0' && c <= '9');
    };
    while (i < q.size() && is_name(q[i], i == start)) ++i;
    if (i == start) fail(start, start < q.size() ? std::string("`") + q[start] + "` where a name was expected"
                                                : std::string("a path that ends in `.`"));
    names.emplace_back(q.substr(start, i - start));
  }
  return names;
}

inline processing::compiled processing::compile() const {
  const std::string field_prefix = std::string(stage_name) + ".prefix";
  const std::string field_error = std::string(stage_name) + ".error_output_prefix";
  compiled c;
  std::vector<std::string> names;
  for (const auto& k : query_keys) {
    if (k.name.empty()) throw config_error(std::string(stage_name) + ".query_keys: a key has an empty name");
    for (const auto& n : names)
      if (n == k.name)
        throw config_error(std::string(stage_name) + ".query_keys: key `" + k.name + "` is configured twice");
    names.push_back(k.name);
    c.query_paths.push_back(compile_query(k));
  }
  const bool have_transform = static_cast<bool>(transform);

  auto check_roles = [&](std::string_view text, std::string_view field, bool error) {
    std::size_t pos = 0;
    for (std::size_t i = 0; i < text.size(); i = pos + 1) {
      pos = text.find("!{", i);
      if (pos == std::string_view::npos) break;
      std::string_view expression = text.substr(pos, text.find('}', pos) + 1 - pos);
      auto bad = [&](const std::string& what) {
        throw config_error(std::string(field) + " = \"" + std::string(text) + "\": " + what + " in `" +
                           std::string(expression) + "` at position " + std::to_string(pos));
      };
      bool key = expression.starts_with("!{partitionKeyFrom");
      if (!error && expression == "!{firehose:error-output-type}")
        bad("`!{firehose:error-output-type}` is only allowed in error_output_prefix");
      if (error && key) bad("partition keys are not allowed in error_output_prefix (its records failed before them)");
      if (!have_transform && expression.starts_with("!{partitionKeyFromLambda:"))
        bad("partitionKeyFromLambda needs a .transform that returns the key");
    }
  };

  c.prefix = detail::prefix_template::parse(prefix, field_prefix, names);
  check_roles(prefix, field_prefix, false);
  if (!query_keys.empty() && !c.prefix.has_query)
    throw config_error(field_prefix + " = \"" + prefix + "\": .query_keys are configured but the prefix uses none of "
                       "them; add !{partitionKeyFromQuery:" + query_keys.front().name + "}");
  const bool user_prefix_has_expressions = c.prefix.has_expressions();
  static const std::string default_time = "!{timestamp:yyyy/MM/dd/HH/}";
  auto append = [](detail::prefix_template& to, detail::prefix_template&& more) {
    for (auto& p : more.parts) {
      if (p.kind == detail::prefix_part_kind::timestamp) p.index += to.times.size();
      if (p.kind == detail::prefix_part_kind::random_string) p.index += to.randoms;
      to.parts.push_back(std::move(p));
    }
    for (auto& f : more.times) to.times.push_back(std::move(f));
    to.randoms += more.randoms;
    to.has_timestamp = to.has_timestamp || more.has_timestamp;
    to.has_error_type = to.has_error_type || more.has_error_type;
  };
  if (!c.prefix.has_timestamp && !c.prefix.has_query && !c.prefix.has_lambda)
    append(c.prefix, detail::prefix_template::parse(default_time, field_prefix, names));

  if (error_output_prefix.empty()) {
    if (user_prefix_has_expressions)
      throw config_error(field_error + " is empty but .prefix = \"" + prefix +
                         "\" has expressions: Firehose then requires an error output prefix, e.g. "
                         "\"errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/\"");
    c.error = detail::prefix_template::parse(prefix + "!{firehose:error-output-type}/" + default_time, field_error, {});
  } else {
    c.error = detail::prefix_template::parse(error_output_prefix, field_error, names);
    check_roles(error_output_prefix, field_error, true);
    if (c.error.has_expressions() && !c.error.has_error_type)
      throw config_error(field_error + " = \"" + error_output_prefix +
                         "\": has expressions but no !{firehose:error-output-type}; Firehose requires one");
  }

  // Length and shape, rendered with sample values: a prefix whose own text makes a bad folder
  // fails here rather than on every record.
  auto check_render = [&](const detail::prefix_template& t, std::string_view field, std::string_view text) {
    if (t.static_max_size() > detail::max_prefix_chars)
      throw config_error(std::string(field) + " = \"" + std::string(text) + "\": renders up to " +
                         std::to_string(t.static_max_size()) + " characters; Firehose allows " +
                         std::to_string(detail::max_prefix_chars));
    detail::prefix_renderer r(t);
    r.set_time(timestamp{std::chrono::seconds(946684800)});  // 2000-01-01T00:00:00Z
    std::vector<std::string> sample(names.size(), "x");
    static const std::string x = "x";
    std::string out;
    (void)r.render(out, sample, [](std::string_view) { return &x; }, "processing-failed");
    if (auto at = detail::bad_segment(out); at != std::string::npos)
      throw config_error(std::string(field) + " = \"" + std::string(text) + "\": renders \"" + out +
                         "\", which has an empty, `.` or `..` folder at position " + std::to_string(at));
  };
  check_render(c.prefix, field_prefix, prefix);
  check_render(c.error, field_error, error_output_prefix);
  return c;
}

/// The running processing stage.
template <class Next>
class processing::node {
 public:
  template <class MakeNext>
  node(const processing& config, compiled c, run_context& ctx, MakeNext&& make_next)
      : transform_(config.transform),
        arn_(config.transform_arn),
        newline_(config.newline_delimiter),
        counters_(config.counters ? config.counters : std::make_shared<processing_counters>()),
        compiled_(std::make_unique<const compiled>(std::move(c))),
        main_(compiled_->prefix),
        error_(compiled_->error),
        values_(compiled_->query_paths.size()),
        query_keys_(config.query_keys),
        ctx_(ctx),
        next_(make_next()) {}
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  /// The counts this node adds to (the configured ones, or its own).
  [[nodiscard]] const std::shared_ptr<processing_counters>& counters() const noexcept { return counters_; }

  void push(record_batch&& in) {
    in.set_partition(std::string_view{});  // records now carry their own prefix
    out_.begin(in);
    dropped_.clear();
    now_ = std::chrono::system_clock::now();
    counts_ = {};
    for (std::size_t i = 0; i < in.size(); ++i) process(in, i);
    if (!dropped_.empty()) ctx_.drop(dropped_);
    out_.finish(next_);
    counters_->ok.fetch_add(counts_.ok, std::memory_order_relaxed);
    counters_->dropped.fetch_add(counts_.dropped, std::memory_order_relaxed);
    counters_->processing_failed.fetch_add(counts_.processing_failed, std::memory_order_relaxed);
    counters_->partitioning_failed.fetch_add(counts_.partitioning_failed, std::memory_order_relaxed);
  }
  void flush() { next_.flush(); }
  void tick() { next_.tick(); }

 private:
  static constexpr std::string_view processing_failed = "processing-failed";
  static constexpr std::string_view partitioning_failed = "partitioning-failed";
  static constexpr std::string_view extraction_failed = "DynamicPartitioning.MetadataExtractionFailed";

  void process(record_batch& in, std::size_t i) {
    const record_ref r = in[i];
    const timestamp arrival = r.event_time == timestamp{} ? now_ : r.event_time;
    std::string_view data = r.payload;
    const transform_partition_keys* lambda_keys = nullptr;
    if (transform_) {
      if (!run_transform(i, r, arrival)) return;
      data = output_.data;
      lambda_keys = &output_.partition_keys;
    }
    if (!compiled_->query_paths.empty() && !extract(data)) {
      fail(i, arrival, partitioning_failed, extraction_failed, why_, data);
      return;
    }
    const std::string* key;
    if (compiled_->prefix.data_dependent()) {
      main_.set_time(arrival);
      rendered_.clear();
      auto lookup = [&](std::string_view name) { return lambda_keys ? lambda_keys->find(name) : nullptr; };
      std::string_view missing = main_.render(rendered_, values_, lookup, {});
      if (!missing.empty()) {
        fail(i, arrival, partitioning_failed, "DynamicPartitioning.PartitionKeyMissing",
             "the transform returned no partition key `" + std::string(missing) +
                 "` for !{partitionKeyFromLambda:" + std::string(missing) + "}",
             data);
        return;
      }
      if (rendered_.size() > detail::max_prefix_chars || detail::bad_segment(rendered_) != std::string::npos) {
        fail(i, arrival, partitioning_failed, "DynamicPartitioning.InvalidPrefix",
             "the evaluated prefix \"" + rendered_.substr(0, 120) + "\" " +
                 (rendered_.size() > detail::max_prefix_chars
                      ? "has " + std::to_string(rendered_.size()) + " characters (at most 512)"
                      : std::string("has an empty, `.` or `..` folder")),
             data);
        return;
      }
      key_.clear();
      partition_keys::append(key_, "prefix", rendered_);
      key = &key_;
    } else {
      // Depends on the arrival second only: rendered again when that changes.
      if (main_.set_time(arrival) || static_key_.empty()) {
        rendered_.clear();
        (void)main_.render(rendered_, values_, [](std::string_view) { return nullptr; }, {});
        static_key_.clear();
        partition_keys::append(static_key_, "prefix", rendered_);
      }
      key = &static_key_;
    }
    ++counts_.ok;
    if (newline_) {
      out_.replace_with(i, data, "\n", *key);
    } else if (transform_) {
      out_.replace_with(i, data, *key);
    } else {
      out_.keep_with(i, *key, r.event_time);
    }
  }

  // Runs the transform on record i; false when the record was handled here (dropped or failed).
  bool run_transform(std::size_t i, const record_ref& r, timestamp arrival) {
    output_.data.assign(r.payload);
    output_.partition_keys.clear();
    auto id_end = std::to_chars(id_, id_ + sizeof id_, r.cursor.source).ptr;
    *id_end++ = '-';
    id_end = std::to_chars(id_end, id_ + sizeof id_, r.cursor.position).ptr;
    const transform_input input{r.payload, arrival, std::string_view(id_, static_cast<std::size_t>(id_end - id_))};
    transform_result result;
    try {
      result = transform_(input, output_);
    } catch (const std::exception& e) {
      fail(i, arrival, processing_failed, "Lambda.FunctionError", e.what(), r.payload);
      return false;
    } catch (...) {
      fail(i, arrival, processing_failed, "Lambda.FunctionError", "the transform threw a non-standard exception",
           r.payload);
      return false;
    }
    switch (result) {
      case transform_result::ok: return true;
      case transform_result::dropped:
        dropped_.add(r.cursor);
        out_.remove(i);
        ++counts_.dropped;
        return false;
      case transform_result::processing_failed:
        fail(i, arrival, processing_failed, "Lambda.ProcessingFailedStatus", "ProcessingFailed status set for record",
             r.payload);
        return false;
    }
    fail(i, arrival, processing_failed, "Lambda.InvalidResult", "the transform returned an unknown result",
         r.payload);
    return false;
  }

  // Reads every query key from `data` into values_; false with why_ set when one cannot be read.
  bool extract(std::string_view data) {
    const boost::json::value* v = reader_.parse(data);
    if (v == nullptr) {
      why_ = "Non JSON record provided: invalid JSON at byte " + std::to_string(reader_.error_offset()) + ": " +
             reader_.error().message();
      return false;
    }
    if (!v->is_object()) {
      why_ = std::string("Non JSON record provided: the record is a JSON ") + format::kind_name(format::kind_of(*v)) +
             ", not an object";
      return false;
    }
    for (std::size_t k = 0; k < values_.size(); ++k) {
      const boost::json::value* at = v;
      for (const auto& name : compiled_->query_paths[k]) {
        const boost::json::object* o = at->if_object();
        at = o == nullptr ? nullptr : o->if_contains(name);
        if (at == nullptr) break;
      }
      if (const char* problem = format::partition_value_problem(at)) {
        const query_key& q = query_keys_[k];
        why_ = "partition key `" + q.name + "`: the value at `" + q.query + "` is " + problem;
        return false;
      }
      values_[k].clear();
      format::append_text(values_[k], *at);
    }
    return true;
  }

  // Replaces record i by Firehose's error record under the error output prefix.
  void fail(std::size_t i, timestamp arrival, std::string_view type, std::string_view code,
            std::string_view message, std::string_view raw) {
    using format::detail::append_integer;
    using format::detail::append_quoted;
    auto millis = [](timestamp t) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    };
    error_record_.clear();
    error_record_ += "{\"attemptsMade\":1,\"arrivalTimestamp\":";
    append_integer(error_record_, millis(arrival));
    error_record_ += ",\"errorCode\":";
    append_quoted(error_record_, code);
    error_record_ += ",\"errorMessage\":";
    append_quoted(error_record_, message);
    error_record_ += ",\"attemptEndingTimestamp\":";
    append_integer(error_record_, millis(now_));
    error_record_ += ",\"rawData\":\"";
    error_record_ += crypto::detail::base64_encode(
        std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()));
    error_record_ += '"';
    if (type == processing_failed && !arn_.empty()) {
      error_record_ += ",\"lambdaArn\":";
      append_quoted(error_record_, arn_);
    }
    error_record_ += "}\n";
    error_.set_time(arrival);
    rendered_.clear();
    (void)error_.render(rendered_, {}, [](std::string_view) { return nullptr; }, type);
    key_.clear();
    partition_keys::append(key_, "prefix", rendered_);
    out_.replace_with(i, error_record_, key_);
    if (type == processing_failed) ++counts_.processing_failed;
    else ++counts_.partitioning_failed;
  }

  struct counts {
    std::uint64_t ok = 0, dropped = 0, processing_failed = 0, partitioning_failed = 0;
  };

  transform_function transform_;
  std::string arn_;
  bool newline_;
  std::shared_ptr<processing_counters> counters_;
  std::unique_ptr<const compiled> compiled_;  // stable while the renderers point into it
  detail::prefix_renderer main_, error_;
  std::vector<std::string> values_;
  std::vector<query_key> query_keys_;
  run_context& ctx_;
  format::json_reader reader_;
  transform_output output_;
  std::string rendered_, key_, static_key_, error_record_, why_;
  char id_[48];
  timestamp now_{};
  counts counts_;
  cursor_set dropped_;
  transform::detail::survivors out_;
  Next next_;
};

}  // namespace sluice::connector::http_stream
