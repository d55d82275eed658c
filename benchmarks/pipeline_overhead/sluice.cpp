// SPDX-License-Identifier: Apache-2.0
// The composed pipeline: generator | format::jsonl | codec::zstd | crypto::envelope | a sink
// that only counts and acknowledges, so the figure is the pipeline's own cost and no I/O.
#include "pipeline_overhead/pipeline_overhead.hpp"

#include <sluice/sluice.hpp>

#include <sluice/codec/zstd.hpp>
#include <sluice/connector/generator.hpp>
#include <sluice/crypto/envelope.hpp>

namespace pipeline_overhead {
namespace {

/// A sink that stores nothing: it acknowledges each object at once (which counts it in the
/// pipeline's metrics and commits its cursors), as a store does once the bytes are durable, and
/// gives the body back for the format to reuse, as store::local does.
struct counting_sink {
  using stage_concept = sluice::sink_tag;
  using input_type = sluice::object;

  class node {
   public:
    explicit node(sluice::run_context& ctx) : ctx_(ctx) {}
    void push(sluice::object&& o) {
      ctx_.acknowledge(o);
      sluice::give_recycled(std::move(o.body));  // as store::local does: the format reuses it
    }
    void flush() {}
    void tick() {}

   private:
    sluice::run_context& ctx_;
  };
  node open(sluice::run_context& ctx) const { return node(ctx); }
};

}  // namespace

result run_sluice(const config& c) {
  using namespace sluice;
  auto p = connector::generator{.records = c.records, .chunk_records = c.chunk_records}
         | format::jsonl{}
         | codec::zstd{.level = c.level}
         | crypto::envelope{.keyring = c.keys, .frame_length = c.frame_length}
         | counting_sink{};
  p.run();
  auto m = p.metrics().snapshot();
  return {m.bytes_in + m.records_in, m.bytes_out, m.objects_out};
}

}  // namespace pipeline_overhead
