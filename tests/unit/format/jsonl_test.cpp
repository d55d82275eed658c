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

namespace {
/// A next stage that takes bodies it does not own, as the codecs do: it keeps a copy of each
/// body with where its bytes were.
struct borrowing_node {
  struct taken {
    object o;
    std::string body;
    const char* at = nullptr;  // null: pushed with a body of its own
  };
  std::vector<taken>* out;
  void push(object&& o) {
    std::string body = o.body;
    out->push_back({std::move(o), std::move(body), nullptr});
  }
  void push_borrowed(object&& o, std::string_view body) {
    out->push_back({std::move(o), std::string(body), body.data()});
  }
  void flush() {}
  void tick() {}
};
}  // namespace

TEST_CASE("jsonl hands a codec the batch's lines in place, and formats a batch with a newline in a payload record by record",
          "[format][jsonl]") {
  harness h;
  std::vector<borrowing_node::taken> out;
  auto node = format::jsonl{}.open(h.ctx(), [&] { return borrowing_node{&out}; });

  record_batch clean = h.make({"{\"a\":1}", "{\"a\":2}", "{}"});
  const char* lines_at = clean.lines().data();
  node.push(std::move(clean));
  REQUIRE(out.size() == 1);
  CHECK(out[0].at == lines_at);  // the batch's own bytes: nothing was copied
  CHECK(out[0].body == "{\"a\":1}\n{\"a\":2}\n{}\n");
  CHECK(out[0].o.body.empty());
  CHECK(out[0].o.record_count == 3);
  CHECK(out[0].o.record_bytes == 16);
  CHECK(out[0].o.covered.count() == 3);
  CHECK(out[0].o.content_type == "application/x-ndjson");

  node.push(h.make({"{\"b\":1}", "{\"b\":\n2}", "{\"b\":3}"}));
  REQUIRE(out.size() == 2);
  CHECK(out[1].at == nullptr);  // a body of its own, without the rejected record
  CHECK(out[1].body == "{\"b\":1}\n{\"b\":3}\n");
  CHECK(out[1].o.record_count == 2);
  REQUIRE(h.errors.size() == 1);
  CHECK(h.errors[0].cursor.position == 5);
  CHECK(h.errors[0].reason == "payload contains a newline");
  for (auto& t : out) h.ctx().acknowledge(t.o);
  CHECK(h.ctx().tracker().in_flight() == 0);
}
