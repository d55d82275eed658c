// SPDX-License-Identifier: Apache-2.0
// format::jsonl: one line per record; a payload holding a newline goes to the error output.
#include <sluice/format/jsonl.hpp>

#include <sluice_test/support.hpp>

#include "harness.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace sluice;
using format_test::harness;
using sluice_test::collecting_node;

static_assert(format_stage<format::jsonl>);

TEST_CASE("jsonl ends each payload with a newline and counts every record", "[format][jsonl]") {
  harness h;
  std::vector<object> out;
  auto node = format::jsonl{}.open(h.ctx(), [&] { return collecting_node<object>{&out}; });
  node.push(h.make({"{\"a\":1}", "{\"a\":2}", "{}"}));
  REQUIRE(out.size() == 1);
  CHECK(out[0].body == "{\"a\":1}\n{\"a\":2}\n{}\n");
  CHECK(out[0].record_count == 3);
  CHECK(out[0].record_bytes == 16);
  CHECK(out[0].covered.count() == 3);
  CHECK(out[0].content_type == "application/x-ndjson");
  CHECK(h.errors.empty());
}

TEST_CASE("jsonl sends exactly the payloads holding a newline to the error output", "[format][jsonl]") {
  harness h;
  std::vector<object> out;
  auto node = format::jsonl{}.open(h.ctx(), [&] { return collecting_node<object>{&out}; });
  // The newline sits at the very start, inside, and at the very end of payloads.
  node.push(h.make({"{\"a\":1}", "\n{\"b\":2}", "{\"c\":3}", "{\"d\":\n4}", "{\"e\":5}", "{\"f\":6}\n"}));
  REQUIRE(out.size() == 1);
  CHECK(out[0].body == "{\"a\":1}\n{\"c\":3}\n{\"e\":5}\n");
  CHECK(out[0].record_count == 3);
  CHECK(out[0].covered.count() == 3);
  REQUIRE(h.errors.size() == 3);
  CHECK(h.errors[0].cursor.position == 2);
  CHECK(h.errors[1].cursor.position == 4);
  CHECK(h.errors[2].cursor.position == 6);
  for (const auto& e : h.errors) {
    CHECK(e.code == errc::invalid_record);
    CHECK(e.stage == "format::jsonl");
    CHECK(e.reason == "payload contains a newline");
  }
  // Every record is handled: the kept ones with the object, the rejected ones by the error output.
  h.ctx().acknowledge(out[0]);
  CHECK(h.ctx().tracker().in_flight() == 0);

  // The next batch, without a newline, keeps everything.
  node.push(h.make({"{\"g\":7}", "{\"h\":8}"}));
  REQUIRE(out.size() == 2);
  CHECK(out[1].body == "{\"g\":7}\n{\"h\":8}\n");
  CHECK(h.errors.size() == 3);
}

TEST_CASE("jsonl makes no object of a batch whose every payload holds a newline", "[format][jsonl]") {
  harness h;
  std::vector<object> out;
  auto node = format::jsonl{}.open(h.ctx(), [&] { return collecting_node<object>{&out}; });
  node.push(h.make({"a\nb", "\n"}));
  CHECK(out.empty());
  CHECK(h.errors.size() == 2);
  CHECK(h.ctx().tracker().in_flight() == 0);
}
