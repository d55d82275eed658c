// SPDX-License-Identifier: Apache-2.0
// The bounded landing path: by_size{.max_bytes, .max_buffered_bytes} -> queue{.capacity,
// .workers} -> jsonl -> zstd -> envelope -> store::local (fsync before acknowledging).
#include "memory_bound/memory_bound.hpp"

#include <sluice/sluice.hpp>

#include <sluice/batch/by_size.hpp>
#include <sluice/buffer/queue.hpp>
#include <sluice/codec/zstd.hpp>
#include <sluice/connector/generator.hpp>
#include <sluice/crypto/envelope.hpp>
#include <sluice/crypto/keyring.hpp>
#include <sluice/store/local.hpp>

#include <array>
#include <memory>

namespace memory_bound {

result run_sluice(const config& c, std::uint64_t records, const std::filesystem::path& root) {
  using namespace sluice;
  std::array<std::uint8_t, 32> key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i * 7 + 1);
  auto keys = std::make_shared<crypto::raw_aes_keyring>("bench", "key-1", key);
  auto p = connector::generator{.records = records, .chunk_records = c.chunk_records}
         | batch::by_size{.max_bytes = c.max_bytes, .max_buffered_bytes = c.max_buffered_bytes}
         | buffer::queue{.capacity = c.capacity, .workers = c.workers}
         | format::jsonl{}
         | codec::zstd{.level = c.level}
         | crypto::envelope{.keyring = keys, .frame_length = c.frame_length}
         | store::local{.root = root, .key = "events/{partition}/", .sync = c.sync};
  p.options.stream = "events";
  p.run();
  auto m = p.metrics().snapshot();
  return {m.bytes_in + m.records_in, m.objects_out, m.errors};
}

}  // namespace memory_bound
