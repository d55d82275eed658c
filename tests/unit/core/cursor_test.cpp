// SPDX-License-Identifier: Apache-2.0
#include <sluice/core/cursor.hpp>

#include <sluice_test/support.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <memory_resource>
#include <random>

using namespace sluice;

TEST_CASE("cursor tracker commits a position only when every record before it is durable", "[core][cursor]") {
  cursor_tracker tracker;
  std::vector<std::uint64_t> commits;
  auto id = tracker.add_source("file", [&](std::uint64_t p) { commits.push_back(p); });
  record_batch b;
  for (std::uint64_t i = 1; i <= 6; ++i) b.append("x", {id, i * 100});
  tracker.track(b);
  // Three objects: {1,2}, {3,4}, {5,6}; they complete out of order.
  cursor_set first, second, third;
  first.add(b[0].cursor), first.add(b[1].cursor);
  second.add(b[2].cursor), second.add(b[3].cursor);
  third.add(b[4].cursor), third.add(b[5].cursor);
  CHECK(second.ranges().size() == 1);
  tracker.ack(third);
  CHECK(commits.empty());
  tracker.ack(first);
  REQUIRE(commits == std::vector<std::uint64_t>{200});
  tracker.ack(second);
  REQUIRE(commits == std::vector<std::uint64_t>{200, 600});
  CHECK(tracker.in_flight() == 0);
}

TEST_CASE("cursor tracker commits in order whatever order interleaved objects complete in", "[core][cursor]") {
  std::mt19937 rng(42);
  for (int round = 0; round < 20; ++round) {
    cursor_tracker tracker;
    std::vector<std::uint64_t> commits;
    auto id = tracker.add_source("s", [&](std::uint64_t p) { commits.push_back(p); });
    record_batch b;
    for (std::uint64_t i = 1; i <= 200; ++i) b.append("x", {id, i});
    tracker.track(b);
    // Scatter records over 7 "partitions", as a partitioning batcher would.
    std::vector<cursor_set> objects(7);
    for (std::size_t i = 0; i < b.size(); ++i) objects[rng() % 7].add(b[i].cursor);
    std::shuffle(objects.begin(), objects.end(), rng);
    for (auto& o : objects) tracker.ack(o);
    REQUIRE_FALSE(commits.empty());
    CHECK(commits.back() == 200);
    CHECK(std::is_sorted(commits.begin(), commits.end()));
  }
}

TEST_CASE("cursor tracker commits in-order runs at once and ignores acks of committed records", "[core][cursor]") {
  cursor_tracker tracker;
  std::vector<std::uint64_t> commits;
  auto id = tracker.add_source("s", [&](std::uint64_t p) { commits.push_back(p); });
  // Runs of a thousand records: each commits at once when it extends the committed prefix.
  record_batch first, second;
  for (std::uint64_t i = 1; i <= 1500; ++i) first.append("x", {id, i * 10});
  tracker.track(first);
  cursor_set head, tail;
  for (std::size_t i = 0; i < 1000; ++i) head.add(first[i].cursor);
  for (std::size_t i = 1000; i < first.size(); ++i) tail.add(first[i].cursor);
  REQUIRE(head.ranges().size() == 1);
  tracker.ack(head);
  REQUIRE(commits == std::vector<std::uint64_t>{10000});
  CHECK(tracker.in_flight() == 500);

  for (std::uint64_t i = 1501; i <= 3000; ++i) second.append("x", {id, i * 10});
  tracker.track(second);
  CHECK(second[0].cursor.seq == 1500);
  CHECK(tracker.in_flight() == 2000);
  // The second batch completes first: nothing commits until the tail of the first is in.
  cursor_set later;
  for (std::size_t i = 0; i < second.size(); ++i) later.add(second[i].cursor);
  tracker.ack(later);
  CHECK(commits.size() == 1);
  tracker.ack(tail);
  REQUIRE(commits == std::vector<std::uint64_t>{10000, 30000});
  CHECK(tracker.in_flight() == 0);
  // A repeated ack of committed records (a store retrying an acknowledgement) changes nothing.
  tracker.ack(head);
  tracker.ack(later);
  CHECK(commits.size() == 2);
  CHECK(tracker.committed(id) == std::pair<bool, std::uint64_t>{true, 30000});
}

TEST_CASE("cursor tracker numbers each source on its own in a batch that mixes sources", "[core][cursor]") {
  cursor_tracker tracker;
  std::vector<std::uint64_t> a_commits, b_commits;
  auto a = tracker.add_source("a", [&](std::uint64_t p) { a_commits.push_back(p); });
  auto b = tracker.add_source("b", [&](std::uint64_t p) { b_commits.push_back(p); });
  record_batch batch;
  batch.append("1", {a, 1});
  batch.append("2", {a, 2});
  batch.append("3", {b, 7});
  batch.append("4", {a, 3});
  batch.append("5", {b, 9});
  tracker.track(batch);
  CHECK(batch[0].cursor.seq == 0);
  CHECK(batch[1].cursor.seq == 1);
  CHECK(batch[2].cursor.seq == 0);
  CHECK(batch[3].cursor.seq == 2);
  CHECK(batch[4].cursor.seq == 1);
  cursor_set bs;
  bs.add(batch[2].cursor);
  bs.add(batch[4].cursor);
  tracker.ack(bs);
  CHECK(a_commits.empty());
  REQUIRE(b_commits == std::vector<std::uint64_t>{9});
  cursor_set as;
  for (std::size_t i : {0u, 1u, 3u}) as.add(batch[i].cursor);
  tracker.ack(as);
  REQUIRE(a_commits == std::vector<std::uint64_t>{3});
  CHECK(tracker.in_flight() == 0);
}

TEST_CASE("cursor tracker agrees with a record-by-record model whatever is acknowledged, twice or in part",
          "[core][cursor]") {
  // The model: a done flag per record; the committed position is that of the last record of the
  // longest acknowledged prefix.
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    cursor_tracker tracker;
    std::vector<std::uint64_t> commits;
    auto id = tracker.add_source("s", [&](std::uint64_t p) { commits.push_back(p); });
    record_batch b;
    const std::uint64_t n = 1 + rng() % 300;
    for (std::uint64_t i = 1; i <= n; ++i) b.append("x", {id, i * 3});
    tracker.track(b);
    std::vector<bool> done(n, false);
    std::uint64_t prefix = 0;
    for (int step = 0; step < 60 && prefix < n; ++step) {
      // A run of consecutive records, overlapping earlier ones at random.
      std::uint64_t first = rng() % n, length = 1 + rng() % 12, end = std::min(n, first + length);
      cursor_set run;
      for (std::uint64_t i = first; i < end; ++i) run.add(b[i].cursor);
      tracker.ack(run);
      for (std::uint64_t i = first; i < end; ++i) done[i] = true;
      std::uint64_t grown = prefix;
      while (grown < n && done[grown]) ++grown;
      if (grown > prefix) {
        REQUIRE_FALSE(commits.empty());
        CHECK(commits.back() == grown * 3);
      }
      prefix = grown;
      CHECK(tracker.in_flight() == static_cast<std::uint64_t>(std::count(done.begin(), done.end(), false)));
      CHECK(tracker.committed(id) == std::pair<bool, std::uint64_t>{prefix > 0, prefix > 0 ? prefix * 3 : 0});
    }
  }
}

namespace {
/// Counts the bytes a tracker takes from the default memory resource (its runs' pool).
struct counting_resource : std::pmr::memory_resource {
  std::size_t outstanding = 0, peak = 0;
  void* do_allocate(std::size_t bytes, std::size_t align) override {
    outstanding += bytes;
    peak = std::max(peak, outstanding);
    return std::pmr::new_delete_resource()->allocate(bytes, align);
  }
  void do_deallocate(void* p, std::size_t bytes, std::size_t align) override {
    outstanding -= bytes;
    std::pmr::new_delete_resource()->deallocate(p, bytes, align);
  }
  bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override { return this == &other; }
};
}  // namespace

TEST_CASE("cursor tracker's memory follows the records in flight, not how far back the oldest lies",
          "[core][cursor]") {
  counting_resource counted;
  std::pmr::memory_resource* previous = std::pmr::set_default_resource(&counted);
  {
    cursor_tracker tracker;
    std::vector<std::uint64_t> commits;
    auto id = tracker.add_source("s", [&](std::uint64_t p) { commits.push_back(p); });
    // A million records in chunks of 4096; the first record of the stream and every 50th of the
    // first chunk are held back (a rare partition's open batch) while everything else completes.
    cursor_set held;
    record_batch chunk;
    std::uint64_t position = 0;
    for (int c = 0; c < 245; ++c) {
      chunk.clear();
      for (int i = 0; i < 4096; ++i) chunk.append("x", {id, ++position});
      tracker.track(chunk);
      cursor_set rest;
      for (std::size_t i = 0; i < chunk.size(); ++i) {
        bool hold = c == 0 && i % 50 == 0;
        (hold ? held : rest).add(chunk[i].cursor);
      }
      tracker.ack(rest);
    }
    CHECK(commits.empty());
    CHECK(tracker.in_flight() == held.count());
    CHECK(held.count() == 82);
    // 82 runs held, each a small map node: a record-by-record tracker would hold a million.
    CHECK(counted.peak > 0);  // the runs are measured here: they come from the default resource
    CHECK(counted.peak < 64 * 1024);
    tracker.ack(held);
    REQUIRE(commits == std::vector<std::uint64_t>{position});
    CHECK(tracker.in_flight() == 0);
  }
  std::pmr::set_default_resource(previous);
}

TEST_CASE("checkpoint store replaces its file atomically and reads it back", "[core][cursor]") {
  sluice_test::temp_dir dir;
  auto path = dir / "checkpoint";
  {
    checkpoint_store store(path);
    CHECK_FALSE(store.get("a").first);
    store.put("a", 10);
    store.put("name\twith tab", 20);
    store.put("a", 30);
  }
  checkpoint_store again(path);
  CHECK(again.get("a") == std::pair<bool, std::uint64_t>{true, 30});
  CHECK(again.get("name\twith tab") == std::pair<bool, std::uint64_t>{true, 20});
  CHECK_FALSE(std::filesystem::exists(dir / "checkpoint.tmp"));
}

TEST_CASE("a corrupt checkpoint file is an error naming the file and line", "[core][cursor]") {
  sluice_test::temp_dir dir;
  sluice_test::write_file(dir / "checkpoint", "10\tok\nnot-a-number\tbad\n");
  try {
    checkpoint_store store(dir / "checkpoint");
    FAIL("no error");
  } catch (const sluice::error& e) {
    CHECK_THAT(e.what(), Catch::Contains("line 2"));
    CHECK_THAT(e.what(), Catch::Contains("checkpoint"));
  }
}
