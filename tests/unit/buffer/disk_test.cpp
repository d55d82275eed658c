// SPDX-License-Identifier: Apache-2.0
#include <sluice/buffer/disk.hpp>

#include <sluice/buffer/queue.hpp>
#include <sluice/format/jsonl.hpp>
#include <sluice_test/support.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <thread>

using namespace sluice;
using namespace std::chrono_literals;
using sluice_test::collecting_sink;
using sluice_test::temp_dir;
using sluice_test::test_context;
using sluice_test::vector_source;

static_assert(record_stage<buffer::disk>);

namespace {

/// A source position stream driven by hand: builds batches the way the pipeline's entry node
/// hands them on (tracked, positions 1, 2, 3, ...).
struct upstream {
  run_context& ctx;
  std::uint32_t id = ctx.add_source("up").first;
  std::uint64_t next = 1;

  record_batch make(std::size_t n, std::size_t payload_bytes = 0, std::string_view partition = {}) {
    record_batch b;
    for (std::size_t i = 0; i < n; ++i, ++next) {
      std::string payload = "{\"n\":" + std::to_string(next) + "}";
      if (payload.size() < payload_bytes) payload.append(payload_bytes - payload.size(), ' ');
      b.append(payload, cursor{id, next}, timestamp(std::chrono::seconds(1700000000 + next)), partition);
    }
    ctx.tracker().track(b);
    return b;
  }
  [[nodiscard]] std::pair<bool, std::uint64_t> committed() const { return ctx.tracker().committed(id); }
};

/// Downstream that keeps what it gets without acknowledging: the test acknowledges by hand.
struct holding_node {
  std::vector<record_batch>* out;
  void push(record_batch&& b) { out->push_back(std::move(b)); }
  void flush() {}
  void tick() {}
};

void ack(run_context& ctx, const record_batch& b) {
  cursor_set covered;
  for (const record_ref r : b) covered.add(r.cursor);
  ctx.tracker().ack(covered);
}

std::size_t wal_files(const std::filesystem::path& dir) { return buffer::detail::list_segments(dir).size(); }

std::pair<bool, std::uint64_t> disk_checkpoint(const std::filesystem::path& dir) {
  if (!std::filesystem::exists(dir / "checkpoint")) return {false, 0};
  return checkpoint_store(dir / "checkpoint").get("committed");
}

std::vector<std::string> payloads_of(const std::vector<record_batch>& batches) {
  std::vector<std::string> out;
  for (const auto& b : batches)
    for (const record_ref r : b) out.emplace_back(r.payload);
  return out;
}

std::vector<std::string> expected_payloads(std::uint64_t first, std::uint64_t last) {
  std::vector<std::string> out;
  for (auto n = first; n <= last; ++n) out.push_back("{\"n\":" + std::to_string(n) + "}");
  return out;
}

/// A sink safe behind several queue workers.
struct locked_sink {
  using stage_concept = sink_tag;
  using input_type = object;
  struct shared {
    std::mutex mutex;
    std::string bodies;
  };
  std::shared_ptr<shared> out = std::make_shared<shared>();
  struct node {
    run_context& ctx;
    std::shared_ptr<shared> out;
    void push(object&& o) {
      {
        std::lock_guard lock(out->mutex);
        out->bodies += o.body;
      }
      ctx.acknowledge(o);
    }
    void flush() {}
    void tick() {}
  };
  node open(run_context& ctx) const { return {ctx, out}; }
};

}  // namespace

TEST_CASE("buffer::disk passes records through a pipeline and commits both positions", "[buffer][disk]") {
  temp_dir tmp;
  std::vector<std::string> payloads;
  for (int i = 0; i < 1000; ++i) payloads.push_back("{\"i\":" + std::to_string(i) + "}");
  collecting_sink sink;
  auto p = vector_source{.payloads = payloads, .chunk = 64} | buffer::disk{.dir = tmp / "wal"} | format::jsonl{} |
           sink;
  p.options.checkpoint = tmp / "checkpoint";
  p.run();

  std::string all;
  for (const auto& o : *sink.objects) all += o.body;
  std::string expected;
  for (const auto& s : payloads) expected += s + "\n";
  CHECK(all == expected);
  CHECK(checkpoint_store(tmp / "checkpoint").get("vector") == std::pair<bool, std::uint64_t>{true, 1000});
  // Everything was acknowledged by the sink: the buffer's checkpoint is at the end of its log.
  auto segments = buffer::detail::list_segments(tmp / "wal");
  REQUIRE(segments.size() == 1);
  auto end = segments[0].start + std::filesystem::file_size(segments[0].path);
  CHECK(disk_checkpoint(tmp / "wal") == std::pair<bool, std::uint64_t>{true, end});
}

TEST_CASE("buffer::disk in front of a buffer::queue with two workers takes commits from both workers",
          "[buffer][disk][queue]") {
  temp_dir tmp;
  std::vector<std::string> payloads;
  for (int i = 0; i < 3000; ++i) payloads.push_back("{\"i\":" + std::to_string(i) + "}");
  locked_sink sink;
  auto p = vector_source{.payloads = payloads, .chunk = 100} | buffer::disk{.dir = tmp / "wal"} |
           buffer::queue{.capacity = 4, .workers = 2} | format::jsonl{} | sink;
  p.run();
  std::vector<std::string> got;
  std::size_t at = 0;
  while (at < sink.out->bodies.size()) {
    auto nl = sink.out->bodies.find('\n', at);
    got.push_back(sink.out->bodies.substr(at, nl - at));
    at = nl + 1;
  }
  std::sort(got.begin(), got.end());
  std::sort(payloads.begin(), payloads.end());
  CHECK(got == payloads);
  auto segments = buffer::detail::list_segments(tmp / "wal");
  REQUIRE(segments.size() == 1);
  CHECK(disk_checkpoint(tmp / "wal").second == segments[0].start + std::filesystem::file_size(segments[0].path));
}

TEST_CASE("buffer::disk keeps payload, partition and event time and re-stamps cursors with log positions",
          "[buffer][disk]") {
  temp_dir tmp;
  test_context t;
  upstream up{t.ctx};
  std::vector<record_batch> got;
  auto node = buffer::disk{.dir = tmp.path()}.open(t.ctx, [&] { return holding_node{&got}; });
  auto in = up.make(3, 0, "day=2024-01-01");
  node.push(std::move(in));
  node.push(up.make(2));
  REQUIRE(got.size() == 2);
  const record_ref first = got[0][0];
  CHECK(first.payload == "{\"n\":1}");
  CHECK(first.partition == "day=2024-01-01");
  CHECK(first.event_time == timestamp(std::chrono::seconds(1700000001)));
  CHECK(got[1][0].partition.empty());
  std::uint64_t last = 0;
  for (const auto& b : got) {
    for (const record_ref r : b) {
      CHECK(r.cursor.source == node.source_id());
      CHECK(r.cursor.position > last);  // byte offset after the record: strictly increasing
      last = r.cursor.position;
    }
  }
  CHECK(last == std::filesystem::file_size(tmp / buffer::detail::segment_name(0)));
  CHECK(t.ctx.tracker().source_name(node.source_id()) == "disk:" + tmp.path().string());
}

TEST_CASE("buffer::disk lets the source commit as soon as records are in the buffer, and commits its own "
          "position only after the sink acknowledges",
          "[buffer][disk]") {
  temp_dir tmp;
  test_context t;
  upstream up{t.ctx};
  std::vector<record_batch> got;
  auto node = buffer::disk{.dir = tmp.path()}.open(t.ctx, [&] { return holding_node{&got}; });
  node.push(up.make(10));
  node.push(up.make(10));

  // The source may answer its client now: its records are durable in the buffer.
  CHECK(up.committed() == std::pair<bool, std::uint64_t>{true, 20});
  // The buffer's own position has not moved: nothing reached the sink.
  CHECK(t.ctx.tracker().committed(node.source_id()).first == false);
  CHECK(disk_checkpoint(tmp.path()).first == false);
  CHECK(node.unacknowledged_bytes() > 0);

  ack(t.ctx, got[0]);
  std::uint64_t after_first = got[0][9].cursor.position;
  CHECK(t.ctx.tracker().committed(node.source_id()) == std::pair<bool, std::uint64_t>{true, after_first});
  CHECK(disk_checkpoint(tmp.path()) == std::pair<bool, std::uint64_t>{true, after_first});
  ack(t.ctx, got[1]);
  CHECK(node.unacknowledged_bytes() == 0);
  CHECK(disk_checkpoint(tmp.path()).second == got[1][9].cursor.position);
}

TEST_CASE("buffer::disk with sync every_n_ms acknowledges upstream only after the sync that covers it",
          "[buffer][disk]") {
  temp_dir tmp;
  test_context t;
  upstream up{t.ctx};
  std::vector<record_batch> got;
  auto node = buffer::disk{.dir = tmp.path(), .sync = buffer::sync_policy::every_n_ms, .sync_interval = 400ms}.open(
      t.ctx, [&] { return holding_node{&got}; });
  node.push(up.make(5));
  CHECK(got.size() == 1);                // passed on at once
  CHECK(up.committed().first == false);  // but not yet synced, so not acknowledged upstream
  node.tick();                           // before the interval: still pending
  CHECK(up.committed().first == false);
  std::this_thread::sleep_for(410ms);
  node.tick();
  CHECK(up.committed() == std::pair<bool, std::uint64_t>{true, 5});
  node.push(up.make(5));
  CHECK(up.committed().second == 5);
  node.flush();  // drain syncs whatever is pending
  CHECK(up.committed().second == 10);
}

TEST_CASE("buffer::disk creates segments and deletes those wholly below the committed position",
          "[buffer][disk]") {
  temp_dir tmp;
  test_context t;
  upstream up{t.ctx};
  std::vector<record_batch> got;
  auto node = buffer::disk{.dir = tmp.path(), .segment_bytes = 1 << 20}.open(t.ctx, [&] { return holding_node{&got}; });
  for (int i = 0; i < 40; ++i) node.push(up.make(10, 10240));  // ~100 KiB a batch, 10 batches a segment
  CHECK(wal_files(tmp.path()) == 4);
  for (int i = 0; i < 25; ++i) ack(t.ctx, got[static_cast<std::size_t>(i)]);
  // Segments 0 and 1 (batches 1..20) are wholly committed; segment 2 holds batches 21..30.
  auto left = buffer::detail::list_segments(tmp.path());
  REQUIRE(left.size() == 2);
  CHECK(left[0].start == got[20][0].cursor.position - buffer::detail::frame_header_size - got[20][0].payload.size());
  CHECK(disk_checkpoint(tmp.path()).second == got[24][9].cursor.position);
  for (int i = 25; i < 40; ++i) ack(t.ctx, got[static_cast<std::size_t>(i)]);
  CHECK(wal_files(tmp.path()) == 1);  // the active segment stays
  CHECK(node.unacknowledged_bytes() == 0);
}

TEST_CASE("buffer::disk replays only the unacknowledged records after a restart", "[buffer][disk]") {
  temp_dir tmp;
  std::uint64_t committed_before = 0;
  {
    test_context t;
    upstream up{t.ctx};
    std::vector<record_batch> got;
    auto node = buffer::disk{.dir = tmp.path()}.open(t.ctx, [&] { return holding_node{&got}; });
    for (int i = 0; i < 10; ++i) node.push(up.make(10));
    for (int i = 0; i < 5; ++i) ack(t.ctx, got[static_cast<std::size_t>(i)]);
    committed_before = got[4][9].cursor.position;
    // Destroyed without flush: a crash after the source committed all 100 records.
    CHECK(up.committed().second == 100);
  }
  std::vector<record_batch> replayed;
  {
    test_context t;
    auto node = buffer::disk{.dir = tmp.path()}.open(t.ctx, [&] { return holding_node{&replayed}; });
    CHECK(replayed.empty());  // replay waits for the first push, tick or flush
    node.tick();
    CHECK(payloads_of(replayed) == expected_payloads(51, 100));
    CHECK(replayed.front()[0].cursor.position > committed_before);
    CHECK(t.ctx.tracker().in_flight() == 50);
    CHECK(t.ctx.metrics().snapshot().records_in == 50);
    node.flush();  // no second replay
    CHECK(payloads_of(replayed).size() == 50);
    for (const auto& b : replayed) ack(t.ctx, b);
    CHECK(node.unacknowledged_bytes() == 0);
  }
  {
    test_context t;
    std::vector<record_batch> again;
    auto node = buffer::disk{.dir = tmp.path()}.open(t.ctx, [&] { return holding_node{&again}; });
    node.flush();
    CHECK(again.empty());  // everything was acknowledged: nothing to replay
    // New records continue after the old log.
    upstream up{t.ctx};
    node.push(up.make(1));
    REQUIRE(again.size() == 1);
    CHECK(again[0][0].cursor.position > replayed.back()[9].cursor.position);
  }
}

TEST_CASE("buffer::disk cuts a torn tail and keeps appending after the last good record", "[buffer][disk]") {
  for (int kind = 0; kind < 3; ++kind) {
    INFO("torn tail kind " << kind);
    temp_dir tmp;
    auto segment = tmp / buffer::detail::segment_name(0);
    {
      test_context t;
      upstream up{t.ctx};
      std::vector<record_batch> got;
      auto node = buffer::disk{.dir = tmp.path()}.open(t.ctx, [&] { return holding_node{&got}; });
      node.push(up.make(5));
    }
    auto good_size = std::filesystem::file_size(segment);
    {
      // What a crash in the middle of the next write can leave behind.
      std::string frame;
      record_ref r{"{\"n\":6}", "", {}, {}};
      buffer::detail::append_frame(frame, r);
      if (kind == 0) frame.resize(10);                 // inside the header
      if (kind == 1) frame.resize(frame.size() - 2);   // inside the payload
      if (kind == 2) frame[frame.size() - 1] ^= 0x20;  // complete but the bytes differ
      std::ofstream out(segment, std::ios::binary | std::ios::app);
      out << frame;
    }
    REQUIRE(std::filesystem::file_size(segment) > good_size);
    std::vector<record_batch> replayed;
    {
      test_context t;
      auto node = buffer::disk{.dir = tmp.path()}.open(t.ctx, [&] { return holding_node{&replayed}; });
      CHECK(std::filesystem::file_size(segment) == good_size);
      upstream up{t.ctx};
      up.next = 6;
      node.push(up.make(1));  // replays the 5 good records first, then appends record 6
      CHECK(payloads_of(replayed) == expected_payloads(1, 6));
    }
    std::vector<record_batch> second;
    {
      test_context t;
      auto node = buffer::disk{.dir = tmp.path()}.open(t.ctx, [&] { return holding_node{&second}; });
      node.flush();
      CHECK(payloads_of(second) == expected_payloads(1, 6));  // the log is sound after the cut
    }
  }
}

TEST_CASE("buffer::disk reports a damaged segment before the last one, naming the file and byte",
          "[buffer][disk]") {
  temp_dir tmp;
  {
    test_context t;
    upstream up{t.ctx};
    std::vector<record_batch> got;
    auto node =
        buffer::disk{.dir = tmp.path(), .segment_bytes = 1 << 20}.open(t.ctx, [&] { return holding_node{&got}; });
    for (int i = 0; i < 15; ++i) node.push(up.make(10, 10240));
  }
  auto segments = buffer::detail::list_segments(tmp.path());
  REQUIRE(segments.size() == 2);
  {
    std::fstream f(segments[0].path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(30000);
    f.put('X');
  }
  test_context t;
  std::vector<record_batch> got;
  auto node = buffer::disk{.dir = tmp.path(), .segment_bytes = 1 << 20}.open(t.ctx, [&] { return holding_node{&got}; });
  try {
    node.flush();
    FAIL("a damaged segment must not replay silently");
  } catch (const error& e) {
    CHECK(e.code() == errc::corrupt_object);
    std::string what = e.what();
    CHECK(what.find(segments[0].path.string()) != std::string::npos);
    CHECK(what.find("checksum mismatch") != std::string::npos);
    CHECK(what.find("byte 20528") != std::string::npos);  // the frame holding byte 30000 starts here
  }
}

TEST_CASE("buffer::disk blocks a producer at max_bytes until commits free space", "[buffer][disk]") {
  temp_dir tmp;
  test_context t;
  upstream up{t.ctx};
  std::vector<record_batch> got;
  int flushes = 0;
  struct flush_counting_node {
    std::vector<record_batch>* out;
    int* flushes;
    void push(record_batch&& b) { out->push_back(std::move(b)); }
    void flush() { ++*flushes; }
    void tick() {}
  };
  auto node = buffer::disk{.dir = tmp.path(), .segment_bytes = 1 << 20, .max_bytes = 1 << 20}.open(
      t.ctx, [&] { return flush_counting_node{&got, &flushes}; });
  for (int i = 0; i < 10; ++i) node.push(up.make(100, 1000));  // 10 x 102400 bytes: just under 1 MiB
  auto eleventh = up.make(100, 1000);
  std::atomic<bool> done{false};
  std::thread producer([&] {
    node.push(std::move(eleventh));
    done = true;
  });
  std::this_thread::sleep_for(100ms);
  CHECK_FALSE(done.load());  // blocked: 1 MiB is unacknowledged
  CHECK(up.committed().second == 1000);  // and its records were not acknowledged upstream
  ack(t.ctx, got[0]);         // the sink makes the first object durable
  producer.join();
  CHECK(done.load());
  CHECK(flushes == 1);  // the downstream was asked to emit what it held
  CHECK(up.committed().second == 1100);
  CHECK(got.size() == 11);
}

TEST_CASE("buffer::disk in reject mode refuses at max_bytes without consuming the batch", "[buffer][disk]") {
  temp_dir tmp;
  test_context t;
  upstream up{t.ctx};
  std::vector<record_batch> got;
  auto node = buffer::disk{.dir = tmp.path(),
                           .segment_bytes = 1 << 20,
                           .max_bytes = 1 << 20,
                           .overflow = buffer::overflow::reject}
                  .open(t.ctx, [&] { return holding_node{&got}; });
  for (int i = 0; i < 10; ++i) node.push(up.make(100, 1000));
  auto size_before = std::filesystem::file_size(tmp / buffer::detail::segment_name(0));
  auto refused = up.make(100, 1000);
  try {
    node.push(std::move(refused));
    FAIL("push past max_bytes in reject mode must throw");
  } catch (const error& e) {
    CHECK(e.code() == errc::buffer_full);
    CHECK(std::string(e.what()).find("buffer::disk: full (1024000 unacknowledged bytes") != std::string::npos);
  }
  CHECK(refused.size() == 100);  // still the caller's
  CHECK(refused[0].payload.substr(0, 9) == "{\"n\":1001");
  CHECK(std::filesystem::file_size(tmp / buffer::detail::segment_name(0)) == size_before);
  CHECK(up.committed().second == 1000);
  ack(t.ctx, got[0]);
  node.push(std::move(refused));  // room again
  CHECK(got.size() == 11);
}

TEST_CASE("two buffer::disk nodes cannot share a folder", "[buffer][disk]") {
  temp_dir tmp;
  test_context t1, t2;
  std::vector<record_batch> got;
  auto first = buffer::disk{.dir = tmp.path()}.open(t1.ctx, [&] { return holding_node{&got}; });
  try {
    auto second = buffer::disk{.dir = tmp.path()}.open(t2.ctx, [&] { return holding_node{&got}; });
    FAIL("the second node must not open");
  } catch (const error& e) {
    CHECK(std::string(e.what()).find("is in use by another pipeline") != std::string::npos);
  }
}

TEST_CASE("buffer::disk validates its configuration", "[buffer][disk]") {
  CHECK_THROWS_WITH(buffer::disk{.dir = ""}.validate(), "sluice: buffer::disk.dir = \"\": must name a folder");
  CHECK_THROWS_WITH(buffer::disk{.segment_bytes = 1000}.validate(),
                    "sluice: buffer::disk.segment_bytes = 1000: must be 1 MiB..1 GiB (1048576..1073741824)");
  CHECK_THROWS_WITH(buffer::disk{.segment_bytes = std::uint64_t(2) << 30}.validate(),
                    "sluice: buffer::disk.segment_bytes = 2147483648: must be 1 MiB..1 GiB (1048576..1073741824)");
  CHECK_THROWS_WITH((buffer::disk{.segment_bytes = 4 << 20, .max_bytes = 2 << 20}.validate()),
                    "sluice: buffer::disk.max_bytes = 2097152: must be >= segment_bytes (4194304)");
  CHECK_THROWS_WITH(
      (buffer::disk{.sync = buffer::sync_policy::every_n_ms, .sync_interval = 0ms}.validate()),
      "sluice: buffer::disk.sync_interval = 0ms: must be > 0 with sync_policy::every_n_ms");
  CHECK_NOTHROW(buffer::disk{}.validate());
}

TEST_CASE("the write-ahead log's CRC32C matches the standard check value", "[buffer][disk]") {
  const char* check = "123456789";
  CHECK(sluice::detail::crc32c_software(0, check, 9) == 0xE3069283u);
  CHECK(sluice::detail::crc32c(0, check, 9) == 0xE3069283u);
  std::string big(100000, 'x');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 % 251);
  auto whole = sluice::detail::crc32c(0, big.data(), big.size());
  CHECK(sluice::detail::crc32c_software(0, big.data(), big.size()) == whole);
  // Running values continue across pieces.
  CHECK(sluice::detail::crc32c(sluice::detail::crc32c(0, big.data(), 777), big.data() + 777, big.size() - 777) ==
        whole);
}
