// SPDX-License-Identifier: Apache-2.0
// firehose_endpoint: the Firehose-compatible endpoint against nginx, the HTTP ceiling (issue 4).
//   Many concurrent PutRecordBatch clients on loopback: MB/s and records/s with 500-record
//   batches of 500-byte records and with single records of Firehose's 1,000 KiB maximum (one
//   per PutRecordBatch), against nginx accepting the same POST bodies in the same run; then the
//   latency at half of the endpoint's measured maximum, open loop (a fixed request rate).
// Targets: at least 70% of nginx's MB/s with durable acknowledgement; p99 PutRecordBatch latency
// under 50 ms at half that load. With sync always, each shape also reports the disk alone (1 GiB
// written in 1 MiB writes, fdatasync every 8 MiB, on the file system the endpoint's write-ahead
// buffer uses): every acknowledged byte must reach it, so it bounds the endpoint's MB/s.
//
//   firehose_endpoint [--endpoint-bin PATH] [--seconds 8] [--warmup 1] [--connections 32]
//                     [--repeats 3] [--shapes 500x500B,1x1000KiB] [--latency-seconds 8]
//                     [--nginx-workers 2] [--ports 18100-18199] [--buffer-mib 64]
//                     [--interval-seconds 60] [--compression zstd] [--sync always|never] [--workers 1] [--only endpoint|nginx]
//
// The endpoint is examples/firehose_endpoint (the build's, or --endpoint-bin), started afresh
// for each run with its own lake and state folders; nginx is Debian's, started once. The load
// generator (load.cpp) is one Asio thread in this process: --connections keep-alive connections,
// one request in flight on each. Its requests are signed with SigV4 by sluice::aws::signer
// before each run's clock starts (a pool of distinct requests, sent round robin): signing is
// not part of the figures. Every run is checked: each 200's FailedPutCount is 0, no other
// status came back, and after SIGTERM (the endpoint drains) its lake holds every acknowledged
// record (count).
#include "common/harness.hpp"
#include "firehose_endpoint/firehose_endpoint.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <sstream>
#include <stdexcept>

#ifndef SLUICE_BENCH_ENDPOINT_BIN
#define SLUICE_BENCH_ENDPOINT_BIN ""
#endif

namespace {

using namespace firehose_bench;
using sluice_bench::arg;
using sluice_bench::arg_text;
using sluice_bench::median;
using sluice_bench::report;

shape parse_shape(const std::string& s) {
  if (s == "500x500B") return {s, 500, 500};
  if (s == "1x1000KiB") return {s, 1, 1'024'000};
  throw std::runtime_error("--shapes " + s + ": must be 500x500B or 1x1000KiB");
}

struct options {
  endpoint_settings endpoint;
  load_options load;
  double latency_seconds = 8;
  int repeats = 3;
  unsigned nginx_workers = 2;
  std::uint16_t port_low = 18100, port_high = 18199;
  std::string only;  ///< "", "endpoint" or "nginx"
};

/// Distinct requests per pool: ~32 MiB of bodies, 8 to 128 of them.
std::size_t pool_size(const shape& s) {
  const std::size_t body = s.records * (s.record_bytes * 4 / 3 + 16) + 64;
  return std::clamp<std::size_t>((std::size_t{32} << 20) / body, 8, 128);
}

/// Checks what the load generator saw; throws naming what was wrong.
void check_answers(const std::string& who, const load_result& r) {
  if (r.non_200 != 0)
    throw std::runtime_error(who + ": " + std::to_string(r.non_200) + " of " + std::to_string(r.requests_sent) +
                             " requests were not answered 200; the first: " + r.first_error);
  if (r.failed_put_records != 0)
    throw std::runtime_error(who + ": FailedPutCount added up to " + std::to_string(r.failed_put_records) +
                             " records (expected 0)");
}

struct endpoint_run {
  load_result load;
  double drain_seconds = 0;
  std::uint64_t lake_records = 0;
};

/// One run of the endpoint: start it, load it, SIGTERM, count the lake.
endpoint_run run_endpoint(const options& o, const shape& s, const load_options& load, std::uint16_t* next_port,
                          const std::filesystem::path& folder) {
  target t;
  t.port = free_port(o.port_low, o.port_high, next_port);
  std::filesystem::remove_all(folder);
  endpoint_process ep(o.endpoint, folder, t);
  const request_pool pool = make_pool(s, t, pool_size(s), 0);
  endpoint_run r;
  r.load = run_load(t, pool, load);
  r.drain_seconds = ep.drain(std::chrono::seconds(120));
  check_answers("firehose_endpoint", r.load);
  r.lake_records = count_lake_records(ep.lake());
  if (r.lake_records != r.load.records_acknowledged)
    throw std::runtime_error("firehose_endpoint acknowledged " + std::to_string(r.load.records_acknowledged) +
                             " records, but its lake " + ep.lake().string() + " holds " +
                             std::to_string(r.lake_records) + " after SIGTERM");
  std::filesystem::remove_all(folder);
  return r;
}

load_result run_nginx(const shape& s, const load_options& load, std::uint16_t port) {
  target t;
  t.port = port;
  const request_pool pool = make_pool(s, t, pool_size(s), 0);
  load_options l = load;
  l.firehose_responses = false;
  load_result r = run_load(t, pool, l);
  check_answers("nginx", r);
  return r;
}

void print_run(const std::string& run, const char* who, const load_result& r, const endpoint_run* e) {
  std::printf("#   %-6s %-9s %8.1f MB/s %10.0f records/s %7.1f req/s, latency p50 %6.1f ms p99 %6.1f ms",
              run.c_str(), who, r.mb_per_s(), r.records_per_s(), r.requests_per_s(), r.latency_quantile(0.5),
              r.latency_quantile(0.99));
  if (e)
    std::printf("; drained in %.2f s, lake %llu records = acknowledged", e->drain_seconds,
                static_cast<unsigned long long>(e->lake_records));
  if (r.reconnects) std::printf("; %llu reconnects", static_cast<unsigned long long>(r.reconnects));
  std::printf("\n");
  std::fflush(stdout);
}

/// The durability ceiling: MB/s of writing `total` bytes in 1 MiB writes to a file in `folder`
/// (the file system the endpoint's write-ahead buffer uses) with an fdatasync after every 8 MiB.
/// With sync always, every acknowledged record byte is written and synced before its 200, so
/// the endpoint cannot pass this, whatever nginx does; syncing every 8 MiB is kinder than a
/// group commit per batch of calls, so it is an upper bound.
double disk_write_sync_mb_per_s(const std::filesystem::path& folder, std::size_t total) {
  const std::filesystem::path file = folder / "disk-ceiling.bin";
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot create " + file.string() + ": " + std::strerror(errno));
  const std::string block(1 << 20, 'x');
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t written = 0; written < total;) {
    const ssize_t n = ::write(fd, block.data(), block.size());
    if (n <= 0) {
      ::close(fd);
      throw std::runtime_error("writing " + file.string() + ": " + std::strerror(errno));
    }
    written += static_cast<std::size_t>(n);
    if (written % (8 << 20) == 0 || written >= total) ::fdatasync(fd);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::close(fd);
  std::filesystem::remove(file);
  return static_cast<double>(total) / 1e6 / seconds;
}

}  // namespace

int main(int argc, char** argv) try {
  options o;
  o.endpoint.binary = arg_text(argc, argv, "--endpoint-bin", SLUICE_BENCH_ENDPOINT_BIN);
  o.endpoint.buffer_mib = static_cast<std::uint32_t>(arg(argc, argv, "--buffer-mib", 64));
  o.endpoint.interval_seconds = static_cast<std::uint32_t>(arg(argc, argv, "--interval-seconds", 60));
  o.endpoint.compression = arg_text(argc, argv, "--compression", "zstd");
  o.endpoint.sync = arg_text(argc, argv, "--sync", "always");
  o.endpoint.workers = static_cast<unsigned>(arg(argc, argv, "--workers", 1));
  o.load.seconds = static_cast<double>(arg(argc, argv, "--seconds", 8));
  o.load.warmup_seconds = static_cast<double>(arg(argc, argv, "--warmup", 1));
  o.load.connections = static_cast<unsigned>(arg(argc, argv, "--connections", 32));
  o.latency_seconds = static_cast<double>(arg(argc, argv, "--latency-seconds", static_cast<long long>(o.load.seconds)));
  o.repeats = static_cast<int>(arg(argc, argv, "--repeats", 3));
  o.nginx_workers = static_cast<unsigned>(arg(argc, argv, "--nginx-workers", 2));
  o.only = arg_text(argc, argv, "--only", "");
  {
    const std::string ports = arg_text(argc, argv, "--ports", "18100-18199");
    unsigned low = 0, high = 0;
    if (std::sscanf(ports.c_str(), "%u-%u", &low, &high) != 2 || low == 0 || high > 65535 || low > high)
      throw std::runtime_error("--ports " + ports + ": must be LOW-HIGH, 1..65535");
    o.port_low = static_cast<std::uint16_t>(low);
    o.port_high = static_cast<std::uint16_t>(high);
  }
  if (o.load.seconds <= 0 || o.latency_seconds <= 0 || o.load.warmup_seconds < 0 || o.load.connections == 0 ||
      o.repeats < 1 || o.nginx_workers == 0)
    throw std::runtime_error("--seconds, --latency-seconds, --connections, --repeats and --nginx-workers must be "
                             "positive, --warmup not negative");
  if (!o.only.empty() && o.only != "endpoint" && o.only != "nginx")
    throw std::runtime_error("--only " + o.only + ": must be endpoint or nginx");
  const bool with_endpoint = o.only != "nginx", with_nginx = o.only != "endpoint";
  if (with_endpoint && (o.endpoint.binary.empty() || !std::filesystem::exists(o.endpoint.binary)))
    throw std::runtime_error("no firehose_endpoint program" +
                             (o.endpoint.binary.empty() ? std::string() : " at " + o.endpoint.binary.string()) +
                             ": build the target firehose_endpoint, pass --endpoint-bin PATH, or --only nginx");
  std::vector<shape> shapes;
  {
    std::stringstream list(arg_text(argc, argv, "--shapes", "500x500B,1x1000KiB"));
    for (std::string item; std::getline(list, item, ',');) shapes.push_back(parse_shape(item));
  }

  sluice_bench::print_machine("firehose_endpoint");
  sluice_bench::temp_folder scratch("sluice-bench-firehose");
  std::uint16_t next_port = o.port_low;
  std::unique_ptr<nginx_process> nginx;
  std::uint16_t nginx_port = 0;
  if (with_nginx) {
    nginx_port = free_port(o.port_low, o.port_high, &next_port);
    nginx = std::make_unique<nginx_process>(scratch.path() / "nginx", nginx_port, o.nginx_workers);
    std::printf("# nginx: %s on 127.0.0.1:%u, %u worker processes (the endpoint's HTTP server runs 2 I/O "
                "threads), reuseport, no access log, bodies read and discarded (max 8 MiB), answers 200 {}\n",
                nginx_process::version().c_str(), nginx_port, o.nginx_workers);
  }
  if (with_endpoint)
    std::printf("# endpoint: %s; a fresh process, lake and state folder per run; delivery stream: %s, buffering "
                "hints %u MiB / %u s; write-ahead buffer sync %s; %u worker(s); acknowledged = durable (the endpoint's contract)\n",
                o.endpoint.binary.c_str(), o.endpoint.compression.c_str(), o.endpoint.buffer_mib,
                o.endpoint.interval_seconds, o.endpoint.sync.c_str(), o.endpoint.workers);
  std::printf("# load: 1 Asio thread, %u keep-alive connections, one request in flight each; %.0f s measured after "
              "%.0f s warm-up; requests pre-signed (SigV4, sluice::aws::signer) before each run; %d runs each, in "
              "turns; MB/s counts decoded record bytes (bodies are base64: ~1.34x larger)\n",
              o.load.connections, o.load.seconds, o.load.warmup_seconds, o.repeats);
  std::fflush(stdout);

  for (const shape& s : shapes) {
    std::printf("# %s: %zu record(s) of %zu bytes per PutRecordBatch, %zu distinct requests in the pool\n",
                s.name.c_str(), s.records, s.record_bytes, pool_size(s));
    std::map<std::string, std::vector<double>> mbs, recs, reqs;
    for (int r = 1; r <= o.repeats; ++r) {
      if (with_endpoint) {
        endpoint_run e = run_endpoint(o, s, o.load, &next_port, scratch.path() / "endpoint");
        print_run("run " + std::to_string(r), "endpoint", e.load, &e);
        mbs["endpoint"].push_back(e.load.mb_per_s());
        recs["endpoint"].push_back(e.load.records_per_s());
        reqs["endpoint"].push_back(e.load.requests_per_s());
      }
      if (with_nginx) {
        load_result n = run_nginx(s, o.load, nginx_port);
        print_run("run " + std::to_string(r), "nginx", n, nullptr);
        mbs["nginx"].push_back(n.mb_per_s());
        recs["nginx"].push_back(n.records_per_s());
        reqs["nginx"].push_back(n.requests_per_s());
      }
    }
    const std::string name = "firehose_endpoint " + s.name;
    const double ep_mb = median(mbs["endpoint"]), ng_mb = median(mbs["nginx"]);
    report(name, ep_mb, "MB/s", "nginx", ng_mb);
    report(name, median(recs["endpoint"]), "records/s", "nginx", median(recs["nginx"]));
    if (with_endpoint && with_nginx)
      std::printf("# %s throughput target: endpoint >= 0.70 x nginx MB/s: %s (ratio %.3f)\n", s.name.c_str(),
                  ep_mb >= 0.70 * ng_mb ? "met" : "NOT met", ng_mb > 0 ? ep_mb / ng_mb : 0.0);
    if (with_endpoint && o.endpoint.sync == "always") {
      // The most a durable acknowledgement allows on this disk, measured now, after the runs.
      const double disk_mb = disk_write_sync_mb_per_s(scratch.path(), std::size_t{1} << 30);
      report(name, ep_mb, "MB/s", "disk write+fdatasync alone", disk_mb);
      if (with_nginx) report(name + " ceiling", disk_mb, "MB/s", "nginx", ng_mb);
    }

    // Latency at half the endpoint's maximum (nginx's, when the endpoint is not measured),
    // open loop: both servers get the same request rate.
    const double max_rate = median(reqs[with_endpoint ? "endpoint" : "nginx"]);
    load_options half = o.load;
    half.seconds = o.latency_seconds;
    half.rate = max_rate / 2;
    if (half.rate <= 0) throw std::runtime_error(s.name + ": no requests were answered; no rate to halve");
    std::printf("# %s latency: open loop at %.1f requests/s (half of the median maximum, %.1f MB/s), %.0f s\n",
                s.name.c_str(), half.rate, half.rate * static_cast<double>(s.records * s.record_bytes) / 1e6,
                half.seconds);
    load_result ep_lat, ng_lat;
    if (with_endpoint) {
      endpoint_run e = run_endpoint(o, s, half, &next_port, scratch.path() / "endpoint");
      print_run("half", "endpoint", e.load, &e);
      ep_lat = std::move(e.load);
    }
    if (with_nginx) {
      ng_lat = run_nginx(s, half, nginx_port);
      print_run("half", "nginx", ng_lat, nullptr);
    }
    const std::string at = name + " @ half load";
    report(at + " p50", ep_lat.latency_quantile(0.5), "ms", "nginx p50", ng_lat.latency_quantile(0.5));
    report(at + " p99", ep_lat.latency_quantile(0.99), "ms", "nginx p99", ng_lat.latency_quantile(0.99));
    if (with_endpoint) {
      report(at + " p99", ep_lat.latency_quantile(0.99), "ms", "target (under)", 50.0);
      std::printf("# %s latency target: p99 < 50 ms at half load: %s\n", s.name.c_str(),
                  ep_lat.latency_quantile(0.99) < 50.0 ? "met" : "NOT met");
    }
    std::fflush(stdout);
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "firehose_endpoint: %s\n", e.what());
  return 1;
}
