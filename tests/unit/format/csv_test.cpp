// SPDX-License-Identifier: Apache-2.0
#include <sluice/format/csv.hpp>

#include "harness.hpp"

#include <catch2/catch.hpp>

using namespace sluice;
using format_test::harness;
using sluice_test::collecting_node;
using sluice_test::collecting_sink;
using sluice_test::vector_source;

static_assert(format_stage<format::csv>);

namespace {
/// Formats each batch of `batches` with `stage`; returns the objects it emitted.
std::vector<object> format_batches(harness& h, const format::csv& stage,
                                   const std::vector<std::vector<std::string>>& batches) {
  std::vector<object> out;
  auto node = stage.open(h.ctx(), [&] { return collecting_node<object>{&out}; });
  for (const auto& b : batches) node.push(h.make(b));
  node.flush();
  return out;
}
}  // namespace

TEST_CASE("csv quotes fields with delimiters, quotes, CR and LF and doubles quotes (RFC 4180)", "[format][csv]") {
  harness h;
  auto out = format_batches(h, format::csv{.columns = {"id", "name"}},
                            {{R"({"id":1,"name":"plain"})", R"({"id":2,"name":"a,b"})",
                              R"({"id":3,"name":"say \"hi\""})", R"({"id":4,"name":"line1\nline2"})",
                              R"({"id":5,"name":"cr\rhere"})", R"({"id":6,"name":" spaced "})",
                              R"({"id":7,"name":"\""})", R"({"id":8,"name":""})"}});
  REQUIRE(out.size() == 1);
  CHECK(out[0].body ==
        "id,name\r\n"
        "1,plain\r\n"
        "2,\"a,b\"\r\n"
        "3,\"say \"\"hi\"\"\"\r\n"
        "4,\"line1\nline2\"\r\n"
        "5,\"cr\rhere\"\r\n"
        "6, spaced \r\n"
        "7,\"\"\"\"\r\n"
        "8,\r\n");
  CHECK(out[0].content_type == "text/csv");
  CHECK(out[0].record_count == 8);
  CHECK(out[0].covered.count() == 8);
  CHECK(h.errors.empty());
}

TEST_CASE("csv writes no header when asked, and uses the configured delimiter and line end", "[format][csv]") {
  harness h;
  auto out = format_batches(h, format::csv{.columns = {"a", "b"}, .header = false, .delimiter = ';', .line_end = "\n"},
                            {{R"({"a":"x,y","b":"p;q"})", R"({"a":"1","b":"2"})"}});
  REQUIRE(out.size() == 1);
  CHECK(out[0].body == "x,y;\"p;q\"\n1;2\n");
}

TEST_CASE("csv quotes header names that need it", "[format][csv]") {
  harness h;
  auto out = format_batches(h, format::csv{.columns = {"plain", "with,comma", "with\"quote"}}, {{R"({"plain":1})"}});
  REQUIRE(out.size() == 1);
  CHECK(out[0].body == "plain,\"with,comma\",\"with\"\"quote\"\r\n1,,\r\n");
}

TEST_CASE("csv writes strings raw, numbers and booleans as JSON text, null and missing as empty, nested values as JSON",
          "[format][csv]") {
  harness h;
  auto out = format_batches(
      h, format::csv{.columns = {"s", "i", "neg", "d", "big", "t", "f", "n", "missing", "obj", "arr", "address.city"}},
      {{R"({"s":"text","i":42,"neg":-7,"d":19.99,"big":18446744073709551615,"t":true,"f":false,"n":null,)"
        R"("obj":{"x":[1,2]},"arr":["a","b"],"address":{"city":"Lyon","zip":"69001"}})"}});
  REQUIRE(out.size() == 1);
  CHECK(out[0].body ==
        "s,i,neg,d,big,t,f,n,missing,obj,arr,address.city\r\n"
        "text,42,-7,19.99,18446744073709551615,true,false,,,\"{\"\"x\"\":[1,2]}\",\"[\"\"a\"\",\"\"b\"\"]\",Lyon\r\n");
}

TEST_CASE("csv without columns takes the keys of the first record of each object", "[format][csv]") {
  harness h;
  auto out = format_batches(h, format::csv{},
                            {{R"({"b":1,"a":"x"})", R"({"a":"y","c":true})"}, {R"({"z":0})", R"({"b":2})"}});
  REQUIRE(out.size() == 2);
  CHECK(out[0].body == "b,a\r\n1,x\r\n,y\r\n");
  CHECK(out[1].body == "z\r\n0\r\n\r\n");
}

TEST_CASE("csv rejects records that are not JSON objects, naming the byte of the parse error", "[format][csv]") {
  harness h;
  auto out = format_batches(h, format::csv{.columns = {"id"}},
                            {{R"({"id":1,"name":tru})", R"({"id":2})", "[1,2]", R"("text")", R"({"id":3} x)"},
                             {"not json"}});
  REQUIRE(out.size() == 1);  // the second batch has no valid record: no object
  CHECK(out[0].body == "id\r\n2\r\n");
  CHECK(out[0].record_count == 1);
  CHECK(out[0].covered.count() == 1);
  REQUIRE(h.errors.size() == 5);
  for (const auto& e : h.errors) {
    CHECK(e.code == errc::invalid_record);
    CHECK(e.stage == "format::csv");
  }
  CHECK(h.errors[0].reason == "invalid JSON at byte 15: syntax error");
  CHECK(h.errors[0].payload == R"({"id":1,"name":tru})");
  CHECK(h.errors[0].cursor.position == 1);
  CHECK(h.errors[1].reason == "the record is a JSON array, not an object");
  CHECK(h.errors[2].reason == "the record is a JSON string, not an object");
  CHECK(h.errors[3].reason == "invalid JSON at byte 9: extra data");
  CHECK(h.errors[4].reason == "invalid JSON at byte 0: syntax error");
  CHECK(h.t.metrics.snapshot().errors == 5);
}

TEST_CASE("csv refuses a delimiter that cannot delimit and an unknown line end", "[format][csv]") {
  CHECK_THROWS_WITH((format::csv{.delimiter = '"'}).validate(),
                    "sluice: format::csv.delimiter = '\"': must not be a quote, CR or LF");
  CHECK_THROWS_WITH((format::csv{.delimiter = '\n'}).validate(),
                    "sluice: format::csv.delimiter = '\\n': must not be a quote, CR or LF");
  CHECK_THROWS_WITH((format::csv{.line_end = "\r"}).validate(),
                    "sluice: format::csv.line_end: must be \"\\r\\n\" (RFC 4180) or \"\\n\"");
  CHECK_NOTHROW((format::csv{.delimiter = '\t', .line_end = "\n"}).validate());
}

TEST_CASE("csv objects in a pipeline carry the stream, the records and their acknowledgement", "[format][csv]") {
  collecting_sink sink;
  auto p = vector_source{.payloads = {R"({"id":1,"v":"a"})", R"({"id":2,"v":"b"})", "oops", R"({"id":3,"v":"c"})"},
                         .chunk = 2} |
           format::csv{.columns = {"id", "v"}} | sink;
  p.options.stream = "orders";
  std::vector<record_error> errors;
  p.options.on_error = [&](const record_error& e) { errors.push_back(e); };
  p.run();
  REQUIRE(sink.objects->size() == 2);
  CHECK((*sink.objects)[0].body == "id,v\r\n1,a\r\n2,b\r\n");
  CHECK((*sink.objects)[1].body == "id,v\r\n3,c\r\n");
  CHECK((*sink.objects)[0].stream == "orders");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].reason == "invalid JSON at byte 0: syntax error");
  auto m = p.metrics().snapshot();
  CHECK(m.records_in == 4);
  CHECK(m.records_out == 3);
  CHECK(m.errors == 1);
}
