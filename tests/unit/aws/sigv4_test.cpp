// SPDX-License-Identifier: Apache-2.0
// The pieces of SigV4 on their own: dates, URI and query canonicalisation, key derivation,
// chunk framing sizes, and the signer's argument checks.
#include <sluice/aws/sigv4.hpp>

#include "aws_test_support.hpp"

#include <catch2/catch.hpp>

#include <thread>

using namespace aws_test;
using namespace std::chrono_literals;

TEST_CASE("X-Amz-Date formats and parses UTC seconds and rejects impossible dates", "[aws][sigv4]") {
  const auto t = aws::parse_amz_date("20150830T123600Z");
  REQUIRE(t);
  CHECK(std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count() == 1440938160);
  CHECK(aws::format_amz_date(*t) == "20150830T123600Z");
  CHECK(aws::format_amz_date(*t + 999ms) == "20150830T123600Z");
  CHECK(aws::format_amz_date(*aws::parse_amz_date("20240229T235959Z") + 1s) == "20240301T000000Z");
  for (const char* bad : {"20150830T123600", "2015-08-30T12:36:00Z", "20150230T000000Z", "20230229T000000Z",
                          "20151330T000000Z", "20150830T246000Z", "20150830t123600Z", "2015083OT123600Z", ""}) {
    INFO(bad);
    CHECK_FALSE(aws::parse_amz_date(bad));
  }
}

TEST_CASE("canonical URIs follow the SDK rules: normalised and double-encoded, or S3's as sent", "[aws][sigv4]") {
  // Other services: dot segments and empty segments go, then the wire path is encoded again.
  CHECK(aws::canonical_uri("/a/./b/../c//d/", true, true) == "/a/c/d/");
  CHECK(aws::canonical_uri("/../..", true, true) == "/");
  CHECK(aws::canonical_uri("", true, true) == "/");
  CHECK(aws::canonical_uri("/example space/", true, true) == "/example%20space/");
  CHECK(aws::canonical_uri("/a%20b", true, true) == "/a%2520b");
  CHECK(aws::canonical_uri("/!'()*$", true, true) == "/%21%27%28%29%2A%24");
  // S3: kept as sent; only bytes the client did not encode are encoded, %XX stays.
  CHECK(aws::canonical_uri("/bucket//a/../b", false, false) == "/bucket//a/../b");
  CHECK(aws::canonical_uri("/test$file.text", false, false) == "/test%24file.text");
  CHECK(aws::canonical_uri("/dir/test%20file.txt", false, false) == "/dir/test%20file.txt");
  CHECK(aws::canonical_uri("/a%2Fb%zz", false, false) == "/a%2Fb%25zz");
}

TEST_CASE("canonical queries decode and re-encode, sort by name then value and give bare names '='", "[aws][sigv4]") {
  CHECK(aws::canonical_query("") == "");
  CHECK(aws::canonical_query("lifecycle") == "lifecycle=");
  CHECK(aws::canonical_query("prefix=J&max-keys=2") == "max-keys=2&prefix=J");
  CHECK(aws::canonical_query("a=2&a=1&B=3") == "B=3&a=1&a=2");
  CHECK(aws::canonical_query("k=a b&k2=%7e&k3=%2f") == "k=a%20b&k2=~&k3=%2F");
  CHECK(aws::canonical_query("x=1+1&&y=") == "x=1%2B1&y=");
}

TEST_CASE("the signing key of the AWS documentation example derives as published", "[aws][sigv4]") {
  // "Derive a signing key" example of the AWS General Reference: 20120215 / us-east-1 / iam.
  const auto key = aws::derive_signing_key(suite_secret, "20120215", "us-east-1", "iam");
  std::string hex;
  sluice::aws::detail::append_hex(hex, key.data(), key.size());
  CHECK(hex == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

TEST_CASE("chunked Content-Length counts every frame and the final empty chunk", "[aws][sigv4]") {
  CHECK(aws::chunk_signer::framed_size(0) == 86);
  CHECK(aws::chunk_signer::framed_size(65536) == 5 + 17 + 64 + 2 + 65536 + 2);
  CHECK(aws::chunk_signer::framed_size(15) == 1 + 17 + 64 + 2 + 15 + 2);
  CHECK(aws::chunk_signer::framed_size(16) == 2 + 17 + 64 + 2 + 16 + 2);
  CHECK(aws::chunked_content_length(66560, 65536) == 66824);
  CHECK(aws::chunked_content_length(0, 65536) == 86);
  CHECK(aws::chunked_content_length(131072, 65536) == 2 * aws::chunk_signer::framed_size(65536) + 86);
  static_assert(aws::chunked_content_length(66560, 65536) == 66824);
}

TEST_CASE("signing replaces earlier auth headers and adds the session token signed or after", "[aws][sigv4]") {
  const auto t = *aws::parse_amz_date("20150830T123600Z");
  aws::http_request r;
  r.headers = {{"Host", "example.amazonaws.com"}, {"authorization", "old"}, {"X-Amz-Date", "19990101T000000Z"}};
  r.payload_hash = std::string(aws::empty_payload_hash);
  aws::signer({std::string(suite_key_id), std::string(suite_secret), "TOKEN"}, {"us-east-1", "service"}).sign(r, t);
  CHECK(std::count_if(r.headers.begin(), r.headers.end(), [](auto& h) { return h.name == "Authorization"; }) == 1);
  CHECK(r.find("authorization")->value.find("SignedHeaders=host;x-amz-date;x-amz-security-token,") != std::string::npos);
  CHECK(r.find("x-amz-date")->value == "20150830T123600Z");
  CHECK(r.find("x-amz-security-token")->value == "TOKEN");
  CHECK(r.headers.size() == 4);

  aws::signing_options after{"us-east-1", "service"};
  after.sign_session_token = false;
  aws::http_request r2;
  r2.headers = {{"Host", "example.amazonaws.com"}};
  r2.payload_hash = std::string(aws::empty_payload_hash);
  const auto parts = aws::signer({std::string(suite_key_id), std::string(suite_secret), "TOKEN"}, after).sign(r2, t);
  CHECK(parts.signed_headers == "host;x-amz-date");
  CHECK(r2.find("x-amz-security-token")->value == "TOKEN");
  // The same signature as without a token: the token is not part of it.
  aws::http_request r3;
  r3.headers = {{"Host", "example.amazonaws.com"}};
  r3.payload_hash = std::string(aws::empty_payload_hash);
  CHECK(aws::signer({std::string(suite_key_id), std::string(suite_secret), ""}, after).sign(r3, t).signature ==
        parts.signature);
}

TEST_CASE("the signer rejects requests it cannot sign and configurations that cannot work", "[aws][sigv4]") {
  const aws::signer s({std::string(suite_key_id), std::string(suite_secret), ""}, {"us-east-1", "service"});
  const auto t = *aws::parse_amz_date("20150830T123600Z");
  aws::http_request no_host;
  no_host.payload_hash = std::string(aws::empty_payload_hash);
  CHECK_THROWS_WITH(s.sign(no_host, t), Catch::Contains("no Host header"));
  aws::http_request no_hash;
  no_hash.headers = {{"host", "h"}};
  CHECK_THROWS_WITH(s.sign(no_hash, t), Catch::Contains("payload_hash is empty"));
  aws::http_request ok = no_hash;
  ok.payload_hash = std::string(aws::unsigned_payload);
  CHECK_THROWS_WITH(s.presign(ok, t, 0s), Catch::Contains("expires = 0 s: must be 1..604800"));
  CHECK_THROWS_WITH(s.presign(ok, t, 604801s), Catch::Contains("expires = 604801 s"));
  CHECK_NOTHROW(s.presign(ok, t, 604800s));
  CHECK_THROWS_AS(aws::signer({"", "secret", ""}, {"us-east-1", "s3"}), sluice::config_error);
  CHECK_THROWS_WITH(aws::signer({"id", "secret", ""}, {"", "s3"}), Catch::Contains("region and .service must be set"));
  CHECK_THROWS_WITH(aws::verifier(nullptr, {"us-east-1", "firehose"}), Catch::Contains("lookup is empty"));
}

TEST_CASE("http_request::set replaces the first header of a name, drops duplicates, and appends otherwise",
          "[aws][sigv4]") {
  aws::http_request r;
  r.headers = {{"A", "1"}, {"b", "2"}, {"a", "3"}};
  r.set("a", "x");
  REQUIRE(r.headers.size() == 2);
  CHECK(r.headers[0].name == "A");
  CHECK(r.headers[0].value == "x");
  r.set("C", "y");
  CHECK(r.headers.back().name == "C");
  r.remove("B");
  CHECK(r.headers.size() == 2);
  CHECK(r.find("b") == nullptr);
}

TEST_CASE("signers and verifiers are safe to share between threads", "[aws][sigv4]") {
  const aws::signer s({std::string(suite_key_id), std::string(suite_secret), ""}, {"us-east-1", "firehose"});
  const aws::verifier v(one_key(std::string(suite_key_id), std::string(suite_secret)), {"us-east-1", "firehose"});
  const auto t0 = *aws::parse_amz_date("20240501T235000Z");
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      for (int k = 0; k < 200; ++k) {
        // Cross midnight so the cached key changes under concurrent use.
        const auto t = t0 + std::chrono::seconds(k * 5 + i);
        aws::http_request r;
        r.method = "POST";
        r.headers = {{"host", "firehose.us-east-1.amazonaws.com"}};
        const std::string body = "body " + std::to_string(i * 1000 + k);
        r.payload_hash = aws::payload_hash(body);
        s.sign(r, t);
        if (v.verify(r, body, t)) ++good;
      }
    });
  for (auto& th : threads) th.join();
  CHECK(good == 800);
}
