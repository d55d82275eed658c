// SPDX-License-Identifier: Apache-2.0
// The endpoint (endpoint.hpp) with real pipelines behind it: answers only once records are
// committed, back-pressure, the calls it answers itself, and a failing pipeline.
#include <sluice/connector/http_stream/endpoint.hpp>

#include <sluice/batch/by_size.hpp>
#include <sluice/buffer/disk.hpp>
#include <sluice/crypto/checksum.hpp>
#include <sluice/format/raw.hpp>
#include <sluice/store/local.hpp>

#include <sluice_test/http_client.hpp>
#include <sluice_test/support.hpp>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace hs = sluice::connector::http_stream;
using namespace std::chrono_literals;
using sluice_test::raw_client;
using sluice_test::signed_request;
using sluice_test::test_id;
using sluice_test::test_secret;

namespace {

hs::endpoint_options options() {
  hs::endpoint_options o;
  o.server.threads = 2;
  o.server.auth.secrets = hs::static_keys({{std::string(test_id), std::string(test_secret), {}}});
  o.server.auth.region = "us-east-1";
  return o;
}

std::string base64(std::string_view s) { return sluice::crypto::to_base64(s); }

/// A PutRecordBatch body of `records` to `stream`.
std::string put_batch(std::string_view stream, const std::vector<std::string>& records) {
  std::string body = R"({"DeliveryStreamName":")" + std::string(stream) + R"(","Records":[)";
  for (std::size_t i = 0; i < records.size(); ++i)
    body += (i ? "," : "") + std::string(R"({"Data":")") + base64(records[i]) + "\"}";
  return body + "]}";
}

std::string put(std::string_view body, std::string_view target = "Firehose_20150804.PutRecordBatch",
                std::string service = "firehose") {
  return signed_request(body, test_id, test_secret, std::move(service), std::chrono::system_clock::now(), {}, target);
}

/// Everything under `root`, objects concatenated in key order.
std::string lake_bytes(const std::filesystem::path& root) {
  if (!std::filesystem::exists(root)) return {};
  sluice::store::local_reader reader(root);
  std::string all;
  for (const auto& key : reader.list("")) all += sluice_test::read_file(reader.location(key));
  return all;
}

/// Runs a stream's pipeline on a thread; on the way out (also when a check throws) it stops the
/// endpoint, which ends the pipeline's run, and joins it.
class running {
 public:
  template <class Pipeline>
  running(hs::endpoint& ep, Pipeline& p) : ep_(ep), thread_([&p] { p.run(); }) {}
  ~running() { ep_.stop(); }
  void join() {
    ep_.stop();
    thread_.join();
  }

 private:
  hs::endpoint& ep_;
  std::jthread thread_;
};

/// A sink that fails every object: a store whose disk broke.
struct failing_sink {
  using stage_concept = sluice::sink_tag;
  using input_type = sluice::object;
  struct node {
    void push(sluice::object&&) { throw sluice::error(make_error_code(sluice::errc::io_failure), "the disk broke"); }
    void flush() {}
    void tick() {}
  };
  node open(sluice::run_context&) const { return {}; }
};

}  // namespace

TEST_CASE("a put call is answered once its records are on disk, and they land in the lake in order",
          "[http_stream][endpoint]") {
  sluice_test::temp_dir dir;
  hs::endpoint ep(options());
  auto p = ep.add_stream({.description = {.name = "events"}})
         | sluice::buffer::disk{.dir = dir / "wal"}
         | sluice::batch::by_size{.max_bytes = sluice::literals::operator""_MiB(1), .max_age = 600s}
         | sluice::format::raw{}
         | sluice::store::local{.root = dir / "lake", .key = "{stream}-{seq}{ext}"};
  running runner(ep, p);
  ep.start();

  raw_client client(ep.port());
  std::string expected;
  for (int request = 0; request < 3; ++request) {
    std::vector<std::string> records;
    for (int i = 0; i < 4; ++i) records.push_back("r" + std::to_string(request) + "." + std::to_string(i) + "\n");
    for (const auto& r : records) expected += r;
    REQUIRE(client.send(put(put_batch("events", records))));
    auto reply = client.read_reply();
    REQUIRE(reply);
    INFO(reply->body);
    REQUIRE(reply->status == 200);
    const auto json = reply->json().as_object();
    CHECK(json.at("FailedPutCount").as_int64() == 0);
    CHECK(json.at("RequestResponses").as_array().size() == 4);
    CHECK(json.at("RequestResponses").as_array()[0].as_object().at("RecordId").as_string().size() ==
          hs::record_id_generator::id_size);
  }
  // Acknowledged, yet not delivered: the batcher holds them for up to 600 s; the write-ahead
  // buffer's segments hold every record.
  CHECK(lake_bytes(dir / "lake").empty());
  std::string segments;
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir / "wal"))
    if (f.is_regular_file()) segments += sluice_test::read_file(f.path());
  for (int request = 0; request < 3; ++request)
    for (int i = 0; i < 4; ++i)
      CHECK(segments.find("r" + std::to_string(request) + "." + std::to_string(i) + "\n") != std::string::npos);
  const auto stats = ep.stream_stats_by_name().at("events");
  CHECK(stats.requests_accepted == 3);
  CHECK(stats.records_accepted == 12);
  // The same counts on /metrics, in the Prometheus text format.
  REQUIRE(client.send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  auto metrics = client.read_reply();
  REQUIRE(metrics);
  CHECK(metrics->status == 200);
  CHECK_THAT(metrics->body, Catch::Contains("# TYPE sluice_firehose_records_accepted_total counter\n"
                                            "sluice_firehose_records_accepted_total{stream=\"events\"} 12\n"));
  CHECK_THAT(metrics->body, Catch::Contains("sluice_firehose_requests_accepted_total{stream=\"events\"} 3\n"));
  CHECK_THAT(metrics->body, Catch::Contains("sluice_firehose_pending_bytes{stream=\"events\"} 0\n"));
  CHECK_THAT(metrics->body, Catch::Contains("sluice_http_requests_total"));  // the server's own come first

  runner.join();  // stops the endpoint, which closes the stream: the pipeline drains and run() returns
  CHECK(lake_bytes(dir / "lake") == expected);
}

TEST_CASE("Kinesis PutRecord and PutRecords get sequence numbers in order, and the scope must name the service",
          "[http_stream][endpoint]") {
  sluice_test::temp_dir dir;
  hs::endpoint ep(options());
  auto p = ep.add_stream({.description = {.name = "k"}})
         | sluice::buffer::disk{.dir = dir / "wal"}
         | sluice::batch::by_size{.max_age = 0s}
         | sluice::format::raw{}
         | sluice::store::local{.root = dir / "lake", .key = "{stream}-{seq}{ext}"};
  running runner(ep, p);
  ep.start();
  raw_client client(ep.port());

  REQUIRE(client.send(put(R"({"StreamName":"k","PartitionKey":"p","Data":")" + base64("one") + "\"}",
                          "Kinesis_20131202.PutRecord", "kinesis")));
  auto one = client.read_reply();
  REQUIRE(one);
  REQUIRE(one->status == 200);
  const std::string first_seq(one->json().as_object().at("SequenceNumber").as_string());

  REQUIRE(client.send(put(R"({"StreamName":"k","Records":[{"PartitionKey":"p","Data":")" + base64("two") +
                              R"("},{"PartitionKey":"q","Data":")" + base64("three") + "\"}]}",
                          "Kinesis_20131202.PutRecords", "kinesis")));
  auto two = client.read_reply();
  REQUIRE(two);
  REQUIRE(two->status == 200);
  const auto records = two->json().as_object().at("Records").as_array();
  REQUIRE(records.size() == 2);
  const std::string second_seq(records[0].as_object().at("SequenceNumber").as_string());
  const std::string third_seq(records[1].as_object().at("SequenceNumber").as_string());
  CHECK(first_seq.size() == 56);
  CHECK(first_seq < second_seq);  // same length: text order is number order
  CHECK(second_seq < third_seq);

  // A Kinesis call signed for Firehose's scope is refused as AWS refuses it.
  REQUIRE(client.send(put(R"({"StreamName":"k","PartitionKey":"p","Data":"eA=="})", "Kinesis_20131202.PutRecord",
                          "firehose")));
  auto wrong = client.read_reply();
  REQUIRE(wrong);
  CHECK(wrong->status == 400);
  CHECK(wrong->header("x-amzn-ErrorType").empty());  // the type is in the body, as the JSON protocol has it
  CHECK(wrong->json().as_object().at("__type").as_string() == "InvalidSignatureException");
  CHECK(std::string(wrong->json().as_object().at("message").as_string()).find("'kinesis'") != std::string::npos);

  runner.join();
  CHECK(lake_bytes(dir / "lake") == "onetwothree");
}

TEST_CASE("ListDeliveryStreams, DescribeDeliveryStream and unknown streams are answered by the endpoint",
          "[http_stream][endpoint]") {
  sluice_test::temp_dir dir;
  hs::endpoint ep(options());
  auto make = [&](const std::string& name) {
    return ep.add_stream({.description = {.name = name}})
         | sluice::buffer::disk{.dir = dir / name}
         | sluice::batch::by_size{}
         | sluice::format::raw{}
         | sluice::store::local{.root = dir / "lake"};
  };
  auto a = make("alpha");
  auto b = make("beta");
  running ra(ep, a), rb(ep, b);
  ep.start();
  raw_client client(ep.port());

  REQUIRE(client.send(put("{}", "Firehose_20150804.ListDeliveryStreams")));
  auto list = client.read_reply();
  REQUIRE(list);
  REQUIRE(list->status == 200);
  const auto names = list->json().as_object().at("DeliveryStreamNames").as_array();
  REQUIRE(names.size() == 2);
  CHECK(names[0].as_string() == "alpha");
  CHECK(names[1].as_string() == "beta");

  REQUIRE(client.send(put(R"({"DeliveryStreamName":"beta"})", "Firehose_20150804.DescribeDeliveryStream")));
  auto describe = client.read_reply();
  REQUIRE(describe);
  REQUIRE(describe->status == 200);
  const auto d = describe->json().as_object().at("DeliveryStreamDescription").as_object();
  CHECK(d.at("DeliveryStreamName").as_string() == "beta");
  CHECK(d.at("DeliveryStreamStatus").as_string() == "ACTIVE");
  CHECK(d.at("DeliveryStreamARN").as_string() == "arn:aws:firehose:us-east-1:123456789012:deliverystream/beta");

  REQUIRE(client.send(put(put_batch("gamma", {"x"}))));
  auto missing = client.read_reply();
  REQUIRE(missing);
  CHECK(missing->status == 400);
  CHECK(missing->json().as_object().at("__type").as_string() == "ResourceNotFoundException");
  CHECK(missing->json().as_object().at("message").as_string() == "Firehose gamma under account 123456789012 not found.");

  REQUIRE(client.send(put(R"({"DeliveryStreamName":"alpha","Records":[{"Data":"not base64!"}]})")));
  auto bad = client.read_reply();
  REQUIRE(bad);
  CHECK(bad->status == 400);
  CHECK(bad->json().as_object().at("__type").as_string() == "SerializationException");
  CHECK(ep.stream_stats_by_name().at("alpha").requests_invalid == 1);

  ep.stop();
}

TEST_CASE("past max_pending_bytes put calls get ServiceUnavailableException, and what was taken is answered on stop",
          "[http_stream][endpoint][backpressure]") {
  sluice_test::temp_dir dir;
  hs::endpoint ep(options());
  // No disk buffer: a record is committed only once its object is stored, and the batcher holds
  // objects for 600 s, so accepted requests wait and their bytes stay pending.
  auto p = ep.add_stream({.description = {.name = "slow"}, .max_pending_bytes = std::size_t(1) << 20})
         | sluice::batch::by_size{.max_bytes = sluice::literals::operator""_MiB(64), .max_age = 600s}
         | sluice::format::raw{}
         | sluice::store::local{.root = dir / "lake", .key = "{stream}-{seq}{ext}"};
  running runner(ep, p);
  ep.start();

  const std::vector<std::string> big(1, std::string(600 * 1024, 'a'));
  raw_client first(ep.port()), second(ep.port());
  REQUIRE(first.send(put(put_batch("slow", big))));
  CHECK_FALSE(first.read_reply(300ms));  // waiting for its commit
  REQUIRE(second.send(put(put_batch("slow", big))));
  auto refused = second.read_reply();
  REQUIRE(refused);
  CHECK(refused->status == 503);
  CHECK(refused->json().as_object().at("__type").as_string() == "ServiceUnavailableException");
  CHECK(ep.stream_stats_by_name().at("slow").pending_bytes == 600 * 1024);

  std::jthread stopper([&] { ep.stop(); });  // answers the waiting request once it is delivered
  auto late = first.read_reply(20s);
  REQUIRE(late);
  CHECK(late->status == 200);
  stopper.join();
  runner.join();
  CHECK(lake_bytes(dir / "lake") == big[0]);
}

TEST_CASE("a pipeline that fails answers InternalFailure to its requests and to later ones",
          "[http_stream][endpoint][failure]") {
  hs::endpoint ep(options());
  auto p = ep.add_stream({.description = {.name = "broken"}})
         | sluice::batch::by_size{.max_age = 0s}
         | sluice::format::raw{}
         | failing_sink{};
  std::exception_ptr failure;
  std::jthread runner([&] {
    try {
      p.run();
    } catch (...) {
      failure = std::current_exception();
    }
  });
  ep.start();
  raw_client client(ep.port());
  REQUIRE(client.send(put(put_batch("broken", {"x"}))));
  auto first = client.read_reply();
  REQUIRE(first);
  CHECK(first->status == 500);
  CHECK(first->json().as_object().at("__type").as_string() == "InternalFailure");
  runner.join();
  REQUIRE(failure);
  REQUIRE(client.send(put(put_batch("broken", {"y"}))));
  auto later = client.read_reply();
  REQUIRE(later);
  CHECK(later->status == 500);
  CHECK(later->json().as_object().at("__type").as_string() == "InternalFailure");
  ep.stop();
}

TEST_CASE("invalid streams are refused when declared, naming the field", "[http_stream][endpoint][config]") {
  hs::endpoint ep(options());
  CHECK_THROWS_WITH(ep.add_stream({.description = {.name = "bad name"}}),
                    Catch::Contains("description.name = 'bad name': must be 1..64 of the characters"));
  (void)ep.add_stream({.description = {.name = "ok"}});
  CHECK_THROWS_WITH(ep.add_stream({.description = {.name = "ok"}}), Catch::Contains("is declared twice"));
  CHECK_THROWS_WITH(ep.add_stream({.description = {.name = "small"}, .max_pending_bytes = 1000}),
                    Catch::Contains("max_pending_bytes = 1000: must be at least 1 MiB"));
  auto o = options();
  o.account_id = "12";
  CHECK_THROWS_WITH(hs::endpoint(o), Catch::Contains("account_id = '12': must be 12 digits"));
}
