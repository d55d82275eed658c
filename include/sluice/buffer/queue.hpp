// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/buffer/detail/overflow.hpp>
#include <sluice/core/concepts.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/object.hpp>
#include <sluice/core/pipeline.hpp>
#include <sluice/core/record_batch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace sluice::buffer {
using sluice::operator|;

/// What bounded_queue::pop_until reports.
enum class pop_status {
  ok,        ///< a value was taken
  timeout,   ///< the deadline passed with the queue empty
  closed,    ///< the queue is closed and empty: nothing will come any more
};

/// A bounded multi-producer multi-consumer FIFO queue: a ring of `capacity` slots under one
/// lock, with blocking and non-blocking ends.
///
/// Values are moved in and out, never copied; a refused value (try_push on a full queue, any
/// push on a closed one) is left untouched with the caller. close() ends the queue: pushes fail
/// from then on, and pops drain what is left, then report the end.
///
/// `Mutex` is the lock policy (std::mutex by default); a test can pass a lock that yields at
/// seeded points to shake out schedules.
///
/// Thread safety: every member may be called from any thread at the same time.
/// Allocation: the ring is allocated once, in the constructor.
///
/// @code
///   buffer::bounded_queue<std::string> q(64);
///   std::jthread consumer([&] { std::string s; while (q.pop(s)) use(s); });
///   if (!q.try_push(std::move(line))) { /* full: answer 503 */ }
///   q.close();
/// @endcode
template <class T, class Mutex = std::mutex>
class bounded_queue {
  using condition = std::conditional_t<std::is_same_v<Mutex, std::mutex>, std::condition_variable,
                                       std::condition_variable_any>;

 public:
  using value_type = T;

  /// A queue of `capacity` slots (at least one).
  explicit bounded_queue(std::size_t capacity)
      : capacity_(capacity), slots_(std::make_unique<std::optional<T>[]>(capacity)) {
    SLUICE_ASSERT(capacity >= 1);
  }
  bounded_queue(const bounded_queue&) = delete;
  bounded_queue& operator=(const bounded_queue&) = delete;

  /// Appends `value`, waiting while the queue is full. Returns false, with `value` untouched,
  /// when the queue is or becomes closed.
  [[nodiscard]] bool push(T&& value) {
    std::unique_lock lock(mutex_);
    while (count_ == capacity_ && !closed_) {
      ++waiting_push_;
      not_full_.wait(lock);
      --waiting_push_;
    }
    if (closed_) return false;
    put(std::move(value));
    return notify_pop(lock);
  }
  /// Appends `value` if there is room now. Returns false, with `value` untouched, when the
  /// queue is full or closed.
  [[nodiscard]] bool try_push(T&& value) {
    std::unique_lock lock(mutex_);
    if (closed_ || count_ == capacity_) return false;
    put(std::move(value));
    return notify_pop(lock);
  }

  /// Takes the oldest value into `out`, waiting while the queue is empty. Returns false when the
  /// queue is closed and empty.
  [[nodiscard]] bool pop(T& out) {
    std::unique_lock lock(mutex_);
    while (count_ == 0 && !closed_) {
      ++waiting_pop_;
      not_empty_.wait(lock);
      --waiting_pop_;
    }
    if (count_ == 0) return false;
    take(out);
    notify_push(lock);
    return true;
  }
  /// Takes the oldest value into `out` if there is one now.
  [[nodiscard]] bool try_pop(T& out) {
    std::unique_lock lock(mutex_);
    if (count_ == 0) return false;
    take(out);
    notify_push(lock);
    return true;
  }
  /// Takes the oldest value into `out`, waiting at most until `deadline`.
  template <class Clock, class Duration>
  [[nodiscard]] pop_status pop_until(T& out, std::chrono::time_point<Clock, Duration> deadline) {
    std::unique_lock lock(mutex_);
    while (count_ == 0 && !closed_) {
      ++waiting_pop_;
      auto status = not_empty_.wait_until(lock, deadline);
      --waiting_pop_;
      if (status == std::cv_status::timeout && count_ == 0 && !closed_) return pop_status::timeout;
    }
    if (count_ == 0) return pop_status::closed;
    take(out);
    notify_push(lock);
    return pop_status::ok;
  }

  /// Ends the queue: blocked and later pushes fail, pops drain what is left. Idempotent.
  void close() noexcept {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    not_full_.notify_all();
    not_empty_.notify_all();
  }
  [[nodiscard]] bool closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }
  /// Values queued now; may be stale by the time the caller reads it.
  [[nodiscard]] std::size_t size_approx() const noexcept { return size_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

 private:
  void put(T&& value) {
    slots_[tail_].emplace(std::move(value));
    tail_ = tail_ + 1 == capacity_ ? 0 : tail_ + 1;
    ++count_;
    size_.store(count_, std::memory_order_relaxed);
  }
  void take(T& out) {
    out = std::move(*slots_[head_]);
    slots_[head_].reset();
    head_ = head_ + 1 == capacity_ ? 0 : head_ + 1;
    --count_;
    size_.store(count_, std::memory_order_relaxed);
  }
  // Wake a waiter only when there is one, and after unlocking, so it does not wake into a held lock.
  bool notify_pop(std::unique_lock<Mutex>& lock) {
    bool wake = waiting_pop_ > 0;
    lock.unlock();
    if (wake) not_empty_.notify_one();
    return true;
  }
  void notify_push(std::unique_lock<Mutex>& lock) {
    bool wake = waiting_push_ > 0;
    lock.unlock();
    if (wake) not_full_.notify_one();
  }

  const std::size_t capacity_;
  std::unique_ptr<std::optional<T>[]> slots_;
  mutable Mutex mutex_;
  condition not_full_, not_empty_;
  std::size_t head_ = 0, tail_ = 0, count_ = 0;
  std::size_t waiting_push_ = 0, waiting_pop_ = 0;
  bool closed_ = false;
  std::atomic<std::size_t> size_{0};
};

namespace detail {
/// What the node after a pass-through stage takes: record_batch before a format, object after.
template <class Next>
struct pushed_type {
  static constexpr bool takes_batch = requires(Next& n, record_batch&& b) { n.push(std::move(b)); };
  static constexpr bool takes_object = requires(Next& n, object&& o) { n.push(std::move(o)); };
  static_assert(takes_batch || takes_object,
                "sluice: the stage after this buffer takes neither sluice::record_batch nor sluice::object");
  using type = std::conditional_t<takes_batch, record_batch, object>;
};
}  // namespace detail

/// A thread boundary: a bounded queue in front of `workers` threads, each running its own copy
/// of the rest of the pipeline (its own batcher, format, compression and cipher contexts).
///
/// It passes on whatever it receives (record batches before a format, objects after one),
/// moving values, never copying them. When the queue is full, `overflow::block` makes push wait
/// (back-pressure up to the source) and `overflow::reject` refuses the value with
/// sluice::error(errc::buffer_full) without consuming it.
///
/// Order: values are taken in order, but with more than one worker they finish in any order;
/// the cursor tracker commits positions in order whatever the completion order.
///
/// Thread safety: each worker's chain is only ever called from that worker's thread: pushes,
/// the periodic tick (every `tick_interval` of the pipeline options) and the flush at drain.
/// Errors: the first exception a worker throws stops the queue and is rethrown to the producer
/// on its next push or flush. Lifetime: destroying the node discards what is still queued (a
/// pipeline flushes it first) and joins the workers.
///
/// @code
///   auto p = connector::files{.path = "/data/in"}
///          | buffer::queue{.capacity = 8, .workers = 2}
///          | batch::by_size{.max_bytes = 64_MiB}
///          | format::jsonl{} | codec::zstd{} | store::local{.root = "./lake"};
/// @endcode
struct queue {
  using stage_concept = stage_tag;
  using input_type = any_input;
  /// Passes on what it receives (stage_output_t names it; core's traits need the member).
  using output_type = any_input;

  /// Values queued at most (batches or objects, not records): at least 1.
  std::size_t capacity = 16;
  /// Threads, each with its own downstream chain: 1..256.
  std::size_t workers = 1;
  /// What push does when the queue is full.
  sluice::buffer::overflow overflow = sluice::buffer::overflow::block;

  /// Called by pipeline validation when the queue sits after a stage that streams objects in
  /// pieces: several workers would split an object's pieces between them.
  void check_takes_pieces() const {
    if (workers > 1)
      throw config_error("buffer::queue.workers = " + std::to_string(workers) +
                         ": after a batcher that streams objects in pieces (batch::by_size.piece_bytes) one worker "
                         "must take every piece of an object in order; put the queue before the batcher");
  }

  void validate() const {
    if (capacity < 1) throw config_error("buffer::queue.capacity = 0: must be >= 1");
    if (workers < 1 || workers > 256)
      throw config_error("buffer::queue.workers = " + std::to_string(workers) + ": must be 1..256");
  }

  template <class Next>
  class node {
   public:
    using value_type = typename detail::pushed_type<Next>::type;

    template <class MakeNext>
    node(run_context& ctx, const queue& config, MakeNext& make_next)
        : reject_(config.overflow == buffer::overflow::reject),
          capacity_(config.capacity),
          tick_interval_(std::max(ctx.options().tick_interval, std::chrono::milliseconds(1))),
          queue_(config.capacity) {
      // Open every chain before starting any thread, so a failing open leaves nothing running.
      workers_.reserve(config.workers);
      for (std::size_t i = 0; i < config.workers; ++i) workers_.push_back(std::make_unique<worker>(make_next));
      try {
        for (auto& w : workers_) w->thread = std::thread([this, p = w.get()] { work(*p); });
      } catch (...) {
        shutdown();
        throw;
      }
    }
    node(const node&) = delete;
    node& operator=(const node&) = delete;
    ~node() { shutdown(); }

    /// Queues `value`. Errors: a worker's exception; errc::buffer_full in reject mode when the
    /// queue is full (then `value` is left untouched).
    void push(value_type&& value) {
      rethrow_if_failed();
      item it{std::move(value), false};
      if (reject_) {
        if (queue_.try_push(std::move(it))) return;
        value = std::move(it.value);  // hand the value back: a refusal consumes nothing
        rethrow_if_failed();
        throw error(make_error_code(errc::buffer_full),
                    "buffer::queue: full (capacity " + std::to_string(capacity_) + ")");
      }
      if (!queue_.push(std::move(it))) {
        value = std::move(it.value);
        rethrow_if_failed();
        throw error(make_error_code(errc::io_failure), "buffer::queue: push after the queue stopped");
      }
    }

    /// Waits until every queued value is processed, then flushes each worker's chain on that
    /// worker's thread. Errors: the first exception a worker threw.
    void flush() {
      rethrow_if_failed();
      {
        std::lock_guard lock(state_mutex_);
        ++flush_generation_;
        flush_arrived_ = 0;
      }
      // One token per worker, behind every value queued before: each worker takes exactly one,
      // because it waits at the barrier below until all have arrived.
      for (std::size_t i = 0; i < workers_.size(); ++i) {
        if (!queue_.push(item{value_type{}, true})) {
          rethrow_if_failed();
          throw error(make_error_code(errc::io_failure), "buffer::queue: flush after the queue stopped");
        }
      }
      {
        std::unique_lock lock(state_mutex_);
        state_changed_.wait(lock, [&] { return flush_arrived_ == workers_.size() || failed_; });
      }
      rethrow_if_failed();
    }

    /// Workers tick their own chains on their own threads; nothing to do here.
    void tick() noexcept {}

    /// Values queued now (for metrics and tests).
    [[nodiscard]] std::size_t size_approx() const noexcept { return queue_.size_approx(); }

   private:
    struct item {
      value_type value;
      bool flush_token = false;
    };
    struct worker {
      template <class MakeNext>
      explicit worker(MakeNext& make_next) : chain(make_next()) {}
      Next chain;
      std::thread thread;
    };

    void work(worker& w) noexcept {
      using clock = std::chrono::steady_clock;
      auto next_tick = clock::now() + tick_interval_;
      item it;
      for (;;) {
        pop_status status = queue_.pop_until(it, next_tick);
        if (failed_.load(std::memory_order_acquire) || abandon_.load(std::memory_order_acquire)) return;
        try {
          if (status == pop_status::closed) return;
          if (status == pop_status::ok) {
            if (it.flush_token) {
              w.chain.flush();
              arrive_at_flush();
            } else {
              w.chain.push(std::move(it.value));
            }
          }
          auto now = clock::now();
          if (now >= next_tick) {
            w.chain.tick();
            next_tick = now + tick_interval_;
          }
        } catch (...) {
          fail(std::current_exception());
          return;
        }
      }
    }
    void arrive_at_flush() {
      std::unique_lock lock(state_mutex_);
      std::uint64_t generation = flush_generation_;
      ++flush_arrived_;
      state_changed_.notify_all();
      state_changed_.wait(lock, [&] {
        return flush_arrived_ == workers_.size() || flush_generation_ != generation || failed_ ||
               abandon_.load(std::memory_order_relaxed);
      });
    }
    void fail(std::exception_ptr e) noexcept {
      {
        std::lock_guard lock(state_mutex_);
        if (!error_) error_ = std::move(e);  // first error wins
        failed_.store(true, std::memory_order_release);
      }
      state_changed_.notify_all();
      queue_.close();
    }
    void rethrow_if_failed() {
      if (!failed_.load(std::memory_order_acquire)) return;
      std::exception_ptr e;
      {
        std::lock_guard lock(state_mutex_);
        e = error_;
      }
      std::rethrow_exception(e);
    }
    void shutdown() noexcept {
      {
        std::lock_guard lock(state_mutex_);
        abandon_.store(true, std::memory_order_release);
      }
      state_changed_.notify_all();
      queue_.close();
      for (auto& w : workers_)
        if (w->thread.joinable()) w->thread.join();
    }

    const bool reject_;
    const std::size_t capacity_;
    const std::chrono::milliseconds tick_interval_;
    bounded_queue<item> queue_;
    std::mutex state_mutex_;
    std::condition_variable state_changed_;
    std::exception_ptr error_;
    std::atomic<bool> failed_{false};
    std::atomic<bool> abandon_{false};
    std::uint64_t flush_generation_ = 0;
    std::size_t flush_arrived_ = 0;
    // Last: the chains are destroyed first, after shutdown() joined their threads.
    std::vector<std::unique_ptr<worker>> workers_;
  };

  template <class MakeNext>
  auto open(run_context& ctx, MakeNext&& make_next) const {
    return node<decltype(make_next())>(ctx, *this, make_next);
  }
};

}  // namespace sluice::buffer
