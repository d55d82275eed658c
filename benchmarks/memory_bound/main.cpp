// SPDX-License-Identifier: Apache-2.0
// memory_bound: peak memory stays under the bound the configuration sets, whatever the input
// size. The landing path
//   generator -> batch::by_size{.max_bytes = 8 MiB, .max_buffered_bytes = 32 MiB}
//   -> buffer::queue{.capacity = 2, .workers = 2} -> format::jsonl -> codec::zstd{.level = 1}
//   -> crypto::envelope -> store::local (a temporary folder under /tmp, fsync)
// runs in a forked child per input size, so each child's peak RSS (ru_maxrss from wait4) is its
// own. Each peak is printed against the bound computed in baseline.cpp (printed term by term);
// the last line compares the largest input's peak with the smallest's: it must not grow. Each
// size runs twice: with glibc's default allocator settings, and with M_MMAP_THRESHOLD fixed at
// 1 MiB (see docs/performance.md for why the two differ).
//
//   memory_bound [--sizes 1000000,4000000,7000000] [--repeats 3] [--only EVENTS]
//
// Each figure is the largest peak of `repeats` children (a bound is about the worst case).
#include "common/harness.hpp"
#include "memory_bound/memory_bound.hpp"

#include <malloc.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <utility>
#include <vector>

namespace {

struct child_outcome {
  bool ok = false;
  std::size_t peak_rss = 0;
  memory_bound::result r;
};

/// Runs `work` in a forked child and returns its peak RSS and the result it sends back.
template <class Work>
child_outcome in_child(Work work) {
  int fds[2];
  if (::pipe(fds) != 0) {
    std::perror("pipe");
    std::exit(2);
  }
  std::fflush(stdout);
  pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("fork");
    std::exit(2);
  }
  if (pid == 0) {
    ::close(fds[0]);
    int code = 0;
    memory_bound::result r;
    try {
      r = work();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "memory_bound child: %s\n", e.what());
      code = 1;
    }
    if (::write(fds[1], &r, sizeof r) != static_cast<ssize_t>(sizeof r)) code = 1;
    ::_exit(code);
  }
  ::close(fds[1]);
  child_outcome out;
  ssize_t got = ::read(fds[0], &out.r, sizeof out.r);
  ::close(fds[0]);
  int status = 0;
  rusage usage{};
  if (::wait4(pid, &status, 0, &usage) != pid) {
    std::perror("wait4");
    std::exit(2);
  }
  out.ok = got == static_cast<ssize_t>(sizeof out.r) && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  out.peak_rss = static_cast<std::size_t>(usage.ru_maxrss) * 1024;
  return out;
}

double mib(std::size_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

}  // namespace

int main(int argc, char** argv) try {
  using namespace sluice_bench;
  memory_bound::config c;
  const int repeats = static_cast<int>(arg(argc, argv, "--repeats", 3));
  std::vector<std::uint64_t> sizes;
  {
    std::string list = arg_text(argc, argv, "--sizes", "1000000,4000000,7000000");
    for (std::size_t at = 0; at < list.size();) {
      std::size_t comma = list.find(',', at);
      if (comma == std::string::npos) comma = list.size();
      sizes.push_back(std::stoull(list.substr(at, comma - at)));
      at = comma + 1;
    }
  }
  // --only N runs the pipeline once over N events in this process, with glibc's default
  // allocator settings and without children or bound: for heap profilers (heaptrack).
  if (const long long only = arg(argc, argv, "--only", 0); only > 0) {
    temp_folder lake("sluice-bench-memory");
    auto r = memory_bound::run_sluice(c, static_cast<std::uint64_t>(only), lake.path());
    std::printf("%" PRIu64 " bytes in, %" PRIu64 " objects, %" PRIu64 " errors\n", r.input_bytes, r.objects, r.errors);
    return r.errors == 0 ? 0 : 1;
  }

  print_machine("memory_bound");
  std::printf("# by_size{.max_bytes = %zu MiB, .max_buffered_bytes = %zu MiB}, queue{.capacity = %zu, .workers = %zu}, "
              "zstd level %d, %" PRIu64 " KiB frames, fsync %s; largest peak of %d children per size\n",
              c.max_bytes >> 20, c.max_buffered_bytes >> 20, c.capacity, c.workers, c.level, c.frame_length / 1024,
              c.sync ? "on" : "off", repeats);

  temp_folder lake("sluice-bench-memory");
  // What every child has before it holds any data: the same pipeline over 0 events (code and
  // libraries paged in, contexts opened, worker threads started).
  std::size_t empty = 0;
  for (int i = 0; i < repeats; ++i)
    empty = std::max(empty, in_child([&] { return memory_bound::run_sluice(c, 0, lake.path()); }).peak_rss);
  auto terms = memory_bound::bound_terms(c, empty);
  std::size_t bound = 0;
  for (const auto& t : terms) {
    std::printf("#   %-76s %8.1f MiB\n", t.what.c_str(), mib(t.bytes));
    bound += t.bytes;
  }
  std::printf("#   %-76s %8.1f MiB\n", "bound", mib(bound));

  // The allocator: glibc's default (its mmap threshold rises to the largest block freed, up to
  // 32 MiB, so 8 MiB buffers end up in its heaps), or a fixed threshold under the buffer size, so
  // every batch and object buffer is its own mapping, returned to the system when freed.
  const std::vector<std::pair<std::string, int>> allocators{{"glibc malloc default", 0},
                                                            {"M_MMAP_THRESHOLD 1 MiB", 1 << 20}};
  for (const auto& [allocator, threshold] : allocators) {
  std::printf("# allocator: %s\n", allocator.c_str());
  std::vector<std::size_t> peaks;
  for (std::uint64_t records : sizes) {
    std::size_t peak = 0;
    memory_bound::result r;
    for (int i = 0; i < repeats; ++i) {
      lake.clear();
      auto out = in_child([&, threshold = threshold] {
        if (threshold > 0) ::mallopt(M_MMAP_THRESHOLD, threshold);
        return memory_bound::run_sluice(c, records, lake.path());
      });
      if (!out.ok || out.r.errors != 0 || out.r.input_bytes == 0) {
        std::fprintf(stderr, "memory_bound: the child for %" PRIu64 " events failed\n", records);
        return 1;
      }
      peak = std::max(peak, out.peak_rss);
      r = out.r;
    }
    peaks.push_back(peak);
    std::printf("# %" PRIu64 " events: %.1f MB of JSON Lines -> %" PRIu64 " objects\n", records,
                static_cast<double>(r.input_bytes) / 1e6, r.objects);
    report("memory_bound " + std::string(threshold > 0 ? "mmap 1M" : "default") + ", " + std::to_string(records) +
               " events, peak RSS",
           mib(peak), "MiB", "configured bound", mib(bound));
  }
  lake.clear();
  if (peaks.size() > 1)
    report("memory_bound " + std::string(threshold > 0 ? "mmap 1M" : "default") + ", " +
               std::to_string(sizes.back()) + " events, peak RSS",
           mib(peaks.back()), "MiB", "peak RSS, " + std::to_string(sizes.front()) + " events", mib(peaks.front()));
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "memory_bound: %s\n", e.what());
  return 1;
}
