// SPDX-License-Identifier: Apache-2.0
// The pipeline the crash test kills: a folder of line files -> buffer::disk -> batch::by_size ->
// format::jsonl -> the lake (store::local). Run by buffer_crash_test, which sends
// it SIGKILL at random points and runs it again until a clean run finishes.
//
//   buffer_crash_child <input file or folder> <wal dir> <lake dir> <checkpoint file>

#include <sluice/buffer/disk.hpp>

#include <sluice/batch/by_size.hpp>
#include <sluice/connector/files/files.hpp>
#include <sluice/format/jsonl.hpp>
#include <sluice/store/local.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s <input file or folder> <wal dir> <lake dir> <checkpoint file>\n", argv[0]);
    return 2;
  }
  using namespace sluice;
  using namespace std::chrono_literals;
  try {
    auto sink = store::local{.root = argv[3], .key = "out/"};
    auto p = connector::files{.path = argv[1], .chunk_records = 300} |
             buffer::disk{.dir = argv[2], .segment_bytes = 1 << 20, .max_bytes = 4 << 20} |
             batch::by_size{.max_bytes = 1 << 20, .max_records = 700, .max_age = 30ms} | format::jsonl{} | sink;
    p.options.stream = "crash";
    p.options.checkpoint = argv[4];
    // Every commit rewrites the checkpoint: the test reads it after each kill to know which lines
    // the source will not read again (they were in the write-ahead log).
    p.options.checkpoint_interval = 0ms;
    p.options.tick_interval = 10ms;
    p.run();
    auto m = p.metrics().snapshot();
    std::printf("records_in=%llu records_out=%llu objects=%llu\n", static_cast<unsigned long long>(m.records_in),
                static_cast<unsigned long long>(m.records_out), static_cast<unsigned long long>(m.objects_out));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "buffer_crash_child: %s\n", e.what());
    return 1;
  }
}
