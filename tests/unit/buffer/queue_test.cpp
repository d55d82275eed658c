// SPDX-License-Identifier: Apache-2.0
#include <sluice/buffer/queue.hpp>

#include <sluice/format/jsonl.hpp>
#include <sluice_test/support.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>

using namespace sluice;
using namespace std::chrono_literals;
using sluice_test::vector_source;

static_assert(stage<buffer::queue, record_batch>);
static_assert(stage<buffer::queue, object>);
static_assert(std::is_same_v<stage_output_t<buffer::queue, object>, object>);

namespace {

std::vector<std::string> numbered(std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back("{\"n\":" + std::to_string(i) + "}");
  return out;
}

/// What a thread-safe test sink saw: objects, and per sink node the threads that called it.
struct sink_log {
  std::mutex mutex;
  std::vector<object> objects;
  std::atomic<std::size_t> count{0};
  std::atomic<int> nodes{0};
  std::atomic<int> thread_violations{0};  // a node called from a second thread
  std::atomic<int> ticks{0};
  std::atomic<int> flushes{0};
};

/// A sink safe to use behind a queue with several workers; it can be slowed down, can throw
/// on its n-th object, and checks that each of its nodes is only ever called from one thread.
struct checking_sink {
  using stage_concept = sink_tag;
  using input_type = object;
  std::shared_ptr<sink_log> log = std::make_shared<sink_log>();
  std::chrono::milliseconds delay{0};
  std::size_t throw_at = 0;  // 1-based object number that throws; 0: never

  struct node {
    run_context& ctx;
    std::shared_ptr<sink_log> log;
    std::chrono::milliseconds delay;
    std::size_t throw_at;
    std::thread::id owner{};

    void check_thread() {
      if (owner == std::thread::id{}) owner = std::this_thread::get_id();
      else if (owner != std::this_thread::get_id()) ++log->thread_violations;
    }
    void push(object&& o) {
      check_thread();
      if (delay.count() > 0) std::this_thread::sleep_for(delay);
      std::size_t n = ++log->count;
      if (throw_at != 0 && n == throw_at) throw std::runtime_error("sink failed on object " + std::to_string(n));
      ctx.acknowledge(o);
      std::lock_guard lock(log->mutex);
      log->objects.push_back(std::move(o));
    }
    void flush() {
      check_thread();
      ++log->flushes;
    }
    void tick() {
      check_thread();
      ++log->ticks;
    }
  };
  node open(run_context& ctx) const {
    ++log->nodes;
    return {ctx, log, delay, throw_at};
  }
};

std::multiset<std::string> lines_of(const std::vector<object>& objects) {
  std::multiset<std::string> out;
  for (const auto& o : objects) {
    std::size_t at = 0;
    while (at < o.body.size()) {
      auto nl = o.body.find('\n', at);
      out.insert(o.body.substr(at, nl - at));
      at = nl + 1;
    }
  }
  return out;
}

/// A downstream node for driving a queue by hand: holds every value until the gate opens.
struct gate {
  std::mutex mutex;
  std::condition_variable cv;
  bool open = false;
  std::vector<record_batch> got;
  std::atomic<int> entered{0};
  void release() {
    {
      std::lock_guard lock(mutex);
      open = true;
    }
    cv.notify_all();
  }
};
struct gated_node {
  gate* g;
  void push(record_batch&& b) {
    ++g->entered;
    std::unique_lock lock(g->mutex);
    g->cv.wait(lock, [&] { return g->open; });
    g->got.push_back(std::move(b));
  }
  void flush() {}
  void tick() {}
};

record_batch batch_of(std::string_view payload) {
  record_batch b;
  b.append(payload);
  return b;
}

/// A lock that yields at seeded random points, so the stress test sees many interleavings.
class chaos_mutex {
 public:
  void lock() {
    maybe_yield();
    m_.lock();
    maybe_yield_locked();
  }
  bool try_lock() { return m_.try_lock(); }
  void unlock() {
    m_.unlock();
    maybe_yield();
  }
  static void seed(std::uint64_t s) { thread_rng().seed(s); }

 private:
  static std::mt19937_64& thread_rng() {
    thread_local std::mt19937_64 rng{12345};
    return rng;
  }
  static void maybe_yield() {
    if ((thread_rng()() & 7u) == 0) std::this_thread::yield();
  }
  static void maybe_yield_locked() {
    // Rarely hold the lock a little longer: exposes missed wake-ups.
    if ((thread_rng()() & 63u) == 0) std::this_thread::yield();
  }
  std::mutex m_;
};

struct slow_source {
  using stage_concept = source_tag;
  using output_type = record_batch;
  struct state {
    std::uint32_t id;
    template <class Out>
    void run(Out& out, std::stop_token) {
      for (std::uint64_t i = 1; i <= 5; ++i) {
        record_batch b;
        b.append("{}", {id, i});
        out.push(std::move(b));
        std::this_thread::sleep_for(20ms);
      }
    }
  };
  state open(run_context& ctx) const { return {ctx.add_source("slow").first}; }
};

struct counting_source {
  using stage_concept = source_tag;
  using output_type = record_batch;
  std::shared_ptr<sink_log> log;
  std::size_t* done_at_end;
  struct state {
    std::uint32_t id;
    std::shared_ptr<sink_log> log;
    std::size_t* done_at_end;
    template <class Out>
    void run(Out& out, std::stop_token) {
      for (std::uint64_t i = 1; i <= 40; ++i) {
        record_batch b;
        b.append("{\"i\":" + std::to_string(i) + "}", {id, i});
        out.push(std::move(b));
      }
      *done_at_end = log->count.load();
    }
  };
  state open(run_context& ctx) const { return {ctx.add_source("counting").first, log, done_at_end}; }
};

struct refusing_source {
  using stage_concept = source_tag;
  using output_type = record_batch;
  std::size_t* refused;
  std::size_t* accepted;
  gate* g;
  struct state {
    std::uint32_t id;
    std::size_t* refused;
    std::size_t* accepted;
    gate* g;
    template <class Out>
    void run(Out& out, std::stop_token) {
      for (std::uint64_t i = 1; i <= 10; ++i) {
        record_batch b;
        b.append("{}", {id, i});
        try {
          out.push(std::move(b));
          ++*accepted;
        } catch (const error& e) {
          if (e.code() != errc::buffer_full) throw;
          ++*refused;  // an HTTP source would answer 503 here
        }
        if (i == 1)
          while (g->entered == 0) std::this_thread::yield();
      }
      g->release();
    }
  };
  state open(run_context& ctx) const { return {ctx.add_source("refusing").first, refused, accepted, g}; }
};

struct gated_sink {
  using stage_concept = sink_tag;
  using input_type = object;
  gate* g;
  struct node {
    run_context& ctx;
    gate* g;
    void push(object&& o) {
      ++g->entered;
      std::unique_lock lock(g->mutex);
      g->cv.wait(lock, [&] { return g->open; });
      ctx.acknowledge(o);
    }
    void flush() {}
    void tick() {}
  };
  node open(run_context& ctx) const { return {ctx, g}; }
};

struct endless_source {
  using stage_concept = source_tag;
  using output_type = record_batch;
  std::atomic<std::size_t>* pushed;
  struct state {
    std::uint32_t id;
    std::atomic<std::size_t>* pushed;
    template <class Out>
    void run(Out& out, std::stop_token token) {
      for (std::uint64_t i = 1; !token.stop_requested(); ++i) {
        record_batch b;
        b.append("{\"i\":" + std::to_string(i) + "}", {id, i});
        out.push(std::move(b));
        ++*pushed;
      }
    }
  };
  state open(run_context& ctx) const { return {ctx.add_source("endless").first, pushed}; }
};

}  // namespace

TEST_CASE("buffer::queue delivers every record exactly once with 1, 2 and 4 workers", "[buffer][queue]") {
  for (std::size_t workers : {1u, 2u, 4u}) {
    INFO("workers = " << workers);
    sluice_test::temp_dir tmp;
    checking_sink sink;
    auto payloads = numbered(2000);  // chunks of 50: 40 objects, each commit an fsynced checkpoint
    auto p = vector_source{.payloads = payloads, .chunk = 50} |
             buffer::queue{.capacity = 4, .workers = workers} | format::jsonl{} | sink;
    p.options.checkpoint = tmp / "checkpoint";
    p.options.tick_interval = 2ms;
    p.run();

    CHECK(sink.log->nodes == static_cast<int>(workers));  // one chain per worker
    CHECK(sink.log->thread_violations == 0);               // each chain stays on its thread
    CHECK(sink.log->flushes == static_cast<int>(workers)); // drained: every chain flushed once
    auto got = lines_of(sink.log->objects);
    CHECK(got == std::multiset<std::string>(payloads.begin(), payloads.end()));
    CHECK(p.metrics().snapshot().records_out == 2000);
    // The source's checkpoint covers everything, whatever order the workers finished in.
    checkpoint_store cp(tmp / "checkpoint");
    CHECK(cp.get("vector") == std::pair<bool, std::uint64_t>{true, 2000});
  }
}

TEST_CASE("buffer::queue workers tick their own chains on their own threads", "[buffer][queue]") {
  checking_sink sink;
  // A source that idles a little, so the workers have time to tick.
  auto p = slow_source{} | buffer::queue{.workers = 2} | format::jsonl{} | sink;
  p.options.tick_interval = 5ms;
  p.run();
  CHECK(sink.log->ticks >= 4);
  CHECK(sink.log->thread_violations == 0);
  CHECK(sink.log->count == 5);
}

TEST_CASE("buffer::queue in block mode makes the producer wait for a slow sink and loses nothing",
          "[buffer][queue]") {
  checking_sink sink{.delay = 5ms};
  std::size_t done_when_source_finished = 0;
  auto p = counting_source{sink.log, &done_when_source_finished} |
           buffer::queue{.capacity = 2, .workers = 1} | format::jsonl{} | sink;
  auto started = std::chrono::steady_clock::now();
  p.run();
  auto took = std::chrono::steady_clock::now() - started;
  // The producer could only run ahead of the sink by the queue (2) plus the one in the worker.
  CHECK(done_when_source_finished >= 40 - 3);
  CHECK(took >= 40 * 5ms);
  CHECK(sink.log->count == 40);
  CHECK(lines_of(sink.log->objects).size() == 40);
}

TEST_CASE("buffer::queue in reject mode refuses when full without consuming the value", "[buffer][queue]") {
  sluice_test::test_context t;
  gate g;
  buffer::queue config{.capacity = 1, .workers = 1, .overflow = buffer::overflow::reject};
  auto node = config.open(t.ctx, [&] { return gated_node{&g}; });

  node.push(batch_of("first"));  // taken by the worker, which waits at the gate
  while (g.entered == 0) std::this_thread::yield();
  node.push(batch_of("second"));  // fills the one slot
  record_batch third = batch_of("third");
  try {
    node.push(std::move(third));
    FAIL("push into a full queue in reject mode must throw");
  } catch (const error& e) {
    CHECK(e.code() == errc::buffer_full);
    CHECK(std::string(e.what()).find("buffer::queue: full (capacity 1)") != std::string::npos);
  }
  // Not consumed: the caller still holds the record.
  REQUIRE(third.size() == 1);
  CHECK(third[0].payload == "third");

  g.release();
  node.flush();
  REQUIRE(g.got.size() == 2);
  CHECK(g.got[0][0].payload == "first");
  CHECK(g.got[1][0].payload == "second");
  node.push(std::move(third));  // room again
  node.flush();
  REQUIRE(g.got.size() == 3);
  CHECK(g.got[2][0].payload == "third");
}

TEST_CASE("buffer::queue refusals reach the source, which answers its client, and release the records",
          "[buffer][queue]") {
  gate g;
  std::size_t refused = 0, accepted = 0;
  auto p = refusing_source{&refused, &accepted, &g} |
           buffer::queue{.capacity = 1, .overflow = buffer::overflow::reject} | format::jsonl{} |
           gated_sink{&g};
  p.run();
  CHECK(accepted == 2);  // one in the worker, one in the slot
  CHECK(refused == 8);
  CHECK(p.metrics().snapshot().records_out == 2);
}

TEST_CASE("an exception in a buffer::queue worker is rethrown by run()", "[buffer][queue]") {
  checking_sink sink{.throw_at = 3};
  auto p = vector_source{.payloads = numbered(500), .chunk = 1} | buffer::queue{.capacity = 2, .workers = 2} |
           format::jsonl{} | sink;
  CHECK_THROWS_WITH(p.run(), "sink failed on object 3");
  // The queue stopped: far fewer than 500 objects were attempted.
  CHECK(sink.log->count < 500);
}

TEST_CASE("buffer::queue drains everything it accepted when the pipeline is stopped", "[buffer][queue]") {
  checking_sink sink{.delay = 1ms};
  std::stop_source stop;
  std::atomic<std::size_t> pushed{0};
  auto p = endless_source{&pushed} | buffer::queue{.capacity = 8, .workers = 2} | format::jsonl{} | sink;
  std::thread stopper([&] {
    while (sink.log->count < 20) std::this_thread::sleep_for(1ms);
    stop.request_stop();
  });
  p.run(stop.get_token());
  stopper.join();
  CHECK(pushed >= 20);
  CHECK(sink.log->count == pushed.load());
  CHECK(p.metrics().snapshot().records_out == pushed.load());
}

TEST_CASE("buffer::queue validates its configuration", "[buffer][queue]") {
  CHECK_THROWS_WITH(buffer::queue{.capacity = 0}.validate(), "sluice: buffer::queue.capacity = 0: must be >= 1");
  CHECK_THROWS_WITH(buffer::queue{.workers = 0}.validate(), "sluice: buffer::queue.workers = 0: must be 1..256");
  CHECK_THROWS_WITH(buffer::queue{.workers = 257}.validate(), "sluice: buffer::queue.workers = 257: must be 1..256");
  CHECK_NOTHROW(buffer::queue{.capacity = 1, .workers = 256}.validate());
  auto p = vector_source{} | buffer::queue{.workers = 0} | format::jsonl{} | checking_sink{};
  CHECK_THROWS_AS(p.run(), config_error);
}

TEST_CASE("bounded_queue moves values, refuses when full or closed, and drains after close",
          "[buffer][bounded_queue]") {
  buffer::bounded_queue<std::string> q(2);
  CHECK(q.capacity() == 2);
  std::string a = "a", b = "b", c = "c";
  REQUIRE(q.try_push(std::move(a)));
  REQUIRE(q.try_push(std::move(b)));
  CHECK_FALSE(q.try_push(std::move(c)));
  CHECK(c == "c");  // refused values stay with the caller
  CHECK(q.size_approx() == 2);

  std::string out;
  REQUIRE(q.try_pop(out));
  CHECK(out == "a");
  CHECK(q.pop_until(out, std::chrono::steady_clock::now()) == buffer::pop_status::ok);
  CHECK(out == "b");
  CHECK_FALSE(q.try_pop(out));
  CHECK(q.pop_until(out, std::chrono::steady_clock::now() + 1ms) == buffer::pop_status::timeout);

  REQUIRE(q.push(std::move(c)));
  q.close();
  std::string d = "d";
  CHECK_FALSE(q.push(std::move(d)));
  CHECK(d == "d");
  REQUIRE(q.pop(out));  // what was queued before close still comes out
  CHECK(out == "c");
  CHECK_FALSE(q.pop(out));
  CHECK(q.pop_until(out, std::chrono::steady_clock::now() + 1h) == buffer::pop_status::closed);
}

TEST_CASE("bounded_queue close wakes a producer blocked on a full queue", "[buffer][bounded_queue]") {
  buffer::bounded_queue<int> q(1);
  REQUIRE(q.push(1));
  std::atomic<int> result{-1};
  std::thread producer([&] { result = q.push(2) ? 1 : 0; });
  std::this_thread::sleep_for(20ms);
  CHECK(result == -1);  // still blocked
  q.close();
  producer.join();
  CHECK(result == 0);
}

TEST_CASE("bounded_queue under seeded stress with several producers and consumers delivers each value once, "
          "in order per producer",
          "[buffer][bounded_queue][stress]") {
  constexpr int producers = 4, consumers = 3, per_producer = 20000;
  for (std::uint64_t seed : {1u, 7u, 42u}) {
    INFO("seed = " << seed);
    buffer::bounded_queue<std::uint64_t, chaos_mutex> q(8);
    std::vector<std::vector<std::uint64_t>> seen(consumers);
    std::vector<std::thread> threads;
    std::atomic<int> producers_left{producers};
    std::atomic<int> refused{0};
    for (int p = 0; p < producers; ++p) {
      threads.emplace_back([&, p] {
        chaos_mutex::seed(seed * 1000 + static_cast<std::uint64_t>(p));
        std::mt19937_64 rng(seed + static_cast<std::uint64_t>(p));
        for (std::uint64_t i = 0; i < per_producer; ++i) {
          std::uint64_t v = static_cast<std::uint64_t>(p) << 32 | i;
          if (rng() & 1) {
            while (!q.try_push(std::move(v))) std::this_thread::yield();
          } else if (!q.push(std::move(v))) {
            ++refused;  // never expected: the queue closes after the last producer
          }
        }
        if (--producers_left == 0) q.close();
      });
    }
    for (int c = 0; c < consumers; ++c) {
      threads.emplace_back([&, c] {
        chaos_mutex::seed(seed * 2000 + static_cast<std::uint64_t>(c));
        std::mt19937_64 rng(seed * 3 + static_cast<std::uint64_t>(c));
        std::uint64_t v = 0;
        for (;;) {
          auto r = rng() % 3;
          if (r == 0) {
            if (q.try_pop(v)) {
              seen[c].push_back(v);
            } else if (q.closed()) {
              // Nothing is pushed after close: one more empty try means the end.
              if (!q.try_pop(v)) break;
              seen[c].push_back(v);
            } else {
              std::this_thread::yield();
            }
          } else if (r == 1) {
            auto s = q.pop_until(v, std::chrono::steady_clock::now() + 100us);
            if (s == buffer::pop_status::ok) seen[c].push_back(v);
            else if (s == buffer::pop_status::closed) break;
          } else {
            if (!q.pop(v)) break;
            seen[c].push_back(v);
          }
        }
      });
    }
    for (auto& t : threads) t.join();

    CHECK(refused == 0);
    std::vector<std::uint64_t> all;
    for (int c = 0; c < consumers; ++c) {
      // Each consumer sees each producer's values in the order they were pushed.
      std::map<std::uint64_t, std::uint64_t> last;
      for (auto v : seen[c]) {
        auto producer = v >> 32, index = v & 0xFFFFFFFFu;
        auto it = last.find(producer);
        if (it != last.end()) REQUIRE(index > it->second);
        last[producer] = index;
      }
      all.insert(all.end(), seen[c].begin(), seen[c].end());
    }
    std::sort(all.begin(), all.end());
    REQUIRE(all.size() == std::size_t(producers) * per_producer);
    CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());  // no value twice
    CHECK(all.front() == 0);
    CHECK(all.back() == (std::uint64_t(producers - 1) << 32 | (per_producer - 1)));
  }
}
