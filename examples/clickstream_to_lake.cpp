// SPDX-License-Identifier: Apache-2.0
// The main example: generated clickstream events land in a lake, partitioned by hour and event
// type, as JSON Lines compressed with zstd and envelope-encrypted (AWS Encryption SDK message
// format, a fresh data key per object, wrapped by a key of a local keyring file). The lake is a
// local folder, or an S3 bucket and prefix.
//
//   scripts/demo                                   builds this and runs it with the defaults
//   clickstream_to_lake [--records N] [--lake DIR | --lake s3://BUCKET/PREFIX] [--keyring FILE] [--workers N]
//
// An s3:// lake is reached the way the AWS CLI reaches it: credentials from AWS_ACCESS_KEY_ID /
// AWS_SECRET_ACCESS_KEY (or AWS_PROFILE and the shared files), region from AWS_REGION, endpoint
// from AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL for an S3-compatible server. The keyring defaults
// to DIR-keyring.json beside a local lake, and to ./lake-keyring.json for an s3:// lake.
//
// Run it twice: object keys are deterministic, so the second run rewrites the same objects
// instead of adding copies. Ctrl-C stops the generator; everything accepted is still written.
#include <sluice/sluice.hpp>

#include <sluice/batch/by_size.hpp>
#include <sluice/buffer/queue.hpp>
#include <sluice/codec/zstd.hpp>
#include <sluice/connector/generator.hpp>
#include <sluice/crypto/envelope.hpp>
#include <sluice/crypto/keyring.hpp>
#include <sluice/store/local.hpp>
#ifdef SLUICE_HAS_S3
#include <sluice/store/s3.hpp>
#include <sluice/store/s3_reader.hpp>
#endif

#include <csignal>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>

using namespace sluice;
using namespace sluice::literals;
using namespace std::chrono_literals;

namespace {
std::stop_source stop;
extern "C" void on_signal(int) { stop.request_stop(); }

std::string option(int argc, char** argv, const std::string& name, std::string fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == name) return argv[i + 1];
  return fallback;
}

// One key template for either kind of lake.
constexpr const char* key = "clickstream/{time:%Y/%m/%d/%H}/event_type={partition:event_type}/";
}  // namespace

int main(int argc, char** argv) try {
  const auto records = std::stoull(option(argc, argv, "--records", "200000"));
  const std::string lake = option(argc, argv, "--lake", "lake");
  const bool in_s3 = lake.starts_with("s3://");
  const std::filesystem::path keyring_file =
      option(argc, argv, "--keyring", in_s3 ? "lake-keyring.json" : lake + "-keyring.json");
  const auto workers = std::stoul(option(argc, argv, "--workers", "2"));
#ifndef SLUICE_HAS_S3
  if (in_s3) throw std::runtime_error("--lake " + lake + ": this build has no S3 support (libcurl was not found)");
#endif

  // The embedded stand-in for a KMS: a keyring file made on first use (keep it apart from the lake).
  if (!std::filesystem::exists(keyring_file)) crypto::local_keyring::create(keyring_file, "sluice-demo");
  auto keys = std::make_shared<crypto::local_keyring>(keyring_file);

  // The pipeline is one type per sink, so each kind of lake is its own instantiation of this.
  // Objects stream: each worker's batcher hands a partition's records on in 1 MiB pieces that are
  // compressed, encrypted and stored (a multipart upload's parts go up) while the object is
  // still open, so no object is ever whole in memory however large it grows.
  auto land = [&](auto sink) {
    auto p = connector::generator{.records = records}
           | buffer::queue{.capacity = 4, .workers = workers}
           | batch::by_size{.max_bytes = 64_MiB, .max_age = 5s, .max_buffered_bytes = 16_MiB, .piece_bytes = 1_MiB}
           | format::jsonl{}
           | codec::zstd{.level = 3}
           | crypto::envelope{.keyring = keys}
           | std::move(sink);
    p.options.stream = "clickstream";
    p.run(stop.get_token());
    return p.metrics().snapshot();
  };

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  auto start = std::chrono::steady_clock::now();
  metrics_snapshot m;
  std::vector<std::string> written;
#ifdef SLUICE_HAS_S3
  if (in_s3) {
    // Empty connection settings: everything comes from the standard AWS environment.
    m = land(store::s3{.url = lake, .key = key});
    written = store::s3_reader(lake).list("clickstream/");
  }
#endif
  if (!in_s3) {
    m = land(store::local{.root = lake, .key = key});
    written = store::local_reader(lake).list("clickstream/");
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::printf("%llu records (%.1f MB of JSON) -> %llu objects (%.1f MB stored, %.1fx smaller) in %.2f s, %.0f MB/s\n",
              static_cast<unsigned long long>(m.records_out), static_cast<double>(m.bytes_in) / 1e6,
              static_cast<unsigned long long>(m.objects_out), static_cast<double>(m.bytes_out) / 1e6,
              m.bytes_out ? static_cast<double>(m.bytes_in) / static_cast<double>(m.bytes_out) : 0.0, seconds,
              static_cast<double>(m.bytes_in) / 1e6 / seconds);
  std::printf("errors: %llu, mean batch latency %.1f ms\n", static_cast<unsigned long long>(m.errors),
              static_cast<double>(m.batch_latency_mean().count()) / 1e6);

  std::printf("\nthe lake at %s now holds %zu objects, for example:\n", lake.c_str(), written.size());
  for (std::size_t i = 0; i < written.size() && i < 3; ++i) std::printf("  %s\n", written[i].c_str());
  // The sluice command is built beside this example; it reads either kind of lake.
  const std::string cli = (std::filesystem::path(argv[0]).parent_path() / "sluice").string();
  std::printf("\nread it back:\n"
              "  %s cat %s --keyring %s | head\n"
              "  %s verify %s --keyring %s\n",
              cli.c_str(), lake.c_str(), keyring_file.c_str(), cli.c_str(), lake.c_str(), keyring_file.c_str());
  if (in_s3) std::printf("  %s s3 uploads %s     (multipart uploads left unfinished)\n", cli.c_str(), lake.c_str());
  return m.errors == 0 ? 0 : 1;
} catch (const std::exception& e) {
  std::cerr << "clickstream_to_lake: " << e.what() << "\n";
  return 1;
}
