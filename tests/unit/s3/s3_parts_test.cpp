// SPDX-License-Identifier: Apache-2.0
// The parts of the S3 store that need no server: locations, XML, object facts as metadata.
#include <sluice/store/detail/s3_xml.hpp>
#include <sluice/store/s3.hpp>

#include <catch2/catch.hpp>

using namespace sluice;

TEST_CASE("s3 urls name a bucket and a prefix, and malformed ones are refused with the reason", "[s3]") {
  auto l = store::s3_location::parse("s3://lake-1/raw/events");
  CHECK(l.bucket == "lake-1");
  CHECK(l.prefix == "raw/events/");
  CHECK(store::s3_location::parse("s3://lake-1").prefix.empty());
  CHECK(store::s3_location::parse("s3://lake-1/").prefix.empty());
  auto message = [](std::string url) {
    try {
      (void)store::s3_location::parse(url, "store::s3.url");
    } catch (const config_error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK(message("/tmp/lake").find("must start with s3://") != std::string::npos);
  CHECK(message("s3://ab").find("3 to 63 characters") != std::string::npos);
  CHECK(message("s3://Upper_Case").find("may hold only") != std::string::npos);
  CHECK(message("s3://lake//x").find("must not start with '/'") != std::string::npos);
  CHECK(message("s3://ab").find("store::s3.url = \"s3://ab\"") != std::string::npos);
}

TEST_CASE("the S3 XML reader walks repeated elements and decodes entities", "[s3]") {
  std::string doc = R"(<?xml version="1.0"?><ListBucketResult><IsTruncated>true</IsTruncated>
    <Contents><Key>a&amp;b &lt;1&gt;</Key><Size>10</Size></Contents>
    <Contents><Key>caf&#233; &#x263A;</Key><Size>20</Size><Owner/></Contents>
    <NextContinuationToken>tok</NextContinuationToken></ListBucketResult>)";
  store::detail::xml_reader r(doc);
  auto first = r.next("Contents");
  REQUIRE(first);
  CHECK(store::detail::xml_text(*first, "Key") == "a&b <1>");
  auto second = r.next("Contents");
  REQUIRE(second);
  CHECK(store::detail::xml_text(*second, "Key") == "caf\xC3\xA9 \xE2\x98\xBA");
  CHECK(store::detail::xml_reader(*second).next("Owner") == std::string_view{});
  CHECK_FALSE(r.next("Contents"));
  CHECK(store::detail::xml_text(doc, "NextContinuationToken") == "tok");
  CHECK(store::detail::xml_text(doc, "Missing").empty());
  std::string escaped;
  store::detail::xml_escape(escaped, "a<b>&\"c'");
  CHECK(escaped == "a&lt;b&gt;&amp;&quot;c&apos;");
}

TEST_CASE("an object's facts survive the trip through x-amz-meta headers", "[s3]") {
  store::object_info info;
  info.key = "raw/clicks/x.jsonl.zst";
  info.stream = "clicks";
  info.partition = "country=fr/city=Orl\xC3\xA9" "ans";
  info.content_type = "application/x-ndjson";
  info.content_encoding = {"zstd"};
  info.encryption = "aws-encryption-sdk";
  info.metadata = {{"encryption-key", "k1"}, {"encryption-context", R"({"stream":"clicks"})"}};
  info.record_count = 12;
  info.record_bytes = 3400;
  info.size = 999;
  info.sha256 = std::string(64, 'a');
  info.crc32c = "AAAAAA==";
  info.arrival_time = timestamp(std::chrono::milliseconds(1714521600123));
  info.cursors = {{"generator", 1, 12, 12}};
  auto headers = store::to_metadata(info);
  std::map<std::string, std::string> metadata;
  for (auto& [name, value] : headers) {
    for (unsigned char c : value) CHECK((c >= 0x20 && c <= 0x7E));  // header-safe
    metadata[name] = value;
  }
  CHECK(metadata.at("record-count") == "12");
  CHECK(metadata.at("partition") == "country=fr/city=Orl%C3%A9ans");
  CHECK(metadata.at("first-event-time").empty());
  store::object_info back;
  std::string why;
  REQUIRE_FALSE(store::parse_metadata(metadata, info.key, back, why));
  CHECK(back.partition == info.partition);
  CHECK(back.metadata == info.metadata);
  CHECK(back.cursors == info.cursors);
  CHECK(back.arrival_time == info.arrival_time);
  CHECK(back.first_event_time == timestamp{});
  CHECK(back.record_count == 12);
  CHECK(back.key == info.key);

  metadata.erase("sha256");
  CHECK(store::parse_metadata(metadata, info.key, back, why) == errc::corrupt_object);
  CHECK(why.find("sha256") != std::string::npos);
  CHECK(store::parse_metadata({}, info.key, back, why) == errc::corrupt_object);
  CHECK(why.find("not an object written by sluice") != std::string::npos);
}
