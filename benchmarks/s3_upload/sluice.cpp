// SPDX-License-Identifier: Apache-2.0
// The sluice side: objects pushed straight into store::s3's node, as the last stage of a
// pipeline would push them, with a run_context of default options (no checkpoint file, so no
// resume copies on disk).
#include "common/harness.hpp"
#include "s3_upload/s3_upload.hpp"

#include <sluice/core/context.hpp>
#include <sluice/core/metrics.hpp>
#include <sluice/core/record_batch.hpp>
#include <sluice/store/s3.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <stop_token>

namespace s3_upload {
namespace {

/// The whole file, read into a string (untimed preparation).
std::string read_whole(const std::filesystem::path& p, std::uint64_t expected) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + p.string());
  std::string out(expected, '\0');
  std::size_t at = 0;
  while (at < out.size()) {
    ssize_t n = ::read(fd, out.data() + at, out.size() - at);
    if (n <= 0) {
      ::close(fd);
      throw std::runtime_error(p.string() + ": shorter than the expected " + std::to_string(expected) + " bytes");
    }
    at += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return out;
}

std::vector<std::string> load_bodies(const settings& s, scenario which, const std::filesystem::path& input) {
  std::vector<std::string> bodies;
  if (which == scenario::big) {
    if (!input.empty()) {
      bodies.push_back(read_whole(big_file(input), s.big_bytes));
    } else {
      bodies.emplace_back(s.big_bytes, '\0');
      fill_random(bodies.back().data(), bodies.back().size(), 0);
    }
    return bodies;
  }
  bodies.reserve(s.small_count);
  for (std::size_t i = 0; i < s.small_count; ++i) {
    if (!input.empty()) {
      bodies.push_back(read_whole(small_file(input, i), s.small_bytes));
    } else {
      bodies.emplace_back(s.small_bytes, '\0');
      fill_random(bodies.back().data(), bodies.back().size(), i + 1);
    }
  }
  return bodies;
}

/// Pushes `body` as one streamed object in pieces of `piece` bytes, as a streaming batcher and
/// the stages after it would.
template <class Node>
void push_pieces(Node& node, const std::string& body, std::size_t piece, std::uint64_t id, const std::string& stream,
                 sluice::cursor position, std::chrono::steady_clock::time_point opened) {
  for (std::size_t at = 0; at < body.size(); at += piece) {
    sluice::object o;
    o.body.assign(body, at, piece);
    o.stream = stream;
    o.content_type = "application/octet-stream";
    o.opened_at = opened;
    o.piece = {id, at == 0, at + piece >= body.size()};
    if (o.piece.first) {
      o.record_count = 1;
      o.record_bytes = body.size();
      o.covered.add(position);
    }
    node.push(std::move(o));
  }
}

}  // namespace

sluice_result run_sluice(const server& srv, const settings& s, scenario which, const std::string& bucket,
                         const std::string& prefix, const std::filesystem::path& input) {
  using clock = std::chrono::steady_clock;
  sluice_result r;
  auto load_start = clock::now();
  std::vector<std::string> bodies = load_bodies(s, which, input);
  r.load_seconds = std::chrono::duration<double>(clock::now() - load_start).count();
  r.input_rss = sluice_bench::current_rss_bytes();

  sluice::pipeline_options options;
  options.stream = "bench";
  sluice::metrics metrics;
  sluice::run_context ctx(options, metrics, std::stop_token{});

  // One position per object: {seq} in the key template names it, so every key differs, and the
  // store acknowledges each object's cursor as a pipeline's would be.
  auto [source, resume] = ctx.add_source("s3_upload");
  (void)resume;
  sluice::record_batch positions;
  for (std::size_t i = 0; i < bodies.size(); ++i) positions.append({}, sluice::cursor{source, i + 1, 0});
  ctx.tracker().track(positions);

  sluice::store::s3 config{
      .url = "s3://" + bucket + "/" + prefix,
      .key = "{seq}",
      .connection = {.endpoint = srv.endpoint,
                     .region = srv.region,
                     .credentials = {srv.access_key, srv.secret_key, ""},
                     .addressing = sluice::aws::addressing_style::path,
                     .max_connections = s.concurrency,
                     .ca_file = srv.ca_file},
      .part_size = s.part_bytes,
      .concurrency = s.concurrency,
      .conditional = s.conditional == "off" ? sluice::store::s3_conditional::off
                                            : sluice::store::s3_conditional::automatic,
  };
  config.validate();

  const double cpu_before = process_cpu_seconds(), busy_before = machine_busy_seconds();
  auto start = clock::now();
  std::uint64_t skipped = 0;
  {
    auto node = config.open(ctx);
    auto now = clock::now();
    for (std::size_t i = 0; i < bodies.size(); ++i) {
      if (s.piece_bytes != 0 && which == scenario::big) {
        push_pieces(node, bodies[i], s.piece_bytes, ctx.next_object_id(), options.stream, positions[i].cursor, now);
        continue;
      }
      sluice::object o;
      o.body = std::move(bodies[i]);
      o.stream = options.stream;
      o.content_type = "application/octet-stream";
      o.record_count = 1;
      o.record_bytes = o.body.size();
      o.opened_at = now;
      o.covered.add(positions[i].cursor);
      node.push(std::move(o));
    }
    node.flush();
    skipped = node.skipped_existing();
  }
  r.upload_seconds = std::chrono::duration<double>(clock::now() - start).count();
  r.cpu_seconds = process_cpu_seconds() - cpu_before;
  r.machine_cpu_seconds = machine_busy_seconds() - busy_before;
  auto m = metrics.snapshot();
  r.objects = m.objects_out;
  r.bytes = m.bytes_out;
  r.skipped = skipped;
  if (ctx.tracker().in_flight() != 0)
    throw std::runtime_error("store::s3 left " + std::to_string(ctx.tracker().in_flight()) +
                             " objects unacknowledged after flush()");
  return r;
}

}  // namespace s3_upload
