// SPDX-License-Identifier: Apache-2.0
#include <sluice/batch/by_size.hpp>

#include <sluice/core/pipeline.hpp>
#include <sluice/format/jsonl.hpp>
#include <sluice_test/support.hpp>

#include "batch_harness.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace sluice;
using namespace std::chrono_literals;
using sluice_test::collecting_node;
using sluice_test::collecting_sink;
using sluice_test::vector_source;

static_assert(record_stage<batch::by_size>);

using batch_test::harness;
using batch_test::numbers_by_partition;
using batch_test::payloads_of;
using batch_test::require_each_record_once;

TEST_CASE("by_size emits a partition's batch when it reaches max_records", "[batch][by_size]") {
  harness h;
  std::vector<record_batch> out;
  int flushes = 0;
  auto node = batch::by_size{.max_records = 3}.open(h.t.ctx, [&] { return collecting_node<record_batch>{&out, &flushes}; });
  node.push(h.make({{"", "1"}, {"", "2"}, {"", "3"}, {"", "4"}}));
  node.push(h.make({{"", "5"}, {"", "6"}, {"", "7"}}));
  REQUIRE(out.size() == 2);
  CHECK(payloads_of(out[0]) == std::vector<std::string>{"1", "2", "3"});
  CHECK(payloads_of(out[1]) == std::vector<std::string>{"4", "5", "6"});
  CHECK(node.buffered_records() == 1);
  CHECK(flushes == 0);
  node.flush();
  REQUIRE(out.size() == 3);
  CHECK(payloads_of(out[2]) == std::vector<std::string>{"7"});
  CHECK(flushes == 1);
  CHECK(node.open_partitions() == 0);
  CHECK(node.buffered_records() == 0);
  require_each_record_once(out, h.errors, 7);
}

TEST_CASE("by_size copies a source's chunk out and leaves it with the source, cleared, with its capacity",
          "[batch][by_size]") {
  harness h;
  std::vector<record_batch> out;
  auto node = batch::by_size{.max_records = 2}.open(h.t.ctx, [&] { return collecting_node<record_batch>{&out}; });
  record_batch chunk = h.make({{"p=a", "1"}, {"p=b", "2"}, {"p=a", "3"}});
  chunk.reserve(3, 1 << 20);
  const std::size_t capacity = chunk.payload_capacity();
  node.push(std::move(chunk));
  // What a source does next (reuse_or_take_recycled) finds its chunk again, ready to fill.
  CHECK(chunk.empty());
  CHECK(chunk.payload_bytes() == 0);
  CHECK(chunk.payload_capacity() == capacity);
  REQUIRE(out.size() == 1);
  CHECK(payloads_of(out[0]) == std::vector<std::string>{"1", "3"});
  node.flush();
  require_each_record_once(out, h.errors, 3);
}

TEST_CASE("by_size grows a batch in steps to max_bytes and a sixteenth, never doubling past it",
          "[batch][by_size]") {
  // Five partitions share max_buffered_bytes, and any one of them may still fill a whole batch.
  while (take_recycled<record_batch>(SIZE_MAX).payload_capacity() > 0) {  // the largest first
  }  // no large batch left by another test: each new partition grows its own
  harness h;
  std::vector<record_batch> out;
  auto node = batch::by_size{.max_bytes = 1_MiB, .max_buffered_bytes = 2_MiB}.open(
      h.t.ctx, [&] { return collecting_node<record_batch>{&out}; });
  const std::string record(1000, 'r');
  std::size_t most_buffered = 0;
  for (int round = 0; round < 3; ++round) {
    std::vector<std::pair<std::string, std::string>> opening;
    for (int p = 0; p < 5; ++p) opening.emplace_back("p=" + std::to_string(p), record);
    node.push(h.make(opening));
    const std::vector<std::pair<std::string, std::string>> ten(10, {"p=0", record});
    for (int i = 0; i < 110; ++i) {
      node.push(h.make(ten));  // small chunks, as a source sends
      most_buffered = std::max(most_buffered, node.buffered_bytes());
    }
  }
  node.flush();
  std::size_t full = 0;
  for (const auto& b : out) {
    CHECK(b.payload_capacity() <= 1_MiB + 1_MiB / 16);  // stepped up to its limit, never doubled
    if (b.payload_bytes() + record.size() > 1_MiB) ++full;
  }
  CHECK(full >= 3);
  CHECK(most_buffered <= 2_MiB);  // capacity counted with the records
}

TEST_CASE("by_size counts a reused batch's capacity and keeps of it only what max_buffered_bytes has room for",
          "[batch][by_size]") {
  // Two spent batches that held whole 8 MiB objects: their capacity was written, so it is memory.
  while (take_recycled<record_batch>(SIZE_MAX).payload_capacity() > 0) {
  }
  for (int i = 0; i < 2; ++i) {
    record_batch spent;
    spent.append(std::string(8_MiB, 's'));
    give_recycled(std::move(spent));
  }
  harness h;
  std::vector<record_batch> out;
  const batch::by_size config{.max_bytes = 8_MiB, .max_buffered_bytes = 10_MiB};
  auto node = config.open(h.t.ctx, [&] { return collecting_node<record_batch>{&out}; });
  node.push(h.make({{"p=a", "first"}}));
  CHECK(node.buffered_bytes() >= 8_MiB);  // the first partition keeps the whole reused batch
  node.push(h.make({{"p=b", "second"}}));
  CHECK(node.buffered_bytes() <= config.max_buffered_bytes);
  node.flush();
  REQUIRE(out.size() == 2);
  // Together the two open batches held no more than the bound: the second kept what was left.
  CHECK(out[0].payload_capacity() + out[1].payload_capacity() <= config.max_buffered_bytes);
  CHECK(std::min(out[0].payload_capacity(), out[1].payload_capacity()) <= 2_MiB);
  require_each_record_once(out, h.errors, 2);
}

TEST_CASE("by_size emits before a record would take a batch past max_bytes", "[batch][by_size]") {
  harness h;
  std::vector<record_batch> out;
  auto node = batch::by_size{.max_bytes = 1_MiB}.open(h.t.ctx, [&] { return collecting_node<record_batch>{&out}; });
  std::string chunk(300_KiB, 'x');
  std::string huge(1536_KiB, 'y');
  // 3 x 300 KiB fit in 1 MiB, the 4th does not; the huge record goes alone.
  node.push(h.make({{"", chunk}, {"", chunk}, {"", chunk}, {"", chunk}, {"", huge}, {"", chunk}}));
  REQUIRE(out.size() == 3);
  CHECK(out[0].size() == 3);
  CHECK(out[0].payload_bytes() == 900_KiB);
  CHECK(out[1].size() == 1);
  CHECK(out[1][0].payload == chunk);
  CHECK(out[2].size() == 1);
  CHECK(out[2].payload_bytes() == huge.size());
  node.flush();
  REQUIRE(out.size() == 4);
  CHECK(out[3].size() == 1);
  for (const auto& b : out) CHECK((b.size() == 1 || b.payload_bytes() <= 1_MiB));
  require_each_record_once(out, h.errors, 6);
}

TEST_CASE("by_size emits a batch exactly at max_bytes", "[batch][by_size]") {
  harness h;
  std::vector<record_batch> out;
  auto node = batch::by_size{.max_bytes = 1_MiB}.open(h.t.ctx, [&] { return collecting_node<record_batch>{&out}; });
  std::string half(512_KiB, 'h');
  node.push(h.make({{"", half}, {"", half}}));
  REQUIRE(out.size() == 1);
  CHECK(out[0].payload_bytes() == 1_MiB);
  CHECK(node.open_partitions() == 0);
}

TEST_CASE("by_size emits batches on tick once they are max_age old, keeping their first arrival", "[batch][by_size]") {
  harness h;
  std::vector<record_batch> out;
  auto node = batch::by_size{.max_age = 10s}.open(h.t.ctx, [&] { return collecting_node<record_batch>{&out}; });
  auto now = std::chrono::steady_clock::now();
  auto old_arrival = now - 11s;
  node.push(h.make({{"p=old", "a"}}, old_arrival));
  node.push(h.make({{"p=new", "b"}, {"p=old", "c"}}, now));
  node.tick();
  REQUIRE(out.size() == 1);
  CHECK(out[0].partition() == "p=old");
  CHECK(out[0].opened_at() == old_arrival);
  CHECK(payloads_of(out[0]) == std::vector<std::string>{"a", "c"});
  CHECK(node.open_partitions() == 1);
  node.tick();
  CHECK(out.size() == 1);  // p=new is young
  node.flush();
  REQUIRE(out.size() == 2);
  CHECK(out[1].partition() == "p=new");
  CHECK(out[1].opened_at() == now);
  require_each_record_once(out, h.errors, 3);
}

TEST_CASE("by_size with max_age = 0 emits every partition at the end of each push", "[batch][by_size]") {
  harness h;
  std::vector<record_batch> out;
  auto node = batch::by_size{.max_age = 0s}.open(h.t.ctx, [&] { return collecting_node<record_batch>{&out}; });
  node.push(h.make({{"k=a", "1"}, {"k=b", "2"}, {"k=a", "3"}}));
  REQUIRE(out.size() == 2);
  CHECK(out[0].partition() == "k=a");
  CHECK(payloads_of(out[0]) == std::vector<std::string>{"1", "3"});
  CHECK(out[1].partition() == "k=b");
  CHECK(node.open_partitions() == 0);
  node.push(h.make({{"k=a", "4"}}));
  REQUIRE(out.size() == 3);
  CHECK(payloads_of(out[2]) == std::vector<std::string>{"4"});
}

TEST_CASE("by_size groups interleaved records by partition and keeps their order", "[batch][by_size]") {
  harness h;
  std::vector<record_batch> out;
  auto node = batch::by_size{.max_records = 4}.open(h.t.ctx, [&] { return collecting_node<record_batch>{&out}; });
  std::vector<std::pair<std::string, std::string>> in;
  for (int i = 0; i < 30; ++i) in.push_back({"type=" + std::to_string(i % 3), std::to_string(i)});
  node.push(h.make(in));
  node.flush();
  auto by_partition = numbers_by_partition(out, 4);
  REQUIRE(by_partition.size() == 3);
  for (int p = 0; p < 3; ++p) {
    auto& v = by_partition["type=" + std::to_string(p)];
    REQUIRE(v.size() == 10);
    for (std::size_t k = 0; k < v.size(); ++k) CHECK(v[k] == p + 3 * static_cast<int>(k));
  }
  require_each_record_once(out, h.errors, 30);
}

TEST_CASE("by_size finds the right partition while slots close and reopen for others", "[batch][by_size]") {
  // More partitions than the batcher compares before hashing, names of one length (so each
  // compare reads the bytes), and batches that end often, so a slot a recent partition used is
  // reopened for another one while that partition is still remembered.
  harness h;
  std::vector<record_batch> out;
  auto node = batch::by_size{.max_records = 3, .max_partitions = 5,
                             .on_partition_overflow = batch::partition_overflow::flush_lru}
                  .open(h.t.ctx, [&] { return collecting_node<record_batch>{&out}; });
  std::vector<std::pair<std::string, std::string>> in;
  std::uint64_t x = 7;
  for (int i = 0; i < 600; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    const int p = (x >> 33) % 10 < 6 ? 0 : static_cast<int>((x >> 40) % 9) + 1;  // one hot partition
    in.push_back({"p=" + std::to_string(p), std::to_string(i)});
  }
  node.push(h.make(in));
  node.flush();
  std::map<std::string, std::vector<int>> expected;
  for (std::size_t i = 0; i < in.size(); ++i) expected[in[i].first].push_back(static_cast<int>(i));
  CHECK(numbers_by_partition(out, 3) == expected);  // each partition's records, all of them, in order
  require_each_record_once(out, h.errors, 600);
}

TEST_CASE("the reject policy sends a new partition past max_partitions to the error output as activePartitionExceeded",
          "[batch][by_size]") {
  collecting_sink sink;
  std::vector<record_error> errors;
  auto p = vector_source{.payloads = {"a1", "b1", "c1", "a2", "c2", "b2"},
                         .chunk = 6,
                         .partitions = {"k=a", "k=b", "k=c", "k=a", "k=c", "k=b"}} |
           batch::by_size{.max_partitions = 2} | format::jsonl{} | sink;
  p.options.on_error = [&](const record_error& e) { errors.push_back(e); };
  p.run();
  REQUIRE(errors.size() == 2);
  for (const auto& e : errors) {
    CHECK(e.code == errc::partition_limit_exceeded);
    CHECK(e.code.message() == "activePartitionExceeded");
    CHECK(e.stage == "batch::by_size");
    CHECK(e.partition == "k=c");
    CHECK(e.reason == "partition `k=c` would be open partition 3 (batch::by_size.max_partitions = 2)");
  }
  CHECK(errors[0].payload == "c1");
  CHECK(errors[1].payload == "c2");
  REQUIRE(sink.objects->size() == 2);
  std::map<std::string, std::string> bodies;
  for (const auto& o : *sink.objects) bodies[o.partition] = o.body;
  CHECK(bodies["k=a"] == "a1\na2\n");
  CHECK(bodies["k=b"] == "b1\nb2\n");
  auto m = p.metrics().snapshot();
  CHECK(m.records_in == 6);
  CHECK(m.records_out + m.errors == m.records_in);
}

TEST_CASE("the flush_lru policy emits the least recently used partition to make room", "[batch][by_size]") {
  harness h;
  std::vector<record_batch> out;
  auto node = batch::by_size{.max_partitions = 2, .on_partition_overflow = batch::partition_overflow::flush_lru}.open(
      h.t.ctx, [&] { return collecting_node<record_batch>{&out}; });
  node.push(h.make({{"k=a", "a1"}, {"k=b", "b1"}, {"k=a", "a2"}}));  // b is now least recently used
  CHECK(out.empty());
  node.push(h.make({{"k=c", "c1"}}));
  REQUIRE(out.size() == 1);
  CHECK(out[0].partition() == "k=b");
  CHECK(payloads_of(out[0]) == std::vector<std::string>{"b1"});
  CHECK(node.open_partitions() == 2);
  node.push(h.make({{"k=c", "c2"}, {"k=b", "b2"}}));  // a is now least recently used
  REQUIRE(out.size() == 2);
  CHECK(out[1].partition() == "k=a");
  CHECK(payloads_of(out[1]) == std::vector<std::string>{"a1", "a2"});
  node.flush();
  CHECK(h.errors.empty());
  require_each_record_once(out, h.errors, 6);
}

TEST_CASE("memory stays bounded with 100k partitions under flush_lru", "[batch][by_size]") {
  harness h;
  std::vector<record_batch> out;
  batch::by_size config{.max_bytes = 1_MiB,
                        .max_partitions = 1000,
                        .on_partition_overflow = batch::partition_overflow::flush_lru,
                        .max_buffered_bytes = 2_MiB};
  auto node = config.open(h.t.ctx, [&] { return collecting_node<record_batch>{&out}; });
  const std::uint64_t n = 100'000;
  std::string payload(100, 'p');
  std::size_t most_open = 0, most_buffered = 0;
  for (std::uint64_t i = 0; i < n; i += 1000) {
    std::vector<std::pair<std::string, std::string>> chunk;
    for (std::uint64_t k = i; k < i + 1000; ++k) chunk.push_back({"id=" + std::to_string(k), payload});
    node.push(h.make(chunk));
    most_open = std::max(most_open, node.open_partitions());
    most_buffered = std::max(most_buffered, node.buffered_bytes());
  }
  CHECK(most_open == 1000);
  CHECK(most_buffered <= config.max_buffered_bytes);
  node.flush();
  CHECK(node.open_partitions() == 0);
  CHECK(node.buffered_bytes() <= config.max_buffered_bytes);  // only spare capacity is left
  REQUIRE(out.size() == n);
  for (const auto& b : out) {
    REQUIRE(b.size() == 1);
    CHECK(b[0].partition == b.partition());
  }
  CHECK(h.errors.empty());
  require_each_record_once(out, h.errors, n);
}

TEST_CASE("max_buffered_bytes emits the largest open batches when many partitions are open", "[batch][by_size]") {
  harness h;
  std::vector<record_batch> out;
  batch::by_size config{.max_bytes = 1_MiB, .max_partitions = 200'000, .max_buffered_bytes = 1_MiB};
  auto node = config.open(h.t.ctx, [&] { return collecting_node<record_batch>{&out}; });
  // One big partition grows first; then 100k small ones push the total over the bound.
  std::string big(1000, 'B');
  std::vector<std::pair<std::string, std::string>> first;
  for (int i = 0; i < 500; ++i) first.push_back({"big", big});
  node.push(h.make(first));
  CHECK(out.empty());
  std::size_t most_buffered = 0;
  std::string small(100, 's');
  for (int i = 0; i < 100'000; i += 1000) {
    std::vector<std::pair<std::string, std::string>> chunk;
    for (int k = i; k < i + 1000; ++k) chunk.push_back({"id=" + std::to_string(k), small});
    node.push(h.make(chunk));
    most_buffered = std::max(most_buffered, node.buffered_bytes());
  }
  CHECK(most_buffered <= config.max_buffered_bytes);
  REQUIRE_FALSE(out.empty());
  CHECK(out[0].partition() == "big");  // the largest went first
  CHECK(out[0].size() == 500);
  node.flush();
  require_each_record_once(out, h.errors, 100'500);
}

TEST_CASE("invalid by_size configuration is refused with the field, the value and the range", "[batch][by_size]") {
  auto message = [](const batch::by_size& b) {
    try {
      b.validate();
    } catch (const config_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message(batch::by_size{}) == "no error");
  CHECK(message(batch::by_size{.max_bytes = 200_MiB}) ==
        "sluice: batch::by_size.max_bytes = 200 MiB: must be 1 MiB..128 MiB (Firehose buffering hints)");
  CHECK(message(batch::by_size{.max_bytes = 1000}) ==
        "sluice: batch::by_size.max_bytes = 1000 bytes: must be 1 MiB..128 MiB (Firehose buffering hints)");
  CHECK(message(batch::by_size{.max_bytes = 512_KiB}) ==
        "sluice: batch::by_size.max_bytes = 512 KiB: must be 1 MiB..128 MiB (Firehose buffering hints)");
  CHECK(message(batch::by_size{.max_age = 901s}) ==
        "sluice: batch::by_size.max_age = 901s: must be 0s..900s (Firehose buffering hints)");
  CHECK(message(batch::by_size{.max_age = -1ms}) ==
        "sluice: batch::by_size.max_age = -1ms: must be 0s..900s (Firehose buffering hints)");
  CHECK(message(batch::by_size{.max_partitions = 0}) == "sluice: batch::by_size.max_partitions = 0: must be at least 1");
  CHECK(message(batch::by_size{.max_bytes = 64_MiB, .max_buffered_bytes = 32_MiB}) ==
        "sluice: batch::by_size.max_buffered_bytes = 32 MiB: must be at least max_bytes (64 MiB)");

  // The pipeline refuses to start: nothing is read.
  collecting_sink sink;
  auto p = vector_source{.payloads = {"a"}} | batch::by_size{.max_bytes = 200_MiB} | format::jsonl{} | sink;
  CHECK_THROWS_AS(p.run(), config_error);
  CHECK(sink.objects->empty());
  CHECK(p.metrics().snapshot().records_in == 0);
}

TEST_CASE("a pipeline through by_size delivers every record exactly once", "[batch][by_size]") {
  collecting_sink sink;
  std::vector<std::string> payloads, partitions;
  for (int i = 0; i < 10'000; ++i) {
    payloads.push_back("{\"n\":" + std::to_string(i) + "}");
    partitions.push_back("shard=" + std::to_string(i % 7));
  }
  auto p = vector_source{.payloads = payloads, .chunk = 333, .partitions = partitions} |
           batch::by_size{.max_records = 100} | format::jsonl{} | sink;
  p.run();
  std::multiset<std::string> lines;
  for (const auto& o : *sink.objects) {
    CHECK(o.record_count <= 100);
    CHECK_FALSE(o.partition.empty());
    std::size_t start = 0;
    for (std::size_t nl; (nl = o.body.find('\n', start)) != std::string::npos; start = nl + 1)
      lines.insert(o.body.substr(start, nl - start));
  }
  REQUIRE(lines.size() == payloads.size());
  CHECK(std::multiset<std::string>(payloads.begin(), payloads.end()) == lines);
  auto m = p.metrics().snapshot();
  CHECK(m.records_in == 10'000);
  CHECK(m.records_out == 10'000);
  CHECK(m.errors == 0);
}

namespace {
/// A source that pushes one record, waits, then pushes another: the age trigger must emit the
/// first before the second arrives.
struct paced_source {
  using stage_concept = source_tag;
  using output_type = record_batch;
  std::chrono::milliseconds pause;
  struct state {
    std::uint32_t id;
    std::chrono::milliseconds pause;
    template <class Out>
    void run(Out& out, std::stop_token) {
      record_batch b;
      b.append("first", {id, 1});
      out.push(std::move(b));
      std::this_thread::sleep_for(pause);
      record_batch c;
      c.append("second", {id, 2});
      out.push(std::move(c));
    }
  };
  state open(run_context& ctx) const { return {ctx.add_source("paced").first, pause}; }
};
}  // namespace

TEST_CASE("in a pipeline the ticker emits a batch once it is max_age old", "[batch][by_size]") {
  collecting_sink sink;
  auto p = paced_source{.pause = 400ms} | batch::by_size{.max_age = 50ms} | format::jsonl{} | sink;
  p.options.tick_interval = 10ms;
  p.run();
  REQUIRE(sink.objects->size() == 2);
  CHECK((*sink.objects)[0].body == "first\n");
  CHECK((*sink.objects)[1].body == "second\n");

  collecting_sink slow_sink;
  auto q = paced_source{.pause = 50ms} | batch::by_size{.max_age = 60s} | format::jsonl{} | slow_sink;
  q.options.tick_interval = 10ms;
  q.run();
  REQUIRE(slow_sink.objects->size() == 1);  // drained together at the end
  CHECK((*slow_sink.objects)[0].body == "first\nsecond\n");
}
