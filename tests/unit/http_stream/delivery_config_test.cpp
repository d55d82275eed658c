// SPDX-License-Identifier: Apache-2.0
// The delivery streams' configuration file (delivery.hpp): every member read, every mistake an
// error naming the file, the member's path and what is allowed.
#include <sluice/connector/http_stream/delivery.hpp>

#include <sluice_test/support.hpp>

#include <catch2/catch.hpp>

#include <string>

namespace hs = sluice::connector::http_stream;

TEST_CASE("a configuration file sets every member", "[http_stream][delivery][config]") {
  const auto c = hs::parse_endpoint_config(R"({
    "listen": "[::1]:4600", "region": "eu-west-1", "account_id": "210987654321",
    "tls": {"certificate_file": "c.pem", "private_key_file": "k.pem"},
    "access_keys": [{"access_key_id": "AKID1", "secret_access_key": "s1"}, {"access_key_id": "AKID2", "secret_access_key": "s2"}],
    "state_dir": "st", "threads": 3,
    "delivery_streams": [{
      "name": "orders", "lake": "s3://b/p", "prefix": "o/!{partitionKeyFromQuery:c}/", "error_output_prefix": "e/!{firehose:error-output-type}/",
      "buffering_hints": {"size_mib": 64, "interval_seconds": 0}, "compression": "GZIP", "compression_level": 2,
      "keyring": "k.json", "create_keyring": true, "partition_keys": {"c": ".customer.id", "d": ".day"},
      "newline_delimiter": true, "transform": "t", "content_type": "application/x-ndjson",
      "buffer": {"max_mib": 2048, "sync": "never"}, "max_pending_mib": 8, "workers": 2}]})",
                                           "f.json");
  CHECK(c.address == "::1");
  CHECK(c.port == 4600);
  CHECK(c.region == "eu-west-1");
  CHECK(c.account_id == "210987654321");
  REQUIRE(c.tls);
  CHECK(c.tls->certificate_file == "c.pem");
  CHECK(c.tls->private_key_file == "k.pem");
  REQUIRE(c.access_keys.size() == 2);
  CHECK(c.access_keys[0].access_key_id == "AKID1");
  CHECK(c.access_keys[1].secret_access_key == "s2");
  CHECK(c.state_dir == "st");
  CHECK(c.threads == 3);
  REQUIRE(c.delivery_streams.size() == 1);
  const auto& s = c.delivery_streams[0];
  CHECK(s.name == "orders");
  CHECK(s.lake == "s3://b/p");
  CHECK(s.prefix == "o/!{partitionKeyFromQuery:c}/");
  CHECK(s.error_output_prefix == "e/!{firehose:error-output-type}/");
  CHECK(s.keyring == "k.json");
  CHECK(s.content_type == "application/x-ndjson");
  CHECK(s.buffering_size_mib == 64);
  CHECK(s.buffering_interval_seconds == 0);
  CHECK(s.compression == hs::compression::gzip);
  CHECK(s.compression_level == 2);
  CHECK(s.create_keyring);
  REQUIRE(s.partition_keys.size() == 2);
  CHECK(s.partition_keys[0].name == "c");
  CHECK(s.partition_keys[0].query == ".customer.id");
  CHECK(s.partition_keys[1].name == "d");
  CHECK(s.partition_keys[1].query == ".day");
  CHECK(s.newline_delimiter);
  CHECK(s.transform == "t");
  CHECK(s.buffer_max_mib == 2048);
  CHECK(s.buffer_sync == sluice::buffer::sync_policy::never);
  CHECK(s.max_pending_mib == 8);
  CHECK(s.workers == 2);
}

TEST_CASE("mistakes in a configuration file name the member and what is allowed", "[http_stream][delivery][config]") {
  auto fails = [](const std::string& json) {
    try {
      (void)hs::parse_endpoint_config(json, "f.json");
    } catch (const sluice::config_error& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  using Catch::Contains;
  CHECK_THAT(fails("[1]"), Contains("f.json: (the document) = [1]: must be a JSON object"));
  CHECK_THAT(fails("{}"), Contains("f.json: delivery_streams: missing or empty"));
  CHECK_THAT(fails(R"({"listen": "localhost", "delivery_streams": [{"name": "s"}]})"),
             Contains("f.json: listen = \"localhost\": must be ADDRESS:PORT"));
  CHECK_THAT(fails(R"({"listen": "127.0.0.1:99999", "delivery_streams": [{"name": "s"}]})"),
             Contains("the port must be 0..65535"));
  CHECK_THAT(fails(R"({"threads": "two", "delivery_streams": [{"name": "s"}]})"),
             Contains("f.json: threads = \"two\": must be an integer"));
  CHECK_THAT(fails(R"({"access_keys": [{"access_key_id": "A"}], "delivery_streams": [{"name": "s"}]})"),
             Contains("f.json: access_keys[0].secret_access_key: missing or empty"));
  CHECK_THAT(fails(R"({"tls": {"certificate_file": "c"}, "delivery_streams": [{"name": "s"}]})"),
             Contains("f.json: tls.private_key_file: missing"));
  CHECK_THAT(fails(R"({"delivery_streams": [{}]})"), Contains("delivery_streams[0].name: missing"));
  CHECK_THAT(fails(R"({"delivery_streams": [{"name": "s", "buffering_hints": {"interval_seconds": 901}}]})"),
             Contains("delivery_streams[0].buffering_hints.interval_seconds = 901: must be 0..900"));
  CHECK_THAT(fails(R"({"delivery_streams": [{"name": "s", "compression": "zstd", "compression_level": 23}]})"),
             Contains("delivery_streams[0].compression_level = 23: must be 0..22"));
  CHECK_THAT(fails(R"({"delivery_streams": [{"name": "s", "partition_keys": {"c": 1}}]})"),
             Contains("delivery_streams[0].partition_keys.c = 1: must be a JSON path"));
  CHECK_THAT(fails(R"({"delivery_streams": [{"name": "s", "buffer": {"sync": "sometimes"}}]})"),
             Contains("delivery_streams[0].buffer.sync = \"sometimes\": must be \"always\""));
  CHECK_THAT(fails(R"({"delivery_streams": [{"name": "s", "workers": 0}]})"),
             Contains("delivery_streams[0].workers = 0: must be 1..64"));
  CHECK_THAT(fails(R"({"delivery_streams": [{"name": "s", "newline_delimiter": "yes"}]})"),
             Contains("delivery_streams[0].newline_delimiter = \"yes\": must be true or false"));
  CHECK_THAT(fails(R"({"delivery_streams": [{"name": "s"}], "extra": 1})"),
             Contains("f.json: extra: unknown member (known: listen, region"));
}

TEST_CASE("a delivery service refuses an invalid stream before it listens, naming the stream",
          "[http_stream][delivery][config]") {
  sluice_test::temp_dir dir;
  auto c = hs::default_endpoint_config();
  c.access_keys = {{"AKID", "secret", {}}};
  c.state_dir = dir / "state";
  c.delivery_streams[0].lake = (dir / "lake").string();
  c.delivery_streams[0].keyring.clear();
  c.delivery_streams[0].prefix = "a/!{firehose:error-output-type}/";
  CHECK_THROWS_WITH(hs::delivery_service(c), Catch::Contains("delivery_streams[0] ('events'): ") &&
                                                 Catch::Contains("!{firehose:error-output-type}"));
  c.delivery_streams[0].prefix.clear();
  c.delivery_streams.push_back(c.delivery_streams[0]);
  CHECK_THROWS_WITH(hs::delivery_service(c), Catch::Contains("delivery_streams[1] ('events'): ") && Catch::Contains("declared twice"));
  c.delivery_streams.pop_back();
  c.access_keys.clear();
  unsetenv("AWS_ACCESS_KEY_ID");
  CHECK_THROWS_WITH(hs::delivery_service(c), Catch::Contains("no access keys"));
}
