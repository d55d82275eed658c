// SPDX-License-Identifier: Apache-2.0
#include <sluice/format/transform/map.hpp>

#include "harness.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>

using namespace sluice;
using format_test::harness;

namespace {
auto add_source = [](boost::json::object& o) { o["source"] = "files"; };
}
static_assert(record_stage<transform::map<decltype(add_source)>>);

TEST_CASE("map edits each record as a JSON object and writes it back compact", "[format][transform][map]") {
  harness h;
  auto out = h.run(transform::map{[](auto& o) {
                     o["source"] = "files";
                     o.erase("debug");
                   }},
                   {R"({"id": 1, "debug": true, "price": 19.99})", R"({"id":2,"tags":["a","b"]})"});
  REQUIRE(out.size() == 2);
  // Boost.JSON 1.81's object::erase moves the last member into the erased one's place.
  CHECK(out[0] == R"({"id":1,"source":"files","price":19.99})");
  CHECK(out[1] == R"({"id":2,"tags":["a","b"],"source":"files"})");
  CHECK(h.errors.empty());
}

TEST_CASE("map turns an exception into a transform_failed reject with its text", "[format][transform][map]") {
  harness h;
  auto out = h.run(transform::map{[](boost::json::object& o) {
                     if (o.at("id") == 2) throw std::runtime_error("id 2 is not allowed");
                     o["ok"] = true;
                   }},
                   {R"({"id":1})", R"({"id":2})", R"({"id":3})"});
  CHECK(out == std::vector<std::string>{R"({"id":1,"ok":true})", R"({"id":3,"ok":true})"});
  REQUIRE(h.errors.size() == 1);
  CHECK(h.errors[0].code == errc::transform_failed);
  CHECK(h.errors[0].stage == "transform::map");
  CHECK(h.errors[0].reason == "the map function threw: id 2 is not allowed");
  CHECK(h.errors[0].payload == R"({"id":2})");
  CHECK(h.errors[0].cursor.position == 2);
}

TEST_CASE("map rejects bad JSON naming the byte of the error", "[format][transform][map]") {
  harness h;
  auto out = h.run(transform::map{[](boost::json::object& o) noexcept { o["x"] = 1; }},
                   {R"({"a":})", R"({"a":1})", R"(42)"});
  CHECK(out == std::vector<std::string>{R"({"a":1,"x":1})"});
  REQUIRE(h.errors.size() == 2);
  CHECK(h.errors[0].code == errc::invalid_record);
  CHECK(h.errors[0].reason == "invalid JSON at byte 5: syntax error");
  CHECK(h.errors[1].reason == "the record is a JSON integer, not an object");
}

TEST_CASE("map's record form returns the new payload without parsing", "[format][transform][map]") {
  harness h;
  auto out = h.run(transform::map{[](const record_ref& r) -> std::string {
                     if (r.payload == "boom") throw std::invalid_argument("cannot shout boom");
                     return "<" + std::string(r.payload) + ">";
                   }},
                   {"plain text", "boom", "not { json"});
  CHECK(out == std::vector<std::string>{"<plain text>", "<not { json>"});
  REQUIRE(h.errors.size() == 1);
  CHECK(h.errors[0].reason == "the map function threw: cannot shout boom");
}

TEST_CASE("map keeps cursors, partitions and event times of the records it rewrites", "[format][transform][map]") {
  harness h;
  std::vector<record_batch> out;
  auto node = transform::map{[](boost::json::object& o) noexcept { o.erase("x"); }}.open(
      h.ctx(), [&] { return sluice_test::collecting_node<record_batch>{&out}; });
  record_batch in;
  timestamp t = timestamp{} + std::chrono::seconds(100);
  in.append(R"({"x":1,"y":2})", {h.source, 7}, t, "k=v");
  h.ctx().tracker().track(in);
  in.set_partition(std::string_view("k=v"));
  node.push(std::move(in));
  REQUIRE(out.size() == 1);
  REQUIRE(out[0].size() == 1);
  CHECK(out[0][0].payload == R"({"y":2})");
  CHECK(out[0][0].cursor.position == 7);
  CHECK(out[0][0].partition == "k=v");
  CHECK(out[0][0].event_time == t);
  CHECK(out[0].partition() == "k=v");
}
