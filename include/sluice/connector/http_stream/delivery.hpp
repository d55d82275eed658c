// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/one_of.hpp>
#include <sluice/core/pipeline.hpp>
#include <sluice/aws/sigv4.hpp>
#include <sluice/batch/by_size.hpp>
#include <sluice/buffer/disk.hpp>
#include <sluice/buffer/queue.hpp>
#include <sluice/codec/gzip.hpp>
#include <sluice/codec/none.hpp>
#include <sluice/codec/zstd.hpp>
#include <sluice/connector/http_stream/endpoint.hpp>
#include <sluice/connector/http_stream/processing.hpp>
#include <sluice/crypto/envelope.hpp>
#include <sluice/crypto/keyring.hpp>
#include <sluice/format/raw.hpp>
#include <sluice/store/local.hpp>
#include <sluice/store/s3.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

// Delivery streams as Firehose has them, from a configuration file: each one a pipeline of the
// same compiled type behind the endpoint (endpoint.hpp), whose stages a stream's configuration
// picks among (sluice::one_of): compression, encryption, local folder or S3.

namespace sluice::connector::http_stream {

/// A delivery stream's compression: Firehose's CompressionFormat (UNCOMPRESSED, GZIP) plus zstd.
enum class compression : std::uint8_t { none, gzip, zstd };

/// One delivery stream. Names follow Firehose's ExtendedS3DestinationConfiguration where Firehose
/// has the setting.
struct delivery_stream_config {
  /// DeliveryStreamName: 1..64 of [a-zA-Z0-9_.-].
  std::string name;
  /// Where objects land: a folder, or `s3://bucket/prefix` (credentials, region and endpoint from
  /// the standard AWS environment, as store::s3 reads them).
  std::string lake = "lake";
  /// Prefix and ErrorOutputPrefix, with Firehose's `!{...}` expressions (processing.hpp).
  std::string prefix;
  std::string error_output_prefix;
  /// BufferingHints: SizeInMBs 1..128, IntervalInSeconds 0..900 (Firehose's defaults: 5, 300).
  std::uint32_t buffering_size_mib = 5;
  std::uint32_t buffering_interval_seconds = 300;
  http_stream::compression compression = http_stream::compression::none;
  /// The codec's level; 0: its default (zstd 3, gzip 1).
  int compression_level = 0;
  /// Envelope encryption with this keyring file (crypto::local_keyring) when set; it is created
  /// on first use when `create_keyring` is set.
  std::filesystem::path keyring;
  bool create_keyring = false;
  /// Dynamic partitioning: partition key name -> JSON path of the record (`.customer_id`), read
  /// by `!{partitionKeyFromQuery:NAME}` in the prefix.
  std::vector<query_key> partition_keys;
  /// Firehose's AppendDelimiterToRecord: a newline after each record.
  bool newline_delimiter = false;
  /// A record transform (Firehose's Lambda processor) registered by name with the
  /// delivery_service; empty: none.
  std::string transform;
  /// The objects' content type; `application/x-ndjson` (JSON records with newline delimiters)
  /// names them `.jsonl`.
  std::string content_type = "application/octet-stream";
  /// The disk write-ahead buffer behind the acknowledgement: its size bound and sync policy.
  std::uint64_t buffer_max_mib = 1024;
  buffer::sync_policy buffer_sync = buffer::sync_policy::always;
  /// Decoded bytes received and not yet in the disk buffer; past it, clients get
  /// ServiceUnavailableException and retry.
  std::uint64_t max_pending_mib = 32;
  /// Threads that process, compress, encrypt and store the stream's records (1..64), each with
  /// its own batcher (so its own objects): compression is the costliest stage.
  unsigned workers = 1;
};

/// The endpoint and its delivery streams: what a configuration file holds.
struct endpoint_config {
  std::string address = "127.0.0.1";
  int port = 4573;
  /// The region clients sign for (empty: any) and DescribeDeliveryStream reports.
  std::string region = "us-east-1";
  std::string account_id = "123456789012";
  /// HTTPS when set.
  std::optional<tls_options> tls;
  /// The key pairs clients may sign with; empty: the pair in AWS_ACCESS_KEY_ID and
  /// AWS_SECRET_ACCESS_KEY.
  std::vector<aws::credentials> access_keys;
  /// Each stream's write-ahead buffer lives in `<state_dir>/<name>/wal`.
  std::filesystem::path state_dir = "firehose-state";
  /// Threads of the HTTP server (0: min(2, hardware threads)).
  unsigned threads = 0;
  std::vector<delivery_stream_config> delivery_streams;
};

/// Reads a configuration file (JSON; the members are those of endpoint_config and
/// delivery_stream_config, e.g. `{"listen": "127.0.0.1:4573", "delivery_streams": [{"name":
/// "events", "lake": "lake", "compression": "zstd", "buffering_hints": {"size_mib": 64,
/// "interval_seconds": 60}}]}`; docs/connectors/firehose.md lists them all). `where` names the
/// file in errors. Errors: config_error naming the file, the member's path and what is allowed:
/// `firehose.json: delivery_streams[0].buffering_hints.size_mib = 200: must be 1..128`. Unknown
/// members are errors too (a misspelt option would otherwise be ignored).
[[nodiscard]] SLUICE_DECL endpoint_config parse_endpoint_config(std::string_view json, std::string_view where);
/// parse_endpoint_config() of a file's content.
[[nodiscard]] SLUICE_DECL endpoint_config load_endpoint_config(const std::filesystem::path& file);
/// The configuration used when none is given: one stream `events` into `./lake`, zstd,
/// newline-delimited JSON lines (`.jsonl`), encrypted with `lake-keyring.json` (created on first use), 60 s buffering.
[[nodiscard]] SLUICE_DECL endpoint_config default_endpoint_config();

/// The stages a delivery stream's configuration chooses among.
using compression_stage = one_of<codec::zstd, codec::gzip, codec::none>;
using encryption_stage = one_of<crypto::envelope, codec::none>;
using lake_store = one_of<store::local, store::s3>;

/// The pipeline of every delivery stream:
/// source -> buffer::disk (the acknowledgement) -> buffer::queue (`workers` threads: the source
/// goes back to its requests while records are processed) -> processing -> batch::by_size (the buffering
/// hints, per rendered prefix, objects streamed in 1 MiB pieces) -> format::raw -> compression ->
/// encryption -> store, with keys `<rendered prefix><stream>-<seq><ext>`.
[[nodiscard]] inline auto make_delivery_pipeline(source src, const delivery_stream_config& config,
                                                      const endpoint_config& endpoint,
                                                      transform_function transform,
                                                      std::shared_ptr<processing_counters> counters) {
  const std::filesystem::path state = endpoint.state_dir / config.name;
  compression_stage compress = codec::none{};
  if (config.compression == compression::zstd)
    compress = codec::zstd{.level = config.compression_level ? config.compression_level : 3};
  else if (config.compression == compression::gzip)
    compress = codec::gzip{.level = config.compression_level ? config.compression_level : 1};
  encryption_stage encrypt = codec::none{};
  if (!config.keyring.empty()) {
    if (config.create_keyring && !std::filesystem::exists(config.keyring))
      crypto::local_keyring::create(config.keyring, "sluice-firehose");
    encrypt = crypto::envelope{.keyring = std::make_shared<crypto::local_keyring>(config.keyring),
                               .context = {{"firehose:delivery-stream", config.name}}};
  }
  const std::string key = "{partition_path:prefix}{stream}-{seq}{ext}";
  lake_store sink = store::local{.root = config.lake, .key = key};
  if (config.lake.starts_with("s3://"))
    sink = store::s3{.url = config.lake, .key = key, .resume_dir = state / "s3-uploads"};
  auto p = std::move(src)
         | buffer::disk{.dir = state / "wal",
                        .max_bytes = config.buffer_max_mib << 20,
                        .sync = config.buffer_sync}
         | buffer::queue{.capacity = 4, .workers = config.workers}
         | processing{.transform = std::move(transform),
                      .query_keys = config.partition_keys,
                      .prefix = config.prefix,
                      .error_output_prefix = config.error_output_prefix,
                      .newline_delimiter = config.newline_delimiter,
                      .counters = std::move(counters)}
         | batch::by_size{.max_bytes = std::uint64_t(config.buffering_size_mib) << 20,
                          .max_age = std::chrono::seconds(config.buffering_interval_seconds),
                          .piece_bytes = std::size_t(1) << 20}
         | format::raw{.content_type = config.content_type}
         | std::move(compress)
         | std::move(encrypt)
         | std::move(sink);
  p.options.stream = config.name;
  return p;
}

/// Runs an endpoint and its delivery streams from an endpoint_config: the program behind
/// examples/firehose_endpoint, and what a service embeds.
///
/// The constructor checks the whole configuration (every stream's pipeline is validated, keyrings
/// are loaded, the TLS files read), so a bad file fails before anything listens. start() opens
/// every pipeline on a thread of its own (a disk buffer left by a crash replays its records into
/// the lake then) and then listens; it throws if a pipeline cannot open (an unreachable bucket).
/// stop() answers what is in flight, drains every pipeline (everything acknowledged is delivered)
/// and rethrows the first pipeline failure.
///
/// `/metrics` serves the server's counters, each stream's (endpoint::append_metrics), each
/// pipeline's (records and bytes delivered, objects, errors, delivery latency) and the processing
/// counters. `/health` answers 503 naming a stream whose pipeline failed.
///
/// Thread safety: start() and stop() from one thread; the rest from any.
class delivery_service {
 public:
  /// `transforms`: the record transforms configurations may name (delivery_stream_config::transform).
  SLUICE_DECL explicit delivery_service(endpoint_config config, std::map<std::string, transform_function> transforms = {});
  SLUICE_DECL ~delivery_service();
  delivery_service(const delivery_service&) = delete;
  delivery_service& operator=(const delivery_service&) = delete;

  SLUICE_DECL void start();
  SLUICE_DECL void stop();

  [[nodiscard]] http_stream::endpoint& endpoint() noexcept { return *endpoint_; }
  [[nodiscard]] const endpoint_config& config() const noexcept { return config_; }
  /// A snapshot of each stream's pipeline counters, by stream name.
  [[nodiscard]] SLUICE_DECL std::map<std::string, metrics_snapshot> delivered() const;
  SLUICE_DECL void append_metrics(std::string& out) const;

 private:
  using pipeline_type = decltype(make_delivery_pipeline(std::declval<source>(), std::declval<const delivery_stream_config&>(),
                                                        std::declval<const endpoint_config&>(), transform_function{},
                                                        std::shared_ptr<processing_counters>{}));
  struct stream {
    std::string name;
    std::shared_ptr<detail::stream_inbox> inbox;
    std::shared_ptr<processing_counters> counters;
    std::optional<pipeline_type> pipeline;
    std::jthread thread;
    std::exception_ptr failure;  // set by the thread before it ends
  };

  endpoint_config config_;
  std::unique_ptr<http_stream::endpoint> endpoint_;
  std::vector<std::unique_ptr<stream>> streams_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace sluice::connector::http_stream

#if !defined(SLUICE_SEPARATE_COMPILATION) || defined(SLUICE_SOURCE)
#include <sluice/connector/http_stream/impl/delivery.hpp>
#endif
