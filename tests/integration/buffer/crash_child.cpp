// SPDX-License-Identifier: Apache-2.0
// The pipeline the crash test kills: a file of lines -> buffer::disk -> batch::by_size ->
// format::jsonl -> a folder of objects written durably. Run by buffer_crash_test, which sends
// it SIGKILL at random points and runs it again until a clean run finishes.
//
//   buffer_crash_child <input file> <wal dir> <lake dir> <checkpoint file>
//
// With the crypto component (OpenSSL) built, the sink is store::local; without it, a minimal
// sink of its own below (write a temporary file, fsync, rename, fsync the folder, acknowledge).
#include <sluice/buffer/disk.hpp>

#include <sluice/batch/by_size.hpp>
#include <sluice/connector/files/files.hpp>
#include <sluice/core/detail/file.hpp>
#include <sluice/format/jsonl.hpp>
#ifdef SLUICE_CRASH_STORE_LOCAL
#include <sluice/store/local.hpp>
#endif

#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>

namespace {

/// A sink of last resort: each object lands in `root/obj-<first>-<last>-<source>.jsonl`
/// atomically and durably before it is acknowledged.
struct durable_folder {
  using stage_concept = sluice::sink_tag;
  using input_type = sluice::object;
  std::filesystem::path root;

  struct node {
    sluice::run_context& ctx;
    std::filesystem::path root;
    void push(sluice::object&& o) {
      auto [lo, hi] = o.covered.position_span();
      std::uint32_t source = o.covered.empty() ? 0 : o.covered.ranges().front().source;
      auto path = root / ("obj-" + std::to_string(lo) + "-" + std::to_string(hi) + "-" + std::to_string(source) +
                          ".jsonl");
      sluice::detail::write_file_atomically(path, o.body, "durable_folder: writing");
      ctx.acknowledge(o);
    }
    void flush() {}
    void tick() {}
  };
  node open(sluice::run_context& ctx) const {
    std::filesystem::create_directories(root);
    return {ctx, root};
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s <input file> <wal dir> <lake dir> <checkpoint file>\n", argv[0]);
    return 2;
  }
  using namespace sluice;
  using namespace std::chrono_literals;
  try {
#ifdef SLUICE_CRASH_STORE_LOCAL
    auto sink = store::local{.root = argv[3], .key = "out/"};
#else
    auto sink = durable_folder{.root = argv[3]};
#endif
    auto p = connector::files{.path = argv[1], .chunk_records = 300} |
             buffer::disk{.dir = argv[2], .segment_bytes = 1 << 20, .max_bytes = 4 << 20} |
             batch::by_size{.max_bytes = 1 << 20, .max_records = 700, .max_age = 30ms} | format::jsonl{} | sink;
    p.options.stream = "crash";
    p.options.checkpoint = argv[4];
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
