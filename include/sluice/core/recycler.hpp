// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>

#include <algorithm>
#include <cstddef>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace sluice {
inline namespace v0 {
namespace detail {
/// What a recycled buffer brings: a record batch's payload capacity, else its capacity.
template <class T>
std::size_t recycled_capacity(const T& value) noexcept {
  if constexpr (requires { value.payload_capacity(); })
    return value.payload_capacity();
  else
    return value.capacity();
}
}  // namespace detail

/// A small process-wide store of spent buffers (record batches, object bodies) so that the stage
/// that needs a new one takes back the capacity a later stage finished with.
///
/// Why: a pipeline moves each batch and body downstream and frees it at the end; the stage at the
/// head then allocates again and grows the new buffer from nothing, and on these machines a fresh
/// page costs ~16 µs to touch. With the recycler, a format takes the body the store gave back,
/// and a batcher takes the batch the format gave back, each with its capacity.
///
/// Thread safety: take() and give() may be called from any thread (one short lock per buffer).
/// Allocation: keeps at most `max_kept` buffers of each type; more are freed, so idle memory
/// stays bounded.
template <class T>
class recycler {
 public:
  static constexpr std::size_t max_kept = 2;

  /// The recycler of T shared by every pipeline of the process.
  static recycler& shared() {
    static recycler instance;
    return instance;
  }

  /// A cleared T: the smallest kept one that holds `wanted` bytes without growing, else the
  /// largest kept one, else a new one.
  [[nodiscard]] T take(std::size_t wanted = 0) {
    std::lock_guard lock(mutex_);
    if (kept_.empty()) return T{};
    // Best fit: the smallest that is large enough leaves the large ones to those who need them.
    auto best = kept_.begin();
    for (auto it = kept_.begin(); it != kept_.end(); ++it) {
      std::size_t have = detail::recycled_capacity(*it), best_have = detail::recycled_capacity(*best);
      bool fits = have >= wanted, best_fits = best_have >= wanted;
      if (fits ? (!best_fits || have < best_have) : (!best_fits && have > best_have)) best = it;
    }
    T value = std::move(*best);
    kept_.erase(best);
    return value;
  }
  /// Hands a spent T back (it is cleared here). When the recycler is full it keeps the larger
  /// buffers: they are the ones expensive to grow again.
  void give(T&& value) {
    value.clear();
    std::lock_guard lock(mutex_);
    if (kept_.size() < max_kept) {
      kept_.push_back(std::move(value));
      return;
    }
    auto smallest = std::min_element(kept_.begin(), kept_.end(), [](const T& a, const T& b) {
      return detail::recycled_capacity(a) < detail::recycled_capacity(b);
    });
    if (detail::recycled_capacity(value) > detail::recycled_capacity(*smallest)) *smallest = std::move(value);
  }

 private:
  std::mutex mutex_;
  std::vector<T> kept_;
};

/// Shorthands: `auto body = take_recycled<std::string>();`, `give_recycled(std::move(batch));`.
/// A source refills the batch it pushes with reuse_or_take_recycled() (below).
template <class T>
[[nodiscard]] T take_recycled(std::size_t wanted = 0) {
  return recycler<T>::shared().take(wanted);
}
template <class T>
void give_recycled(T&& value) {
  recycler<std::remove_cvref_t<T>>::shared().give(std::forward<T>(value));
}

/// Makes `pushed`, a buffer a source just pushed downstream, ready to fill again. A stage that
/// copies records out (batch::by_size) leaves the buffer with its caller, with its capacity: it
/// is cleared and kept. A stage that took it (moved from it) leaves it empty: a spent one comes
/// from the recycler, with room for `wanted` bytes when one has it.
///
/// Why: a source's chunk then stays with its source. Through the recycler it would compete with
/// the batcher's larger batches, which crowd it out when the recycler is full; the source then
/// takes a large batch and cuts it down, and the batcher maps a new one in its place.
template <class T>
void reuse_or_take_recycled(T& pushed, std::size_t wanted = 0) {
  if (detail::recycled_capacity(pushed) != 0)
    pushed.clear();
  else
    pushed = take_recycled<T>(wanted);
}

/// The buffer a stage swaps with object bodies (a format's next body, a codec's or encryptor's
/// output). When it is too small for what comes, it takes a spent one from the recycler before
/// allocating; when the stage ends, it goes back to the recycler.
///
/// Why: each stage keeps one such buffer and they trade places with the body, so every one of
/// them ends up holding a whole formatted batch. Without the recycler at both ends, each pipeline
/// (each run, each queue worker) would fault in several batch-sized buffers afresh.
class spare_buffer {
 public:
  spare_buffer() = default;
  spare_buffer(spare_buffer&&) noexcept = default;
  spare_buffer& operator=(spare_buffer&&) = delete;
  ~spare_buffer() {
    if (bytes_.capacity() > std::string().capacity()) give_recycled(std::move(bytes_));
  }

  /// The buffer with room for at least `wanted` bytes. Its content is left as it is (a writer
  /// that resizes it over old bytes pays no zero-fill for them); a new allocation gets a
  /// sixteenth of headroom, so the next, slightly larger batch fits too.
  [[nodiscard]] std::string& with_room_for(std::size_t wanted) {
    if (bytes_.capacity() < wanted) {
      std::string recycled = take_recycled<std::string>(wanted);
      if (recycled.capacity() > bytes_.capacity()) bytes_.swap(recycled);
      if (recycled.capacity() > std::string().capacity()) give_recycled(std::move(recycled));
    }
    if (bytes_.capacity() < wanted) {
      // Grown from empty, reserve allocates what is asked (growing would double); the smaller
      // buffer goes back for a stage that needs less.
      std::string fresh;
      fresh.reserve(wanted + wanted / 16);
      bytes_.swap(fresh);
      if (fresh.capacity() > std::string().capacity()) give_recycled(std::move(fresh));
    }
    return bytes_;
  }
  /// The buffer as it is (after a swap, the previous body).
  [[nodiscard]] std::string& get() noexcept { return bytes_; }

 private:
  std::string bytes_;
};

}  // namespace v0
}  // namespace sluice
