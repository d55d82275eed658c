// SPDX-License-Identifier: Apache-2.0
// The hand-written loop: the same work as the pipeline without its machinery. Events are
// written by the generator's write_event straight into one reused JSON Lines buffer, in chunks
// of the pipeline's record count; one reused ZSTD_CCtx (level 1, content size and checksum in
// the frame, as codec::zstd writes); one reused crypto::encryptor with the same keyring, frame
// length and encryption context shape; the messages are counted.
#include "pipeline_overhead/pipeline_overhead.hpp"

#include <sluice/connector/generator.hpp>
#include <sluice/crypto/envelope.hpp>

#include <zstd.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace pipeline_overhead {

result run_baseline(const config& c) {
  const sluice::connector::generator gen{.records = c.records, .chunk_records = c.chunk_records};
  constexpr std::size_t max_line = sluice::connector::generator::max_event_bytes + 1;

  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx(ZSTD_createCCtx(), &ZSTD_freeCCtx);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, c.level);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_contentSizeFlag, 1);
  sluice::crypto::encryptor encryptor;
  sluice::crypto::encrypt_options options{.frame_length = c.frame_length};

  // Allocated once; the first chunk touches them, later chunks reuse them.
  const std::size_t body_capacity = c.chunk_records * max_line;
  std::unique_ptr<char[]> body(new char[body_capacity]);
  const std::size_t frame_capacity = ZSTD_compressBound(body_capacity);
  std::unique_ptr<char[]> frame(new char[frame_capacity]);
  std::string message;

  result r;
  for (std::uint64_t first = 0; first < c.records;) {
    const std::uint64_t n = std::min<std::uint64_t>(c.chunk_records, c.records - first);
    char* w = body.get();
    for (std::uint64_t i = first; i < first + n; ++i) {
      std::size_t type;
      w += gen.write_event(i, w, type);
      *w++ = '\n';
    }
    const auto body_size = static_cast<std::size_t>(w - body.get());

    std::size_t frame_size = ZSTD_compress2(cctx.get(), frame.get(), frame_capacity, body.get(), body_size);
    if (ZSTD_isError(frame_size)) throw std::runtime_error(ZSTD_getErrorName(frame_size));

    // The context envelope sets: stream and the first record's partition.
    options.context.clear();
    options.context["sluice:stream"] = "default";
    options.context["sluice:partition"] = gen.partition(first);
    encryptor.encrypt(*c.keys, std::string_view(frame.get(), frame_size), message, options);

    r.input_bytes += body_size;
    r.output_bytes += message.size();
    ++r.objects;
    first += n;
  }
  return r;
}

}  // namespace pipeline_overhead
