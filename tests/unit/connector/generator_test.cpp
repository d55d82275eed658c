// SPDX-License-Identifier: Apache-2.0
#include <sluice/connector/generator.hpp>

#include <sluice/format/jsonl.hpp>
#include <sluice_test/support.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

using namespace sluice;
using sluice_test::collecting_sink;
using sluice_test::temp_dir;

static_assert(source<connector::generator>);

namespace {
std::string field(std::string_view event, std::string_view name) {
  std::string key = "\"" + std::string(name) + "\":";
  auto at = event.find(key);
  if (at == std::string_view::npos) return {};
  at += key.size();
  if (event[at] == '"') {
    auto end = event.find('"', at + 1);
    return std::string(event.substr(at + 1, end - at - 1));
  }
  auto end = event.find_first_of(",}", at);
  return std::string(event.substr(at, end - at));
}
}  // namespace

TEST_CASE("the generator is deterministic: the same seed gives the same bytes", "[connector][generator]") {
  connector::generator a{.seed = 7}, b{.seed = 7}, c{.seed = 8};
  for (std::uint64_t i : {0ULL, 1ULL, 999ULL, 123456ULL}) {
    CHECK(a.event(i) == b.event(i));
    CHECK(a.event(i) != c.event(i));
  }
  CHECK(a.event(1) != a.event(2));
  CHECK(a.event(0) ==
        connector::generator{.seed = 7}.event(0));  // not a sequence: record i does not depend on i - 1
}

TEST_CASE("generated records carry cursor i + 1, the ts as event time and the partition", "[connector][generator]") {
  collecting_sink sink;
  connector::generator g{.records = 5000, .chunk_records = 1000, .events_per_second = 1};
  auto p = g | format::jsonl{} | sink;
  p.run();
  REQUIRE(sink.objects->size() == 5);
  std::string all;
  for (auto& o : *sink.objects) all += o.body;
  std::string expected;
  for (std::uint64_t i = 0; i < 5000; ++i) expected += g.event(i) + "\n";
  CHECK(all == expected);
  const auto& o = (*sink.objects)[4];
  CHECK(o.covered.position_span() == std::pair<std::uint64_t, std::uint64_t>{4001, 5000});
  CHECK(o.first_event_time == g.start_time + std::chrono::seconds(4000));
  CHECK(o.last_event_time == g.start_time + std::chrono::seconds(4999));
  // 2024-05-01T00:00:00Z + 4000 s: the first record's partition.
  CHECK(o.partition.ends_with("/hour=2024-05-01-01"));
  CHECK(o.partition.starts_with("event_type=" + field(g.event(4000), "event_type") + "/"));
}

TEST_CASE("a restart resumes at the checkpointed index and regenerates identical records", "[connector][generator]") {
  temp_dir dir;
  sluice_test::write_file(dir / "checkpoint", "3000\tgenerator\n");
  collecting_sink sink;
  connector::generator g{.records = 4000, .seed = 3};
  auto p = g | format::jsonl{} | sink;
  p.options.checkpoint = dir / "checkpoint";
  p.run();
  std::string all;
  for (auto& o : *sink.objects) all += o.body;
  std::string expected;
  for (std::uint64_t i = 3000; i < 4000; ++i) expected += g.event(i) + "\n";
  CHECK(all == expected);
  CHECK(sluice_test::read_file(dir / "checkpoint") == "4000\tgenerator\n");
}

TEST_CASE("generated events look like a clickstream: sizes, fields, skewed types, partitions",
          "[connector][generator]") {
  connector::generator g{.events_per_second = 1000};
  std::size_t total = 0, smallest = SIZE_MAX, largest = 0;
  std::map<std::string, int> types;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    std::string e = g.event(static_cast<std::uint64_t>(i));
    total += e.size();
    smallest = std::min(smallest, e.size());
    largest = std::max(largest, e.size());
    REQUIRE(e.front() == '{');
    REQUIRE(e.back() == '}');
    REQUIRE(e.find('\n') == std::string::npos);
    std::string type = field(e, "event_type");
    ++types[type];
    CHECK((field(e, "price").empty() == (type != "purchase" && type != "add_to_cart")));
    if (i % 997 == 0) {
      CHECK(g.partition(static_cast<std::uint64_t>(i)) ==
            "event_type=" + type + "/hour=2024-05-01-" + (i < 3'600'000 ? "00" : "01"));
      CHECK(field(e, "user_id").size() == 9);
      CHECK(field(e, "event_id").size() == 36);
      CHECK(field(e, "seq") == std::to_string(i));
    }
  }
  double mean = static_cast<double>(total) / n;
  INFO("mean " << mean << " min " << smallest << " max " << largest);
  CHECK(mean >= 450);
  CHECK(mean <= 550);
  CHECK(smallest >= 380);
  CHECK(largest <= 700);
  CHECK(types.size() == 5);
  CHECK(types["page_view"] > types["click"]);
  CHECK(types["click"] > types["search"]);
  CHECK(types["search"] > types["add_to_cart"]);
  CHECK(types["add_to_cart"] > types["purchase"]);
  CHECK(types["purchase"] > n / 100);
  CHECK(field(g.event(0), "ts") == "2024-05-01T00:00:00.000Z");
  CHECK(field(g.event(1234), "ts") == "2024-05-01T00:00:01.234Z");
  CHECK(field(connector::generator{.start_time = timestamp(std::chrono::seconds(951868799))}.event(1), "ts") ==
        "2000-02-29T23:59:59.001Z");
}

TEST_CASE("invalid generator configuration is reported by field", "[connector][generator]") {
  CHECK_THROWS_WITH(connector::generator{.chunk_records = 0}.validate(),
                    "sluice: connector::generator.chunk_records = 0: must be at least 1");
  CHECK_THROWS_WITH(connector::generator{.events_per_second = 0}.validate(),
                    Catch::Contains("events_per_second = 0"));
}
