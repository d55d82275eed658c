// SPDX-License-Identifier: Apache-2.0
// pipeline_overhead: what composing stages costs. The pipeline
//   connector::generator | format::jsonl | codec::zstd{.level = 1} | crypto::envelope | counting sink
// against a hand-written loop that makes the same library calls with reused buffers, on the same
// events in objects of the same record count. Target: the pipeline within 5% of the loop.
//
//   pipeline_overhead [--records 500000] [--chunk 4096] [--repeats 3] [--only sluice|loop]
//
// Figures are MB/s of JSON Lines input (payloads and newlines), medians of `repeats` runs taken
// in turns (pipeline, loop, pipeline, loop, ...).
#include "common/harness.hpp"
#include "pipeline_overhead/pipeline_overhead.hpp"

#include <sluice/crypto/keyring.hpp>

#include <array>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>

int main(int argc, char** argv) try {
  using namespace sluice_bench;
  pipeline_overhead::config c;
  c.records = static_cast<std::uint64_t>(arg(argc, argv, "--records", 500'000));
  c.chunk_records = static_cast<std::size_t>(arg(argc, argv, "--chunk", 4096));
  const int repeats = static_cast<int>(arg(argc, argv, "--repeats", 3));
  // A fixed wrapping key: the benchmark measures speed, not key management.
  std::array<std::uint8_t, 32> key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i * 7 + 1);
  c.keys = std::make_shared<sluice::crypto::raw_aes_keyring>("bench", "key-1", key);

  // --only sluice|loop runs one competitor once, untimed: for profilers.
  const std::string only = arg_text(argc, argv, "--only", "");
  if (only == "sluice" || only == "loop") {
    auto r = only == "sluice" ? pipeline_overhead::run_sluice(c) : pipeline_overhead::run_baseline(c);
    std::printf("%s: %" PRIu64 " bytes in, %" PRIu64 " objects\n", only.c_str(), r.input_bytes, r.objects);
    return 0;
  }

  print_machine("pipeline_overhead");
  std::printf("# %" PRIu64 " events, %zu records per object, zstd level %d, %" PRIu64 " KiB frames, %d runs each\n",
              c.records, c.chunk_records, c.level, c.frame_length / 1024, repeats);

  // Warm-up, untimed: the first run of each pays for first-touch page faults of the heap.
  pipeline_overhead::config warm = c;
  warm.records = std::min<std::uint64_t>(c.records, 50'000);
  pipeline_overhead::run_sluice(warm);
  pipeline_overhead::run_baseline(warm);

  pipeline_overhead::result s, b;
  auto t = interleaved_median_seconds(repeats, {[&] { s = pipeline_overhead::run_sluice(c); },
                                                [&] { b = pipeline_overhead::run_baseline(c); }});
  if (s.input_bytes != b.input_bytes || s.objects != b.objects) {
    std::fprintf(stderr, "pipeline_overhead: the competitors did different work: %" PRIu64 " vs %" PRIu64
                         " input bytes, %" PRIu64 " vs %" PRIu64 " objects\n",
                 s.input_bytes, b.input_bytes, s.objects, b.objects);
    return 1;
  }
  std::printf("# %.1f MB of JSON Lines in %" PRIu64 " objects -> %.1f MB encrypted (loop: %.1f MB)\n",
              static_cast<double>(s.input_bytes) / 1e6, s.objects, static_cast<double>(s.output_bytes) / 1e6,
              static_cast<double>(b.output_bytes) / 1e6);
  report("pipeline_overhead sluice pipeline", mb_per_s(s.input_bytes, t[0]), "MB/s", "hand-written loop",
         mb_per_s(b.input_bytes, t[1]));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "pipeline_overhead: %s\n", e.what());
  return 1;
}
