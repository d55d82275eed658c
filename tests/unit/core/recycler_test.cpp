// SPDX-License-Identifier: Apache-2.0
#include <sluice/core/recycler.hpp>

#include <sluice/core/record_batch.hpp>

#include <catch2/catch.hpp>

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
