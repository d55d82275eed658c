// SPDX-License-Identifier: Apache-2.0
#pragma once
// firehose_endpoint: the Firehose-compatible endpoint (examples/firehose_endpoint) against nginx
// accepting the same POST bodies, both driven by one load generator (see main.cpp).
#include "common/harness.hpp"

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace firehose_bench {

/// One request shape: `records` records of `record_bytes` bytes per PutRecordBatch.
struct shape {
  std::string name;          ///< "500x500B", "1x1000KiB"
  std::size_t records = 0;
  std::size_t record_bytes = 0;
};

/// Where requests go and how they are signed.
struct target {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string stream = "bench";
  std::string region = "us-east-1";
  std::string access_key_id = "AKIDSLUICEBENCH";
  std::string secret_access_key = "sluice-bench-secret";
};

/// Distinct PutRecordBatch requests, each complete on the wire (head and body), signed with
/// SigV4 by sluice::aws::signer before the clock starts. Every record is one JSON line ending
/// in '\n' and starting with record_marker, so the lake's records can be counted.
struct request_pool {
  std::vector<std::string> wire;
  std::size_t records_per_request = 0;
  std::size_t data_bytes_per_request = 0;  ///< decoded record bytes
  std::size_t body_bytes = 0;              ///< the JSON body, base64 and all (the largest in the pool)
};
inline constexpr std::string_view record_marker = "{\"seq\":";

/// `count` distinct requests of `s` for `t` (signed now: valid for the 5 minutes of skew AWS
/// allows); record sequence numbers start at `first_seq`.
request_pool make_pool(const shape& s, const target& t, std::size_t count, std::uint64_t first_seq);

/// How the load is applied.
struct load_options {
  unsigned connections = 32;     ///< keep-alive connections, one request in flight on each
  double seconds = 8;            ///< measured time
  double warmup_seconds = 1;     ///< before it, not measured
  /// 0: closed loop (each connection sends its next request when the answer comes: the most the
  /// server takes). Otherwise open loop: requests are issued at this fixed rate per second, to
  /// whichever connection is free, and a request's latency counts from when it was due, so a
  /// slow answer also delays (and is charged to) the requests queued behind it.
  double rate = 0;
  /// Parse each 200's FailedPutCount (the endpoint); nginx answers `{}`.
  bool firehose_responses = true;
};

/// What one load run saw.
struct load_result {
  double seconds = 0;                  ///< the measured window
  std::uint64_t requests = 0;          ///< answered 200 within the window
  std::uint64_t records = 0;           ///< records in them
  std::uint64_t data_bytes = 0;        ///< decoded record bytes in them
  std::uint64_t body_bytes = 0;        ///< request body bytes in them
  std::vector<double> latencies_ms;    ///< of the requests answered 200 within the window
  // Over the whole run, warm-up and stragglers included (what the lake must hold):
  std::uint64_t requests_sent = 0;
  std::uint64_t records_acknowledged = 0;  ///< records of 200 answers, less their FailedPutCount
  std::uint64_t failed_put_records = 0;    ///< the sum of FailedPutCount
  std::uint64_t non_200 = 0;               ///< answers other than 200
  std::uint64_t reconnects = 0;            ///< connections the server closed
  std::string first_error;                 ///< the first non-200 status and body, or a socket error

  [[nodiscard]] double mb_per_s() const { return static_cast<double>(data_bytes) / 1e6 / seconds; }
  [[nodiscard]] double records_per_s() const { return static_cast<double>(records) / seconds; }
  [[nodiscard]] double requests_per_s() const { return static_cast<double>(requests) / seconds; }
  /// The q-quantile (0..1) of latencies_ms; 0 when there are none.
  [[nodiscard]] double latency_quantile(double q) const;
};

/// Connects `options.connections` keep-alive connections to `t`, sends `pool`'s requests round
/// robin until the time is up, and waits for every request sent to be answered.
/// Errors: std::runtime_error when the server cannot be reached or stops answering.
load_result run_load(const target& t, const request_pool& pool, const load_options& options);

// ---- child processes (process.cpp) ------------------------------------------------------------

/// A child started with stdout and stderr going to files; stopped (SIGKILL) and reaped by the
/// destructor if still running.
class child_process {
 public:
  child_process(const std::vector<std::string>& argv, const std::filesystem::path& out,
                const std::filesystem::path& err);
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process();
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  /// True while it has not exited (reaps it when it has).
  [[nodiscard]] bool running();
  /// Sends `sig` and waits up to `timeout` for the exit: the exit status (128 + signal when a
  /// signal ended it), or -1 on timeout (it is then killed).
  int stop(int sig, std::chrono::milliseconds timeout);
  [[nodiscard]] int exit_status() const noexcept { return status_; }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
};

/// The first port in [low, high] that 127.0.0.1 can bind, at or after `*next` (which moves past
/// it). Errors: std::runtime_error when none is free.
std::uint16_t free_port(std::uint16_t low, std::uint16_t high, std::uint16_t* next);
/// True once a TCP connection to 127.0.0.1:port succeeds.
bool can_connect(std::uint16_t port);
using sluice_bench::read_file;  // the whole file, or "" when it cannot be read

// ---- the endpoint (sluice.cpp) ------------------------------------------------------------------

/// examples/firehose_endpoint as a child, with a configuration (written to `folder`) of one
/// delivery stream, zstd-compressed, into folder/lake, its state in folder/state.
struct endpoint_settings {
  std::filesystem::path binary;
  std::uint32_t buffer_mib = 64;
  std::uint32_t interval_seconds = 60;
  std::string compression = "zstd";
  /// The write-ahead buffer's sync policy: "always" (a 200 survives a power loss) or "never"
  /// (a 200 survives a crash of the process): what the disk's fsync costs.
  std::string sync = "always";
  /// The delivery stream's workers (compression runs on each).
  unsigned workers = 1;
};
class endpoint_process {
 public:
  endpoint_process(const endpoint_settings& s, const std::filesystem::path& folder, const target& t);
  /// SIGTERM, then waits for the drain: its seconds. Errors: std::runtime_error when it does not
  /// exit 0 within `timeout` (with its stderr).
  double drain(std::chrono::seconds timeout);
  [[nodiscard]] const std::filesystem::path& lake() const noexcept { return lake_; }

 private:
  std::filesystem::path folder_, lake_;
  std::unique_ptr<child_process> child_;
};

/// The records in every object under `lake` (zstd frames decoded, other files read as they
/// are): the lines starting with record_marker. Errors: std::runtime_error naming a file that
/// cannot be read or decoded.
std::uint64_t count_lake_records(const std::filesystem::path& lake);

// ---- nginx (baseline.cpp) ---------------------------------------------------------------------

/// Debian's nginx (/usr/sbin/nginx) on 127.0.0.1:`port`, answering every request 200 `{}` after
/// reading and discarding its body (bodies up to 8 MiB), no access log, `workers` worker
/// processes; config, logs and temp folders in `folder`. Stopped (SIGQUIT, then SIGKILL) by the
/// destructor.
class nginx_process {
 public:
  nginx_process(const std::filesystem::path& folder, std::uint16_t port, unsigned workers);
  ~nginx_process();
  nginx_process(const nginx_process&) = delete;
  nginx_process& operator=(const nginx_process&) = delete;
  /// `nginx -v`'s answer ("nginx/1.22.1").
  [[nodiscard]] static std::string version();

 private:
  std::unique_ptr<child_process> child_;
};

}  // namespace firehose_bench
