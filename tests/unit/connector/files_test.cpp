// SPDX-License-Identifier: Apache-2.0
#include <sluice/connector/files/files.hpp>

#include <sluice/format/jsonl.hpp>
#include <sluice_test/support.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

using namespace sluice;
using sluice_test::collecting_sink;
using sluice_test::temp_dir;
using sluice_test::write_file;
namespace fs = std::filesystem;

static_assert(source<connector::files>);

namespace {
struct seen {
  std::vector<std::string> payloads;
  std::vector<std::uint64_t> positions;
  std::vector<std::string> sources;
  std::vector<record_error> errors;
  metrics_snapshot m;
};

/// Runs files -> a record stage that keeps each record -> jsonl -> collecting sink.
struct recorder {
  using stage_concept = stage_tag;
  using input_type = record_batch;
  using output_type = record_batch;
  seen* out;
  template <class Next>
  struct node {
    run_context& ctx;
    seen* out;
    Next next;
    void push(record_batch&& b) {
      for (auto r : b) {
        out->payloads.emplace_back(r.payload);
        out->positions.push_back(r.cursor.position);
        out->sources.push_back(ctx.tracker().source_name(r.cursor.source));
      }
      next.push(std::move(b));
    }
    void flush() { next.flush(); }
    void tick() { next.tick(); }
  };
  template <class MakeNext>
  auto open(run_context& ctx, MakeNext&& make_next) const {
    return node<decltype(make_next())>{ctx, out, make_next()};
  }
};

seen run_files(connector::files source, const fs::path& checkpoint = {}) {
  seen s;
  auto p = source | recorder{&s} | format::jsonl{} | collecting_sink{};
  p.options.checkpoint = checkpoint;
  p.options.on_error = [&](const record_error& e) { s.errors.push_back(e); };
  p.run();
  s.m = p.metrics().snapshot();
  return s;
}
std::string abs(const fs::path& p) { return fs::absolute(p).lexically_normal().string(); }
}  // namespace

TEST_CASE("a file becomes one record per line, positioned after each newline", "[connector][files]") {
  temp_dir dir;
  write_file(dir / "a.log", "alpha\nbeta\ngamma\n");
  auto s = run_files({.path = dir / "a.log", .chunk_records = 2});
  CHECK(s.payloads == std::vector<std::string>{"alpha", "beta", "gamma"});
  CHECK(s.positions == std::vector<std::uint64_t>{6, 11, 17});
  CHECK(s.sources == std::vector<std::string>(3, abs(dir / "a.log")));
  CHECK(s.m.records_out == 3);
  CHECK(s.m.objects_out == 2);  // chunks of 2 records
}

TEST_CASE("a folder is read recursively, every regular file in sorted order", "[connector][files]") {
  temp_dir dir;
  fs::create_directories(dir / "in/b");
  write_file(dir / "in/z.log", "z1\n");
  write_file(dir / "in/a.log", "a1\na2\n");
  write_file(dir / "in/b/c.log", "c1\n");
  write_file(dir / "in/b/empty.log", "");
  auto s = run_files({.path = dir / "in"});
  CHECK(s.payloads == std::vector<std::string>{"a1", "a2", "c1", "z1"});
  CHECK(s.sources == std::vector<std::string>{abs(dir / "in/a.log"), abs(dir / "in/a.log"),
                                              abs(dir / "in/b/c.log"), abs(dir / "in/z.log")});
  CHECK(s.positions == std::vector<std::uint64_t>{3, 6, 3, 3});
}

TEST_CASE("a run resumes after each file's checkpointed offset", "[connector][files]") {
  temp_dir dir;
  fs::create_directories(dir / "in");
  write_file(dir / "in/a.log", "a1\na2\n");
  write_file(dir / "in/b.log", "b1\n");
  auto first = run_files({.path = dir / "in"}, dir / "checkpoint");
  CHECK(first.payloads.size() == 3);
  CHECK(sluice_test::read_file(dir / "checkpoint") ==
        "6\t" + abs(dir / "in/a.log") + "\n3\t" + abs(dir / "in/b.log") + "\n");

  // Appended lines, and a checkpoint in the middle of a file, resume exactly there.
  write_file(dir / "in/a.log", "a1\na2\na3\n");
  write_file(dir / "checkpoint", "3\t" + abs(dir / "in/b.log") + "\n3\t" + abs(dir / "in/a.log") + "\n");
  write_file(dir / "in/b.log", "b1\nb2\n");
  auto second = run_files({.path = dir / "in"}, dir / "checkpoint");
  CHECK(second.payloads == std::vector<std::string>{"a2", "a3", "b2"});
  auto third = run_files({.path = dir / "in"}, dir / "checkpoint");
  CHECK(third.payloads.empty());
}

TEST_CASE("a line over max_record_bytes goes to the error output naming the file and offset", "[connector][files]") {
  temp_dir dir;
  // A short oversized line, and one far longer than the 1 MiB read buffer.
  std::string huge(3'000'000, 'h');
  write_file(dir / "a.log", "ok1\n" + std::string(25, 'x') + "\nok2\n" + huge + "\r\nok3\n" + huge);
  auto s = run_files({.path = dir / "a.log", .max_record_bytes = 10}, dir / "checkpoint");
  CHECK(s.payloads == std::vector<std::string>{"ok1", "ok2", "ok3"});
  REQUIRE(s.errors.size() == 3);
  for (const auto& e : s.errors) {
    CHECK(e.code == errc::record_too_large);
    CHECK(e.stage == "connector::files");
    CHECK_THAT(e.reason, Catch::Contains(abs(dir / "a.log")) && Catch::Contains("exceeds max_record_bytes (10)"));
  }
  CHECK(s.errors[0].reason.starts_with("line of 25 bytes at "));
  CHECK_THAT(s.errors[0].reason, Catch::EndsWith("offset 4 exceeds max_record_bytes (10)"));
  CHECK(s.errors[0].payload == std::string(10, 'x'));
  CHECK(s.errors[0].cursor.position == 30);
  CHECK(s.errors[1].reason.starts_with("line of 3000001 bytes at "));  // with its \r
  CHECK_THAT(s.errors[1].reason, Catch::Contains("offset 34 "));
  CHECK(s.errors[1].payload == std::string(10, 'h'));
  CHECK(s.errors[2].cursor.position == fs::file_size(dir / "a.log"));  // the unterminated last line
  CHECK(s.m.errors == 3);
  CHECK(sluice_test::read_file(dir / "checkpoint") ==
        std::to_string(fs::file_size(dir / "a.log")) + "\t" + abs(dir / "a.log") + "\n");
}

TEST_CASE("CRLF line ends lose their carriage return", "[connector][files]") {
  temp_dir dir;
  write_file(dir / "a.csv", "a,b\r\nc,d\r\n");
  auto s = run_files({.path = dir / "a.csv"});
  CHECK(s.payloads == std::vector<std::string>{"a,b", "c,d"});
  CHECK(s.positions == std::vector<std::uint64_t>{5, 10});
}

TEST_CASE("a last line without a newline is a record ending at the file size", "[connector][files]") {
  temp_dir dir;
  write_file(dir / "a.log", "one\ntwo");
  auto s = run_files({.path = dir / "a.log"}, dir / "checkpoint");
  CHECK(s.payloads == std::vector<std::string>{"one", "two"});
  CHECK(s.positions == std::vector<std::uint64_t>{4, 7});
  CHECK(sluice_test::read_file(dir / "checkpoint") == "7\t" + abs(dir / "a.log") + "\n");
}

TEST_CASE("empty lines are skipped, counted as dropped, and the checkpoint moves past them", "[connector][files]") {
  temp_dir dir;
  write_file(dir / "a.log", "\n\na\n\r\n\nb\n\n\n");
  write_file(dir / "b.log", "\n\n");
  fs::create_directories(dir / "in");
  fs::rename(dir / "a.log", dir / "in/a.log");
  fs::rename(dir / "b.log", dir / "in/b.log");
  auto s = run_files({.path = dir / "in"}, dir / "checkpoint");
  CHECK(s.payloads == std::vector<std::string>{"a", "b"});
  CHECK(s.positions == std::vector<std::uint64_t>{4, 9});
  CHECK(s.m.dropped == 8);
  CHECK(s.m.records_in == 10);
  CHECK(sluice_test::read_file(dir / "checkpoint") ==
        "11\t" + abs(dir / "in/a.log") + "\n2\t" + abs(dir / "in/b.log") + "\n");
}

TEST_CASE("invalid configuration and missing paths are reported by name", "[connector][files]") {
  CHECK_THROWS_WITH(connector::files{}.validate(), "sluice: connector::files.path = \"\": must name a file or a folder");
  CHECK_THROWS_WITH((connector::files{.path = "x", .chunk_records = 0}.validate()),
                    "sluice: connector::files.chunk_records = 0: must be at least 1");
  CHECK_THROWS_WITH((connector::files{.path = "x", .max_record_bytes = 0}.validate()),
                    Catch::Contains("max_record_bytes = 0"));
  temp_dir dir;
  CHECK_THROWS_WITH(run_files({.path = dir / "missing"}),
                    Catch::Contains("connector::files: " + (dir / "missing").string()) &&
                        Catch::Contains("No such file"));
}
