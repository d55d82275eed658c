// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/concepts.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/record_batch.hpp>
#include <sluice/core/recycler.hpp>
#include <sluice/connector/http_stream/api.hpp>
#include <sluice/connector/http_stream/server.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// The Firehose-compatible endpoint: one HTTP server whose put calls feed the pipelines of named
// delivery streams. The server threads parse and validate each request; the delivery stream's
// source (a connector at the head of its pipeline) takes the waiting requests, pushes their
// records as one batch, and answers each request once the pipeline has committed its records:
// after a buffer::disk with sync_policy::always that is as soon as they are on disk, without
// one it is when the objects holding them are stored.

namespace sluice::connector::http_stream {

/// A delivery stream as the endpoint serves it.
struct stream_options {
  /// What DescribeDeliveryStream reports; `name` is the DeliveryStreamName (and the Kinesis
  /// StreamName) clients send to: 1..64 of [a-zA-Z0-9_.-].
  delivery_stream_description description;
  /// Decoded record bytes received but not yet taken by the pipeline. Past it, put calls are
  /// refused with ServiceUnavailableException (Kinesis: ProvisionedThroughputExceededException),
  /// which clients retry: back-pressure, not loss. A request alone is always taken.
  std::size_t max_pending_bytes = std::size_t(32) << 20;
};

/// What the endpoint counted for one delivery stream. Counters only grow.
struct stream_stats {
  std::uint64_t requests_accepted = 0;  ///< put calls answered 200 (their records are committed)
  std::uint64_t records_accepted = 0;
  std::uint64_t bytes_accepted = 0;     ///< decoded Data
  std::uint64_t requests_refused = 0;   ///< put calls refused: back-pressure, a stopping endpoint, a failed pipeline
  std::uint64_t records_refused = 0;
  std::uint64_t requests_invalid = 0;   ///< put calls with a client error (validation, serialization)
  std::uint64_t pending_bytes = 0;      ///< gauge: received, not yet taken by the pipeline
  std::uint64_t waiting_requests = 0;   ///< gauge: taken, waiting for their records to be committed
  std::uint64_t ack_latency_ns_sum = 0; ///< receipt to answer, summed over accepted requests
};

namespace detail {

/// A put call between the server thread that parsed it and its answer.
struct pending_put {
  put_request request;
  responder respond;
  std::uint64_t request_number = 0;
  timestamp arrival{};
  std::chrono::steady_clock::time_point received{};
  std::uint64_t last_position = 0;  ///< the source position of its last record, set by the source
  std::size_t held_bytes = 0;       ///< what it adds to the inbox's pending bytes while queued or waiting
  bool in_push = false;             ///< its records are in a push that has not returned yet
};
using pending_ptr = std::unique_ptr<pending_put>;

/// Spent pending_put values, kept with their buffers' capacity for the next requests.
class pending_pool {
 public:
  [[nodiscard]] SLUICE_DECL pending_ptr take();
  SLUICE_DECL void give(pending_ptr p);

 private:
  static constexpr std::size_t max_kept = 16;  // bounds the memory of idle request buffers
  std::mutex mutex_;
  std::vector<pending_ptr> free_;
};

/// Appends one family of per-stream metrics in the Prometheus text format:
/// `sluice_firehose_<name>{stream="<stream>"} <value>` for each (stream, value) of `samples`,
/// after its HELP and TYPE lines. The endpoint's and the delivery service's metrics share it.
SLUICE_DECL void append_stream_family(std::string& out, std::string_view name, std::string_view type,
                                      std::string_view help,
                                      const std::vector<std::pair<std::string_view, std::string>>& samples);

/// The queue from the server threads to one delivery stream's source, and the answers back.
class stream_inbox {
 public:
  SLUICE_DECL stream_inbox(stream_options options, std::shared_ptr<const record_id_generator> ids,
               std::shared_ptr<pending_pool> pool, std::uint64_t sequence_epoch);

  [[nodiscard]] const stream_options& options() const noexcept { return options_; }
  [[nodiscard]] const std::string& name() const noexcept { return options_.description.name; }

  // ---- server side
  enum class offer_result { accepted, full, closed };
  /// Queues `p` for the source (taking it) unless the stream is refusing, or full.
  [[nodiscard]] SLUICE_DECL offer_result offer(pending_ptr& p);
  /// From now on offers are refused (the endpoint is stopping).
  SLUICE_DECL void refuse();
  /// Refuses from now on, and lets the source's take() return false once the queue is empty.
  SLUICE_DECL void close();

  // ---- source side
  /// Waits for requests and moves all that are queued into `out`. False when the inbox is
  /// closed and empty, or `stop` was requested (then it refuses further offers).
  [[nodiscard]] SLUICE_DECL bool take(std::vector<pending_ptr>& out, std::stop_token stop);
  /// Answers a request whose records are committed (or refuses it with `error`), counts it
  /// and gives it back to the pool.
  SLUICE_DECL void answer(pending_ptr p, const api_error* error = nullptr);
  /// A pipeline failure: refuses what is queued and every later offer with InternalFailure.
  SLUICE_DECL void fail();

  /// The source's pipeline is open: every stage is ready (called by source::state).
  SLUICE_DECL void set_open();
  /// Waits until the source's pipeline is open (true) or the stream failed (false).
  [[nodiscard]] SLUICE_DECL bool wait_open();
  /// The stream's pipeline failed: requests are refused with InternalFailure.
  [[nodiscard]] SLUICE_DECL bool failed() const;

  void count_invalid() noexcept { invalid_.fetch_add(1, std::memory_order_relaxed); }
  [[nodiscard]] SLUICE_DECL stream_stats stats() const;
  void set_waiting(std::size_t n) noexcept { waiting_.store(n, std::memory_order_relaxed); }

 private:
  const stream_options options_;
  const std::shared_ptr<const record_id_generator> ids_;
  const std::shared_ptr<pending_pool> pool_;
  const std::uint64_t sequence_epoch_;
  mutable std::mutex mutex_;
  std::condition_variable_any wakeup_;
  std::deque<pending_ptr> queue_;
  bool refusing_ = false;
  bool closed_ = false;
  bool failed_ = false;
  bool open_ = false;
  std::atomic<std::uint64_t> requests_accepted_{0}, records_accepted_{0}, bytes_accepted_{0};
  std::atomic<std::uint64_t> requests_refused_{0}, records_refused_{0}, invalid_{0};
  std::atomic<std::uint64_t> pending_bytes_{0}, waiting_{0}, latency_sum_{0};
};

}  // namespace detail

/// The source at the head of a delivery stream's pipeline: the records of the put calls the
/// endpoint received for the stream. Get it from endpoint::add_stream().
///
/// Each turn it takes every request waiting in the stream's inbox and pushes their records as one
/// record_batch (so one disk sync covers many requests), each record with the request's arrival
/// time as its event time and a cursor of its own position stream (`http_stream:<name>`, counting
/// records from 1 per run). A request is answered when the pipeline commits the position of its
/// last record. Its run ends when the endpoint closes the stream (stop) or the pipeline's stop
/// token is requested; either way, everything it took is answered or committed first.
///
/// Errors: a push that throws errc::buffer_full (a buffer with overflow::reject) refuses that
/// turn's requests with ServiceUnavailableException; any other exception refuses every waiting
/// request with InternalFailure, fails the stream (later requests get InternalFailure too) and
/// is rethrown from run().
struct source {
  using stage_concept = source_tag;
  using output_type = record_batch;

  std::shared_ptr<detail::stream_inbox> inbox;

  class state {
   public:
    SLUICE_DECL state(run_context& ctx, std::shared_ptr<detail::stream_inbox> inbox);
    state(const state&) = delete;
    state& operator=(const state&) = delete;

    template <class Out>
    void run(Out& out, std::stop_token stop) {
      std::vector<detail::pending_ptr> taken;
      record_batch batch;
      while (inbox_->take(taken, stop)) {
        reuse_or_take_recycled(batch);
        std::size_t records = 0, bytes = 0;
        for (const auto& p : taken) records += p->request.size(), bytes += p->request.data_bytes();
        batch.reserve(records, bytes);
        {
          std::lock_guard lock(mutex_);
          for (auto& p : taken) {
            for (const record_view r : p->request) batch.append(r.data, cursor{id_, ++position_}, p->arrival);
            p->last_position = position_;
            p->in_push = true;
            waiting_.push_back(std::move(p));
          }
          inbox_->set_waiting(waiting_.size());
        }
        taken.clear();
        try {
          out.push(std::move(batch));
        } catch (const error& e) {
          if (e.code() != make_error_code(errc::buffer_full)) {
            fail_all();
            throw;
          }
          refuse_in_push();
          continue;
        } catch (...) {
          fail_all();
          throw;
        }
        end_push();
      }
    }

   private:
    SLUICE_DECL void on_commit(std::uint64_t position);
    SLUICE_DECL void answer_committed(std::unique_lock<std::mutex>& lock);
    SLUICE_DECL void end_push();
    SLUICE_DECL void refuse_in_push();
    SLUICE_DECL void fail_all();

    std::shared_ptr<detail::stream_inbox> inbox_;
    std::uint32_t id_ = 0;
    std::uint64_t position_ = 0;  // of the last record pushed; only the run thread writes it
    std::mutex mutex_;
    std::deque<detail::pending_ptr> waiting_;  // in position order
    std::uint64_t committed_ = 0;
  };

  [[nodiscard]] state open(run_context& ctx) const {
    if (!inbox) throw config_error("http_stream::source: no stream; get the source from endpoint::add_stream()");
    return state(ctx, inbox);
  }
};

/// How an endpoint listens and whom it answers as.
struct endpoint_options {
  server_options server;
  /// The account id in ARNs and in "Firehose s under account 123456789012 not found.".
  std::string account_id = "123456789012";
};

/// The Firehose (and Kinesis Data Streams) compatible endpoint: a server (server.hpp) whose
/// `POST /` calls are dispatched to delivery streams. It answers ListDeliveryStreams and
/// DescribeDeliveryStream itself; put calls are parsed and validated on the server's threads
/// (request_parser), then queued for the stream's source, which answers them once their records
/// are committed by its pipeline.
///
/// Use: add_stream() for each delivery stream, run each stream's pipeline (starting with the
/// source it returned) on a thread of its own, start(); on shutdown stop(), then join the
/// pipelines (their runs return once they have drained).
///
/// What it answers besides the server's own errors (server.hpp): UnknownOperationException for
/// an X-Amz-Target it does not serve; InvalidSignatureException "Credential should be scoped to
/// correct service" when a Firehose call is signed for Kinesis or the other way round;
/// ResourceNotFoundException for an unknown stream; the request_parser's errors;
/// ServiceUnavailableException (503) when the stream's pending bytes are over its limit or the
/// endpoint is stopping (Kinesis calls: ProvisionedThroughputExceededException, 400);
/// InternalFailure (500) when the stream's pipeline failed.
///
/// Thread safety: add_stream() before start() only, from one thread; stats(), port() and stop()
/// from any thread. Errors: the constructor and add_stream() throw config_error naming the
/// field; start() throws sluice::error when it cannot listen.
/// @code
///   http_stream::endpoint ep({.server = {.port = 4573, .auth = {.secrets = http_stream::static_keys(keys)}}});
///   auto events = ep.add_stream({.description = {.name = "events"}});
///   auto p = events | buffer::disk{.dir = "state/events"} | batch::by_size{} | format::raw{}
///          | store::local{.root = "lake"};
///   std::jthread t([&](std::stop_token) { p.run(); });
///   ep.start();
///   ...
///   ep.stop();  // answers what it took; the pipeline drains and p.run() returns
/// @endcode
class endpoint {
 public:
  SLUICE_DECL explicit endpoint(endpoint_options options);
  SLUICE_DECL ~endpoint();
  endpoint(const endpoint&) = delete;
  endpoint& operator=(const endpoint&) = delete;

  /// Declares a delivery stream and returns the source of its pipeline. Throws config_error for
  /// an invalid or duplicate name, or when called after start().
  [[nodiscard]] SLUICE_DECL source add_stream(stream_options options);
  /// Starts listening (server_options::port 0 picks a port: see port()).
  SLUICE_DECL void start(server_routes routes = {});
  /// Closes every stream (new put calls are refused; its source takes what is queued, then
  /// returns, and its pipeline drains), then stops the server, which waits up to its
  /// stop_timeout for the answers in flight: those come as the pipelines commit. Idempotent.
  SLUICE_DECL void stop();

  [[nodiscard]] SLUICE_DECL std::uint16_t port() const noexcept;
  [[nodiscard]] SLUICE_DECL std::string endpoint_url() const;
  [[nodiscard]] SLUICE_DECL server_stats http_stats() const noexcept;
  /// Each stream's counters, by name.
  [[nodiscard]] SLUICE_DECL std::map<std::string, stream_stats> stream_stats_by_name() const;
  /// The server's counters and each stream's, in the Prometheus text format
  /// (`sluice_firehose_records_accepted_total{stream="events"} 12`).
  SLUICE_DECL void append_metrics(std::string& out) const;

 private:
  SLUICE_DECL void handle(const incoming_request& request, responder respond);
  SLUICE_DECL detail::stream_inbox* find(std::string_view name) const;

  endpoint_options options_;
  std::shared_ptr<const record_id_generator> ids_;
  std::shared_ptr<detail::pending_pool> pool_;
  std::map<std::string, std::shared_ptr<detail::stream_inbox>, std::less<>> streams_;
  std::unique_ptr<server> server_;
  std::atomic<std::uint64_t> request_numbers_{0};
  std::uint64_t sequence_epoch_ = 0;
  std::mutex stop_mutex_;
  bool stopped_ = false;
};

}  // namespace sluice::connector::http_stream

#if !defined(SLUICE_SEPARATE_COMPILATION) || defined(SLUICE_SOURCE)
#include <sluice/connector/http_stream/impl/endpoint.hpp>
#endif
