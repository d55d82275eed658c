// SPDX-License-Identifier: Apache-2.0
#pragma once
// s3_upload: store::s3 against the AWS CLI and rclone, uploading the same bytes to the same
// S3-compatible server (see main.cpp).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace s3_upload {

/// The server from scripts/services' environment (SLUICE_S3_ENDPOINT, SLUICE_S3_ACCESS_KEY,
/// SLUICE_S3_SECRET_KEY, SLUICE_S3_REGION; over HTTPS SLUICE_S3_HTTPS_ENDPOINT and the CA that
/// signed its certificate, SLUICE_S3_CA_FILE).
struct server {
  std::string endpoint, access_key, secret_key, region;
  std::string ca_file;  ///< empty over plain HTTP
};

/// Reads the server from the environment, its HTTPS endpoint when `tls`; throws
/// std::runtime_error naming what is unset.
server server_from_environment(bool tls);

/// What is uploaded, and how.
struct settings {
  std::uint64_t big_bytes = std::uint64_t{1} << 30;  ///< the one large object
  std::size_t small_count = 2000;                    ///< the many small objects ...
  std::size_t small_bytes = 64 * 1024;               ///< ... of this size each
  std::size_t part_bytes = std::size_t{8} << 20;     ///< multipart part size, every tool
  unsigned concurrency = 8;                          ///< requests in flight, every tool
  std::string conditional = "automatic";             ///< store::s3.conditional: automatic or off
  /// sluice: push the large object as a streamed object in pieces of this size, as a streaming
  /// batcher would (0: whole).
  std::size_t piece_bytes = 0;
};

enum class scenario { big, small };

/// Deterministic incompressible bytes [offset, offset + size) of stream `stream` (`offset` a
/// multiple of 8): a child process regenerates exactly what the parent wrote for the peer tools,
/// and the big input is written piece by piece. The big object is stream 0, small object i is
/// stream i + 1.
void fill_random(char* out, std::size_t size, std::uint64_t stream, std::uint64_t offset = 0);

/// The input files for the peer tools: `dir/big.bin` and `dir/small/NNNNN.bin`.
std::filesystem::path big_file(const std::filesystem::path& dir);
std::filesystem::path small_dir(const std::filesystem::path& dir);
std::filesystem::path small_file(const std::filesystem::path& dir, std::size_t index);
/// Writes both inputs under `dir` (the big one in pieces: the writer never holds it whole).
void write_inputs(const std::filesystem::path& dir, const settings& s);

/// What one sluice run did (sluice.cpp).
struct sluice_result {
  double load_seconds = 0;       ///< reading (or generating) the bodies: not part of the upload
  double upload_seconds = 0;     ///< store::s3 open + push of every object + flush + close
  std::uint64_t objects = 0;     ///< objects acknowledged by the store
  std::uint64_t bytes = 0;       ///< bytes acknowledged by the store
  std::uint64_t skipped = 0;     ///< objects found stored already (must be 0: fresh keys)
  std::size_t input_rss = 0;     ///< resident memory once the bodies are loaded, before the store opens
  double cpu_seconds = 0;        ///< CPU time of this process (all threads) during the upload
  double machine_cpu_seconds = 0;  ///< CPU time of the whole machine during the upload
};

/// CPU time the whole machine spent busy so far (every core; /proc/stat), in seconds.
double machine_busy_seconds();
/// CPU time of this process so far (every thread, user and system), in seconds.
double process_cpu_seconds();

/// Uploads the scenario's objects with store::s3 to `s3://bucket/prefix/`. Reads the bodies from
/// `input` (write_inputs' files) or, when it is empty, generates the same bytes in memory.
sluice_result run_sluice(const server& srv, const settings& s, scenario which, const std::string& bucket,
                         const std::string& prefix, const std::filesystem::path& input);

/// One child process: its exit status, wall-clock time and peak resident memory (wait4).
struct process_result {
  int exit_code = -1;  ///< the exit status, or 128 + signal
  double seconds = 0;
  std::size_t peak_rss = 0;
  double cpu_seconds = 0;          ///< the child's user + system time (wait4)
  double machine_cpu_seconds = 0;  ///< the whole machine's busy time while it ran
};

/// Runs `argv` with exactly `env` as its environment, stdout and stderr to the given files, and
/// waits for it (baseline.cpp).
process_result run_process(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                           const std::filesystem::path& out, const std::filesystem::path& err);

/// The calling process's environment without AWS_* and RCLONE_* variables, plus `extra`: the
/// peers see only the settings given here, never the machine's profiles or CA bundle.
std::vector<std::string> isolated_environment(const std::vector<std::string>& extra);

/// The environment of /usr/bin/aws: credentials, region, a config file (written to `config`)
/// with path-style addressing, the part size and the concurrency; no checksum trailers.
std::vector<std::string> aws_environment(const server& srv, const settings& s, const std::filesystem::path& config);
/// `aws s3 cp` of the scenario's input to `s3://bucket/prefix/`.
std::vector<std::string> aws_command(const server& srv, scenario which, const std::filesystem::path& input,
                                     const std::string& bucket, const std::string& prefix);

/// The environment of rclone: a remote `lake:` from RCLONE_CONFIG_LAKE_* (no AWS_CA_BUNDLE).
std::vector<std::string> rclone_environment(const server& srv);
/// `rclone copyto` (big) or `rclone copy` (small) of the input to `lake:bucket/prefix/`.
std::vector<std::string> rclone_command(const server& srv, const settings& s, scenario which,
                                        const std::filesystem::path& input, const std::string& bucket,
                                        const std::string& prefix);

}  // namespace s3_upload
