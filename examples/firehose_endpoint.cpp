// SPDX-License-Identifier: Apache-2.0
// A Kinesis Data Firehose compatible endpoint: producers written for Firehose (the AWS CLI, the
// AWS SDKs, the Kinesis agent) or for Kinesis Data Streams send to it by changing only their
// endpoint URL, and each delivery stream lands its records in a lake, compressed and encrypted.
//
//   firehose_endpoint [--config FILE]
//
// Without a file it serves one delivery stream, `events`, on 127.0.0.1:4573 into ./lake (zstd,
// a newline after each record, encrypted with ./lake-keyring.json, made on first use), and
// accepts requests signed with the key pair in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
// docs/connectors/firehose.md describes the file and has a session with the AWS CLI.
//
// A put call is answered 200 only once its records are on disk (each stream's write-ahead
// buffer under state_dir): after that nothing is lost, even if the process is killed. SIGTERM
// or Ctrl-C stops it: it answers what is in flight, delivers everything it acknowledged, and
// exits 0. Started again after a crash, it first delivers what the crash left in the buffers.
#include <sluice/connector/http_stream/delivery.hpp>
#include <sluice/format/json.hpp>

#include <boost/json.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <string>

using namespace sluice;
namespace hs = sluice::connector::http_stream;

namespace {

std::string option(int argc, char** argv, const std::string& name, std::string fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == name) return argv[i + 1];
  return fallback;
}

// The transforms a configuration may name ("transform": "require_json_object"), in the shape of
// Firehose's Lambda contract. A program embedding the endpoint registers its own.
std::map<std::string, hs::transform_function> transforms() {
  std::map<std::string, hs::transform_function> t;
  // Records that are not a JSON object go to the error prefix as processing-failed; the
  // exception's text becomes the error record's errorMessage.
  t["require_json_object"] = [](const hs::transform_input& in, hs::transform_output&) {
    // One reader per worker thread (each has its own copy of this function), reusing its memory.
    thread_local format::json_reader reader;
    const boost::json::value* v = reader.parse(in.data);
    if (v == nullptr) throw std::runtime_error("not JSON: " + reader.error().message());
    if (!v->is_object()) throw std::runtime_error("not a JSON object");
    return hs::transform_result::ok;  // the output's data already holds the record
  };
  return t;
}

}  // namespace

int main(int argc, char** argv) try {
  const std::string file = option(argc, argv, "--config", "");
  hs::endpoint_config config = file.empty() ? hs::default_endpoint_config() : hs::load_endpoint_config(file);

  // Signals are taken by sigwait() below: block them before any thread starts, so that every
  // thread inherits the mask and none of them is interrupted.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  hs::delivery_service service(std::move(config), transforms());  // a bad configuration fails here
  service.start();
  std::printf("firehose_endpoint: listening on %s\n", service.endpoint().endpoint_url().c_str());
  for (const auto& s : service.config().delivery_streams)
    std::printf("  delivery stream %s -> %s (%s, buffering %u MiB / %u s)\n", s.name.c_str(), s.lake.c_str(),
                s.compression == hs::compression::zstd   ? "zstd"
                : s.compression == hs::compression::gzip ? "gzip"
                                                         : "uncompressed",
                s.buffering_size_mib, s.buffering_interval_seconds);
  std::fflush(stdout);

  int signal = 0;
  sigwait(&signals, &signal);
  std::printf("firehose_endpoint: %s: draining\n", signal == SIGTERM ? "SIGTERM" : "SIGINT");
  std::fflush(stdout);
  service.stop();  // rethrows a pipeline's failure
  for (const auto& [name, m] : service.delivered())
    std::printf("  %s: %llu records in %llu objects (%.1f MB stored)\n", name.c_str(),
                static_cast<unsigned long long>(m.records_out), static_cast<unsigned long long>(m.objects_out),
                static_cast<double>(m.bytes_out) / 1e6);
  return 0;
} catch (const std::exception& e) {
  std::cerr << "firehose_endpoint: " << e.what() << "\n";
  return 1;
}
