// SPDX-License-Identifier: Apache-2.0
#include <sluice/format/transform/mask.hpp>
#include <sluice/format/transform/validate.hpp>

#include <sluice/batch/by_size.hpp>
#include <sluice/format/jsonl.hpp>
#include <sluice/format/transform/partition_by.hpp>
#include <sluice_test/support.hpp>

#include <catch2/catch.hpp>

#include <map>

using namespace sluice;
using sluice_test::collecting_sink;
using sluice_test::vector_source;
using transform::json_kind;

TEST_CASE("validate, mask and jsonl run in a pipeline: good records masked in the lake, bad ones in the error output",
          "[format][transform][pipeline]") {
  collecting_sink sink;
  std::vector<record_error> errors;
  auto p = vector_source{.payloads = {R"({"user_id":"u1","email":"a@b.com","price":3})",
                                      R"({"user_id":"u2","price":"free"})",
                                      R"({"user_id":"u3","email":"bob@example.org","price":1.5})",
                                      R"({"user_id":"u4", oops})",
                                      R"({"user_id":"u5","price":2})"},
                         .chunk = 2} |
           transform::validate{.required = {{"user_id", json_kind::string}, {"price", json_kind::number}}} |
           transform::mask{.fields = {"email"}, .salt = "s3cret"} | format::jsonl{} | sink;
  p.options.on_error = [&](const record_error& e) { errors.push_back(e); };
  p.run();
  std::string lake;
  for (const auto& o : *sink.objects) lake += o.body;
  CHECK(lake ==
        R"({"user_id":"u1","email":"cd37d3bf3b93178eec8763af64d7b23ee65705deb8f2f8f5bd8e62133b6a5712","price":3})"
        "\n"
        R"({"user_id":"u3","email":"3fb00f7716110ec560457b7d12a134f0425d74b8bf90c1716e3e6475dd99fa6f","price":1.5})"
        "\n"
        R"({"user_id":"u5","price":2})"
        "\n");
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].code == errc::validation_failed);
  CHECK(errors[0].reason == "field `price`: expected number, got string");
  CHECK(errors[1].code == errc::invalid_record);
  CHECK(errors[1].reason == "invalid JSON at byte 17: syntax error");
  auto m = p.metrics().snapshot();
  CHECK(m.records_in == 5);
  CHECK(m.records_out == 3);
  CHECK(m.errors == 2);
}

TEST_CASE("partition_by feeds by_size, which writes one object per partition", "[format][transform][pipeline]") {
  collecting_sink sink;
  auto p = vector_source{.payloads = {R"({"type":"a","ts":"2024-05-01T13:00:00Z"})",
                                      R"({"type":"b","ts":"2024-05-01T13:10:00Z"})",
                                      R"({"type":"a","ts":"2024-05-01T14:00:00Z"})",
                                      R"({"type":"a","ts":"2024-05-01T13:59:59Z"})"}} |
           transform::partition_by{.fields = {"type"}, .time_field = "ts", .time_key = "hour"} |
           batch::by_size{} | format::jsonl{} | sink;
  p.run();
  std::map<std::string, std::uint64_t> counts;
  for (const auto& o : *sink.objects) counts[o.partition] = o.record_count;
  CHECK(counts == std::map<std::string, std::uint64_t>{{"type=a/hour=2024-05-01-13", 2},
                                                       {"type=a/hour=2024-05-01-14", 1},
                                                       {"type=b/hour=2024-05-01-13", 1}});
}
