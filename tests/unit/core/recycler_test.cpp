// SPDX-License-Identifier: Apache-2.0
#include <sluice/core/recycler.hpp>

#include <sluice/core/record_batch.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

using namespace sluice;

namespace {
std::string with_capacity(std::size_t n) {
  std::string s;
  s.reserve(n);
  return s;
}
}  // namespace

TEST_CASE("the recycler hands back the smallest kept buffer that fits, cleared", "[core][recycler]") {
  static_assert(recycler<std::string>::max_kept >= 2);
  {
    recycler<std::string> r;
    auto big = with_capacity(1 << 20);
    big = "leftover";
    r.give(std::move(big));
    r.give(with_capacity(256 << 10));
    auto fit = r.take(100 << 10);
    CHECK(fit.capacity() >= (256u << 10));
    CHECK(fit.capacity() < (1u << 20));  // best fit, not the largest
    auto large = r.take(512 << 10);
    CHECK(large.capacity() >= (1u << 20));
    CHECK(large.empty());  // given back cleared
    CHECK(r.take().capacity() < (64u << 10));  // empty now: a new buffer
  }
  {
    recycler<std::string> r;
    r.give(with_capacity(64 << 10));
    r.give(with_capacity(256 << 10));
    auto largest = r.take(1 << 30);  // nothing fits: the largest
    CHECK(largest.capacity() >= (256u << 10));
  }
}

TEST_CASE("the recycler keeps at most max_kept buffers and prefers the larger ones", "[core][recycler]") {
  recycler<std::string> r;
  for (std::size_t i = 1; i <= recycler<std::string>::max_kept; ++i) r.give(with_capacity(i << 16));
  r.give(with_capacity(100 << 16));  // full: replaces the smallest
  std::size_t largest = 0, count = 0;
  for (;;) {
    auto s = r.take();
    if (s.capacity() < (1u << 16)) break;
    largest = std::max(largest, s.capacity());
    ++count;
  }
  CHECK(count == recycler<std::string>::max_kept);
  CHECK(largest >= (100u << 16));
}

TEST_CASE("recycled record batches keep their payload capacity", "[core][recycler]") {
  record_batch b;
  b.reserve(10, 1 << 20);
  b.append("x");
  recycler<record_batch> r;
  r.give(std::move(b));
  auto again = r.take(1 << 20);
  CHECK(again.empty());
  CHECK(again.payload_capacity() >= (1u << 20));
}

TEST_CASE("a stage's spare buffer takes a spent buffer before allocating and gives its own back when it ends",
          "[core][recycler]") {
  auto& shared = recycler<std::string>::shared();
  while (shared.take(SIZE_MAX).capacity() > std::string().capacity()) {  // the largest first
  }  // nothing left by another test
  const char* given;
  {
    auto spent = with_capacity(1 << 20);
    given = spent.data();
    give_recycled(std::move(spent));
    spare_buffer spare;
    std::string& room = spare.with_room_for(512 << 10);
    CHECK(room.data() == given);  // the spent buffer, not a new one
    room = "kept bytes";
    CHECK(spare.with_room_for(16).data() == given);  // large enough: kept, content and all
    CHECK(spare.get() == "kept bytes");
    std::string& bigger = spare.with_room_for(4 << 20);  // nothing that large spent: allocated,
    CHECK(bigger.capacity() >= (4u << 20) + (4u << 20) / 16);  // with a sixteenth of headroom
  }
  auto back = shared.take(4 << 20);  // the spare went back when its stage ended
  CHECK(back.capacity() >= (4u << 20));
  auto first = shared.take(1 << 20);  // and so did the buffer it gave up when it grew
  CHECK(first.data() == given);
}

TEST_CASE("reuse_or_take_recycled keeps a pushed batch a stage left with its capacity, and takes a spent one for a batch a stage took",
          "[core][recycler]") {
  auto& shared = recycler<record_batch>::shared();
  while (shared.take(SIZE_MAX).payload_capacity() > 0) {  // nothing left by another test
  }
  record_batch spent;
  spent.reserve(10, 2 << 20);
  const std::size_t spent_capacity = spent.payload_capacity();
  give_recycled(std::move(spent));

  // Left by a stage that copied its records out: cleared, its own capacity kept, the recycler untouched.
  record_batch left;
  left.reserve(10, 1 << 20);
  left.append("copied out already");
  const std::size_t left_capacity = left.payload_capacity();
  reuse_or_take_recycled(left, 1 << 20);
  CHECK(left.empty());
  CHECK(left.payload_bytes() == 0);
  CHECK(left.payload_capacity() == left_capacity);

  // Taken by a stage (moved from): the spent batch comes from the recycler.
  record_batch taken;
  taken.reserve(10, 1 << 20);
  record_batch downstream = std::move(taken);
  REQUIRE(taken.payload_capacity() == 0);
  reuse_or_take_recycled(taken, 1 << 20);
  CHECK(taken.empty());
  CHECK(taken.payload_capacity() == spent_capacity);
  CHECK(shared.take().payload_capacity() == 0);  // the recycler gave it up
}
