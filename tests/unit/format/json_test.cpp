// SPDX-License-Identifier: Apache-2.0
#include <sluice/format/json.hpp>

#include <sluice/format/transform/detail/sha256.hpp>
#include <sluice/format/transform/detail/time.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace sluice;

TEST_CASE("append_json writes compact JSON with shortest decimals and the escapes JSON needs", "[format][json]") {
  format::json_reader reader;
  auto* v = reader.parse(R"({ "a" : [1, -2, 19.99, 1e21, 0.1, true, null],
                              "s" : "q\"b\\s\n\t\u0001é", "o":{"u":18446744073709551615} })");
  REQUIRE(v != nullptr);
  std::string out;
  format::append_json(out, *v);
  CHECK(out == "{\"a\":[1,-2,19.99,1e+21,0.1,true,null],\"s\":\"q\\\"b\\\\s\\n\\t\\u0001\xC3\xA9\","
               "\"o\":{\"u\":18446744073709551615}}");
  // What it writes reads back to the same value.
  auto copy = boost::json::parse(out);
  CHECK(copy == *v);
}

TEST_CASE("find_path finds keys, dotted paths through objects, and nothing through other values", "[format][json]") {
  auto v = boost::json::parse(R"({"a":{"b":{"c":1}},"x.y":2,"arr":[{"k":1}],"s":"t"})");
  const auto& o = v.as_object();
  REQUIRE(format::find_path(o, "a.b.c") != nullptr);
  CHECK(*format::find_path(o, "a.b.c") == 1);
  CHECK(*format::find_path(o, "x.y") == 2);  // a key with a dot is found as such
  CHECK(format::find_path(o, "a.b.missing") == nullptr);
  CHECK(format::find_path(o, "s.t") == nullptr);
  CHECK(format::find_path(o, "arr.0") == nullptr);
  CHECK(format::find_path(o, "nothing") == nullptr);
}

TEST_CASE("json kinds are named and numbers accept integers", "[format][json]") {
  CHECK(format::kind_of(boost::json::value(1)) == format::json_kind::integer);
  CHECK(format::kind_of(boost::json::value(1.5)) == format::json_kind::number);
  CHECK(format::is_kind(boost::json::value(1), format::json_kind::number));
  CHECK_FALSE(format::is_kind(boost::json::value(1.5), format::json_kind::integer));
  CHECK(std::string(format::kind_name(format::json_kind::boolean)) == "boolean");
}

TEST_CASE("json_reader reports the byte of a parse error and reuses its memory from record to record",
          "[format][json]") {
  format::json_reader reader;
  CHECK(reader.parse(R"({"a":1,"b":tru})") == nullptr);
  CHECK(reader.error_offset() == 11);
  CHECK(reader.error().message() == "syntax error");
  CHECK(reader.parse(R"({"a":1)") == nullptr);
  CHECK(reader.error_offset() == 6);
  CHECK(reader.error().message() == "incomplete JSON");
  // Many records, one larger than the kept arena: each parse sees only its own record.
  std::string big = R"({"big":")" + std::string(3 << 20, 'b') + R"("})";
  for (int i = 0; i < 1000; ++i) {
    std::string text = R"({"n":)" + std::to_string(i) + R"(,"s":"value )" + std::to_string(i) + R"("})";
    auto* v = reader.parse(i == 500 ? big : text);
    REQUIRE(v != nullptr);
    if (i == 500) {
      CHECK(v->at("big").as_string().size() == (3u << 20));
    } else {
      CHECK(v->at("n") == i);
      CHECK(std::string_view(v->at("s").as_string()) == "value " + std::to_string(i));
    }
  }
}

TEST_CASE("sha256 matches the FIPS 180-4 test vectors", "[format][json][sha256]") {
  auto hex = [](std::string_view s) {
    std::string out;
    transform::detail::sha256::append_hex(out, "", s);
    return out;
  };
  CHECK(hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(hex(std::string(55, 'a')) == "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  CHECK(hex(std::string(56, 'a')) == "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  CHECK(hex(std::string(64, 'a')) == "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
  transform::detail::sha256 h;
  std::string chunk(1000, 'a');
  for (int i = 0; i < 1000; ++i) h.update(std::string_view(chunk).substr(0, 1000));
  std::string out;
  for (unsigned char c : h.finish()) out += "0123456789abcdef"[c >> 4], out += "0123456789abcdef"[c & 15];
  CHECK(out == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("RFC 3339 times parse with offsets and fractions, and bad ones do not", "[format][json][time]") {
  using transform::detail::parse_rfc3339;
  auto secs = [](timestamp t) { return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count(); };
  REQUIRE(parse_rfc3339("1970-01-01T00:00:00Z"));
  CHECK(secs(*parse_rfc3339("1970-01-01T00:00:00Z")) == 0);
  CHECK(secs(*parse_rfc3339("2024-05-01T13:45:00Z")) == 1714571100);
  CHECK(secs(*parse_rfc3339("2024-05-01T15:45:00+02:00")) == 1714571100);
  CHECK(secs(*parse_rfc3339("2024-05-01 13:45:00z")) == 1714571100);
  CHECK((*parse_rfc3339("2024-05-01T13:45:00.250Z") - *parse_rfc3339("2024-05-01T13:45:00Z")) ==
        std::chrono::milliseconds(250));
  CHECK(secs(*parse_rfc3339("2024-02-29T00:00:00Z")) == 1709164800);
  CHECK_FALSE(parse_rfc3339("2023-02-29T00:00:00Z"));
  CHECK_FALSE(parse_rfc3339("2024-13-01T00:00:00Z"));
  CHECK_FALSE(parse_rfc3339("2024-05-01T13:45:00"));
  CHECK_FALSE(parse_rfc3339("2024-05-01"));
  CHECK_FALSE(parse_rfc3339("2024-05-01T13:45:00Zjunk"));
  std::string out;
  CHECK(transform::detail::format_utc(out, *parse_rfc3339("2024-05-01T13:45:09Z"), "%Y/%m/%d/%H:%M:%S %j %%"));
  CHECK(out == "2024/05/01/13:45:09 122 %");
  out.clear();
  CHECK(transform::detail::format_utc(out, timestamp{} - std::chrono::seconds(1), "%Y-%m-%d-%H"));
  CHECK(out == "1969-12-31-23");
  CHECK_FALSE(transform::detail::format_utc(out, timestamp{}, "%Q"));
}
