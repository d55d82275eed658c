// SPDX-License-Identifier: Apache-2.0
#include <sluice/format/transform/mask.hpp>

#include "harness.hpp"

#include <catch2/catch.hpp>

using namespace sluice;
using format_test::harness;

static_assert(record_stage<transform::mask>);

TEST_CASE("mask hashes fields with salted SHA-256, following dotted paths", "[format][transform][mask]") {
  harness h;
  // Expected digests from `printf '%s%s' s3cret VALUE | sha256sum`.
  auto out = h.run(transform::mask{.fields = {"email", "card.number", "meta"}, .salt = "s3cret"},
                   {R"({"email":"a@b.com","card":{"number":4111111111111111,"exp":"12/29"},"meta":{"x":1}})"});
  REQUIRE(out.size() == 1);
  CHECK(out[0] ==
        R"({"email":"cd37d3bf3b93178eec8763af64d7b23ee65705deb8f2f8f5bd8e62133b6a5712",)"
        R"("card":{"number":"87e0df901cf1afc43c97dfac26cfacb094a1a7fd5c4fbc395f1841d94caa840f","exp":"12/29"},)"
        R"("meta":"180b8d4a93058ab172ebb90eaca037ef4c192e46ce89642c680f7218b1177365"})");
  CHECK(h.errors.empty());
}

TEST_CASE("mask redacts fields with the configured replacement", "[format][transform][mask]") {
  harness h;
  auto out = h.run(transform::mask{.fields = {"email", "card.number"}, .method = transform::mask_method::redact},
                   {R"({"email":"a@b.com","card":{"number":"4111"}})"});
  CHECK(out == std::vector<std::string>{R"({"email":"***","card":{"number":"***"}})"});
  harness h2;
  auto out2 = h2.run(transform::mask{.fields = {"ssn"}, .method = transform::mask_method::redact, .replacement = "[removed]"},
                     {R"({"ssn":"123-45-6789"})"});
  CHECK(out2 == std::vector<std::string>{R"({"ssn":"[removed]"})"});
}

TEST_CASE("mask leaves records without the fields byte for byte, and null values as null", "[format][transform][mask]") {
  harness h;
  auto out = h.run(transform::mask{.fields = {"email", "card.number"}, .method = transform::mask_method::redact},
                   {R"({ "id" : 1,  "card": "not an object" })", R"({"email":null,"id":2})", R"({"email":"x", "id":3})"});
  CHECK(out == std::vector<std::string>{R"({ "id" : 1,  "card": "not an object" })", R"({"email":null,"id":2})",
                                        R"({"email":"***","id":3})"});
}

TEST_CASE("mask rejects bad JSON naming the byte", "[format][transform][mask]") {
  harness h;
  auto out = h.run(transform::mask{.fields = {"email"}, .salt = "s3cret"},
                   {R"({"email":"bob@example.org"})", R"({"email":"x",)"});
  CHECK(out == std::vector<std::string>{R"({"email":"3fb00f7716110ec560457b7d12a134f0425d74b8bf90c1716e3e6475dd99fa6f"})"});
  REQUIRE(h.errors.size() == 1);
  CHECK(h.errors[0].code == errc::invalid_record);
  CHECK(h.errors[0].stage == "transform::mask");
  CHECK(h.errors[0].reason == "invalid JSON at byte 13: incomplete JSON");
}

TEST_CASE("mask refuses configurations that would not mask", "[format][transform][mask]") {
  CHECK_THROWS_WITH((transform::mask{}).validate(),
                    "sluice: transform::mask.fields is empty: name at least one field to mask");
  CHECK_THROWS_WITH((transform::mask{.fields = {"card..number"}, .salt = "s"}).validate(),
                    "sluice: transform::mask.fields: `card..number` is not a key or dotted path (empty segment)");
  CHECK_THROWS_WITH((transform::mask{.fields = {"email"}}).validate(),
                    Catch::Matchers::StartsWith("sluice: transform::mask.salt is empty"));
  CHECK_NOTHROW((transform::mask{.fields = {"email"}, .method = transform::mask_method::redact}).validate());
}
