// SPDX-License-Identifier: Apache-2.0
// Kills a pipeline with a disk buffer (buffer_crash_child) with SIGKILL at seeded random points,
// restarts it each time (adding an input file before each run), lets a last run finish, and
// checks that every input line landed in the lake at least once and nothing else did, and that
// lines a kill left only in the write-ahead log (the source will not read them again) were
// delivered by a restart's replay.
// SLUICE_CRASH_SEED picks another schedule.
#include <sluice/buffer/disk.hpp>
#include <sluice/core/cursor.hpp>
#include <sluice/store/local.hpp>

#include <sluice_test/support.hpp>

#include <catch2/catch.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#ifndef BUFFER_CRASH_CHILD
#error "BUFFER_CRASH_CHILD must name the child program (set by CMake)"
#endif

extern char** environ;

namespace {

pid_t spawn_child(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ);
  if (rc != 0) FAIL("posix_spawn " << argv[0] << " failed: " << rc);
  return pid;
}

/// Waits for `pid` up to `limit`; returns its wait status, or -1 after killing it on timeout.
int wait_child(pid_t pid, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return status;
}

std::uint64_t seed_from_env() {
  const char* s = std::getenv("SLUICE_CRASH_SEED");
  return s ? std::strtoull(s, nullptr, 10) : 20261125u;
}

}  // namespace

TEST_CASE("a pipeline with buffer::disk killed with SIGKILL at random points delivers every line at least once "
          "and nothing else",
          "[integration][buffer][disk]") {
  const std::uint64_t seed = seed_from_env();
  INFO("SLUICE_CRASH_SEED=" << seed);
  std::mt19937_64 rng(seed);
  sluice_test::temp_dir tmp;

  // The input: a folder that gains a file of numbered JSON lines before each run, so every run
  // has work to be interrupted in, whatever the speed of this machine's disk.
  constexpr int lines_per_file = 4000;
  std::filesystem::create_directories(tmp / "in");
  std::unordered_map<std::string, int> seen;
  int lines = 0;
  // Each input file's lines with the offset after each: what the files source's checkpoint
  // (one position per file, the offset after the last line it committed) covers.
  struct input_file {
    std::string checkpoint_name;
    std::vector<std::pair<std::uint64_t, std::string>> lines;
  };
  std::vector<input_file> inputs;
  auto add_input_file = [&](int file) {
    char name[32];
    std::snprintf(name, sizeof name, "in-%03d.jsonl", file);
    auto path = std::filesystem::absolute(tmp / "in" / name).lexically_normal();
    std::ofstream in(path, std::ios::binary);
    input_file written{path.string(), {}};
    std::uint64_t offset = 0;
    for (int i = 0; i < lines_per_file; ++i, ++lines) {
      std::string line = "{\"file\":" + std::to_string(file) + ",\"line\":" + std::to_string(i) + ",\"pad\":\"" +
                         std::string(20 + rng() % 180, static_cast<char>('a' + i % 26)) + "\"}";
      in << line << '\n';
      offset += line.size() + 1;
      written.lines.emplace_back(offset, line);
      seen.emplace(line, 0);
    }
    inputs.push_back(std::move(written));
  };
  // The lines of every complete object of the lake (one with its sidecar), counted, and the
  // objects whose body does not end a line. An object a kill left without its sidecar is not in
  // the lake; its records were not acknowledged, so a later run wrote them again.
  struct lake_contents {
    std::unordered_map<std::string, int> lines;
    std::size_t objects = 0, partial = 0;
  };
  auto read_lake = [&] {
    lake_contents found;
    if (!std::filesystem::exists(tmp / "lake")) return found;
    sluice::store::local_reader lake(tmp / "lake");
    for (const auto& key : lake.list()) {
      ++found.objects;
      std::string body = lake.read(key).body;
      if (!body.empty() && body.back() != '\n') ++found.partial;
      for (std::size_t at = 0; at < body.size();) {
        auto nl = body.find('\n', at);
        if (nl == std::string::npos) nl = body.size();
        ++found.lines[body.substr(at, nl - at)];
        at = nl + 1;
      }
    }
    return found;
  };
  // Lines that, when a run was killed, the source had committed (they were in the write-ahead
  // log, and no later run reads them from the input again) but the lake did not hold yet: only
  // the log's replay can bring these to the lake.
  std::vector<std::string> only_in_log;
  auto note_only_in_log = [&] {
    if (!std::filesystem::exists(tmp / "checkpoint")) return;
    sluice::checkpoint_store source_checkpoint(tmp / "checkpoint");
    auto in_lake = read_lake().lines;
    for (const auto& file : inputs) {
      auto [has, committed] = source_checkpoint.get(file.checkpoint_name);
      if (!has) continue;
      for (const auto& [end, line] : file.lines)
        if (end <= committed && !in_lake.contains(line)) only_in_log.push_back(line);
    }
  };
  const std::vector<std::string> args = {BUFFER_CRASH_CHILD, (tmp / "in").string(), (tmp / "wal").string(),
                                         (tmp / "lake").string(), (tmp / "checkpoint").string()};

  // Kill at a seeded fraction of `window`; a run that finishes first halves the window.
  constexpr int wanted_kills = 8, max_rounds = 24;
  int killed_mid_run = 0, rounds = 0;
  auto window = std::chrono::milliseconds(400);
  for (; rounds < max_rounds && killed_mid_run < wanted_kills; ++rounds) {
    add_input_file(rounds);
    pid_t pid = spawn_child(args);
    std::uniform_real_distribution<double> fraction(0.0, 1.0);
    auto scaled = static_cast<long>(static_cast<double>(window.count()) * fraction(rng));
    auto delay = std::max(std::chrono::milliseconds(2), std::chrono::milliseconds(scaled));
    std::this_thread::sleep_for(delay);
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      ++killed_mid_run;
      note_only_in_log();
    } else {
      INFO("round " << rounds);
      REQUIRE(WIFEXITED(status));
      REQUIRE(WEXITSTATUS(status) == 0);
      window = std::max(std::chrono::milliseconds(10), window / 2);
    }
  }
  add_input_file(rounds);
  int status = wait_child(spawn_child(args), std::chrono::seconds(20));
  REQUIRE(status != -1);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  CHECK(killed_mid_run == wanted_kills);  // the schedule must actually interrupt runs

  // Whole lines only, each one an input line.
  const lake_contents lake = read_lake();
  std::size_t total = 0, unknown = 0;
  for (const auto& [line, count] : lake.lines) {
    total += static_cast<std::size_t>(count);
    if (auto it = seen.find(line); it == seen.end())
      unknown += static_cast<std::size_t>(count);
    else
      it->second += count;
  }
  std::size_t missing = 0;
  for (const auto& [line, count] : seen)
    if (count == 0) ++missing;
  std::printf("crash test (seed %llu): %d of %d runs killed mid-way; %zu objects, %zu lines for %d input lines\n",
              static_cast<unsigned long long>(seed), killed_mid_run, rounds, lake.objects, total, lines);
  CHECK(lake.partial == 0);
  CHECK(unknown == 0);
  CHECK(missing == 0);
  CHECK(total >= static_cast<std::size_t>(lines));
  // The restarts delivered from the log: lines a kill left only there are in the lake now.
  std::printf("crash test: %zu lines were only in the write-ahead log when a run was killed\n", only_in_log.size());
  CHECK_FALSE(only_in_log.empty());
  std::size_t replay_missing = 0;
  for (const auto& line : only_in_log)
    if (seen.at(line) == 0) ++replay_missing;
  CHECK(replay_missing == 0);

  // The clean run drained the buffer: its committed position is the end of its log.
  auto segments = sluice::buffer::detail::list_segments(tmp / "wal");
  REQUIRE(segments.size() == 1);
  auto end = segments[0].start + std::filesystem::file_size(segments[0].path);
  CHECK(sluice::checkpoint_store(tmp / "wal" / "checkpoint").get("committed") ==
        std::pair<bool, std::uint64_t>{true, end});
}
