// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <vector>

namespace sluice::batch::detail {

/// "No slot": the end of an index_list, or a lookup that found nothing.
inline constexpr std::uint32_t no_slot = std::numeric_limits<std::uint32_t>::max();

/// A doubly-linked list over slot indices whose links live in a vector of their own, so one
/// slot can sit in several lists (recency, age, size class) and every operation is O(1) with
/// no allocation once the vector has grown to the number of slots.
class index_list {
 public:
  /// Makes room for slot indices below `n`.
  void resize(std::size_t n) { links_.resize(n); }

  [[nodiscard]] bool empty() const noexcept { return first_ == no_slot; }
  [[nodiscard]] std::uint32_t first() const noexcept { return first_; }
  [[nodiscard]] std::uint32_t last() const noexcept { return last_; }
  [[nodiscard]] std::uint32_t next(std::uint32_t i) const noexcept { return links_[i].next; }

  void push_front(std::uint32_t i) noexcept {
    links_[i] = {no_slot, first_};
    if (first_ != no_slot) links_[first_].prev = i;
    first_ = i;
    if (last_ == no_slot) last_ = i;
  }
  void push_back(std::uint32_t i) noexcept {
    links_[i] = {last_, no_slot};
    if (last_ != no_slot) links_[last_].next = i;
    last_ = i;
    if (first_ == no_slot) first_ = i;
  }
  void remove(std::uint32_t i) noexcept {
    link& l = links_[i];
    (l.prev == no_slot ? first_ : links_[l.prev].next) = l.next;
    (l.next == no_slot ? last_ : links_[l.next].prev) = l.prev;
    l = {};
  }
  /// Moves `i` (already in the list) to the front.
  void touch(std::uint32_t i) noexcept {
    if (first_ == i) return;
    remove(i);
    push_front(i);
  }

 private:
  struct link {
    std::uint32_t prev = no_slot;
    std::uint32_t next = no_slot;
  };
  std::vector<link> links_;
  std::uint32_t first_ = no_slot;
  std::uint32_t last_ = no_slot;
};


/// Slots grouped by the power of two of their size, so "one of the largest" is found in O(1):
/// the highest non-empty class holds slots within a factor of two of the largest. One link
/// vector serves every class because a slot is in one class at a time.
class size_classes {
 public:
  size_classes() noexcept { std::fill(std::begin(heads_), std::end(heads_), no_slot); }
  void resize(std::size_t n) {
    links_.resize(n);
    class_of_.resize(n, none);
  }
  /// Puts slot `i` in the class of `bytes`, or moves it there.
  void update(std::uint32_t i, std::size_t bytes) noexcept {
    auto c = static_cast<std::uint8_t>(std::bit_width(bytes));  // 0 for 0 bytes, up to 64
    if (class_of_[i] == c) return;
    remove(i);
    links_[i] = {no_slot, heads_[c]};
    if (heads_[c] != no_slot) links_[heads_[c]].prev = i;
    heads_[c] = i;
    class_of_[i] = c;
    mask_[c / 64] |= std::uint64_t{1} << (c % 64);
  }
  void remove(std::uint32_t i) noexcept {
    std::uint8_t c = class_of_[i];
    if (c == none) return;
    link& l = links_[i];
    (l.prev == no_slot ? heads_[c] : links_[l.prev].next) = l.next;
    if (l.next != no_slot) links_[l.next].prev = l.prev;
    if (heads_[c] == no_slot) mask_[c / 64] &= ~(std::uint64_t{1} << (c % 64));
    class_of_[i] = none;
  }
  /// A slot of the highest non-empty class, or no_slot.
  [[nodiscard]] std::uint32_t largest() const noexcept {
    if (mask_[1] != 0) return heads_[64 + std::bit_width(mask_[1]) - 1];
    if (mask_[0] != 0) return heads_[std::bit_width(mask_[0]) - 1];
    return no_slot;
  }

 private:
  static constexpr std::uint8_t none = 0xff;
  struct link {
    std::uint32_t prev = no_slot;
    std::uint32_t next = no_slot;
  };
  std::vector<link> links_;
  std::vector<std::uint8_t> class_of_;
  std::uint32_t heads_[65];
  std::uint64_t mask_[2] = {0, 0};
};

}  // namespace sluice::batch::detail
