// SPDX-License-Identifier: Apache-2.0
#include <sluice/core/record_batch.hpp>

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstring>

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

TEST_CASE("record_batch shows its payloads as lines in record order", "[core][record_batch]") {
  record_batch b;
  CHECK(b.lines().empty());
  b.append("one", {}, {}, "p=1");
  b.append_written(8, [](char* out) {
    std::memcpy(out, "two", 3);
    return std::size_t{3};
  });
  b.append("", {}, {}, "p=2");
  b.append("three");
  b.set_partition(0, "a=much/longer=partition");  // partitions live apart: payloads stay as they were
  CHECK(b.lines() == "one\ntwo\n\nthree\n");
  CHECK(b.payload_bytes() == 11);
  CHECK(b[3].payload.data() == b.lines().data() + 9);
  CHECK_FALSE(b.newline_in_payload());
  b.clear();
  CHECK(b.lines().empty());
  CHECK(b.payload_bytes() == 0);
}

TEST_CASE("record_batch knows whether a payload holds a newline, however the record came", "[core][record_batch]") {
  record_batch plain, split;
  plain.append("{\"a\":1}");
  plain.append_written(16, [](char* out) {
    std::memcpy(out, "{\"b\":2}", 7);
    return std::size_t{7};
  });
  CHECK_FALSE(plain.newline_in_payload());
  split.append("one\ntwo");
  CHECK(split.newline_in_payload());
  CHECK(split.lines() == "one\ntwo\n");  // two lines for one record: not JSON Lines as it is
  CHECK(split.size() == 1);

  record_batch written;
  written.append_written(16, [](char* out) {
    std::memcpy(out, "a\nb", 3);
    return std::size_t{3};
  });
  CHECK(written.newline_in_payload());

  // Copied from another batch: what that batch knows comes along.
  record_batch copy;
  for (const record_ref r : plain) copy.append(r, plain);
  CHECK_FALSE(copy.newline_in_payload());
  CHECK(copy.lines() == plain.lines());
  copy.append(split[0], split);
  CHECK(copy.newline_in_payload());
  copy.clear();
  CHECK_FALSE(copy.newline_in_payload());  // cleared with its records
}

TEST_CASE("records with the partition of the record before share its bytes, and changing one changes no other",
          "[core][record_batch]") {
  record_batch b;
  b.append("1", {}, {}, "p=a");
  b.append("2", {}, {}, "p=a");
  b.append("3", {}, {}, "p=b");
  b.append("4", {}, {}, "p=a");
  CHECK(b[1].partition.data() == b[0].partition.data());  // shared with the record before
  CHECK(b[2].partition.data() != b[1].partition.data());
  CHECK(b[3].partition.data() != b[0].partition.data());  // only the record before is compared
  // Record 0's bytes are record 1's too: a shorter or a longer partition for record 0 must
  // leave record 1's alone.
  b.set_partition(0, "q");
  CHECK(b[0].partition == "q");
  CHECK(b[1].partition == "p=a");
  b.set_partition(1, "a=much/longer=partition");
  CHECK(b[1].partition == "a=much/longer=partition");
  CHECK(b[0].partition == "q");
  CHECK(b[2].partition == "p=b");
  b.set_partition(3, "p=b");  // now equal to record 2's: shared
  CHECK(b[3].partition.data() == b[2].partition.data());
  CHECK(b[3].partition == "p=b");
  // A record appended from the batch itself reads back the same.
  b.append(b[1]);
  CHECK(b[4].partition == "a=much/longer=partition");
  CHECK(b[4].payload == "2");
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

TEST_CASE("a large batch grows without losing its records, appends its own records, and trims to what it holds",
          "[core][record_batch]") {
  record_batch b;
  std::string expected;
  // Past detail::byte_buffer::mapped_from the payloads are a mapping of their own that grows in
  // place or moves; the records written before must read back either way.
  for (int i = 0; b.payload_bytes() < 3 * detail::byte_buffer::mapped_from; ++i) {
    std::string payload = std::to_string(i) + std::string(997, static_cast<char>('a' + i % 26));
    b.append(payload, {0, static_cast<std::uint64_t>(i)});
    expected += payload + '\n';
  }
  CHECK(b.lines() == expected);
  // A record appended from the batch itself while the batch grows (its bytes move).
  b.trim_payloads(0);
  CHECK(b.payload_capacity() < b.lines().size() + static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)));  // whole pages
  const std::string first(b[0].payload);
  b.append(b[0].payload);
  expected += first + '\n';
  CHECK(b.lines() == expected);
  CHECK(b[b.size() - 1].payload == first);
  // Trimming never drops a record; an emptied batch gives its mapping back below the threshold.
  b.trim_payloads(1);
  CHECK(b.lines() == expected);
  b.clear();
  b.trim_payloads(4096);
  CHECK(b.payload_capacity() == 4096);
  b.append("after");
  CHECK(b.lines() == "after\n");
}

TEST_CASE("record_batch takes a payload written in place by a writer that promises no newline without looking",
          "[core][record_batch]") {
  record_batch b;
  b.append_written_without_newline(16, [](char* out) {
    std::memcpy(out, "{\"a\":1}", 7);
    return std::size_t{7};
  }, {1, 1});
  b.append_written(16, [](char* out) {
    std::memcpy(out, "{\"b\":2}", 7);
    return std::size_t{7};
  }, {1, 2});
  REQUIRE(b.size() == 2);
  CHECK(b[0].payload == "{\"a\":1}");
  CHECK(b[0].cursor.position == 1);
  CHECK(b[1].payload == "{\"b\":2}");
  CHECK(b.payload_bytes() == 14);
  CHECK(b.lines() == "{\"a\":1}\n{\"b\":2}\n");
  CHECK_FALSE(b.newline_in_payload());
}
