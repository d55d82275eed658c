// SPDX-License-Identifier: Apache-2.0
// The whole landing path: generator -> batch::by_size -> buffer::queue -> format::jsonl ->
// codec::zstd -> crypto::envelope -> store::local (fsync before acknowledging).
#include "end_to_end/end_to_end.hpp"

#include <sluice/sluice.hpp>

#include <sluice/batch/by_size.hpp>
#include <sluice/buffer/queue.hpp>
#include <sluice/codec/zstd.hpp>
#include <sluice/connector/generator.hpp>
#include <sluice/crypto/envelope.hpp>
#include <sluice/store/local.hpp>

namespace end_to_end {

result run_sluice(const config& c) {
  using namespace sluice;
  auto p = connector::generator{.records = c.records}
         | batch::by_size{.max_bytes = c.batch_bytes}
         | buffer::queue{.capacity = c.queue_capacity, .workers = c.workers}
         | format::jsonl{}
         | codec::zstd{.level = c.level}
         | crypto::envelope{.keyring = c.keys, .frame_length = c.frame_length}
         | store::local{.root = c.root, .key = "events/{partition}/", .sync = c.sync};
  p.options.stream = "events";
  p.run();
  auto m = p.metrics().snapshot();
  return {m.bytes_in + m.records_in, m.bytes_out, m.objects_out, m.errors};
}

}  // namespace end_to_end
