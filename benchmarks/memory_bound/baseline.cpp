// SPDX-License-Identifier: Apache-2.0
// The baseline of memory_bound is the bound the configuration promises, computed term by term
// from the stages' documented buffering (batch/by_size.hpp, buffer/queue.hpp, format/jsonl.hpp,
// codec/zstd.hpp, crypto/envelope.hpp) and the size of the generator's events.
#include "memory_bound/memory_bound.hpp"

#include <sluice/connector/generator.hpp>
#include <sluice/core/record_batch.hpp>
#include <sluice/core/recycler.hpp>

#include <zstd.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>

namespace memory_bound {

std::vector<term> bound_terms(const config& c, std::size_t empty_rss) {
  // The events' smallest payload and their partition string, measured on a sample: the most
  // records (hence per-record overhead) a batch of max_bytes can hold.
  const sluice::connector::generator gen{};
  std::size_t smallest = sluice::connector::generator::max_event_bytes, partition = 0;
  for (std::uint64_t i = 0; i < 20'000; ++i) {
    smallest = std::min(smallest, gen.event(i).size());
  }
  partition = gen.partition(0).size();
  const std::size_t records_per_batch = c.max_bytes / smallest + 1;
  // A batch in flight: its payload capacity (by_size grows a batch to at most max_bytes and a
  // sixteenth), partition strings, and per record one entry (offsets, sizes, time, cursor: 56
  // bytes) and the newline after its payload.
  const std::size_t batch = c.max_bytes + c.max_bytes / 16 + records_per_batch * (partition + 56 + 1);
  // An object buffer: the JSON Lines body (payloads + newlines) at zstd's worst-case bound,
  // which codec::zstd resizes its output to.
  const std::size_t object = ZSTD_compressBound(c.max_bytes + records_per_batch);
  const std::size_t chunk = c.chunk_records * (560 + partition + 56);

  // A zstd context as codec::zstd configures it, measured after compressing one object of the
  // batch size (the context grows to what the level and the input size need).
  std::string body;
  for (std::uint64_t i = 0; body.size() < c.max_bytes; ++i) body += gen.event(i) + '\n';
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx(ZSTD_createCCtx(), &ZSTD_freeCCtx);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, c.level);
  std::string frame(ZSTD_compressBound(body.size()), '\0');
  (void)ZSTD_compress2(cctx.get(), frame.data(), frame.size(), body.data(), body.size());
  const std::size_t context = ZSTD_sizeof_CCtx(cctx.get());

  return {
      {"a child running the pipeline over 0 events", empty_rss},
      {"source: the chunk being generated and the one being batched", 2 * chunk},
      {"batcher: max_buffered_bytes (records + 64 B each, or batch capacity)", c.max_buffered_bytes},
      {"batcher: a batch's first MiB, copied to a mapping as it grows", sluice::record_batch::trimmable_from},
      {"queue: capacity + 1 batches (the producer holds one while it waits)", (c.capacity + 1) * batch},
      {"workers: the batch each one holds until its next pop", c.workers * batch},
      {"recycler: the spent batches it keeps for reuse (recycler::max_kept)",
       sluice::recycler<sluice::record_batch>::max_kept * batch},
      {"workers: 3 object buffers each (jsonl body, zstd spare, envelope spare)", c.workers * 3 * object},
      {"store: 3 bodies per worker waiting for its syncer or being written (fsync on)",
       c.sync ? c.workers * 3 * object : 0},
      {"workers: zstd context each (ZSTD_sizeof_CCtx after one object)", c.workers * context},
      {"workers: thread stack, cipher, SHA-256, sidecar and malloc arena, 1 MiB each", c.workers * (1u << 20)},
  };
}

}  // namespace memory_bound
