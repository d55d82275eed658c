// SPDX-License-Identifier: Apache-2.0
#include <sluice/format/transform/validate.hpp>

#include "harness.hpp"

#include <catch2/catch.hpp>

using namespace sluice;
using format_test::harness;
using transform::json_kind;

static_assert(record_stage<transform::validate>);

namespace {
transform::validate order_rules() {
  return transform::validate{.required = {{"user_id", json_kind::string},
                                          {"ts", json_kind::string},
                                          {"price", json_kind::number},
                                          {"item.qty", json_kind::integer}}};
}
}  // namespace

TEST_CASE("validate passes records with every required field of the right kind", "[format][transform][validate]") {
  harness h;
  std::vector<std::string> good = {R"({"user_id":"u1","ts":"2024-05-01T00:00:00Z","price":3,"item":{"qty":2}})",
                                   R"({"user_id":"u2","ts":"x","price":19.99,"item":{"qty":1},"extra":[1]})"};
  auto out = h.run(order_rules(), good);
  CHECK(out == good);  // untouched, byte for byte
  CHECK(h.errors.empty());
}

TEST_CASE("validate rejects missing fields and wrong kinds naming the field, the expected and the actual kind",
          "[format][transform][validate]") {
  harness h;
  auto out = h.run(order_rules(), {R"({"ts":"t","price":1,"item":{"qty":1}})",
                                   R"({"user_id":"u","ts":"t","price":"19.99","item":{"qty":1}})",
                                   R"({"user_id":7,"ts":"t","price":1,"item":{"qty":1}})",
                                   R"({"user_id":"u","ts":"t","price":1,"item":{"qty":1.5}})",
                                   R"({"user_id":"u","ts":"t","price":1,"item":"none"})",
                                   R"({"user_id":"ok","ts":"t","price":1,"item":{"qty":1}})"});
  CHECK(out == std::vector<std::string>{R"({"user_id":"ok","ts":"t","price":1,"item":{"qty":1}})"});
  REQUIRE(h.errors.size() == 5);
  for (const auto& e : h.errors) {
    CHECK(e.code == errc::validation_failed);
    CHECK(e.stage == "transform::validate");
  }
  CHECK(h.errors[0].reason == "field `user_id`: missing (expected string)");
  CHECK(h.errors[1].reason == "field `price`: expected number, got string");
  CHECK(h.errors[2].reason == "field `user_id`: expected string, got integer");
  CHECK(h.errors[3].reason == "field `item.qty`: expected integer, got number");
  CHECK(h.errors[4].reason == "field `item.qty`: missing (expected integer)");
  CHECK(h.errors[1].cursor.position == 2);
}

TEST_CASE("validate rejects bad JSON as invalid_record naming the byte", "[format][transform][validate]") {
  harness h;
  auto out = h.run(order_rules(), {R"({"user_id":"u" "ts":1})", R"(["user_id"])", ""});
  CHECK(out.empty());
  REQUIRE(h.errors.size() == 3);
  for (const auto& e : h.errors) CHECK(e.code == errc::invalid_record);
  CHECK(h.errors[0].reason == "invalid JSON at byte 15: syntax error");
  CHECK(h.errors[1].reason == "the record is a JSON array, not an object");
  CHECK(h.errors[2].reason == "invalid JSON at byte 0: incomplete JSON");
}

TEST_CASE("validate refuses an empty rule list when opened", "[format][transform][validate]") {
  harness h;
  std::vector<record_batch> out;
  auto open_with = [&](const transform::validate& v) {
    (void)v.open(h.ctx(), [&] { return sluice_test::collecting_node<record_batch>{&out}; });
  };
  CHECK_THROWS_WITH(open_with(transform::validate{}),
                    "sluice: transform::validate.required is empty: name at least one field");
  CHECK_THROWS_WITH(open_with(transform::validate{.required = {{"", json_kind::string}}}),
                    "sluice: transform::validate.required: a field name is empty");
}
