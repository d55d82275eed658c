// SPDX-License-Identifier: Apache-2.0
// The protocol layer of the Firehose-compatible endpoint: the requests the real AWS CLI and JS
// SDK sent parse to the records they carried; every limit holds at its edge; bad bodies get the
// error AWS gives; every response conforms to the service model's shape.
#include <sluice/connector/http_stream/api.hpp>

#include <sluice/crypto/checksum.hpp>

#include <sluice_test/support.hpp>

#include <boost/json.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace hs = sluice::connector::http_stream;
namespace json = boost::json;
using hs::operation;

namespace {

// ---- building and parsing bodies ---------------------------------------------------------------

std::string b64(std::string_view bytes) { return sluice::crypto::to_base64(bytes); }

// A PutRecordBatch body holding `datas` (raw bytes, encoded here).
std::string firehose_batch(const std::vector<std::string>& datas, std::string_view stream = "s") {
  std::string body = "{\"DeliveryStreamName\":\"" + std::string(stream) + "\",\"Records\":[";
  for (std::size_t i = 0; i < datas.size(); ++i) {
    if (i) body += ',';
    body += "{\"Data\":\"" + b64(datas[i]) + "\"}";
  }
  return body + "]}";
}

struct kinesis_entry {
  std::string data;
  std::string key = "pk";
  std::optional<std::string> hash_key;
};
std::string kinesis_batch(const std::vector<kinesis_entry>& entries, std::string_view stream = "k") {
  std::string body = "{\"StreamName\":\"" + std::string(stream) + "\",\"Records\":[";
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i) body += ',';
    body += "{\"Data\":\"" + b64(entries[i].data) + "\",\"PartitionKey\":" + json::serialize(json::value(entries[i].key));
    if (entries[i].hash_key) body += ",\"ExplicitHashKey\":\"" + *entries[i].hash_key + "\"";
    body += '}';
  }
  return body + "]}";
}

struct outcome {
  bool ok = false;
  hs::api_error error;
};
outcome parse(operation op, std::string_view body, hs::put_request& out) {
  hs::request_parser p;
  const bool ok = p.parse(op, body, out);
  return {ok, p.error()};
}
outcome parse(operation op, std::string_view body) {
  hs::put_request r;
  return parse(op, body, r);
}

// ---- the captures ------------------------------------------------------------------------------

struct capture {
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// Splits an HTTP/1.1 request as captured (CRLF lines, blank line, body).
capture split_request(const std::string& raw) {
  const auto head_end = raw.find("\r\n\r\n");
  REQUIRE(head_end != std::string::npos);
  capture c;
  c.body = raw.substr(head_end + 4);
  std::size_t line = raw.find("\r\n") + 2;  // after the request line
  while (line < head_end) {
    const auto eol = raw.find("\r\n", line);
    const auto colon = raw.find(':', line);
    REQUIRE(colon < eol);
    std::string name = raw.substr(line, colon - line);
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    std::string value = raw.substr(colon + 1, eol - colon - 1);
    value.erase(0, value.find_first_not_of(' '));
    c.headers[name] = value;
    line = eol + 2;
  }
  return c;
}

struct expected_capture {
  const char* file;
  operation op;
  const char* stream;
  std::vector<std::string> payloads;  // as testdata/firehose/README.md lists them
  std::vector<std::string> keys;      // Kinesis partition keys
};

const std::vector<expected_capture>& captures() {
  static const std::vector<expected_capture> all = {
      {"put-record-batch.request.txt", operation::firehose_put_record_batch, "s",
       {"{\"id\":1,\"msg\":\"hello\"}\n", "{\"id\":2,\"msg\":\"world\"}\n"}, {}},
      {"put-record.request.txt", operation::firehose_put_record, "s", {"{\"id\":3,\"msg\":\"single\"}\n"}, {}},
      {"kinesis-put-records.request.txt", operation::kinesis_put_records, "k", {"{\"id\":4}", "{\"id\":5}"}, {"pk1", "pk2"}},
      {"kinesis-put-record.request.txt", operation::kinesis_put_record, "k", {"{\"id\":6}"}, {"pk1"}},
      {"sdk-js-v3-put-record-batch.request.txt", operation::firehose_put_record_batch, "s",
       {"{\"id\":1}\n", "{\"id\":2}\n"}, {}},
  };
  return all;
}

void check_records(const hs::put_request& r, const expected_capture& want) {
  CHECK(r.op() == want.op);
  CHECK(r.stream_name() == want.stream);
  REQUIRE(r.size() == want.payloads.size());
  std::string all;
  for (std::size_t i = 0; i < r.size(); ++i) {
    CHECK(r[i].data == want.payloads[i]);
    CHECK(r[i].partition_key == (want.keys.empty() ? std::string() : want.keys[i]));
    CHECK(r[i].explicit_hash_key.empty());
    CHECK(r.arena().substr(r.data_offset(i), r[i].data.size()) == r[i].data);
    all += want.payloads[i];
  }
  CHECK(r.arena() == all);
  CHECK(r.data_bytes() == all.size());
}

// ---- the model: does a JSON value conform to a shape? ---------------------------------------------

// Shapes in the expanded form of testdata/firehose/*-model-shapes.json: {type, required,
// members:{name: shape}, member: shape, min, max, pattern, enum}.
void conform(const json::value& shape, const json::value& v, const std::string& where,
             std::vector<std::string>& problems) {
  const auto& s = shape.as_object();
  const std::string type(s.at("type").as_string());
  auto problem = [&](const std::string& what) { problems.push_back(where + ": " + what); };
  auto bound = [&](const char* key) -> std::optional<double> {
    const auto* b = s.if_contains(key);
    if (!b || b->is_null()) return std::nullopt;
    return b->to_number<double>();
  };
  if (type == "structure") {
    if (!v.is_object()) return problem("expected an object");
    const auto& members = s.at("members").as_object();
    for (const auto& [name, value] : v.as_object()) {
      const auto* m = members.if_contains(name);
      if (!m) {
        problem("member " + std::string(name) + " is not in the model");
        continue;
      }
      conform(*m, value, where + "." + std::string(name), problems);
    }
    if (const auto* req = s.if_contains("required"))
      for (const auto& name : req->as_array())
        if (!v.as_object().contains(name.as_string()))
          problem("required member " + std::string(name.as_string()) + " is missing");
  } else if (type == "list") {
    if (!v.is_array()) return problem("expected a list");
    const auto n = static_cast<double>(v.as_array().size());
    if (auto mn = bound("min"); mn && n < *mn) problem("fewer entries than min");
    if (auto mx = bound("max"); mx && n > *mx) problem("more entries than max");
    for (std::size_t i = 0; i < v.as_array().size(); ++i)
      conform(s.at("member"), v.as_array()[i], where + "[" + std::to_string(i) + "]", problems);
  } else if (type == "string" || type == "blob") {
    if (!v.is_string()) return problem("expected a string");
    const std::string str(v.as_string());
    const auto n = static_cast<double>(str.size());
    if (auto mn = bound("min"); mn && n < *mn) problem("shorter than min");
    if (auto mx = bound("max"); mx && n > *mx) problem("longer than max");
    if (const auto* e = s.if_contains("enum")) {
      bool found = false;
      for (const auto& x : e->as_array()) found = found || x.as_string() == str;
      if (!found) problem("'" + str + "' is not in the enum");
    }
    if (const auto* p = s.if_contains("pattern"))
      if (!std::regex_match(str, std::regex(std::string(p->as_string()))))
        problem("'" + str + "' does not match the pattern");
  } else if (type == "integer" || type == "long") {
    if (!v.is_int64() && !v.is_uint64()) return problem("expected an integer");
    const auto n = v.to_number<double>();
    if (auto mn = bound("min"); mn && n < *mn) problem("below min");
    if (auto mx = bound("max"); mx && n > *mx) problem("above max");
  } else if (type == "boolean") {
    if (!v.is_bool()) problem("expected a boolean");
  } else if (type == "timestamp") {
    if (!v.is_number()) problem("expected epoch seconds (a JSON number)");
  } else {
    problem("shape type " + type + " not handled by the test");
  }
}

// Expands a botocore shape (service-2.json refers to shapes by name) into the form above.
json::value expand(const json::object& shapes, std::string_view name, int depth = 0) {
  REQUIRE(depth < 16);
  const auto& s = shapes.at(name).as_object();
  json::object e;
  for (const char* k : {"type", "required", "min", "max", "pattern", "enum"})
    if (const auto* v = s.if_contains(k)) e[k] = *v;
  if (const auto* members = s.if_contains("members")) {
    json::object m;
    for (const auto& [n, ref] : members->as_object()) m[n] = expand(shapes, ref.at("shape").as_string(), depth + 1);
    e["members"] = std::move(m);
  }
  if (const auto* member = s.if_contains("member")) e["member"] = expand(shapes, member->at("shape").as_string(), depth + 1);
  return e;
}

std::optional<json::value> load_json(const std::filesystem::path& p) {
  if (!std::filesystem::exists(p)) return std::nullopt;
  return json::parse(sluice_test::read_file(p));
}

std::vector<std::string> problems_of(const json::value& shape, const std::string& body) {
  std::vector<std::string> problems;
  conform(shape, json::parse(body), "$", problems);
  return problems;
}

const std::filesystem::path botocore_firehose =
    "/usr/lib/python3/dist-packages/awscli/botocore/data/firehose/2015-08-04/service-2.json";

}  // namespace

// ==== X-Amz-Target ================================================================================

TEST_CASE("each X-Amz-Target the endpoint serves maps to its operation and back", "[http_stream][api]") {
  for (auto op : {operation::firehose_put_record, operation::firehose_put_record_batch,
                  operation::firehose_list_delivery_streams, operation::firehose_describe_delivery_stream,
                  operation::kinesis_put_record, operation::kinesis_put_records}) {
    INFO(hs::target_name(op));
    CHECK(hs::parse_target(hs::target_name(op)) == op);
  }
  CHECK(hs::parse_target("Firehose_20150804.PutRecordBatch") == operation::firehose_put_record_batch);
  CHECK(hs::parse_target("Kinesis_20131202.PutRecords") == operation::kinesis_put_records);
  CHECK(hs::signing_name(operation::firehose_put_record) == "firehose");
  CHECK(hs::signing_name(operation::kinesis_put_records) == "kinesis");
  CHECK(hs::is_put(operation::kinesis_put_record));
  CHECK_FALSE(hs::is_put(operation::firehose_list_delivery_streams));
}

TEST_CASE("an unknown X-Amz-Target is UnknownOperationException with HTTP 400", "[http_stream][api]") {
  for (const char* t : {"", "Firehose_20150804.CreateDeliveryStream", "Firehose_20150804.putrecord",
                        "Kinesis_20131202.PutRecordBatch", "Firehose_20150804.", "DynamoDB_20120810.PutItem",
                        "Firehose_20150804.PutRecordBatchX", "firehose_20150804.PutRecord"}) {
    INFO(t);
    CHECK(hs::parse_target(t) == operation::unknown);
    const auto e = hs::unknown_operation(t);
    CHECK(e.type_name() == "UnknownOperationException");
    CHECK(e.http_status() == 400);
    if (*t) CHECK(e.message.find(t) != std::string::npos);
  }
}

TEST_CASE("the JSON 1.1 content type is recognised with parameters and in any case", "[http_stream][api]") {
  CHECK(hs::is_json_content_type("application/x-amz-json-1.1"));
  CHECK(hs::is_json_content_type("application/x-amz-json-1.1; charset=utf-8"));
  CHECK(hs::is_json_content_type(" Application/X-Amz-Json-1.1 "));
  CHECK_FALSE(hs::is_json_content_type("application/json"));
  CHECK_FALSE(hs::is_json_content_type("application/x-amz-json-1.0"));
  CHECK_FALSE(hs::is_json_content_type(""));
}

// ==== the captured requests ========================================================================

TEST_CASE("every request the real AWS CLI and JS SDK sent parses to the records they carried", "[http_stream][api]") {
  const auto root = sluice_test::testdata("firehose");
  if (!root) SLUICE_SKIP_OR_FAIL("shared/testdata/firehose is absent");
  for (const auto& want : captures()) {
    INFO(want.file);
    const auto c = split_request(sluice_test::read_file(*root / want.file));
    CHECK(hs::parse_target(c.headers.at("x-amz-target")) == want.op);
    CHECK(hs::is_json_content_type(c.headers.at("content-type")));
    CHECK(std::stoul(c.headers.at("content-length")) == c.body.size());
    hs::put_request r;
    const auto o = parse(want.op, c.body, r);
    REQUIRE(o.error.message == "");
    REQUIRE(o.ok);
    check_records(r, want);
  }
}

TEST_CASE("a body fed in pieces of any size parses as the whole body does", "[http_stream][api]") {
  const auto root = sluice_test::testdata("firehose");
  if (!root) SLUICE_SKIP_OR_FAIL("shared/testdata/firehose is absent");
  for (const auto& want : captures()) {
    INFO(want.file);
    const auto body = split_request(sluice_test::read_file(*root / want.file)).body;
    hs::request_parser p;
    hs::put_request r;
    for (std::size_t piece = 1; piece <= body.size(); ++piece) {
      INFO("pieces of " << piece);
      p.start(want.op, r);
      bool ok = true;
      for (std::size_t at = 0; at < body.size() && ok; at += piece) ok = p.write(std::string_view(body).substr(at, piece));
      REQUIRE(ok);
      REQUIRE(p.finish());
      check_records(r, want);
    }
  }
}

TEST_CASE("a large batch decodes the same whole, in random pieces and with escaped slashes", "[http_stream][api]") {
  std::mt19937 rng(42);
  std::vector<std::string> datas;
  std::string all;
  for (int i = 0; i < 500; ++i) {
    std::string d(rng() % 3000, '\0');
    for (auto& ch : d) ch = static_cast<char>(rng());
    all += d;
    datas.push_back(std::move(d));
  }
  const std::string body = firehose_batch(datas);
  // JSON allows "\/" for "/": some encoders (PHP's json_encode) write base64 that way.
  std::string escaped;
  for (char ch : body) escaped += ch == '/' ? std::string("\\/") : std::string(1, ch);
  REQUIRE(escaped.size() > body.size());

  hs::put_request whole;
  REQUIRE(parse(operation::firehose_put_record_batch, body, whole).ok);
  REQUIRE(whole.size() == 500);
  CHECK(whole.arena() == all);
  for (std::size_t i = 0; i < datas.size(); ++i) CHECK(whole[i].data == datas[i]);

  for (const std::string* text : std::vector<const std::string*>{&body, &escaped}) {
    hs::request_parser p;
    hs::put_request r;
    p.start(operation::firehose_put_record_batch, r);
    for (std::size_t at = 0; at < text->size();) {
      const std::size_t n = std::min<std::size_t>(1 + rng() % 7000, text->size() - at);
      REQUIRE(p.write(std::string_view(*text).substr(at, n)));
      at += n;
    }
    REQUIRE(p.finish());
    CHECK(r.arena() == all);
    CHECK(std::equal(r.begin(), r.end(), datas.begin(), datas.end(),
                     [](const hs::record_view& a, const std::string& b) { return a.data == b; }));
  }
}

TEST_CASE("one put_request reused for a large then a small request holds only the small one", "[http_stream][api]") {
  hs::put_request r;
  hs::request_parser p;
  REQUIRE(p.parse(operation::firehose_put_record_batch, firehose_batch({std::string(900'000, 'x'), "y"}), r));
  REQUIRE(r.size() == 2);
  REQUIRE(p.parse(operation::kinesis_put_record, R"({"StreamName":"k","Data":"QQ==","PartitionKey":"p"})", r));
  REQUIRE(r.size() == 1);
  CHECK(r.op() == operation::kinesis_put_record);
  CHECK(r.stream_name() == "k");
  CHECK(r[0].data == "A");
  CHECK(r[0].partition_key == "p");
  CHECK(r.arena() == "A");
}

// ==== limits at their edges ==========================================================================

TEST_CASE("PutRecordBatch takes 500 records and refuses 501 with a ValidationException", "[http_stream][api][limits]") {
  hs::put_request r;
  auto ok = parse(operation::firehose_put_record_batch, firehose_batch(std::vector<std::string>(500, "r\n")), r);
  CHECK(ok.error.message == "");
  CHECK(r.size() == 500);
  const auto bad = parse(operation::firehose_put_record_batch, firehose_batch(std::vector<std::string>(501, "r\n")));
  REQUIRE_FALSE(bad.ok);
  CHECK(bad.error.type_name() == "ValidationException");
  CHECK(bad.error.http_status() == 400);
  CHECK(bad.error.message ==
        "1 validation error detected: Value at 'records' failed to satisfy constraint: Member must have length less "
        "than or equal to 500");
}

TEST_CASE("a Firehose record of 1,024,000 bytes is taken and one byte more is refused, naming the record",
          "[http_stream][api][limits]") {
  hs::put_request r;
  const std::string edge(1'024'000, 'e');
  REQUIRE(parse(operation::firehose_put_record_batch, firehose_batch({"a", "b", edge}), r).ok);
  CHECK(r[2].data == edge);
  auto single_body = [](const std::string& data) {
    return R"({"DeliveryStreamName":"s","Record":{"Data":")" + b64(data) + "\"}}";
  };
  REQUIRE(parse(operation::firehose_put_record, single_body(edge), r).ok);
  CHECK(r[0].data == edge);

  const std::string over(1'024'001, 'o');
  const auto bad = parse(operation::firehose_put_record_batch, firehose_batch({"a", "b", over}));
  REQUIRE_FALSE(bad.ok);
  CHECK(bad.error.type_name() == "ValidationException");
  CHECK(bad.error.record_index == 2);
  CHECK(bad.error.message ==
        "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1024001 cap=1024001]' at "
        "'records.3.member.data' failed to satisfy constraint: Member must have length less than or equal to 1024000");
  const auto single = parse(operation::firehose_put_record, single_body(over));
  REQUIRE_FALSE(single.ok);
  CHECK(single.error.message.find("at 'record.data'") != std::string::npos);
}

TEST_CASE("a PutRecordBatch of exactly 4 MiB of data is taken and one byte more is InvalidArgumentException",
          "[http_stream][api][limits]") {
  std::vector<std::string> datas(4, std::string(1'024'000, 'd'));
  datas.push_back(std::string(4 * 1024 * 1024 - 4 * 1'024'000, 'e'));
  hs::put_request r;
  REQUIRE(parse(operation::firehose_put_record_batch, firehose_batch(datas), r).ok);
  CHECK(r.data_bytes() == 4 * 1024 * 1024);
  datas.back() += 'x';
  const auto bad = parse(operation::firehose_put_record_batch, firehose_batch(datas), r);
  REQUIRE_FALSE(bad.ok);
  CHECK(bad.error.type_name() == "InvalidArgumentException");
  CHECK(bad.error.http_status() == 400);
  CHECK(bad.error.message.starts_with("Records size exceeds 4 MB limit"));
  CHECK(bad.error.message.find("4194305") != std::string::npos);
}

TEST_CASE("a request far over the limits never holds more than its limit in the arena", "[http_stream][api][limits]") {
  // 6 records of 1,000,000 bytes: 6 MB, over the 4 MiB batch limit though each record is valid.
  hs::put_request r;
  const auto big = firehose_batch(std::vector<std::string>(6, std::string(1'000'000, 'z')));
  const auto bad = parse(operation::firehose_put_record_batch, big, r);
  REQUIRE_FALSE(bad.ok);
  CHECK(bad.error.type_name() == "InvalidArgumentException");
  CHECK(r.arena().size() <= hs::limits::firehose_max_batch_bytes + 2);
  // 600 records: validation names the count; the records past 500 were only counted.
  const auto six_hundred = firehose_batch(std::vector<std::string>(600, std::string(100, 'm')));
  const auto many = parse(operation::firehose_put_record_batch, six_hundred, r);
  REQUIRE_FALSE(many.ok);
  CHECK(r.size() <= 500);
  CHECK(r.arena().size() <= 500 * 100);
}

TEST_CASE("Kinesis PutRecords takes 500 records of 1 MiB with their keys and 5 MiB in all, and refuses one more byte",
          "[http_stream][api][limits]") {
  hs::put_request r;
  REQUIRE(parse(operation::kinesis_put_records, kinesis_batch(std::vector<kinesis_entry>(500, {"x"})), r).ok);
  CHECK(r.size() == 500);
  const auto too_many = parse(operation::kinesis_put_records, kinesis_batch(std::vector<kinesis_entry>(501, {"x"})));
  REQUIRE_FALSE(too_many.ok);
  CHECK(too_many.error.type_name() == "ValidationException");
  CHECK(too_many.error.message ==
        "1 validation error detected: Value at 'records' failed to satisfy constraint: Member must have length less "
        "than or equal to 500");

  // One record: Data + PartitionKey at most 1 MiB (moto's test_kinesis_stream_limits.py edges).
  const std::size_t mib = 1024 * 1024;
  REQUIRE(parse(operation::kinesis_put_records, kinesis_batch({{std::string(mib - 3, 'a'), "key"}}), r).ok);
  CHECK(r[0].data.size() == mib - 3);
  CHECK(r[0].partition_key == "key");
  const auto record_over = parse(operation::kinesis_put_records, kinesis_batch({{"a"}, {std::string(mib - 2, 'a'), "key"}}));
  REQUIRE_FALSE(record_over.ok);
  CHECK(record_over.error.type_name() == "ValidationException");
  CHECK(record_over.error.record_index == 1);
  CHECK(record_over.error.message ==
        "1 validation error detected: Value at 'records.2.member.data' failed to satisfy constraint: Member must have "
        "length less than or equal to 1048576");
  const auto data_over = parse(operation::kinesis_put_records, kinesis_batch({{std::string(mib + 1, 'a'), "k"}}));
  REQUIRE_FALSE(data_over.ok);
  CHECK(data_over.error.message.find(
            "'java.nio.HeapByteBuffer[pos=0 lim=1048577 cap=1048577]' at 'records.1.member.data'") != std::string::npos);

  // The whole request: 5 MiB including partition keys.
  std::vector<kinesis_entry> five(5, {std::string(mib - 3, 'f'), "key"});
  REQUIRE(parse(operation::kinesis_put_records, kinesis_batch(five), r).ok);
  CHECK(r.data_bytes() == 5 * (mib - 3));
  five.push_back({"", "k"});  // one more key byte
  const auto total_over = parse(operation::kinesis_put_records, kinesis_batch(five));
  REQUIRE_FALSE(total_over.ok);
  CHECK(total_over.error.type_name() == "InvalidArgumentException");
  CHECK(total_over.error.message.starts_with("Records size exceeds 5 MB limit"));
}

TEST_CASE("stream names are 1 to 64 characters of [a-zA-Z0-9_.-] for Firehose and 1 to 128 for Kinesis",
          "[http_stream][api][limits]") {
  const std::vector<std::string> one{"x"};
  CHECK(parse(operation::firehose_put_record_batch, firehose_batch(one, std::string(64, 'n'))).ok);
  CHECK(parse(operation::firehose_put_record_batch, firehose_batch(one, "a-Z_0.9")).ok);
  const auto long_name = parse(operation::firehose_put_record_batch, firehose_batch(one, std::string(65, 'n')));
  REQUIRE_FALSE(long_name.ok);
  CHECK(long_name.error.message == "1 validation error detected: Value '" + std::string(65, 'n') +
                                       "' at 'deliveryStreamName' failed to satisfy constraint: Member must have length "
                                       "less than or equal to 64");
  const auto empty = parse(operation::firehose_put_record_batch, firehose_batch(one, ""));
  REQUIRE_FALSE(empty.ok);
  CHECK(empty.error.message ==
        "2 validation errors detected: Value '' at 'deliveryStreamName' failed to satisfy constraint: Member must "
        "satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value '' at 'deliveryStreamName' failed to satisfy "
        "constraint: Member must have length greater than or equal to 1");
  const auto bad_char = parse(operation::firehose_put_record_batch, firehose_batch(one, "a b"));
  REQUIRE_FALSE(bad_char.ok);
  CHECK(bad_char.error.message.find("Value 'a b' at 'deliveryStreamName' failed to satisfy constraint: Member must "
                                    "satisfy regular expression pattern") != std::string::npos);

  CHECK(parse(operation::kinesis_put_records, kinesis_batch({{"x"}}, std::string(128, 'k'))).ok);
  const auto kinesis_long = parse(operation::kinesis_put_records, kinesis_batch({{"x"}}, std::string(129, 'k')));
  REQUIRE_FALSE(kinesis_long.ok);
  CHECK(kinesis_long.error.message.find("at 'streamName' failed to satisfy constraint: Member must have length less "
                                        "than or equal to 128") != std::string::npos);
}

TEST_CASE("a partition key is 1 to 256 characters, counted as Java counts them", "[http_stream][api][limits]") {
  hs::put_request r;
  REQUIRE(parse(operation::kinesis_put_records, kinesis_batch({{"x", std::string(256, 'p')}}), r).ok);
  // 256 two-byte characters: 512 bytes, still 256 characters.
  std::string accented;
  for (int i = 0; i < 256; ++i) accented += "\xC3\xA9";
  REQUIRE(parse(operation::kinesis_put_records, kinesis_batch({{"x", accented}}), r).ok);
  CHECK(r[0].partition_key == accented);
  const auto long_key = parse(operation::kinesis_put_records, kinesis_batch({{"x"}, {"x", std::string(257, 'p')}}));
  REQUIRE_FALSE(long_key.ok);
  CHECK(long_key.error.record_index == 1);
  CHECK(long_key.error.message.find("at 'records.2.member.partitionKey' failed to satisfy constraint: Member must "
                                    "have length less than or equal to 256") != std::string::npos);
  const auto empty_key = parse(operation::kinesis_put_record, R"({"StreamName":"k","Data":"","PartitionKey":""})");
  REQUIRE_FALSE(empty_key.ok);
  CHECK(empty_key.error.message ==
        "1 validation error detected: Value '' at 'partitionKey' failed to satisfy constraint: Member must have "
        "length greater than or equal to 1");
}

TEST_CASE("ExplicitHashKey must match its pattern and lie in [0, 2^128-1]", "[http_stream][api][limits]") {
  hs::put_request r;
  const std::string max = "340282366920938463463374607431768211455";
  REQUIRE(parse(operation::kinesis_put_records, kinesis_batch({{"x", "p", max}, {"y", "p", "0"}}), r).ok);
  CHECK(r[0].explicit_hash_key == max);
  CHECK(r[1].explicit_hash_key == "0");
  CHECK(r[1].partition_key == "p");
  const auto over = parse(operation::kinesis_put_records,
                          kinesis_batch({{"x"}, {"x", "p", "340282366920938463463374607431768211456"}}));
  REQUIRE_FALSE(over.ok);
  CHECK(over.error.type_name() == "InvalidArgumentException");
  CHECK(over.error.record_index == 1);
  CHECK(over.error.message.starts_with("Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, "
                                       "2^128-1]. Specified value was 340282366920938463463374607431768211456"));
  CHECK(over.error.message.find("records.2.member.explicitHashKey") != std::string::npos);
  const auto pattern = parse(operation::kinesis_put_records, kinesis_batch({{"x", "p", "01"}}));
  REQUIRE_FALSE(pattern.ok);
  CHECK(pattern.error.message ==
        "1 validation error detected: Value '01' at 'records.1.member.explicitHashKey' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})");
}

TEST_CASE("a Kinesis request may name its stream by StreamARN, and must name it somehow", "[http_stream][api]") {
  hs::put_request r;
  REQUIRE(parse(operation::kinesis_put_record,
                R"({"StreamARN":"arn:aws:kinesis:us-east-1:123456789012:stream/k","Data":"","PartitionKey":"p"})", r)
              .ok);
  CHECK(r.stream_name() == "k");
  CHECK(r.stream_arn() == "arn:aws:kinesis:us-east-1:123456789012:stream/k");
  CHECK(r[0].data.empty());
  REQUIRE(parse(operation::kinesis_put_record,
                R"({"StreamName":"k","StreamARN":"arn:aws:kinesis:us-east-1:123456789012:stream/k",)"
                R"("Data":"","PartitionKey":"p","SequenceNumberForOrdering":"42"})",
                r)
              .ok);
  CHECK(r.sequence_number_for_ordering() == "42");
  const auto mismatch = parse(operation::kinesis_put_record,
                              R"({"StreamName":"j","StreamARN":"arn:aws:kinesis:us-east-1:123456789012:stream/k",)"
                              R"("Data":"","PartitionKey":"p"})");
  REQUIRE_FALSE(mismatch.ok);
  CHECK(mismatch.error.type_name() == "InvalidArgumentException");
  const auto neither = parse(operation::kinesis_put_record, R"({"Data":"","PartitionKey":"p"})");
  REQUIRE_FALSE(neither.ok);
  CHECK(neither.error.type_name() == "InvalidArgumentException");
  const auto bad_arn =
      parse(operation::kinesis_put_record, R"({"StreamARN":"arn:aws:s3:::bucket","Data":"","PartitionKey":"p"})");
  REQUIRE_FALSE(bad_arn.ok);
  CHECK(bad_arn.error.message.find("at 'streamARN' failed to satisfy constraint: Member must satisfy regular "
                                   "expression pattern: arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+") != std::string::npos);
  const auto bad_seq = parse(operation::kinesis_put_record,
                             R"({"StreamName":"k","Data":"","PartitionKey":"p","SequenceNumberForOrdering":"x"})");
  REQUIRE_FALSE(bad_seq.ok);
  CHECK(bad_seq.error.message.find("at 'sequenceNumberForOrdering'") != std::string::npos);
}

TEST_CASE("the StreamARN pattern is matched as std::regex matches it", "[http_stream][api]") {
  // The endpoint matches arn:aws.*:kinesis:.*:\d{12}:stream/\S+ by hand (std::regex recurses on
  // long input); random strings built from the pattern's pieces agree with std::regex.
  const std::regex arn(std::string(hs::detail::stream_arn_pattern));
  const std::vector<std::string> pieces{"arn:aws", ":kinesis:", ":", "123456789012", "12345678901", ":stream/",
                                        "k", "-cn", " ", "\n", "x/y", "0", ":stream/k", "aws"};
  std::mt19937 rng(7);
  int matched = 0;
  auto some = [&](int most) {
    std::string t;
    for (int n = static_cast<int>(rng() % static_cast<unsigned>(most + 1)); n > 0; --n) t += pieces[rng() % pieces.size()];
    return t;
  };
  for (int i = 0; i < 20000; ++i) {
    // Half near-valid (the pattern's skeleton with random fill), half free-form; then perhaps a
    // character dropped.
    std::string s = rng() % 2 ? "arn:aws" + some(2) + ":kinesis:" + some(2) + ":123456789012:stream/" + some(2)
                              : (rng() % 8 ? "arn:aws" : "") + some(8);
    if (!s.empty() && rng() % 4 == 0) s.erase(rng() % s.size(), 1);
    INFO(s);
    const bool want = std::regex_match(s, arn);
    REQUIRE(hs::detail::is_stream_arn(s) == want);
    matched += want;
  }
  CHECK(matched > 100);  // the generator reaches both answers
  CHECK(hs::detail::is_stream_arn("arn:aws:kinesis:us-east-1:123456789012:stream/k"));
  CHECK(hs::detail::is_stream_arn("arn:aws-cn:kinesis:cn-north-1:123456789012:stream/a:stream/b"));
  CHECK_FALSE(hs::detail::is_stream_arn("arn:aws:kinesis:us-east-1:12345678901:stream/k"));
  CHECK_FALSE(hs::detail::is_stream_arn("arn:aws:kinesis:us-east-1:123456789012:stream/"));
}

// ==== bad bodies ==========================================================================================

TEST_CASE("malformed JSON is a SerializationException that says where", "[http_stream][api][errors]") {
  for (const char* body : {"", "   ", "{", R"({"DeliveryStreamName":"s","Records":[{"Data":"QQ=="})",
                           R"({"DeliveryStreamName":"s",})", R"({"DeliveryStreamName":"s"} x)", "nul", "{'a':1}",
                           "{\"DeliveryStreamName\":\"\xff\"}"}) {
    INFO(body);
    const auto o = parse(operation::firehose_put_record_batch, body);
    REQUIRE_FALSE(o.ok);
    CHECK(o.error.type_name() == "SerializationException");
    CHECK(o.error.http_status() == 400);
    CHECK_FALSE(o.error.message.empty());
  }
  const auto trailing = parse(operation::firehose_put_record_batch, R"({"DeliveryStreamName":"s"} x)");
  CHECK(trailing.error.message == "Malformed JSON at byte 27: unexpected data after the request's JSON object");
  // Whitespace after the object is fine.
  CHECK(parse(operation::firehose_put_record_batch, firehose_batch({"x"}) + " \r\n").ok);
}

TEST_CASE("a body that is not a JSON object is a SerializationException", "[http_stream][api][errors]") {
  for (const char* body : {"[]", "\"s\"", "42", "true", "null"}) {
    INFO(body);
    const auto o = parse(operation::kinesis_put_records, body);
    REQUIRE_FALSE(o.ok);
    CHECK(o.error.type_name() == "SerializationException");
    CHECK(o.error.message.starts_with("Expected a JSON object as the request body"));
  }
}

TEST_CASE("bad base64 is a SerializationException naming the record and the fault", "[http_stream][api][errors]") {
  struct bad {
    const char* data;
    const char* says;
  };
  for (const auto& [data, says] : std::vector<bad>{
           {"QQ", "Base64 encoded length is expected a multiple of 4 bytes but found: 2"},
           {"QUJDR", "Base64 encoded length is expected a multiple of 4 bytes but found: 5"},
           {"QQ-_", "Invalid Base64 character '-' at position 2"},        // the URL-safe alphabet
           {"QU*D", "Invalid Base64 character '*' at position 2"},
           {"QUJD RA==", "Invalid Base64 character ' ' at position 4"},  // no whitespace
           {"QUJD\\nRA==", "Invalid Base64 character byte 0x0A at position 4"},
           {"QQ=A", "Invalid Base64 padding"},
           {"Q===", "Invalid Base64 padding"},
           {"QQ==QQ==", "Invalid Base64 padding"},
           {"=QQQ", "Invalid Base64 padding"},
           {"QR==", "Invalid last non-pad Base64 character detected: 'R' at position 1"},
           {"QUN=", "Invalid last non-pad Base64 character detected: 'N' at position 2"},
       }) {
    INFO(data);
    const std::string body =
        std::string(R"({"DeliveryStreamName":"s","Records":[{"Data":"QQ=="},{"Data":")") + data + "\"}]}";
    const auto o = parse(operation::firehose_put_record_batch, body);
    REQUIRE_FALSE(o.ok);
    CHECK(o.error.type_name() == "SerializationException");
    CHECK(o.error.record_index == 1);
    CHECK(o.error.message.starts_with("Value at 'records.2.member.data' can not be converted to a Blob: "));
    CHECK(o.error.message.find(says) != std::string::npos);
  }
  // The same string fed one character at a time gives the same answer.
  hs::request_parser p;
  hs::put_request r;
  const std::string body = R"({"DeliveryStreamName":"s","Records":[{"Data":"QQ==QQ=="}]})";
  p.start(operation::firehose_put_record_batch, r);
  bool ok = true;
  for (char ch : body) ok = ok && p.write(std::string_view(&ch, 1));
  CHECK_FALSE((ok && p.finish()));
  CHECK(p.error().message.find("Invalid Base64 padding") != std::string::npos);
}

TEST_CASE("members of the wrong JSON type are a SerializationException naming the member", "[http_stream][api][errors]") {
  struct bad {
    operation op;
    const char* body;
    const char* says;
  };
  for (const auto& [op, body, says] : std::vector<bad>{
           {operation::firehose_put_record_batch, R"({"DeliveryStreamName":"s","Records":{"Data":"QQ=="}})",
            "Expected a list (JSON array) at 'records' but found an object"},
           {operation::firehose_put_record_batch, R"({"DeliveryStreamName":7,"Records":[{"Data":"QQ=="}]})",
            "Expected a string at 'deliveryStreamName' but found a number"},
           {operation::firehose_put_record_batch, R"({"DeliveryStreamName":"s","Records":[{"Data":"QQ=="},{"Data":12}]})",
            "Expected a base64 string (Blob) at 'records.2.member.data' but found a number"},
           {operation::firehose_put_record_batch, R"({"DeliveryStreamName":"s","Records":["QQ=="]})",
            "Expected a structure (JSON object) at 'records.1.member' but found a string"},
           {operation::firehose_put_record, R"({"DeliveryStreamName":"s","Record":[]})",
            "Expected a structure (JSON object) at 'record' but found a list"},
           {operation::firehose_put_record, R"({"DeliveryStreamName":"s","Record":{"Data":true}})",
            "Expected a base64 string (Blob) at 'record.data' but found a boolean"},
           {operation::kinesis_put_records, R"({"StreamName":"k","Records":[{"Data":"","PartitionKey":["p"]}]})",
            "Expected a string at 'records.1.member.partitionKey' but found a list"},
           {operation::kinesis_put_record, R"({"StreamName":"k","Data":"","PartitionKey":"p","ExplicitHashKey":1})",
            "Expected a string at 'explicitHashKey' but found a number"},
       }) {
    INFO(body);
    const auto o = parse(op, body);
    REQUIRE_FALSE(o.ok);
    CHECK(o.error.type_name() == "SerializationException");
    CHECK(o.error.message == says);
  }
}

TEST_CASE("missing members are ValidationException, null counts as missing, and up to 10 are listed",
          "[http_stream][api][errors]") {
  auto o = parse(operation::firehose_put_record_batch, "{}");
  REQUIRE_FALSE(o.ok);
  CHECK(o.error.message ==
        "2 validation errors detected: Value null at 'records' failed to satisfy constraint: Member must not be null; "
        "Value null at 'deliveryStreamName' failed to satisfy constraint: Member must not be null");
  o = parse(operation::firehose_put_record_batch, R"({"DeliveryStreamName":null,"Records":[]})");
  CHECK(o.error.message ==
        "2 validation errors detected: Value '[]' at 'records' failed to satisfy constraint: Member must have length "
        "greater than or equal to 1; Value null at 'deliveryStreamName' failed to satisfy constraint: Member must not "
        "be null");
  o = parse(operation::firehose_put_record_batch,
            R"({"DeliveryStreamName":"s","Records":[{"Data":"QQ=="},{},{"Data":null},null]})");
  CHECK(o.error.type_name() == "ValidationException");
  CHECK(o.error.record_index == 1);
  CHECK(o.error.message ==
        "3 validation errors detected: Value null at 'records.2.member.data' failed to satisfy constraint: Member must "
        "not be null; Value null at 'records.3.member.data' failed to satisfy constraint: Member must not be null; "
        "Value null at 'records.4.member' failed to satisfy constraint: Member must not be null");
  o = parse(operation::firehose_put_record, R"({"DeliveryStreamName":"s"})");
  CHECK(o.error.message ==
        "1 validation error detected: Value null at 'record' failed to satisfy constraint: Member must not be null");
  o = parse(operation::kinesis_put_record, R"({"StreamName":"k"})");
  CHECK(o.error.message ==
        "2 validation errors detected: Value null at 'data' failed to satisfy constraint: Member must not be null; "
        "Value null at 'partitionKey' failed to satisfy constraint: Member must not be null");
  // Twelve bad records: the first ten are listed, as AWS lists them.
  o = parse(operation::firehose_put_record_batch, firehose_batch(std::vector<std::string>(12, std::string(1'024'001, 'b'))));
  CHECK(o.error.message.starts_with("10 validation errors detected: "));
  CHECK(o.error.message.find("records.10.member.data") != std::string::npos);
  CHECK(o.error.message.find("records.11.member.data") == std::string::npos);
  CHECK(o.error.record_index == 0);
}

TEST_CASE("unknown members are ignored at any depth, and of a repeated member the last counts", "[http_stream][api]") {
  hs::put_request r;
  const auto o = parse(operation::firehose_put_record_batch,
                       R"({"Extra":{"Records":[1,{"Data":5}],"x":[[[]]]},"DeliveryStreamName":"old",)"
                       R"("Records":[{"Data":"QQ==","Data":"Qg==","Note":{"Data":false}},{"Data":null,"Data":"Qw=="}],)"
                       R"("DeliveryStreamName":"s","Tail":null})",
                       r);
  REQUIRE(o.error.message == "");
  REQUIRE(r.size() == 2);
  CHECK(r.stream_name() == "s");
  CHECK(r[0].data == "B");
  CHECK(r[1].data == "C");
  CHECK(r.arena() == "BC");
  // A second Records list replaces the first.
  REQUIRE(parse(operation::firehose_put_record_batch,
                R"({"DeliveryStreamName":"s","Records":[{"Data":"QQ=="},{"Data":"QQ=="}],"Records":[{"Data":"Qg=="}]})", r)
              .ok);
  REQUIRE(r.size() == 1);
  CHECK(r.arena() == "B");
}

TEST_CASE("error bodies have the shape of the error AWS sends", "[http_stream][api][errors]") {
  const auto root = sluice_test::testdata("firehose");
  if (!root) SLUICE_SKIP_OR_FAIL("shared/testdata/firehose is absent");
  const auto example = json::parse(sluice_test::read_file(*root / "error-resource-not-found.response.json")).as_object();
  const auto e = hs::stream_not_found(operation::firehose_put_record_batch, "s", "123456789012");
  CHECK(e.http_status() == 400);
  std::string body;
  hs::write_error(body, e);
  const auto ours = json::parse(body).as_object();
  CHECK(ours == example);  // the same members, types and values: the example is this very error
  CHECK(hs::stream_not_found(operation::kinesis_put_records, "k", "123456789012").message ==
        "Stream k under account 123456789012 not found.");

  // Every error type: {"__type": string, "message": string}, and the model's error shapes allow
  // "message" (the extracts list each operation's errors).
  const auto model = load_json(*root / "firehose-model-shapes.json");
  REQUIRE(model);
  const auto& errors = model->at("PutRecordBatch").at("errors").as_object();
  for (auto t : {hs::error_type::serialization, hs::error_type::validation, hs::error_type::invalid_argument,
                 hs::error_type::resource_not_found, hs::error_type::unknown_operation, hs::error_type::service_unavailable,
                 hs::error_type::throughput_exceeded, hs::error_type::internal_failure}) {
    hs::write_error(body, hs::type_name(t), "a \"quoted\" \\ message\nwith a control \x01 character");
    const auto v = json::parse(body).as_object();
    INFO(body);
    CHECK(v.size() == example.size());
    CHECK(v.at("__type").as_string() == hs::type_name(t));
    CHECK(v.at("message").as_string() == "a \"quoted\" \\ message\nwith a control \x01 character");
    if (const auto* shape = errors.if_contains(hs::type_name(t)))
      CHECK(shape->at("members").as_object().contains("message"));
  }
  CHECK(hs::http_status(hs::error_type::service_unavailable) == 503);
  CHECK(hs::http_status(hs::error_type::internal_failure) == 500);
  CHECK(hs::service_unavailable().http_status() == 503);
  CHECK(hs::service_unavailable().message == "Slow down.");
}

// ==== responses against the model =====================================================================

TEST_CASE("PutRecordBatch and PutRecord responses conform to the Firehose model, partial failures included",
          "[http_stream][api][responses]") {
  const auto root = sluice_test::testdata("firehose");
  if (!root) SLUICE_SKIP_OR_FAIL("shared/testdata/firehose is absent");
  const auto model = load_json(*root / "firehose-model-shapes.json");
  REQUIRE(model);
  const hs::record_id_generator ids;
  std::string body;

  // The example files conform: the check itself is sound.
  for (const char* f : {"put-record-batch.response.json", "put-record-batch.partial-failure.response.json"})
    CHECK(problems_of(model->at("PutRecordBatch").at("output"), sluice_test::read_file(*root / f)).empty());

  const std::vector<hs::record_outcome> all_ok(500, hs::record_outcome::stored());
  hs::write_put_record_batch_response(body, all_ok, ids, 7);
  CHECK(problems_of(model->at("PutRecordBatch").at("output"), body) == std::vector<std::string>{});
  auto v = json::parse(body).as_object();
  CHECK(v.at("FailedPutCount").as_int64() == 0);
  CHECK(v.at("Encrypted").as_bool() == false);
  const auto& entries = v.at("RequestResponses").as_array();
  REQUIRE(entries.size() == 500);
  std::set<std::string> unique;
  const std::regex base64_224("[A-Za-z0-9+/]{224}");
  for (const auto& e : entries) {
    REQUIRE(e.as_object().size() == 1);
    const std::string id(e.at("RecordId").as_string());
    CHECK(std::regex_match(id, base64_224));
    unique.insert(id);
  }
  CHECK(unique.size() == 500);

  // Partial failure: the same members as the example's, per entry, in request order.
  const auto example =
      json::parse(sluice_test::read_file(*root / "put-record-batch.partial-failure.response.json")).as_object();
  const std::vector<hs::record_outcome> mixed{hs::record_outcome::stored(), hs::record_outcome::slow_down(),
                                              hs::record_outcome::stored(), hs::record_outcome::internal_failure()};
  hs::write_put_record_batch_response(body, mixed, ids, 8);
  CHECK(problems_of(model->at("PutRecordBatch").at("output"), body) == std::vector<std::string>{});
  v = json::parse(body).as_object();
  CHECK(v.at("FailedPutCount").as_int64() == 2);
  const auto& got = v.at("RequestResponses").as_array();
  REQUIRE(got.size() == 4);
  CHECK(got[0].as_object().contains("RecordId"));
  // {"ErrorCode":"ServiceUnavailableException","ErrorMessage":"Slow down."}
  CHECK(got[1] == example.at("RequestResponses").as_array()[1]);
  CHECK(got[2].as_object().contains("RecordId"));
  CHECK(got[3].at("ErrorCode").as_string() == "InternalFailure");
  for (const auto& [k, val] : example) CHECK(v.contains(k));
  CHECK(v.size() == example.size());

  hs::write_put_record_response(body, ids, 9);
  CHECK(problems_of(model->at("PutRecord").at("output"), body) == std::vector<std::string>{});
  v = json::parse(body).as_object();
  const auto put_example = json::parse(sluice_test::read_file(*root / "put-record.response.json")).as_object();
  CHECK(v.size() == put_example.size());
  CHECK(std::regex_match(std::string(v.at("RecordId").as_string()), base64_224));
  CHECK(v.at("Encrypted").as_bool() == false);
}

TEST_CASE("RecordIds are unique per request and record, and carry them", "[http_stream][api][responses]") {
  const std::array<std::uint8_t, 16> instance{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  const hs::record_id_generator a(instance), b(instance);
  CHECK(a.make(5, 3) == b.make(5, 3));  // a pure function of instance, request and index
  const auto bytes = sluice::crypto::from_base64(a.make(0x0102030405060708ULL, 0x0A0B0C0DU));
  REQUIRE(bytes.size() == 168);
  CHECK(std::equal(instance.begin(), instance.end(), reinterpret_cast<const std::uint8_t*>(bytes.data())));
  CHECK(bytes.substr(16, 12) == std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x0A\x0B\x0C\x0D", 12));
  std::set<std::string> seen;
  for (std::uint64_t request = 0; request < 50; ++request)
    for (std::uint32_t i = 0; i < 50; ++i) seen.insert(a.make(request, i));
  CHECK(seen.size() == 2500);
  CHECK(hs::record_id_generator().make(1, 1) != hs::record_id_generator().make(1, 1));  // random instances
}

TEST_CASE("Kinesis PutRecords and PutRecord responses conform to the Kinesis model", "[http_stream][api][responses]") {
  const auto root = sluice_test::testdata("firehose");
  if (!root) SLUICE_SKIP_OR_FAIL("shared/testdata/firehose is absent");
  const auto model = load_json(*root / "kinesis-model-shapes.json");
  REQUIRE(model);
  std::string body;
  const std::vector<hs::record_outcome> mixed{hs::record_outcome::stored(), hs::record_outcome::throughput_exceeded(),
                                              hs::record_outcome::stored()};
  hs::write_kinesis_put_records_response(body, mixed, {1700000000, 41});
  CHECK(problems_of(model->at("PutRecords").at("output"), body) == std::vector<std::string>{});
  auto v = json::parse(body).as_object();
  CHECK(v.at("FailedRecordCount").as_int64() == 1);
  CHECK(v.at("EncryptionType").as_string() == "NONE");
  const auto& recs = v.at("Records").as_array();
  REQUIRE(recs.size() == 3);
  CHECK(recs[0].at("ShardId").as_string() == "shardId-000000000000");
  const std::string s0(recs[0].at("SequenceNumber").as_string()), s2(recs[2].at("SequenceNumber").as_string());
  CHECK(s0.size() == 56);
  CHECK(s0 < s2);  // increasing, as text and as numbers (same width)
  CHECK(s0 == hs::to_string({1700000000, 41}));
  CHECK(s2 == hs::to_string({1700000000, 43}));
  CHECK(recs[1].at("ErrorCode").as_string() == "ProvisionedThroughputExceededException");
  CHECK(recs[1].as_object().size() == 2);

  // All accepted: FailedRecordCount 0, as the service sends it (the model says min 1; the only
  // deviation from the model, which botocore does not check on output).
  const std::vector<hs::record_outcome> ok(2, hs::record_outcome::stored());
  hs::write_kinesis_put_records_response(body, ok, {1, 1});
  auto problems = problems_of(model->at("PutRecords").at("output"), body);
  CHECK(problems == std::vector<std::string>{"$.FailedRecordCount: below min"});
  const auto example = json::parse(sluice_test::read_file(*root / "kinesis-put-records.response.json")).as_object();
  v = json::parse(body).as_object();
  for (const auto& [k, val] : example) CHECK(v.contains(k));
  CHECK(v.size() == example.size());
  CHECK(v.at("FailedRecordCount") == example.at("FailedRecordCount"));

  hs::write_kinesis_put_record_response(body, {1700000000, 7});
  CHECK(problems_of(model->at("PutRecord").at("output"), body) == std::vector<std::string>{});
  const auto put_example = json::parse(sluice_test::read_file(*root / "kinesis-put-record.response.json")).as_object();
  v = json::parse(body).as_object();
  CHECK(v.size() == put_example.size());
  for (const auto& [k, val] : put_example) CHECK(v.contains(k));
}

TEST_CASE("ListDeliveryStreams lists names in order from the exclusive start, at most Limit of them",
          "[http_stream][api][responses]") {
  const std::vector<std::string_view> names{"events", "alpha", "zeta", "beta"};
  hs::list_delivery_streams_request req;
  hs::api_error err;
  std::string body;
  REQUIRE(hs::parse_list_delivery_streams("{}", req, err));
  CHECK(req.limit == 10);
  hs::write_list_delivery_streams_response(body, names, req);
  CHECK(body == R"({"DeliveryStreamNames":["alpha","beta","events","zeta"],"HasMoreDeliveryStreams":false})");

  REQUIRE(hs::parse_list_delivery_streams(R"({"Limit":2,"ExclusiveStartDeliveryStreamName":"alpha"})", req, err));
  hs::write_list_delivery_streams_response(body, names, req);
  CHECK(body == R"({"DeliveryStreamNames":["beta","events"],"HasMoreDeliveryStreams":true})");
  REQUIRE(hs::parse_list_delivery_streams(R"({"Limit":2,"ExclusiveStartDeliveryStreamName":"events"})", req, err));
  hs::write_list_delivery_streams_response(body, names, req);
  CHECK(body == R"({"DeliveryStreamNames":["zeta"],"HasMoreDeliveryStreams":false})");
  REQUIRE(hs::parse_list_delivery_streams(R"({"DeliveryStreamType":"KinesisStreamAsSource"})", req, err));
  hs::write_list_delivery_streams_response(body, names, req);
  CHECK(body == R"({"DeliveryStreamNames":[],"HasMoreDeliveryStreams":false})");
  REQUIRE(hs::parse_list_delivery_streams(R"({"DeliveryStreamType":"DirectPut","Limit":10000})", req, err));
  CHECK(req.limit == 10000);

  struct bad {
    const char* body;
    hs::error_type type;
    const char* says;
  };
  for (const auto& [b, type, says] : std::vector<bad>{
           {R"({"Limit":0})", hs::error_type::validation,
            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value "
            "greater than or equal to 1"},
           {R"({"Limit":10001})", hs::error_type::validation,
            "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: Member must have "
            "value less than or equal to 10000"},
           {R"({"Limit":"5"})", hs::error_type::serialization, "Expected an integer at 'limit' but found a string"},
           {R"({"DeliveryStreamType":"Other"})", hs::error_type::validation,
            "1 validation error detected: Value 'Other' at 'deliveryStreamType' failed to satisfy constraint: Member "
            "must satisfy enum value set: [DirectPut, KinesisStreamAsSource]"},
           {R"({"ExclusiveStartDeliveryStreamName":"a/b"})", hs::error_type::validation,
            "1 validation error detected: Value 'a/b' at 'exclusiveStartDeliveryStreamName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"},
           {"", hs::error_type::serialization, "The request body is empty: expected a JSON object"},
           {"[1]", hs::error_type::serialization, "Expected a JSON object as the request body"},
       }) {
    INFO(b);
    CHECK_FALSE(hs::parse_list_delivery_streams(b, req, err));
    CHECK(err.type == type);
    CHECK(err.message == says);
  }

  // Conforms to the model's ListDeliveryStreamsOutput.
  const auto botocore = load_json(botocore_firehose);
  if (!botocore) SLUICE_SKIP_OR_FAIL("the AWS CLI's botocore model is absent: " << botocore_firehose);
  const auto shape = expand(botocore->at("shapes").as_object(), "ListDeliveryStreamsOutput");
  REQUIRE(hs::parse_list_delivery_streams("{}", req, err));
  hs::write_list_delivery_streams_response(body, names, req);
  CHECK(problems_of(shape, body) == std::vector<std::string>{});
}

TEST_CASE("DescribeDeliveryStream describes the stream in the model's shape with the caller's destination",
          "[http_stream][api][responses]") {
  hs::describe_delivery_stream_request req;
  hs::api_error err;
  REQUIRE(hs::parse_describe_delivery_stream(R"({"DeliveryStreamName":"events"})", req, err));
  CHECK(req.delivery_stream_name == "events");
  CHECK_FALSE(hs::parse_describe_delivery_stream("{}", req, err));
  CHECK(err.message ==
        "1 validation error detected: Value null at 'deliveryStreamName' failed to satisfy constraint: Member must not "
        "be null");
  CHECK_FALSE(
      hs::parse_describe_delivery_stream(R"({"DeliveryStreamName":"e","ExclusiveStartDestinationId":"x_y"})", req, err));
  CHECK(err.message.find("at 'exclusiveStartDestinationId'") != std::string::npos);
  CHECK_FALSE(hs::parse_describe_delivery_stream(R"({"DeliveryStreamName":["e"]})", req, err));
  CHECK(err.type == hs::error_type::serialization);

  hs::delivery_stream_description d;
  d.name = "events";
  d.region = "eu-west-1";
  d.account_id = "111122223333";
  d.version_id = 3;
  d.create_time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000123));
  d.destination.bucket_arn = "arn:aws:s3:::landing";
  d.destination.prefix = "events/!{timestamp:yyyy/MM/dd}/";
  d.destination.error_output_prefix = "errors/";
  d.destination.buffering_size_mib = 64;
  d.destination.buffering_interval_seconds = 60;
  d.destination.compression = hs::compression_format::gzip;
  std::string body;
  REQUIRE(hs::parse_describe_delivery_stream(R"({"DeliveryStreamName":"events"})", req, err));
  hs::write_describe_delivery_stream_response(body, d, req);
  INFO(body);
  const auto v = json::parse(body);
  const auto& s = v.at("DeliveryStreamDescription");
  CHECK(s.at("DeliveryStreamARN").as_string() == "arn:aws:firehose:eu-west-1:111122223333:deliverystream/events");
  CHECK(s.at("DeliveryStreamStatus").as_string() == "ACTIVE");
  CHECK(s.at("DeliveryStreamType").as_string() == "DirectPut");
  CHECK(s.at("VersionId").as_string() == "3");
  CHECK(s.at("CreateTimestamp").to_number<double>() == Approx(1700000000.123));
  CHECK(s.at("HasMoreDestinations").as_bool() == false);
  const auto& dest = s.at("Destinations").as_array().at(0);
  CHECK(dest.at("DestinationId").as_string() == "destinationId-000000000001");
  const auto& s3 = dest.at("ExtendedS3DestinationDescription");
  CHECK(s3.at("BucketARN").as_string() == "arn:aws:s3:::landing");
  CHECK(s3.at("RoleARN").as_string() == "arn:aws:iam::111122223333:role/sluice");
  CHECK(s3.at("Prefix").as_string() == "events/!{timestamp:yyyy/MM/dd}/");
  CHECK(s3.at("ErrorOutputPrefix").as_string() == "errors/");
  CHECK(s3.at("BufferingHints").at("SizeInMBs").as_int64() == 64);
  CHECK(s3.at("BufferingHints").at("IntervalInSeconds").as_int64() == 60);
  CHECK(s3.at("CompressionFormat").as_string() == "GZIP");

  REQUIRE(hs::parse_describe_delivery_stream(
      R"({"DeliveryStreamName":"events","ExclusiveStartDestinationId":"destinationId-000000000001"})", req, err));
  std::string after;
  hs::write_describe_delivery_stream_response(after, d, req);
  CHECK(json::parse(after).at("DeliveryStreamDescription").at("Destinations").as_array().empty());

  const auto botocore = load_json(botocore_firehose);
  if (!botocore) SLUICE_SKIP_OR_FAIL("the AWS CLI's botocore model is absent: " << botocore_firehose);
  const auto shape = expand(botocore->at("shapes").as_object(), "DescribeDeliveryStreamOutput");
  CHECK(problems_of(shape, body) == std::vector<std::string>{});
  CHECK(problems_of(shape, after) == std::vector<std::string>{});
  hs::delivery_stream_description plain;
  plain.name = "s";
  hs::write_describe_delivery_stream_response(body, plain);
  CHECK(problems_of(shape, body) == std::vector<std::string>{});
}

TEST_CASE("the request parsers accept every input shape of the model extracts", "[http_stream][api]") {
  // The captured requests conform to the model's input shapes, and so do the bodies the tests
  // build: the parser is tested on what clients send.
  const auto root = sluice_test::testdata("firehose");
  if (!root) SLUICE_SKIP_OR_FAIL("shared/testdata/firehose is absent");
  const auto fh = load_json(*root / "firehose-model-shapes.json");
  const auto kn = load_json(*root / "kinesis-model-shapes.json");
  REQUIRE(fh);
  REQUIRE(kn);
  for (const auto& want : captures()) {
    INFO(want.file);
    const auto body = split_request(sluice_test::read_file(*root / want.file)).body;
    const auto& model = want.op == operation::kinesis_put_record || want.op == operation::kinesis_put_records ? *kn : *fh;
    const char* name = want.op == operation::firehose_put_record_batch ? "PutRecordBatch"
                       : want.op == operation::kinesis_put_records      ? "PutRecords"
                                                                        : "PutRecord";
    CHECK(problems_of(model.at(name).at("input"), body) == std::vector<std::string>{});
  }
  CHECK(problems_of(fh->at("PutRecordBatch").at("input"), firehose_batch({"a", "b"})) == std::vector<std::string>{});
  CHECK(problems_of(kn->at("PutRecords").at("input"), kinesis_batch({{"a", "p", "12"}})) == std::vector<std::string>{});
}
