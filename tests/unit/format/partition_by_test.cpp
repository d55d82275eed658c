// SPDX-License-Identifier: Apache-2.0
#include <sluice/format/transform/partition_by.hpp>

#include "harness.hpp"

#include <catch2/catch.hpp>

using namespace sluice;
using format_test::harness;

static_assert(record_stage<transform::partition_by>);

namespace {
std::vector<record_batch> run_batches(harness& h, const transform::partition_by& stage,
                                      const std::vector<std::string>& payloads) {
  std::vector<record_batch> out;
  auto node = stage.open(h.ctx(), [&] { return sluice_test::collecting_node<record_batch>{&out}; });
  node.push(h.make(payloads));
  return out;
}
std::int64_t seconds_of(timestamp t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}
}  // namespace

TEST_CASE("partition_by sets partition keys from fields and the hour of an RFC 3339 time", "[format][transform][partition_by]") {
  harness h;
  auto out = run_batches(h,
                         transform::partition_by{.fields = {"event_type"}, .time_field = "ts", .time_key = "hour",
                                                 .time_format = "%Y-%m-%d-%H"},
                         {R"({"event_type":"click","ts":"2024-05-01T13:45:00Z"})",
                          R"({"event_type":"view","ts":"2024-05-01T01:30:00.5+02:00"})"});
  REQUIRE(out.size() == 1);
  REQUIRE(out[0].size() == 2);
  CHECK(out[0][0].partition == "event_type=click/hour=2024-05-01-13");
  CHECK(seconds_of(out[0][0].event_time) == 1714571100);
  CHECK(out[0][1].partition == "event_type=view/hour=2024-04-30-23");
  CHECK(out[0][1].event_time - (timestamp{} + std::chrono::seconds(1714519800)) == std::chrono::milliseconds(500));
  CHECK(out[0][0].payload == R"({"event_type":"click","ts":"2024-05-01T13:45:00Z"})");  // payload untouched
  CHECK(h.errors.empty());
}

TEST_CASE("partition_by reads epoch seconds and milliseconds and writes non-string values as text",
          "[format][transform][partition_by]") {
  harness h;
  auto out = run_batches(h, transform::partition_by{.fields = {"shard", "geo.country", "ok"}, .time_field = "t",
                                                    .time_key = "day", .time_format = "%Y/%m/%d"},
                         {R"({"shard":3,"geo":{"country":"FR"},"ok":true,"t":1714571100})",
                          R"({"shard":4,"geo":{"country":"a/b=c"},"ok":false,"t":1714571100123})",
                          R"({"shard":5,"geo":{"country":"DE"},"ok":true,"t":1714571100.25})"});
  REQUIRE(out.size() == 1);
  REQUIRE(out[0].size() == 3);
  CHECK(out[0][0].partition == "shard=3/geo.country=FR/ok=true/day=2024%2F05%2F01");
  CHECK(seconds_of(out[0][0].event_time) == 1714571100);
  CHECK(out[0][1].partition == "shard=4/geo.country=a%2Fb%3Dc/ok=false/day=2024%2F05%2F01");
  CHECK(partition_value(out[0][1].partition, "geo.country") == "a/b=c");
  CHECK(out[0][1].event_time - (timestamp{} + std::chrono::seconds(1714571100)) == std::chrono::milliseconds(123));
  CHECK(out[0][2].event_time - (timestamp{} + std::chrono::seconds(1714571100)) == std::chrono::milliseconds(250));
}

TEST_CASE("partition_by rejects records whose partition or time fields are missing or unusable",
          "[format][transform][partition_by]") {
  harness h;
  auto out = run_batches(h, transform::partition_by{.fields = {"event_type"}, .time_field = "ts", .time_key = "hour"},
                         {R"({"ts":"2024-05-01T13:45:00Z"})", R"({"event_type":null,"ts":"2024-05-01T13:45:00Z"})",
                          R"({"event_type":{"a":1},"ts":"2024-05-01T13:45:00Z"})", R"({"event_type":"click"})",
                          R"({"event_type":"click","ts":"yesterday"})", R"({"event_type":"click","ts":"2024-05-01T13:45:00Z"})",
                          R"({"event_type":"click",)"});
  REQUIRE(out.size() == 1);
  REQUIRE(out[0].size() == 1);
  CHECK(out[0][0].cursor.position == 6);
  CHECK(out[0][0].partition == "event_type=click/hour=2024-05-01-13");
  REQUIRE(h.errors.size() == 6);
  CHECK(h.errors[0].reason == "partition field `event_type` is missing (needed for the partition key)");
  CHECK(h.errors[1].reason == "partition field `event_type` is null (needed for the partition key)");
  CHECK(h.errors[2].reason == "partition field `event_type` is an object (needed for the partition key)");
  CHECK(h.errors[3].reason == "time field `ts` is missing");
  CHECK(h.errors[4].reason == "time field `ts` = \"yesterday\" is not an RFC 3339 time or epoch seconds/milliseconds");
  CHECK(h.errors[5].reason == "invalid JSON at byte 22: incomplete JSON");
  for (const auto& e : h.errors) {
    CHECK(e.code == errc::invalid_record);
    CHECK(e.stage == "transform::partition_by");
  }
}

TEST_CASE("partition_by refuses configurations it cannot apply", "[format][transform][partition_by]") {
  CHECK_THROWS_WITH((transform::partition_by{}).validate(),
                    "sluice: transform::partition_by: .fields and .time_field are both empty: nothing to partition by");
  CHECK_THROWS_WITH((transform::partition_by{.fields = {"a"}, .time_key = "hour"}).validate(),
                    "sluice: transform::partition_by.time_key = \"hour\": needs .time_field to read the time from");
  CHECK_THROWS_WITH(
      (transform::partition_by{.fields = {"a"}, .time_field = "ts", .time_key = "h", .time_format = "%Y-%q"}).validate(),
      "sluice: transform::partition_by.time_format = \"%Y-%q\": only %Y %m %d %H %M %S %j and %% are supported");
  CHECK_NOTHROW((transform::partition_by{.time_field = "ts"}).validate());
}
