// SPDX-License-Identifier: Apache-2.0
#include <sluice/core/record_batch.hpp>

#include <catch2/catch.hpp>

using namespace sluice;

TEST_CASE("record_batch keeps payloads, partitions, times and cursors of appended records", "[core][record_batch]") {
  record_batch b;
  timestamp t = timestamp{} + std::chrono::seconds(5);
  b.append("one", {1, 10}, t, "a=1");
  b.append("two", {1, 20});
  REQUIRE(b.size() == 2);
  CHECK(b.payload_bytes() == 6);
  CHECK(b[0].payload == "one");
  CHECK(b[0].partition == "a=1");
  CHECK(b[0].event_time == t);
  CHECK(b[0].cursor.position == 10);
  CHECK(b[1].payload == "two");
  CHECK(b[1].partition.empty());
  b.set_partition(1, "longer=partition");
  CHECK(b[1].partition == "longer=partition");
  CHECK(b[0].partition == "a=1");
  b.clear();
  CHECK(b.empty());
  CHECK(b.payload_bytes() == 0);
}

TEST_CASE("partition keys escape separators and read back", "[core][record]") {
  auto p = partition_keys{}.add("type", "a/b=c%").add("hour", "13").str();
  CHECK(p == "type=a%2Fb%3Dc%25/hour=13");
  CHECK(partition_value(p, "type") == "a/b=c%");
  CHECK(partition_value(p, "hour") == "13");
  bool found = true;
  CHECK(partition_value(p, "missing", &found).empty());
  CHECK_FALSE(found);
}
