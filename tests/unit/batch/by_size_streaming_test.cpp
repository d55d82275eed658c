// SPDX-License-Identifier: Apache-2.0
// batch::by_size with piece_bytes > 0: objects handed on in pieces while they are open.
#include <sluice/batch/by_size.hpp>

#include <sluice_test/support.hpp>

#include "batch_harness.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

using namespace sluice;
using namespace std::chrono_literals;
using batch_test::harness;
using batch_test::payloads_of;
using batch_test::require_each_record_once;
using sluice_test::collecting_node;

namespace {

using clock_type = std::chrono::steady_clock;

/// One object put back together from the batches a batcher emitted.
struct assembled {
  std::string partition;
  std::uint64_t id = 0;  // 0: emitted whole
  std::size_t pieces = 0;
  std::vector<std::size_t> piece_records;  // records in each piece, in order
  std::vector<std::uint64_t> positions;    // the records' cursor positions, in order
  std::size_t payload_bytes = 0;
  clock_type::time_point opened_at{};
  bool ended = false;
};

/// Walks the emitted batches in order and checks the piece protocol: per partition, either a
/// whole batch or first, middles, last with one object_id never used before; pieces other than
/// the last hold records; every piece carries the object's partition and opened_at; records
/// keep their order within a partition. Returns the objects in the order they opened.
std::vector<assembled> assemble(const std::vector<record_batch>& out) {
  std::vector<assembled> objects;
  std::map<std::string, std::size_t> open;  // partition -> index in objects of its open object
  std::set<std::uint64_t> ids;
  std::map<std::string, std::uint64_t> last_position;
  for (const auto& b : out) {
    const object_piece& p = b.piece();
    INFO("partition " << b.partition() << ", object " << p.object_id << ", first " << p.first << ", last "
                      << p.last << ", records " << b.size());
    for (const record_ref r : b) {
      REQUIRE(r.partition == b.partition());
      REQUIRE(r.cursor.position > last_position[b.partition()]);  // order within a partition
      last_position[b.partition()] = r.cursor.position;
    }
    auto it = open.find(b.partition());
    if (p.first) {
      REQUIRE(it == open.end());  // the previous object of the partition has ended
      if (p.whole()) {
        REQUIRE(p.object_id == 0);
      } else {
        REQUIRE(p.object_id != 0);
        REQUIRE(ids.insert(p.object_id).second);  // a new id
      }
      if (!p.last) REQUIRE_FALSE(b.empty());
      objects.push_back({b.partition(), p.object_id});
      objects.back().opened_at = b.opened_at();
      if (!p.last) open[b.partition()] = objects.size() - 1;
    } else {
      REQUIRE(it != open.end());
      REQUIRE(objects[it->second].id == p.object_id);
      REQUIRE(objects[it->second].opened_at == b.opened_at());
      if (!p.last) REQUIRE_FALSE(b.empty());  // only a last piece may be empty
    }
    assembled& o = p.first ? objects.back() : objects[it->second];
    ++o.pieces;
    o.piece_records.push_back(b.size());
    o.payload_bytes += b.payload_bytes();
    for (const record_ref r : b) o.positions.push_back(r.cursor.position);
    if (p.last) {
      o.ended = true;
      if (!p.first) open.erase(it);
    }
  }
  return objects;
}

/// A next node that hands each batch to `on_push` and keeps it: lets a test look at the
/// batcher while it pushes.
struct watching_node {
  std::vector<record_batch>* out;
  std::function<void(const record_batch&)> on_push;
  void push(record_batch&& b) {
    if (on_push) on_push(b);
    out->push_back(std::move(b));
  }
  void flush() {}
  void tick() {}
};

/// A next node that reads each batch and leaves it with the batcher, as a format does when it
/// does not recycle: records each piece's first payload address and its records.
struct reading_node {
  std::vector<const char*>* addresses;
  std::vector<std::size_t>* sizes;
  void push(record_batch&& b) {
    addresses->push_back(b.empty() ? nullptr : b[0].payload.data());
    sizes->push_back(b.size());
  }
  void flush() {}
  void tick() {}
};

std::vector<std::pair<std::string, std::string>> repeat(const std::string& partition, const std::string& payload,
                                                        std::size_t n) {
  return std::vector<std::pair<std::string, std::string>>(n, {partition, payload});
}

}  // namespace

TEST_CASE("streaming hands an object on in pieces of piece_bytes and ends it at max_bytes over the whole object",
          "[batch][by_size][streaming]") {
  harness h;
  std::vector<record_batch> out;
  auto node = batch::by_size{.max_bytes = 1_MiB, .piece_bytes = 64_KiB}.open(
      h.t.ctx, [&] { return collecting_node<record_batch>{&out}; });
  std::string record(10_KiB, 'r');
  // 7 records (70 KiB) reach piece_bytes; 102 records (1020 KiB) fit in max_bytes, 103 do not.
  node.push(h.make(repeat("k=a", record, 250)));
  CHECK(node.buffered_records() == 46 % 7);  // the third object's pending records
  CHECK(node.open_partitions() == 1);
  node.flush();
  CHECK(node.buffered_records() == 0);
  CHECK(node.open_partitions() == 0);

  auto objects = assemble(out);
  REQUIRE(objects.size() == 3);
  for (std::size_t k = 0; k < 2; ++k) {
    const auto& o = objects[k];
    CHECK(o.ended);
    CHECK(o.positions.size() == 102);
    CHECK(o.payload_bytes == 1020_KiB);
    CHECK(o.pieces == 15);  // 14 pieces of 7 records, the last holding 4
    CHECK(o.piece_records == std::vector<std::size_t>{7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 4});
  }
  CHECK(objects[0].id != objects[1].id);
  CHECK(objects[2].positions.size() == 46);
  CHECK(objects[2].piece_records == std::vector<std::size_t>{7, 7, 7, 7, 7, 7, 4});
  for (const auto& o : objects) {
    CHECK(o.payload_bytes <= 1_MiB);
    CHECK(o.partition == "k=a");
  }
  // Every piece but the last is at least piece_bytes and less than one record past it.
  for (const auto& b : out)
    if (!b.piece().last) CHECK((b.payload_bytes() >= 64_KiB && b.payload_bytes() < 64_KiB + record.size()));
  require_each_record_once(out, h.errors, 250);
}

TEST_CASE("a streaming object that ends before its first piece is emitted whole, and a record over max_bytes alone",
          "[batch][by_size][streaming]") {
  harness h;
  std::vector<record_batch> out;
  auto node = batch::by_size{.max_bytes = 1_MiB, .piece_bytes = 512_KiB}.open(
      h.t.ctx, [&] { return collecting_node<record_batch>{&out}; });
  std::string small(1_KiB, 's');
  std::string huge(1536_KiB, 'h');
  node.push(h.make({{"k=a", small}, {"k=a", small}, {"k=a", huge}, {"k=a", small}}));
  node.flush();
  REQUIRE(out.size() == 3);
  CHECK(out[0].piece() == object_piece{});  // whole, as without streaming
  CHECK(out[0].size() == 2);
  CHECK(out[1].piece() == object_piece{});
  CHECK(out[1].payload_bytes() == huge.size());
  CHECK(out[2].piece() == object_piece{});
  CHECK(payloads_of(out[2]) == std::vector<std::string>{small});
  for (const auto& b : out) CHECK(b.partition() == "k=a");
  require_each_record_once(out, h.errors, 4);
}

TEST_CASE("flush after a piece was just handed on ends the object with an empty last piece",
          "[batch][by_size][streaming]") {
  harness h;
  std::vector<record_batch> out;
  int flushes = 0;
  auto node = batch::by_size{.max_bytes = 1_MiB, .piece_bytes = 64_KiB}.open(
      h.t.ctx, [&] { return collecting_node<record_batch>{&out, &flushes}; });
  auto arrival = clock_type::now() - 1s;
  node.push(h.make({{"k=a", std::string(64_KiB, 'x')}}, arrival));
  REQUIRE(out.size() == 1);  // exactly piece_bytes: handed on at once
  CHECK(out[0].piece().first);
  CHECK_FALSE(out[0].piece().last);
  CHECK(out[0].piece().object_id != 0);
  CHECK(out[0].size() == 1);
  CHECK(node.open_partitions() == 1);
  CHECK(node.buffered_records() == 0);
  node.flush();
  REQUIRE(out.size() == 2);
  CHECK(flushes == 1);
  CHECK(out[1].piece() == object_piece{out[0].piece().object_id, false, true});
  CHECK(out[1].empty());
  CHECK(out[1].payload_bytes() == 0);
  CHECK(out[1].partition() == "k=a");
  CHECK(out[1].opened_at() == arrival);
  CHECK(node.open_partitions() == 0);
  auto objects = assemble(out);
  REQUIRE(objects.size() == 1);
  CHECK(objects[0].ended);
  require_each_record_once(out, h.errors, 1);
}

TEST_CASE("an object that reaches max_bytes right after a piece ends with an empty last piece",
          "[batch][by_size][streaming]") {
  harness h;
  std::vector<record_batch> out;
  auto node = batch::by_size{.max_bytes = 1_MiB, .piece_bytes = 64_KiB}.open(
      h.t.ctx, [&] { return collecting_node<record_batch>{&out}; });
  // Each 100 KiB record is a piece; the 11th would take the object to 1100 KiB.
  node.push(h.make(repeat("", std::string(100_KiB, 'x'), 11)));
  REQUIRE(out.size() == 12);
  auto objects = assemble(out);
  REQUIRE(objects.size() == 2);
  CHECK(objects[0].ended);
  CHECK(objects[0].positions.size() == 10);
  CHECK(objects[0].piece_records == std::vector<std::size_t>{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0});
  CHECK(objects[0].payload_bytes == 1000_KiB);
  CHECK_FALSE(objects[1].ended);  // the 11th record opened the next object, already one piece
  CHECK(objects[1].positions == std::vector<std::uint64_t>{11});
  node.flush();
  REQUIRE(out.size() == 13);
  CHECK(out[12].empty());
  CHECK(out[12].piece().last);
  require_each_record_once(out, h.errors, 11);
}

TEST_CASE("interleaved streaming partitions keep separate objects and ids", "[batch][by_size][streaming]") {
  harness h;
  std::vector<record_batch> out;
  auto node = batch::by_size{.max_bytes = 1_MiB, .piece_bytes = 64_KiB}.open(
      h.t.ctx, [&] { return collecting_node<record_batch>{&out}; });
  std::string record(20_KiB, 'r');
  std::vector<std::pair<std::string, std::string>> in;
  for (int i = 0; i < 60; ++i) in.push_back({"p=" + std::to_string(i % 3), record});
  node.push(h.make(in));
  // Each partition has had 20 records (400 KiB): 5 pieces of 4 records each, none ended.
  REQUIRE(out.size() == 15);
  for (std::size_t k = 0; k < out.size(); ++k) {
    CHECK_FALSE(out[k].piece().last);
    CHECK(out[k].partition() == "p=" + std::to_string(k % 3));  // the partitions' pieces interleave
  }
  CHECK(node.open_partitions() == 3);
  node.flush();
  auto objects = assemble(out);
  REQUIRE(objects.size() == 3);
  std::set<std::uint64_t> ids;
  std::set<std::string> partitions;
  for (const auto& o : objects) {
    CHECK(o.ended);
    CHECK(o.positions.size() == 20);
    CHECK(o.piece_records == std::vector<std::size_t>{4, 4, 4, 4, 4, 0});
    ids.insert(o.id);
    partitions.insert(o.partition);
  }
  CHECK(ids.size() == 3);
  CHECK(ids.count(0) == 0);
  CHECK(partitions == std::set<std::string>{"p=0", "p=1", "p=2"});
  require_each_record_once(out, h.errors, 60);
}

TEST_CASE("max_age ends a streaming object measured from its first record, not its latest piece",
          "[batch][by_size][streaming]") {
  harness h;
  std::vector<record_batch> out;
  auto node = batch::by_size{.max_bytes = 1_MiB, .max_age = 10s, .piece_bytes = 64_KiB}.open(
      h.t.ctx, [&] { return collecting_node<record_batch>{&out}; });
  auto now = clock_type::now();
  auto old_arrival = now - 11s;
  std::string record(40_KiB, 'r');
  node.push(h.make({{"p=old", record}, {"p=old", record}}, old_arrival));  // 80 KiB: a first piece
  REQUIRE(out.size() == 1);
  node.push(h.make({{"p=old", record}, {"p=new", record}}, now));  // young records, old object
  node.tick();
  REQUIRE(out.size() == 2);
  CHECK(out[1].partition() == "p=old");
  CHECK(out[1].piece() == object_piece{out[0].piece().object_id, false, true});
  CHECK(out[1].size() == 1);
  CHECK(out[1].opened_at() == old_arrival);
  CHECK(node.open_partitions() == 1);
  node.tick();
  CHECK(out.size() == 2);  // p=new is young
  // The next record of p=old opens a new object, young again.
  node.push(h.make({{"p=old", record}}, now));
  node.tick();
  CHECK(out.size() == 2);
  node.flush();
  REQUIRE(out.size() == 4);
  auto objects = assemble(out);
  REQUIRE(objects.size() == 3);
  CHECK(objects[0].piece_records == std::vector<std::size_t>{2, 1});
  CHECK(objects[1].partition == "p=new");
  CHECK(objects[1].id == 0);  // ended before any piece: whole
  CHECK(objects[2].partition == "p=old");
  CHECK(objects[2].id == 0);
  CHECK(objects[2].opened_at == now);
  require_each_record_once(out, h.errors, 5);
}

TEST_CASE("max_records counts a streaming object's records across its pieces", "[batch][by_size][streaming]") {
  harness h;
  std::vector<record_batch> out;
  auto node = batch::by_size{.max_bytes = 1_MiB, .max_records = 10, .piece_bytes = 64_KiB}.open(
      h.t.ctx, [&] { return collecting_node<record_batch>{&out}; });
  // 3 records of 30 KiB reach piece_bytes; the 10th record ends the object.
  node.push(h.make(repeat("", std::string(30_KiB, 'r'), 25)));
  node.flush();
  auto objects = assemble(out);
  REQUIRE(objects.size() == 3);
  CHECK(objects[0].piece_records == std::vector<std::size_t>{3, 3, 3, 1});
  CHECK(objects[1].piece_records == std::vector<std::size_t>{3, 3, 3, 1});
  CHECK(objects[2].piece_records == std::vector<std::size_t>{3, 2});
  for (const auto& o : objects) CHECK(o.ended);
  require_each_record_once(out, h.errors, 25);
}

TEST_CASE("max_buffered_bytes sheds the largest pending records as pieces without ending objects",
          "[batch][by_size][streaming]") {
  harness h;
  std::vector<record_batch> out;
  batch::by_size config{.max_bytes = 128_MiB,
                        .max_partitions = 1000,
                        .max_buffered_bytes = 1_MiB,
                        .piece_bytes = 64_KiB};
  const batch::by_size::node<watching_node>* watched = nullptr;
  std::size_t most_buffered_in_push = 0;
  auto node = config.open(h.t.ctx, [&] {
    return watching_node{&out, [&](const record_batch&) {
                           most_buffered_in_push = std::max(most_buffered_in_push, watched->buffered_bytes());
                         }};
  });
  watched = &node;
  const int partitions = 500, rounds = 60;
  std::string record(1_KiB, 'r');
  const std::size_t one_record = record.size() + std::string("p=000").size() + batch::detail::record_overhead;
  std::size_t most_buffered = 0;
  for (int round = 0; round < rounds; ++round) {
    std::vector<std::pair<std::string, std::string>> chunk;
    for (int p = 0; p < partitions; ++p) {
      std::string id = std::to_string(p);
      chunk.push_back({"p=" + std::string(3 - id.size(), '0') + id, record});
    }
    node.push(h.make(chunk));
    most_buffered = std::max(most_buffered, node.buffered_bytes());
    CHECK(node.open_partitions() == static_cast<std::size_t>(partitions));
  }
  // 500 partitions x 60 KiB pending would be 30 MiB; the bound holds it at 1 MiB.
  CHECK(most_buffered <= config.max_buffered_bytes);
  CHECK(most_buffered_in_push <= config.max_buffered_bytes + one_record);
  CHECK(most_buffered > config.max_buffered_bytes / 2);  // the bound is used, not far undershot
  REQUIRE(out.size() > static_cast<std::size_t>(partitions));
  for (const auto& b : out) {
    REQUIRE_FALSE(b.piece().last);  // shedding never ends an object
    REQUIRE_FALSE(b.empty());
    REQUIRE(b.payload_bytes() < 64_KiB);  // shed before any partition reached piece_bytes
  }
  std::size_t before_flush = out.size();
  node.flush();
  CHECK(out.size() == before_flush + partitions);
  CHECK(node.buffered_records() == 0);
  CHECK(node.buffered_bytes() <= config.max_buffered_bytes);  // only spare capacity is left
  auto objects = assemble(out);
  REQUIRE(objects.size() == static_cast<std::size_t>(partitions));
  for (const auto& o : objects) {
    CHECK(o.ended);
    CHECK(o.positions.size() == static_cast<std::size_t>(rounds));
    CHECK(o.pieces >= 2);
  }
  require_each_record_once(out, h.errors, static_cast<std::uint64_t>(partitions) * rounds);
}

TEST_CASE("flush_lru ends the least recently used streaming object with a last piece", "[batch][by_size][streaming]") {
  harness h;
  std::vector<record_batch> out;
  auto node = batch::by_size{.max_bytes = 1_MiB,
                             .max_partitions = 2,
                             .on_partition_overflow = batch::partition_overflow::flush_lru,
                             .piece_bytes = 64_KiB}
                  .open(h.t.ctx, [&] { return collecting_node<record_batch>{&out}; });
  std::string big(100_KiB, 'B');
  node.push(h.make({{"k=a", big}, {"k=b", big}, {"k=b", "b-small"}, {"k=a", "a-small"}}));  // b is LRU
  REQUIRE(out.size() == 2);  // a's and b's first pieces
  node.push(h.make({{"k=c", "c1"}}));
  REQUIRE(out.size() == 3);
  CHECK(out[2].partition() == "k=b");
  CHECK(out[2].piece() == object_piece{out[1].piece().object_id, false, true});
  CHECK(payloads_of(out[2]) == std::vector<std::string>{"b-small"});
  CHECK(node.open_partitions() == 2);
  node.flush();
  auto objects = assemble(out);
  REQUIRE(objects.size() == 3);
  for (const auto& o : objects) CHECK(o.ended);
  CHECK(objects[0].partition == "k=a");
  CHECK(objects[0].piece_records == std::vector<std::size_t>{1, 1});
  CHECK(objects[2].partition == "k=c");
  CHECK(objects[2].id == 0);
  CHECK(h.errors.empty());
  require_each_record_once(out, h.errors, 5);
}

TEST_CASE("object ids are unique across batchers that share a run", "[batch][by_size][streaming]") {
  harness h;
  std::vector<record_batch> out_a, out_b;
  batch::by_size config{.max_bytes = 1_MiB, .piece_bytes = 64_KiB};
  auto a = config.open(h.t.ctx, [&] { return collecting_node<record_batch>{&out_a}; });
  auto b = config.open(h.t.ctx, [&] { return collecting_node<record_batch>{&out_b}; });
  std::string record(64_KiB, 'r');
  for (int i = 0; i < 20; ++i) {
    // The same partition in both: the ids must still differ.
    a.push(h.make({{"k=x", record}, {"k=y", record}}));
    b.push(h.make({{"k=x", record}, {"k=y", record}}));
    if (i % 4 == 3) {
      a.flush();
      b.flush();
    }
  }
  auto objects_a = assemble(out_a), objects_b = assemble(out_b);
  REQUIRE(objects_a.size() == 10);
  REQUIRE(objects_b.size() == 10);
  std::set<std::uint64_t> ids;
  for (const auto* objects : {&objects_a, &objects_b})
    for (const auto& o : *objects) {
      CHECK(o.ended);
      CHECK(o.id != 0);
      ids.insert(o.id);
    }
  CHECK(ids.size() == 20);
}

TEST_CASE("a streaming partition reuses its batch for the next piece when the next stage leaves it",
          "[batch][by_size][streaming]") {
  harness h;
  std::vector<const char*> addresses;
  std::vector<std::size_t> sizes;
  auto node = batch::by_size{.max_bytes = 1_MiB, .piece_bytes = 64_KiB}.open(
      h.t.ctx, [&] { return reading_node{&addresses, &sizes}; });
  node.push(h.make(repeat("k=a", std::string(16_KiB, 'r'), 48)));  // 12 pieces of 4 records
  REQUIRE(addresses.size() == 12);
  for (std::size_t k = 1; k < addresses.size(); ++k) CHECK(addresses[k] == addresses[0]);
  CHECK(sizes == std::vector<std::size_t>(12, 4));
  CHECK(node.buffered_records() == 0);
}

TEST_CASE("invalid streaming configuration is refused with the field, the value and the range",
          "[batch][by_size][streaming]") {
  auto message = [](const batch::by_size& b) {
    try {
      b.validate();
    } catch (const config_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message(batch::by_size{.piece_bytes = 32_KiB}) ==
        "sluice: batch::by_size.piece_bytes = 32 KiB: must be 0 (whole objects) or 64 KiB..max_bytes (64 MiB)");
  CHECK(message(batch::by_size{.piece_bytes = 1}) ==
        "sluice: batch::by_size.piece_bytes = 1 bytes: must be 0 (whole objects) or 64 KiB..max_bytes (64 MiB)");
  CHECK(message(batch::by_size{.max_bytes = 1_MiB, .piece_bytes = 2_MiB}) ==
        "sluice: batch::by_size.piece_bytes = 2 MiB: must be 0 (whole objects) or 64 KiB..max_bytes (1 MiB)");
  CHECK(message(batch::by_size{.max_bytes = 8_MiB, .max_buffered_bytes = 512_KiB, .piece_bytes = 1_MiB}) ==
        "sluice: batch::by_size.max_buffered_bytes = 512 KiB: must be at least piece_bytes (1 MiB)");
  // The edges of the range, and a bound far below max_bytes: streaming holds pieces, not objects.
  CHECK(message(batch::by_size{.piece_bytes = 64_KiB}) == "no error");
  CHECK(message(batch::by_size{.max_bytes = 1_MiB, .piece_bytes = 1_MiB}) == "no error");
  CHECK(message(batch::by_size{.max_bytes = 128_MiB, .max_buffered_bytes = 1_MiB, .piece_bytes = 1_MiB}) ==
        "no error");
  // Without streaming the bound must still hold a whole object.
  CHECK(message(batch::by_size{.max_bytes = 128_MiB, .max_buffered_bytes = 1_MiB}) ==
        "sluice: batch::by_size.max_buffered_bytes = 1 MiB: must be at least max_bytes (128 MiB)");

  harness h;
  std::vector<record_batch> out;
  CHECK_THROWS_AS(batch::by_size{.piece_bytes = 1000}.open(h.t.ctx, [&] { return collecting_node<record_batch>{&out}; }),
                  config_error);
}
