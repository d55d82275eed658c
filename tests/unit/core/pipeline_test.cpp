// SPDX-License-Identifier: Apache-2.0
#include <sluice/core/pipeline.hpp>

#include <sluice/batch/by_size.hpp>
#include <sluice/buffer/disk.hpp>
#include <sluice/buffer/queue.hpp>
#include <sluice/format/jsonl.hpp>
#include <sluice_test/support.hpp>

#include <catch2/catch.hpp>

#include <thread>

using namespace sluice;
using namespace sluice::literals;
using sluice_test::collecting_sink;
using sluice_test::vector_source;

static_assert(source<vector_source>);
static_assert(sink<collecting_sink>);
static_assert(format_stage<format::jsonl>);

namespace {
/// A record stage that upper-cases payloads and rejects the ones that say "bad".
struct shout {
  using stage_concept = stage_tag;
  using input_type = record_batch;
  using output_type = record_batch;
  template <class Next>
  struct node {
    run_context& ctx;
    Next next;
    void push(record_batch&& in) {
      record_batch out;
      for (auto r : in) {
        if (r.payload == "bad") {
          ctx.reject(r, make_error_code(errc::invalid_record), "payload is `bad`", "shout");
          continue;
        }
        std::string s(r.payload);
        for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        out.append(s, r.cursor, r.event_time, r.partition);
      }
      if (!out.empty()) next.push(std::move(out));
    }
    void flush() { next.flush(); }
    void tick() { next.tick(); }
  };
  template <class MakeNext>
  auto open(run_context& ctx, MakeNext&& make_next) const {
    return node<decltype(make_next())>{ctx, make_next()};
  }
};
static_assert(record_stage<shout>);

/// A record stage that passes everything on and requests stop once it has seen `records`.
struct stop_after {
  using stage_concept = stage_tag;
  using input_type = record_batch;
  using output_type = record_batch;
  std::size_t records = 0;
  std::stop_source* stop = nullptr;
  template <class Next>
  struct node {
    const stop_after& config;
    Next next;
    std::size_t seen = 0;
    void push(record_batch&& in) {
      seen += in.size();
      if (seen >= config.records) config.stop->request_stop();
      next.push(std::move(in));
    }
    void flush() { next.flush(); }
    void tick() { next.tick(); }
  };
  template <class MakeNext>
  auto open(run_context&, MakeNext&& make_next) const {
    return node<decltype(make_next())>{*this, make_next()};
  }
};
}  // namespace
using sluice::operator|;

TEST_CASE("pipeline(...) and operator| build the same type", "[core][pipeline]") {
  auto a = vector_source{} | shout{} | format::jsonl{} | collecting_sink{};
  auto b = sluice::pipeline(vector_source{}, shout{}, format::jsonl{}, collecting_sink{});
  auto closure = shout{} | format::jsonl{};
  auto c = vector_source{} | closure | collecting_sink{};
  STATIC_REQUIRE(std::is_same_v<decltype(a), decltype(b)>);
  STATIC_REQUIRE(std::is_same_v<decltype(a), decltype(c)>);
}

TEST_CASE("a pipeline runs records through its stages, counts them and sends rejects to the error output",
          "[core][pipeline]") {
  collecting_sink sink;
  std::vector<record_error> errors;
  auto p = vector_source{.payloads = {"a", "bad", "c"}, .chunk = 2} | shout{} | format::jsonl{} | sink;
  p.options.stream = "letters";
  p.options.on_error = [&](const record_error& e) { errors.push_back(e); };
  p.run();
  REQUIRE(sink.objects->size() == 2);
  CHECK((*sink.objects)[0].body == "A\n");
  CHECK((*sink.objects)[0].stream == "letters");
  CHECK((*sink.objects)[1].body == "C\n");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].payload == "bad");
  CHECK(errors[0].stage == "shout");
  CHECK(errors[0].code == errc::invalid_record);
  auto m = p.metrics().snapshot();
  CHECK(m.records_in == 3);
  CHECK(m.bytes_in == 5);
  CHECK(m.records_out == 2);
  CHECK(m.objects_out == 2);
  CHECK(m.errors == 1);
  CHECK(m.batch_latency_count == 2);
}

TEST_CASE("a pipeline checkpoints its source and resumes after what was committed", "[core][pipeline]") {
  sluice_test::temp_dir dir;
  collecting_sink first_sink;
  auto p = vector_source{.payloads = {"1", "2", "3"}, .chunk = 1} | format::jsonl{} | first_sink;
  p.options.checkpoint = dir / "checkpoint";
  p.run();
  CHECK(first_sink.objects->size() == 3);

  collecting_sink second_sink;
  auto q = vector_source{.payloads = {"1", "2", "3", "4"}, .chunk = 1} | format::jsonl{} | second_sink;
  q.options.checkpoint = dir / "checkpoint";
  q.run();
  REQUIRE(second_sink.objects->size() == 1);
  CHECK((*second_sink.objects)[0].body == "4\n");
}

TEST_CASE("a rejected record does not hold back the checkpoint", "[core][pipeline]") {
  sluice_test::temp_dir dir;
  collecting_sink sink;
  auto p = vector_source{.payloads = {"a", "bad"}, .chunk = 1} | shout{} | format::jsonl{} | sink;
  p.options.checkpoint = dir / "checkpoint";
  p.options.on_error = [](const record_error&) {};
  p.run();
  CHECK(checkpoint_store(dir / "checkpoint").get("vector") == std::pair<bool, std::uint64_t>{true, 2});
}

TEST_CASE("stop ends the source and everything accepted is still flushed", "[core][pipeline]") {
  // A batcher that would hold every record for 15 minutes: only the drain on stop writes them.
  std::vector<std::string> many(100000, "x");
  std::stop_source stop;
  collecting_sink sink;
  auto p = vector_source{.payloads = many, .chunk = 10} | stop_after{.records = 1000, .stop = &stop} |
           batch::by_size{.max_bytes = 1_MiB, .max_age = std::chrono::seconds(900)} | format::jsonl{} | sink;
  p.run(stop.get_token());
  auto m = p.metrics().snapshot();
  CHECK(m.records_in >= 1000);
  CHECK(m.records_in < many.size());  // the source did stop early
  CHECK(m.records_out == m.records_in);
  REQUIRE(sink.objects->size() == 1);
  CHECK((*sink.objects)[0].record_count == m.records_in);
}

TEST_CASE("validation refuses stages after a streaming batcher that would split or lose an object's pieces",
          "[core][pipeline]") {
  using namespace sluice;
  sluice_test::vector_source src{.payloads = {"{}"}};
  auto streaming = batch::by_size{.max_bytes = 4_MiB, .piece_bytes = 1_MiB};
  auto whole = batch::by_size{.max_bytes = 4_MiB};
  auto sink = sluice_test::collecting_sink{};

  // Several workers after the batcher would take pieces of one object on different threads.
  auto split = src | streaming | buffer::queue{.workers = 2} | format::jsonl{} | sink;
  CHECK_THROWS_WITH(split.validate(), Catch::Contains("buffer::queue.workers = 2") &&
                                          Catch::Contains("put the queue before the batcher"));
  // The disk buffer keeps records, not where pieces begin and end.
  auto lost = src | streaming | buffer::disk{.dir = "unused"} | format::jsonl{} | sink;
  CHECK_THROWS_WITH(lost.validate(), Catch::Contains("buffer::disk") && Catch::Contains("put it before the batcher"));

  // The same stages are fine before the batcher, after one worker, or after a batcher that
  // emits whole objects.
  CHECK_NOTHROW((src | buffer::queue{.workers = 2} | streaming | format::jsonl{} | sink).validate());
  CHECK_NOTHROW((src | streaming | buffer::queue{.workers = 1} | format::jsonl{} | sink).validate());
  CHECK_NOTHROW((src | whole | buffer::queue{.workers = 2} | format::jsonl{} | sink).validate());
}
