// SPDX-License-Identifier: Apache-2.0
// Streamed objects (object_piece) through the formats: each batch piece becomes an object piece
// with the same object_piece; CSV's header and inferred columns are per object.
#include <sluice/format/csv.hpp>
#include <sluice/format/jsonl.hpp>

#include "harness.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace sluice;
using format_test::harness;
using sluice_test::collecting_node;

namespace {

object_piece piece(std::uint64_t id, bool first, bool last) { return {id, first, last}; }

/// Drives a node of `stage` by hand with batches that carry their object_piece.
template <class Stage>
struct piece_driver {
  harness& h;
  std::vector<object> out;
  decltype(std::declval<const Stage&>().open(std::declval<run_context&>(),
                                             std::declval<collecting_node<object> (&)()>())) node;

  piece_driver(harness& hh, const Stage& stage)
      : h(hh), node(stage.open(hh.ctx(), [this] { return collecting_node<object>{&out}; })) {}

  void push(const object_piece& p, const std::vector<std::string>& payloads) {
    record_batch b = h.make(payloads);
    b.set_piece(p);
    node.push(std::move(b));
  }
};

template <class Stage>
auto drive(harness& h, const Stage& stage) {
  return piece_driver<Stage>(h, stage);
}

}  // namespace

TEST_CASE("jsonl turns each batch piece into an object piece with the same object_piece and its own facts",
          "[format][jsonl][pieces]") {
  harness h;
  std::vector<object> out;
  auto node = format::jsonl{}.open(h.ctx(), [&] { return collecting_node<object>{&out}; });
  auto push = [&](object_piece p, std::vector<std::string> payloads, std::vector<timestamp> times = {}) {
    record_batch b;
    for (std::size_t i = 0; i < payloads.size(); ++i)
      b.append(payloads[i], {h.source, h.next_position++}, i < times.size() ? times[i] : timestamp{});
    h.ctx().tracker().track(b);
    b.set_piece(p);
    node.push(std::move(b));
  };
  const timestamp t1{std::chrono::seconds(1000)}, t2{std::chrono::seconds(2000)}, t3{std::chrono::seconds(1500)};
  push(piece(7, true, false), {"{\"a\":1}", "{\"a\":2}"}, {t1, t2});
  push(piece(8, true, false), {"{\"b\":1}"});
  push(piece(7, false, false), {"{\"a\":3}"}, {t3});
  push(piece(8, false, true), {"{\"b\":2}"});
  push(piece(7, false, true), {});
  REQUIRE(out.size() == 5);
  CHECK(out[0].piece == piece(7, true, false));
  CHECK(out[0].body == "{\"a\":1}\n{\"a\":2}\n");
  CHECK(out[0].record_count == 2);
  CHECK(out[0].record_bytes == 14);
  CHECK(out[0].first_event_time == t1);
  CHECK(out[0].last_event_time == t2);
  CHECK(out[0].covered.position_span() == std::pair<std::uint64_t, std::uint64_t>{1, 2});
  CHECK(out[1].piece == piece(8, true, false));
  CHECK(out[1].body == "{\"b\":1}\n");
  CHECK(out[2].piece == piece(7, false, false));
  CHECK(out[2].body == "{\"a\":3}\n");
  CHECK(out[2].first_event_time == t3);  // this piece's facts only
  CHECK(out[2].covered.position_span() == std::pair<std::uint64_t, std::uint64_t>{4, 4});
  CHECK(out[3].piece == piece(8, false, true));
  // The empty last piece still goes on: it is what ends object 7.
  CHECK(out[4].piece == piece(7, false, true));
  CHECK(out[4].body.empty());
  CHECK(out[4].record_count == 0);
  CHECK(out[4].covered.empty());
  CHECK(out[4].content_type == "application/x-ndjson");
  for (const auto& o : out) CHECK(o.stream == "default");
}

TEST_CASE("jsonl passes on a piece whose records were all rejected, and still drops such a whole object",
          "[format][jsonl][pieces]") {
  harness h;
  auto d = drive(h, format::jsonl{});
  d.push(piece(3, true, false), {"bad\nline"});
  d.push(object_piece{}, {"also\nbad"});  // whole
  d.push(piece(3, false, true), {"{\"ok\":1}"});
  REQUIRE(d.out.size() == 2);
  CHECK(d.out[0].piece == piece(3, true, false));
  CHECK(d.out[0].body.empty());
  CHECK(d.out[0].record_count == 0);
  CHECK(d.out[1].piece == piece(3, false, true));
  CHECK(d.out[1].body == "{\"ok\":1}\n");
  CHECK(h.errors.size() == 2);
}

TEST_CASE("csv writes the header once per streamed object, in its first piece", "[format][csv][pieces]") {
  harness h;
  auto d = drive(h, format::csv{.columns = {"id", "v"}});
  d.push(piece(1, true, false), {R"({"id":1,"v":"a"})", R"({"id":2,"v":"b"})"});
  d.push(piece(1, false, false), {R"({"id":3,"v":"c"})"});
  d.push(piece(1, false, true), {R"({"id":4,"v":"d"})"});
  d.push(object_piece{}, {R"({"id":5,"v":"e"})"});  // a whole object keeps its own header
  REQUIRE(d.out.size() == 4);
  CHECK(d.out[0].body == "id,v\r\n1,a\r\n2,b\r\n");
  CHECK(d.out[1].body == "3,c\r\n");
  CHECK(d.out[2].body == "4,d\r\n");
  CHECK(d.out[3].body == "id,v\r\n5,e\r\n");
  CHECK(d.out[0].body + d.out[1].body + d.out[2].body == "id,v\r\n1,a\r\n2,b\r\n3,c\r\n4,d\r\n");
}

TEST_CASE("csv keeps each streamed object's inferred columns and header across interleaved pieces",
          "[format][csv][pieces]") {
  harness h;
  auto d = drive(h, format::csv{});
  d.push(piece(10, true, false), {R"({"b":1,"a":"x"})"});
  d.push(piece(11, true, false), {R"({"z":true})"});
  d.push(piece(10, false, false), {R"({"a":"y","b":2,"c":3})"});  // other key order: same columns
  d.push(object_piece{}, {R"({"q":0})"});                         // a whole object infers its own
  d.push(piece(11, false, true), {R"({"z":false})"});
  d.push(piece(10, false, true), {R"({"a":"w"})"});
  REQUIRE(d.out.size() == 6);
  CHECK(d.out[0].body == "b,a\r\n1,x\r\n");
  CHECK(d.out[1].body == "z\r\ntrue\r\n");
  CHECK(d.out[2].body == "2,y\r\n");
  CHECK(d.out[3].body == "q\r\n0\r\n");
  CHECK(d.out[4].body == "false\r\n");
  CHECK(d.out[5].body == ",w\r\n");

  // A later object with a reused id starts afresh: its first piece has a header again.
  d.push(piece(10, true, true), {R"({"n":1})"});
  REQUIRE(d.out.size() == 7);
  CHECK(d.out[6].body == "n\r\n1\r\n");
}

TEST_CASE("csv puts the header before the first row when a streamed object's first piece had none",
          "[format][csv][pieces]") {
  harness h;
  SECTION("configured columns") {
    auto d = drive(h, format::csv{.columns = {"id"}});
    d.push(piece(2, true, false), {"not json"});
    d.push(piece(2, false, false), {});
    d.push(piece(2, false, false), {R"({"id":1})"});
    d.push(piece(2, false, true), {R"({"id":2})"});
    REQUIRE(d.out.size() == 4);
    CHECK(d.out[0].body.empty());
    CHECK(d.out[0].record_count == 0);
    CHECK(d.out[1].body.empty());
    CHECK(d.out[2].body == "id\r\n1\r\n");
    CHECK(d.out[3].body == "2\r\n");
  }
  SECTION("inferred columns, and no header wanted") {
    auto d = drive(h, format::csv{.header = false});
    d.push(piece(2, true, false), {"[1]"});
    d.push(piece(2, false, true), {R"({"k":"v"})"});
    REQUIRE(d.out.size() == 2);
    CHECK(d.out[0].body.empty());
    CHECK(d.out[1].body == "v\r\n");
  }
  CHECK(h.errors.size() == 1);
}
