// SPDX-License-Identifier: Apache-2.0
#include <sluice/format/transform/filter.hpp>

#include "harness.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>

using namespace sluice;
using format_test::harness;

TEST_CASE("filter keeps matching records and drops the others with one acknowledgement", "[format][transform][filter]") {
  harness h;
  std::vector<record_batch> out;
  auto node = transform::filter{[](const boost::json::object& o) noexcept { return !o.contains("test"); }}.open(
      h.ctx(), [&] { return sluice_test::collecting_node<record_batch>{&out}; });
  node.push(h.make({R"({"id":1})", R"({"id":2,"test":true})", R"({"id":3})", R"({"id":4,"test":1})"}));
  REQUIRE(out.size() == 1);
  REQUIRE(out[0].size() == 2);
  CHECK(out[0][0].payload == R"({"id":1})");
  CHECK(out[0][1].payload == R"({"id":3})");
  CHECK(h.errors.empty());
  CHECK(h.t.metrics.snapshot().dropped == 2);
  // Once a sink acknowledges the kept records, every position is handled: nothing was lost.
  cursor_set kept;
  for (const record_ref r : out[0]) kept.add(r.cursor);
  h.ctx().tracker().ack(kept);
  CHECK(h.ctx().tracker().in_flight() == 0);
  CHECK(h.ctx().tracker().committed(h.source) == std::pair<bool, std::uint64_t>{true, 4});
}

TEST_CASE("filter passes a batch it keeps whole without copying it", "[format][transform][filter]") {
  harness h;
  std::vector<record_batch> out;
  auto node = transform::filter{[](const boost::json::object&) { return true; }}.open(
      h.ctx(), [&] { return sluice_test::collecting_node<record_batch>{&out}; });
  auto in = h.make({R"({"a long enough record":1})", R"({"another one":2})"});
  const char* bytes = in[0].payload.data();
  node.push(std::move(in));
  REQUIRE(out.size() == 1);
  CHECK(out[0].size() == 2);
  CHECK(out[0][0].payload.data() == bytes);  // the same storage moved on
}

TEST_CASE("filter rejects bad JSON and records whose predicate throws", "[format][transform][filter]") {
  harness h;
  auto out = h.run(transform::filter{[](const boost::json::object& o) { return o.at("keep").as_bool(); }},
                   {R"({"keep":true})", R"({"keep":})", R"({"other":1})", R"({"keep":false})"});
  CHECK(out == std::vector<std::string>{R"({"keep":true})"});
  REQUIRE(h.errors.size() == 2);
  CHECK(h.errors[0].code == errc::invalid_record);
  CHECK(h.errors[0].reason == "invalid JSON at byte 8: syntax error");
  CHECK(h.errors[1].code == errc::transform_failed);
  CHECK(h.errors[1].stage == "transform::filter");
  CHECK(h.errors[1].reason.rfind("the filter predicate threw: ", 0) == 0);
  CHECK(h.errors[1].payload == R"({"other":1})");
  CHECK(h.t.metrics.snapshot().dropped == 1);
}
