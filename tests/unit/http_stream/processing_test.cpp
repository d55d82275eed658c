// SPDX-License-Identifier: Apache-2.0
// connector::http_stream::processing: Firehose's Lambda contract, dynamic partitioning from JSON,
// Prefix / ErrorOutputPrefix evaluation and error records, driven by hand with a real
// run_context and through a pipeline that lands in a local lake.
#include <sluice/connector/http_stream/processing.hpp>

#include <sluice/batch/by_size.hpp>
#include <sluice/crypto/detail/encoding.hpp>
#include <sluice/format/raw.hpp>
#include <sluice/store/local.hpp>
#include <sluice_test/support.hpp>

#include "../format/harness.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace sluice;
using connector::http_stream::processing;
using connector::http_stream::processing_counters;
using connector::http_stream::transform_input;
using connector::http_stream::transform_output;
using connector::http_stream::transform_result;
using Catch::Matchers::Contains;
using format_test::harness;
using sluice_test::collecting_node;

static_assert(record_stage<processing>);

namespace {

// 2024-05-01T13:45:10.123Z, a Wednesday.
const timestamp t0 = timestamp{} + std::chrono::milliseconds(1714571110123LL);

struct out_record {
  std::string payload, prefix;
  timestamp event_time;
};

/// Runs `payloads` (all arriving at `at`) through `stage`; returns what it emitted, with each
/// record's rendered prefix.
struct driver {
  harness h;
  std::vector<record_batch> batches;
  std::vector<out_record> run(const processing& stage, const std::vector<std::string>& payloads, timestamp at = t0) {
    auto node = stage.open(h.ctx(), [&] { return collecting_node<record_batch>{&batches}; });
    record_batch b;
    for (const auto& p : payloads) b.append(p, {h.source, h.next_position++}, at);
    h.ctx().tracker().track(b);
    node.push(std::move(b));
    node.flush();
    return collect();
  }
  std::vector<out_record> collect() const {
    std::vector<out_record> out;
    for (const auto& b : batches)
      for (const record_ref r : b) {
        bool found = false;
        std::string prefix = partition_value(r.partition, "prefix", &found);
        CHECK(found);
        CHECK(r.partition.starts_with("prefix="));
        out.push_back({std::string(r.payload), prefix, r.event_time});
      }
    return out;
  }
};

std::string prefix_of(const processing& stage, const std::string& payload = "{}", timestamp at = t0) {
  driver d;
  auto out = d.run(stage, {payload}, at);
  REQUIRE(out.size() == 1);
  return out[0].prefix;
}

/// An error record parsed back, with its rawData decoded.
struct error_record {
  boost::json::object o;
  std::string raw;
};
error_record parse_error(const std::string& line) {
  REQUIRE(line.ends_with("\n"));
  error_record e;
  e.o = boost::json::parse(line).as_object();
  std::string_view data = e.o.at("rawData").as_string();
  REQUIRE(crypto::detail::base64_decode(data, e.raw));
  return e;
}

std::string config_error_of(const processing& p) {
  try {
    p.validate();
  } catch (const config_error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("an empty prefix is yyyy/MM/dd/HH/ of the arrival time and records stay in their batch",
          "[http_stream][processing]") {
  driver d;
  record_batch in;
  in.append("a", {d.h.source, 1}, t0);
  in.append("b", {d.h.source, 2}, t0 + std::chrono::hours(1));
  d.h.ctx().tracker().track(in);
  const char* payloads_before = in[0].payload.data();
  auto node = processing{}.open(d.h.ctx(), [&] { return collecting_node<record_batch>{&d.batches}; });
  node.push(std::move(in));
  REQUIRE(d.batches.size() == 1);
  CHECK(d.batches[0][0].payload.data() == payloads_before);  // no copy: keys set in place
  auto out = d.collect();
  REQUIRE(out.size() == 2);
  CHECK(out[0].payload == "a");
  CHECK(out[0].prefix == "2024/05/01/13/");
  CHECK(out[0].event_time == t0);
  CHECK(out[1].prefix == "2024/05/01/14/");
  CHECK(d.batches[0][0].partition == "prefix=2024%2F05%2F01%2F13%2F");
  CHECK(node.counters()->ok == 2);
}

TEST_CASE("a literal prefix gets the default time appended, as Firehose does", "[http_stream][processing]") {
  CHECK(prefix_of(processing{.prefix = "logs/"}) == "logs/2024/05/01/13/");
  CHECK(prefix_of(processing{.prefix = "myprefix"}) == "myprefix2024/05/01/13/");
}

TEST_CASE("timestamp expressions follow Java DateTimeFormatter", "[http_stream][processing]") {
  auto render = [](const std::string& pattern) {
    return prefix_of(processing{.prefix = "!{timestamp:" + pattern + "}",
                                .error_output_prefix = "e/!{firehose:error-output-type}/"});
  };
  CHECK(render("yyyy/MM/dd/HH/") == "2024/05/01/13/");
  CHECK(render("yyyy-MM-dd'T'HH:mm:ss.SSS") == "2024-05-01T13:45:10.123");
  CHECK(render("yy/M/d/H/m/s") == "24/5/1/13/45/10");
  CHECK(render("'year='yyyy'/month='MM") == "year=2024/month=05");
  CHECK(render("MMM MMMM MMMMM") == "May May M");
  CHECK(render("EEE EEEE EEEEE") == "Wed Wednesday W");
  CHECK(render("D DDD h hh a K k") == "122 122 1 01 PM 1 13");
  CHECK(render("SSSSSS") == "123000");
  CHECK(render("'it''s' ''yyyy") == "it's '2024");
  CHECK(render("u uuuuu") == "2024 02024");
  // Every instance of the namespace is the same instant.
  CHECK(prefix_of(processing{.prefix = "y=!{timestamp:yyyy}/h=!{timestamp:HH}/",
                             .error_output_prefix = "e/!{firehose:error-output-type}/"}) == "y=2024/h=13/");
}

TEST_CASE("random-string is 11 hex digits, the same on replay, new per instance and per second",
          "[http_stream][processing]") {
  processing p{.prefix = "!{firehose:random-string}/!{firehose:random-string}/!{timestamp:HH}/",
               .error_output_prefix = "e/!{firehose:error-output-type}/"};
  std::string a = prefix_of(p);
  REQUIRE(a.size() == 11 + 1 + 11 + 1 + 3);
  for (std::size_t i : {0, 12})
    for (char c : a.substr(i, 11)) CHECK(((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')));
  CHECK(a.substr(0, 11) != a.substr(12, 11));
  CHECK(prefix_of(p, "{}", t0 + std::chrono::milliseconds(500)) == a);  // same second
  CHECK(prefix_of(p, "{}", t0 + std::chrono::seconds(1)) != a);
  driver d;  // a replay of the same arrival renders the same prefix
  CHECK(d.run(p, {"x"})[0].prefix == a);
}

TEST_CASE("partitionKeyFromQuery reads simple JQ paths from JSON records", "[http_stream][processing]") {
  processing p{.query_keys = {{"customer_id", ".customer_id"}, {"device", ".type.device"}, {"n", ".n"}},
               .prefix = "customer_id=!{partitionKeyFromQuery:customer_id}/device=!{partitionKeyFromQuery:device}/"
                         "n=!{partitionKeyFromQuery:n}/!{timestamp:yyyy}/",
               .error_output_prefix = "errors/!{firehose:error-output-type}/"};
  driver d;
  auto out = d.run(p, {R"({"customer_id":"42","type":{"device":"mobile"},"n":7})",
                       R"({"customer_id":"a/b","type":{"device":"tv"},"n":true})"});
  REQUIRE(out.size() == 2);
  CHECK(out[0].prefix == "customer_id=42/device=mobile/n=7/2024/");
  CHECK(out[0].payload == R"({"customer_id":"42","type":{"device":"mobile"},"n":7})");
  CHECK(out[1].prefix == "customer_id=a/b/device=tv/n=true/2024/");  // values go in as they are
}

TEST_CASE("records that fail partitioning become Firehose error records under partitioning-failed",
          "[http_stream][processing]") {
  processing p{.query_keys = {{"c", ".c"}},
               .prefix = "c=!{partitionKeyFromQuery:c}/",
               .error_output_prefix = "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/"};
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "Non JSON record provided: invalid JSON at byte 0: syntax error"},
      {"[1,2]", "Non JSON record provided: the record is a JSON array, not an object"},
      {R"({"d":1})", "partition key `c`: the value at `.c` is missing"},
      {R"({"c":null})", "partition key `c`: the value at `.c` is null"},
      {R"({"c":{"x":1}})", "partition key `c`: the value at `.c` is an object"},
      {R"({"c":"x/../y"})", "the evaluated prefix \"c=x/../y/\" has an empty, `.` or `..` folder"},
      {R"({"c":"x/"})", "the evaluated prefix \"c=x//\" has an empty, `.` or `..` folder"},
      {R"({"c":")" + std::string(600, 'z') + "\"}", "has 603 characters (at most 512)"},
  };
  for (const auto& [payload, message] : cases) {
    INFO(payload);
    driver d;
    auto before = std::chrono::system_clock::now();
    auto out = d.run(p, {payload});
    REQUIRE(out.size() == 1);
    CHECK(out[0].prefix == "errors/partitioning-failed/2024/05/01/");
    auto e = parse_error(out[0].payload);
    CHECK(e.raw == payload);
    CHECK(e.o.at("attemptsMade").as_int64() == 1);
    CHECK(e.o.at("arrivalTimestamp").as_int64() == 1714571110123LL);
    CHECK(e.o.at("errorCode").as_string() == (message.starts_with("the evaluated") || message.starts_with("has ")
                                                  ? "DynamicPartitioning.InvalidPrefix"
                                                  : "DynamicPartitioning.MetadataExtractionFailed"));
    CHECK_THAT(std::string(e.o.at("errorMessage").as_string()), Contains(message));
    CHECK(e.o.at("attemptEndingTimestamp").as_int64() >=
          std::chrono::duration_cast<std::chrono::milliseconds>(before.time_since_epoch()).count());
    CHECK(!e.o.contains("lambdaArn"));
    CHECK(d.h.errors.empty());  // not rejected: they flow on
  }
}

TEST_CASE("the Lambda-shaped transform: Ok with new data and keys, Dropped, ProcessingFailed, a throw",
          "[http_stream][processing]") {
  std::vector<std::string> ids;
  auto counters = std::make_shared<processing_counters>();
  processing p{
      .transform = [&](const transform_input& in, transform_output& out) {
        ids.emplace_back(in.record_id);
        CHECK(in.approximate_arrival_timestamp == t0);
        CHECK(out.data == in.data);
        if (in.data == "drop") return transform_result::dropped;
        if (in.data == "fail") return transform_result::processing_failed;
        if (in.data == "throw") throw std::runtime_error("cannot parse the record");
        if (in.data == "nokey") return transform_result::ok;
        out.data = "<" + std::string(in.data) + ">";
        out.partition_keys.set("kind", in.data);
        return transform_result::ok;
      },
      .transform_arn = "arn:aws:lambda:us-east-1:123456789012:function:f",
      .prefix = "kind=!{partitionKeyFromLambda:kind}/",
      .error_output_prefix = "errors/!{firehose:error-output-type}/",
      .counters = counters};
  driver d;
  auto out = d.run(p, {"a", "drop", "fail", "throw", "nokey", "b"});
  REQUIRE(out.size() == 5);
  CHECK(ids == std::vector<std::string>{std::to_string(d.h.source) + "-1", std::to_string(d.h.source) + "-2",
                                        std::to_string(d.h.source) + "-3", std::to_string(d.h.source) + "-4",
                                        std::to_string(d.h.source) + "-5", std::to_string(d.h.source) + "-6"});
  CHECK(out[0].payload == "<a>");
  CHECK(out[0].prefix == "kind=a/");
  CHECK(out[4].payload == "<b>");

  CHECK(out[1].prefix == "errors/processing-failed/");
  auto failed = parse_error(out[1].payload);
  CHECK(failed.raw == "fail");
  CHECK(failed.o.at("errorCode").as_string() == "Lambda.ProcessingFailedStatus");
  CHECK(failed.o.at("errorMessage").as_string() == "ProcessingFailed status set for record");
  CHECK(failed.o.at("lambdaArn").as_string() == "arn:aws:lambda:us-east-1:123456789012:function:f");

  auto threw = parse_error(out[2].payload);
  CHECK(out[2].prefix == "errors/processing-failed/");
  CHECK(threw.raw == "throw");
  CHECK(threw.o.at("errorCode").as_string() == "Lambda.FunctionError");
  CHECK(threw.o.at("errorMessage").as_string() == "cannot parse the record");

  auto nokey = parse_error(out[3].payload);
  CHECK(out[3].prefix == "errors/partitioning-failed/");
  CHECK(nokey.raw == "nokey");
  CHECK(nokey.o.at("errorCode").as_string() == "DynamicPartitioning.PartitionKeyMissing");
  CHECK(!nokey.o.contains("lambdaArn"));

  CHECK(counters->ok == 2);
  CHECK(counters->dropped == 1);
  CHECK(counters->processing_failed == 2);
  CHECK(counters->partitioning_failed == 1);
  // The dropped record is acknowledged and counted as dropped, not as an error.
  CHECK(d.h.t.metrics.snapshot().dropped == 1);
  CHECK(d.h.errors.empty());
}

TEST_CASE("the newline delimiter ends each successful record with a line feed", "[http_stream][processing]") {
  driver d;
  auto out = d.run(processing{.newline_delimiter = true}, {"a", "{\"b\":1}"});
  REQUIRE(out.size() == 2);
  CHECK(out[0].payload == "a\n");
  CHECK(out[1].payload == "{\"b\":1}\n");
  CHECK(out[1].prefix == "2024/05/01/13/");
}

TEST_CASE("validate() refuses what Firehose refuses, naming the field, the expression and its position",
          "[http_stream][processing]") {
  const std::string stage = "sluice: connector::http_stream::processing";
  CHECK(config_error_of(processing{.prefix = "a/!{timestamp:yyyy}/"}) ==
        stage + ".error_output_prefix is empty but .prefix = \"a/!{timestamp:yyyy}/\" has expressions: Firehose then "
                "requires an error output prefix, e.g. \"errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/\"");
  CHECK(config_error_of(processing{.prefix = "x/!{firehose:error-output-type}/", .error_output_prefix = "e/"}) ==
        stage + ".prefix = \"x/!{firehose:error-output-type}/\": `!{firehose:error-output-type}` is only allowed in "
                "error_output_prefix in `!{firehose:error-output-type}` at position 2");
  CHECK(config_error_of(processing{.prefix = "p/", .error_output_prefix = "e/!{timestamp:yyyy}/"}) ==
        stage + ".error_output_prefix = \"e/!{timestamp:yyyy}/\": has expressions but no "
                "!{firehose:error-output-type}; Firehose requires one");
  CHECK(config_error_of(processing{.prefix = "!{partitionKeyFromQuery:c}/", .error_output_prefix = "e/"}) ==
        stage + ".prefix = \"!{partitionKeyFromQuery:c}/\": partition key `c` is not configured (add it to "
                ".query_keys with its query) in `!{partitionKeyFromQuery:c}` at position 0");
  CHECK(config_error_of(processing{.query_keys = {{"c", ".c"}},
                                   .prefix = "p/",
                                   .error_output_prefix = "e/"}) ==
        stage + ".prefix = \"p/\": .query_keys are configured but the prefix uses none of them; add "
                "!{partitionKeyFromQuery:c}");
  CHECK(config_error_of(processing{.prefix = "k=!{partitionKeyFromLambda:k}/", .error_output_prefix = "e/"}) ==
        stage + ".prefix = \"k=!{partitionKeyFromLambda:k}/\": partitionKeyFromLambda needs a .transform that "
                "returns the key in `!{partitionKeyFromLambda:k}` at position 2");
  CHECK(config_error_of(processing{.query_keys = {{"c", ".c"}},
                                   .prefix = "!{partitionKeyFromQuery:c}/",
                                   .error_output_prefix = "e/!{firehose:error-output-type}/!{partitionKeyFromQuery:c}"}) ==
        stage + ".error_output_prefix = \"e/!{firehose:error-output-type}/!{partitionKeyFromQuery:c}\": partition keys "
                "are not allowed in error_output_prefix (its records failed before them) in "
                "`!{partitionKeyFromQuery:c}` at position 32");
  CHECK(config_error_of(processing{.prefix = "a/!{time:yyyy}/", .error_output_prefix = "e/"}) ==
        stage + ".prefix = \"a/!{time:yyyy}/\": unknown namespace `time` (known: timestamp, firehose, "
                "partitionKeyFromQuery, partitionKeyFromLambda) in `!{time:yyyy}` at position 2");
  CHECK(config_error_of(processing{.prefix = "a/!{firehose:uuid}/", .error_output_prefix = "e/"}) ==
        stage + ".prefix = \"a/!{firehose:uuid}/\": unknown firehose value `uuid` (known: error-output-type, "
                "random-string) in `!{firehose:uuid}` at position 2");
  CHECK(config_error_of(processing{.prefix = "a/!{timestamp:yyyy", .error_output_prefix = "e/"}) ==
        stage + ".prefix = \"a/!{timestamp:yyyy\": `!{` without a closing `}` in `!{timestamp:yyyy` at position 2");
  CHECK(config_error_of(processing{.prefix = "a/!{yyyy}/", .error_output_prefix = "e/"}) ==
        stage + ".prefix = \"a/!{yyyy}/\": expression without `namespace:value` (namespaces: timestamp, firehose, "
                "partitionKeyFromQuery, partitionKeyFromLambda) in `!{yyyy}` at position 2");
  CHECK(config_error_of(processing{.prefix = "a/!{timestamp:yyyy-ww}/", .error_output_prefix = "e/"}) ==
        stage + ".prefix = \"a/!{timestamp:yyyy-ww}/\": timestamp pattern: pattern letter `w` is not supported "
                "(supported: y u M L d D H h k K m s S a E; quote literal text: 'T') in `!{timestamp:yyyy-ww}` at "
                "position 19");
  CHECK(config_error_of(processing{.prefix = "!{timestamp:ddd}/", .error_output_prefix = "e/"}) ==
        stage + ".prefix = \"!{timestamp:ddd}/\": timestamp pattern: too many pattern letters `ddd` (at most 2) in "
                "`!{timestamp:ddd}` at position 12");
  CHECK(config_error_of(processing{.prefix = "!{timestamp:'yyyy}/", .error_output_prefix = "e/"}) ==
        stage + ".prefix = \"!{timestamp:'yyyy}/\": timestamp pattern: unterminated quote in "
                "`!{timestamp:'yyyy}` at position 12");
  CHECK_THAT(config_error_of(processing{.prefix = "!{timestamp:[yyyy]}/", .error_output_prefix = "e/"}),
             Contains("reserved character `[`"));
  CHECK(config_error_of(processing{.prefix = "/logs/"}) ==
        stage + ".prefix = \"/logs/\": renders \"/logs/2000/01/01/00/\", which has an empty, `.` or `..` folder at "
                "position 0");
  CHECK(config_error_of(processing{.prefix = std::string(510, 'p')}) ==
        stage + ".prefix = \"" + std::string(510, 'p') + "\": renders up to 524 characters; Firehose allows 512");
  CHECK(config_error_of(processing{.query_keys = {{"c", ".c | strftime(\"%Y\")"}},
                                   .prefix = "!{partitionKeyFromQuery:c}/",
                                   .error_output_prefix = "e/"}) ==
        stage + ".query_keys[\"c\"] = \".c | strftime(\"%Y\")\": ` ` where a `.` was expected at position 2; only "
                "paths of names are supported (`.customer_id`, `.type.device`)");
  CHECK_THAT(config_error_of(processing{.query_keys = {{"c", ".a."}},
                                        .prefix = "!{partitionKeyFromQuery:c}/",
                                        .error_output_prefix = "e/"}),
             Contains("a path that ends in `.` at position 3"));
  CHECK_THAT(config_error_of(processing{.query_keys = {{"c", ".a"}, {"c", ".b"}},
                                        .prefix = "!{partitionKeyFromQuery:c}/",
                                        .error_output_prefix = "e/"}),
             Contains("key `c` is configured twice"));
  // What Firehose allows: a literal error prefix, the console's default one, no prefix at all.
  CHECK_NOTHROW(processing{}.validate());
  CHECK_NOTHROW(processing{.prefix = "p/", .error_output_prefix = "errors/"}.validate());
  CHECK_NOTHROW(processing{.prefix = "a/!{timestamp:yyyy}/", .error_output_prefix = "!{firehose:error-output-type}/"}
                    .validate());
}

TEST_CASE("an empty error_output_prefix is the prefix, the error type and the default time",
          "[http_stream][processing]") {
  processing p{.transform = [](const transform_input&, transform_output&) { return transform_result::processing_failed; },
               .prefix = "myFirehosePrefix/"};
  CHECK(prefix_of(p) == "myFirehosePrefix/processing-failed/2024/05/01/13/");
}

TEST_CASE("records flow through by_size and format::raw into a local lake under their prefixes",
          "[http_stream][processing][pipeline]") {
  sluice_test::temp_dir dir;
  auto counters = std::make_shared<processing_counters>();
  auto p = sluice_test::vector_source{.payloads = {R"({"c":"north","v":1})", R"({"c":"south","v":2})", "broken",
                                                   R"({"c":"north","v":3})", R"({"v":4})"},
                                      .chunk = 2} |
           processing{.transform = [](const transform_input& in, transform_output&) {
                        return in.data.find("\"v\":3") != std::string_view::npos ? transform_result::dropped
                                                                                  : transform_result::ok;
                      },
                      .query_keys = {{"c", ".c"}},
                      .prefix = "c=!{partitionKeyFromQuery:c}/",
                      .error_output_prefix = "errors/!{firehose:error-output-type}/",
                      .newline_delimiter = true,
                      .counters = counters} |
           batch::by_size{} | format::raw{.content_type = "application/x-ndjson"} |
           store::local{.root = dir / "lake", .key = "{partition_path:prefix}{stream}-{seq}{ext}"};
  p.options.stream = "events";
  p.run();
  store::local_reader lake(dir / "lake");
  std::map<std::string, std::string> by_folder;
  for (const auto& key : lake.list()) {
    INFO(key);
    CHECK(key.ends_with(".jsonl"));
    by_folder[key.substr(0, key.rfind('/') + 1)] += lake.read(key).body;
  }
  REQUIRE(by_folder.size() == 3);
  CHECK(by_folder["c=north/"] == "{\"c\":\"north\",\"v\":1}\n");
  CHECK(by_folder["c=south/"] == "{\"c\":\"south\",\"v\":2}\n");
  std::string errors = by_folder["errors/partitioning-failed/"];
  std::vector<std::string> raws;
  for (std::size_t start = 0; start < errors.size();) {
    std::size_t end = errors.find('\n', start) + 1;
    raws.push_back(parse_error(errors.substr(start, end - start)).raw);
    start = end;
  }
  CHECK(raws == std::vector<std::string>{"broken", R"({"v":4})"});
  CHECK(counters->ok == 2);
  CHECK(counters->dropped == 1);
  CHECK(counters->partitioning_failed == 2);
  auto m = p.metrics().snapshot();
  CHECK(m.dropped == 1);
  CHECK(m.errors == 0);
}
