// SPDX-License-Identifier: Apache-2.0
#pragma once
// Definitions of <sluice/connector/http_stream/endpoint.hpp>.
#include <sluice/core/config.hpp>
#include <sluice/connector/http_stream/endpoint.hpp>

#include <algorithm>
#include <array>
#include <string>
#include <utility>

namespace sluice::connector::http_stream {
namespace detail {

SLUICE_DECL void append_stream_family(std::string& out, std::string_view name, std::string_view type,
                                      std::string_view help,
                                      const std::vector<std::pair<std::string_view, std::string>>& samples) {
  out.append("# HELP sluice_firehose_").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE sluice_firehose_").append(name).append(" ").append(type).append("\n");
  for (const auto& [stream, value] : samples)
    out.append("sluice_firehose_").append(name).append("{stream=\"").append(stream).append("\"} ").append(value).append("\n");
}

SLUICE_DECL pending_ptr pending_pool::take() {
  {
    std::lock_guard lock(mutex_);
    if (!free_.empty()) {
      pending_ptr p = std::move(free_.back());
      free_.pop_back();
      return p;
    }
  }
  return std::make_unique<pending_put>();
}

SLUICE_DECL void pending_pool::give(pending_ptr p) {
  p->request.clear();
  p->in_push = false;
  p->held_bytes = 0;
  std::lock_guard lock(mutex_);
  if (free_.size() < max_kept) free_.push_back(std::move(p));
}

SLUICE_DECL stream_inbox::stream_inbox(stream_options options, std::shared_ptr<const record_id_generator> ids,
                                       std::shared_ptr<pending_pool> pool, std::uint64_t sequence_epoch)
    : options_(std::move(options)), ids_(std::move(ids)), pool_(std::move(pool)), sequence_epoch_(sequence_epoch) {}

SLUICE_DECL stream_inbox::offer_result stream_inbox::offer(pending_ptr& p) {
  const std::size_t bytes = p->request.data_bytes();
  {
    std::lock_guard lock(mutex_);
    if (failed_) return offer_result::closed;
    if (refusing_) return offer_result::full;
    // Pending counts what is queued and what waits for its commit: both hold request buffers.
    const std::uint64_t held = pending_bytes_.load(std::memory_order_relaxed);
    if (held > 0 && held + bytes > options_.max_pending_bytes) return offer_result::full;
    pending_bytes_.fetch_add(bytes, std::memory_order_relaxed);
    p->held_bytes = bytes;
    queue_.push_back(std::move(p));
  }
  wakeup_.notify_one();
  return offer_result::accepted;
}

SLUICE_DECL void stream_inbox::refuse() {
  std::lock_guard lock(mutex_);
  refusing_ = true;
}

SLUICE_DECL void stream_inbox::close() {
  {
    std::lock_guard lock(mutex_);
    refusing_ = true;
    closed_ = true;
  }
  wakeup_.notify_all();
}

SLUICE_DECL bool stream_inbox::take(std::vector<pending_ptr>& out, std::stop_token stop) {
  std::unique_lock lock(mutex_);
  wakeup_.wait(lock, stop, [&] { return !queue_.empty() || closed_; });
  if (stop.stop_requested()) refusing_ = true;  // the pipeline is stopping: take what is queued, then end
  if (queue_.empty()) return false;
  while (!queue_.empty()) {
    out.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return true;
}

SLUICE_DECL void stream_inbox::answer(pending_ptr p, const api_error* error) {
  static constexpr std::array<record_outcome, std::max(limits::firehose_max_records, limits::kinesis_max_records)>
      all_stored{};
  const std::size_t records = p->request.size();
  const std::size_t bytes = p->request.data_bytes();
  response r;
  if (error) {
    r = response::json_error(error->http_status(), error->type_name(), error->message);
    requests_refused_.fetch_add(1, std::memory_order_relaxed);
    records_refused_.fetch_add(records, std::memory_order_relaxed);
  } else {
    const std::span<const record_outcome> outcomes(all_stored.data(), records);
    const sequence_number last{sequence_epoch_, p->last_position};
    switch (p->request.op()) {
      case operation::firehose_put_record:
        write_put_record_response(r.body, *ids_, p->request_number);
        break;
      case operation::firehose_put_record_batch:
        write_put_record_batch_response(r.body, outcomes, *ids_, p->request_number);
        break;
      case operation::kinesis_put_record:
        write_kinesis_put_record_response(r.body, last);
        break;
      default:
        write_kinesis_put_records_response(r.body, outcomes, {sequence_epoch_, p->last_position + 1 - records});
        break;
    }
    requests_accepted_.fetch_add(1, std::memory_order_relaxed);
    records_accepted_.fetch_add(records, std::memory_order_relaxed);
    bytes_accepted_.fetch_add(bytes, std::memory_order_relaxed);
    latency_sum_.fetch_add(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                          std::chrono::steady_clock::now() - p->received)
                                                          .count()),
                           std::memory_order_relaxed);
  }
  pending_bytes_.fetch_sub(p->held_bytes, std::memory_order_relaxed);
  if (p->respond) p->respond(std::move(r));
  pool_->give(std::move(p));
}

SLUICE_DECL void stream_inbox::set_open() {
  {
    std::lock_guard lock(mutex_);
    open_ = true;
  }
  wakeup_.notify_all();
}

SLUICE_DECL bool stream_inbox::wait_open() {
  std::unique_lock lock(mutex_);
  wakeup_.wait(lock, [&] { return open_ || failed_; });
  return !failed_;
}

SLUICE_DECL bool stream_inbox::failed() const {
  std::lock_guard lock(mutex_);
  return failed_;
}

SLUICE_DECL void stream_inbox::fail() {
  std::deque<pending_ptr> refused;
  {
    std::lock_guard lock(mutex_);
    failed_ = refusing_ = true;
    refused.swap(queue_);
  }
  wakeup_.notify_all();
  const api_error e{error_type::internal_failure, "Internal Service Failure"};
  for (auto& p : refused) answer(std::move(p), &e);
}

SLUICE_DECL stream_stats stream_inbox::stats() const {
  auto get = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  return {get(requests_accepted_), get(records_accepted_), get(bytes_accepted_), get(requests_refused_),
          get(records_refused_),   get(invalid_),          get(pending_bytes_),  get(waiting_),
          get(latency_sum_)};
}

}  // namespace detail

// ---- source ------------------------------------------------------------------------------------

SLUICE_DECL source::state::state(run_context& ctx, std::shared_ptr<detail::stream_inbox> inbox)
    : inbox_(std::move(inbox)) {
  // Not a checkpointed position: a client cannot be asked again for what it sent, so there is
  // nothing to resume from. What must survive a crash is kept by the buffer::disk after this.
  id_ = ctx.tracker().add_source("http_stream:" + inbox_->name(), [this](std::uint64_t p) { on_commit(p); });
  inbox_->set_open();  // the pipeline opens its source last, once every other stage is ready
}

SLUICE_DECL void source::state::on_commit(std::uint64_t position) {
  std::unique_lock lock(mutex_);
  committed_ = std::max(committed_, position);
  answer_committed(lock);
}

SLUICE_DECL void source::state::answer_committed(std::unique_lock<std::mutex>& lock) {
  std::vector<detail::pending_ptr> done;
  while (!waiting_.empty() && !waiting_.front()->in_push && waiting_.front()->last_position <= committed_) {
    done.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
  inbox_->set_waiting(waiting_.size());
  lock.unlock();
  for (auto& p : done) inbox_->answer(std::move(p));
}

SLUICE_DECL void source::state::end_push() {
  std::unique_lock lock(mutex_);
  for (auto& p : waiting_) p->in_push = false;
  answer_committed(lock);
}

SLUICE_DECL void source::state::refuse_in_push() {
  std::vector<detail::pending_ptr> refused;
  {
    std::lock_guard lock(mutex_);
    while (!waiting_.empty() && waiting_.back()->in_push) {
      refused.push_back(std::move(waiting_.back()));
      waiting_.pop_back();
    }
    inbox_->set_waiting(waiting_.size());
  }
  const api_error e = service_unavailable();
  for (auto it = refused.rbegin(); it != refused.rend(); ++it) inbox_->answer(std::move(*it), &e);
}

SLUICE_DECL void source::state::fail_all() {
  std::deque<detail::pending_ptr> failed;
  {
    std::lock_guard lock(mutex_);
    failed.swap(waiting_);
    inbox_->set_waiting(0);
  }
  const api_error e{error_type::internal_failure, "Internal Service Failure"};
  for (auto& p : failed) inbox_->answer(std::move(p), &e);
  inbox_->fail();
}

// ---- endpoint ----------------------------------------------------------------------------------

SLUICE_DECL endpoint::endpoint(endpoint_options options)
    : options_(std::move(options)), ids_(std::make_shared<const record_id_generator>()),
      pool_(std::make_shared<detail::pending_pool>()),
      sequence_epoch_(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
              .count())) {
  options_.server.validate();
  const std::string& a = options_.account_id;
  if (a.size() != 12 || !std::all_of(a.begin(), a.end(), [](char c) { return c >= '0' && c <= '9'; }))
    throw config_error("http_stream::endpoint_options.account_id = '" + a + "': must be 12 digits");
}

SLUICE_DECL endpoint::~endpoint() {
  try {
    stop();
  } catch (...) {  // a destructor does not throw; stop() only fails when joining threads fails
  }
}

SLUICE_DECL source endpoint::add_stream(stream_options options) {
  const std::string name = options.description.name;  // a copy: options is moved from below
  auto fail = [&](std::string_view field, const std::string& value, std::string_view what) {
    return config_error("http_stream::endpoint: stream '" + name + "': " + std::string(field) + " = " + value + ": " +
                        std::string(what));
  };
  if (server_) throw fail("add_stream", "after start()", "declare every stream before start()");
  const bool valid_name =
      !name.empty() && name.size() <= limits::firehose_max_stream_name &&
      std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
               c == '-';
      });
  if (!valid_name)
    throw fail("description.name", "'" + name + "'", "must be 1..64 of the characters a-z A-Z 0-9 _ . -");
  if (streams_.count(name)) throw fail("description.name", "'" + name + "'", "is declared twice");
  if (options.max_pending_bytes < (std::size_t(1) << 20))
    throw fail("max_pending_bytes", std::to_string(options.max_pending_bytes), "must be at least 1 MiB (1048576)");
  options.description.account_id = options_.account_id;
  if (!options_.server.auth.region.empty()) options.description.region = options_.server.auth.region;
  if (options.description.create_time == std::chrono::system_clock::time_point{})
    options.description.create_time = std::chrono::system_clock::now();
  auto inbox = std::make_shared<detail::stream_inbox>(std::move(options), ids_, pool_, sequence_epoch_);
  streams_.emplace(name, inbox);
  return source{inbox};
}

SLUICE_DECL void endpoint::start(server_routes routes) {
  if (server_) throw config_error("http_stream::endpoint: start() called twice");
  if (!routes.metrics) routes.metrics = [this](std::string& out) { append_metrics(out); };
  server_ = std::make_unique<server>(
      options_.server, [this](const incoming_request& request, responder respond) { handle(request, std::move(respond)); },
      std::move(routes));
}

SLUICE_DECL void endpoint::stop() {
  std::lock_guard lock(stop_mutex_);
  if (stopped_) return;
  stopped_ = true;
  // Closing first lets each source take what is queued and return, so its pipeline drains and
  // commits what waits (without a disk buffer, records commit only when delivered); the server
  // meanwhile answers new calls 503 and waits for the answers in flight.
  for (auto& [name, inbox] : streams_) inbox->close();
  if (server_) server_->stop();
}

SLUICE_DECL std::uint16_t endpoint::port() const noexcept { return server_ ? server_->port() : 0; }
SLUICE_DECL std::string endpoint::endpoint_url() const { return server_ ? server_->endpoint_url() : std::string(); }
SLUICE_DECL server_stats endpoint::http_stats() const noexcept { return server_ ? server_->stats() : server_stats{}; }

SLUICE_DECL std::map<std::string, stream_stats> endpoint::stream_stats_by_name() const {
  std::map<std::string, stream_stats> out;
  for (const auto& [name, inbox] : streams_) out.emplace(name, inbox->stats());
  return out;
}

SLUICE_DECL void endpoint::append_metrics(std::string& out) const {
  struct metric {
    const char* name;
    const char* type;
    const char* help;
    std::uint64_t stream_stats::*field;
    double scale;  // nanoseconds to seconds for the latency sum
  };
  static constexpr metric metrics[] = {
      {"requests_accepted_total", "counter", "Put calls answered 200: their records are committed.",
       &stream_stats::requests_accepted, 1},
      {"records_accepted_total", "counter", "Records acknowledged to clients.", &stream_stats::records_accepted, 1},
      {"bytes_accepted_total", "counter", "Decoded record bytes acknowledged to clients.",
       &stream_stats::bytes_accepted, 1},
      {"requests_refused_total", "counter", "Put calls refused: back-pressure, stopping, or a failed pipeline.",
       &stream_stats::requests_refused, 1},
      {"records_refused_total", "counter", "Records of refused put calls.", &stream_stats::records_refused, 1},
      {"requests_invalid_total", "counter", "Put calls with a client error.", &stream_stats::requests_invalid, 1},
      {"pending_bytes", "gauge", "Record bytes received and not yet committed (the stream's buffer fill).",
       &stream_stats::pending_bytes, 1},
      {"waiting_requests", "gauge", "Put calls waiting for their records to be committed.",
       &stream_stats::waiting_requests, 1},
      {"ack_latency_seconds_sum", "counter", "Receipt to answer, summed over accepted put calls.",
       &stream_stats::ack_latency_ns_sum, 1e-9},
  };
  const auto stats = stream_stats_by_name();
  std::vector<std::pair<std::string_view, std::string>> samples;
  for (const metric& m : metrics) {
    samples.clear();
    for (const auto& [name, st] : stats) {
      const std::uint64_t v = st.*m.field;
      samples.emplace_back(name, m.scale == 1 ? std::to_string(v) : std::to_string(static_cast<double>(v) * m.scale));
    }
    detail::append_stream_family(out, m.name, m.type, m.help, samples);
  }
}

SLUICE_DECL detail::stream_inbox* endpoint::find(std::string_view name) const {
  auto it = streams_.find(name);
  return it == streams_.end() ? nullptr : it->second.get();
}

SLUICE_DECL void endpoint::handle(const incoming_request& request, responder respond) {
  auto reply_error = [&](const api_error& e) {
    respond(response::json_error(e.http_status(), e.type_name(), e.message));
  };
  const operation op = parse_target(request.target);
  if (op == operation::unknown) return reply_error(unknown_operation(request.target));
  if (request.service != signing_name(op)) {
    // What AWS answers a request signed for another service's scope.
    return respond(response::json_error(400, "InvalidSignatureException",
                                        "Credential should be scoped to correct service: '" +
                                            std::string(signing_name(op)) + "'. "));
  }
  api_error error;
  if (op == operation::firehose_list_delivery_streams) {
    list_delivery_streams_request list;
    if (!parse_list_delivery_streams(request.body, list, error)) return reply_error(error);
    std::vector<std::string_view> names;
    for (const auto& [name, inbox] : streams_) names.push_back(name);
    response r;
    write_list_delivery_streams_response(r.body, names, list);
    return respond(std::move(r));
  }
  if (op == operation::firehose_describe_delivery_stream) {
    describe_delivery_stream_request describe;
    if (!parse_describe_delivery_stream(request.body, describe, error)) return reply_error(error);
    const detail::stream_inbox* inbox = find(describe.delivery_stream_name);
    if (!inbox) return reply_error(stream_not_found(op, describe.delivery_stream_name, options_.account_id));
    response r;
    write_describe_delivery_stream_response(r.body, inbox->options().description, describe);
    return respond(std::move(r));
  }

  // A put call: parsed here, on the server's thread, into a pooled request.
  static thread_local request_parser parser;
  detail::pending_ptr pending = pool_->take();
  if (!parser.parse(op, request.body, pending->request)) {
    if (auto* inbox = find(pending->request.stream_name())) inbox->count_invalid();
    reply_error(parser.error());
    pool_->give(std::move(pending));
    return;
  }
  detail::stream_inbox* inbox = find(pending->request.stream_name());
  if (!inbox) {
    reply_error(stream_not_found(op, pending->request.stream_name(), options_.account_id));
    pool_->give(std::move(pending));
    return;
  }
  pending->respond = std::move(respond);
  pending->request_number = request_numbers_.fetch_add(1, std::memory_order_relaxed) + 1;
  pending->arrival = std::chrono::system_clock::now();
  pending->received = std::chrono::steady_clock::now();
  switch (inbox->offer(pending)) {
    case detail::stream_inbox::offer_result::accepted:
      return;
    case detail::stream_inbox::offer_result::full: {
      const bool kinesis = op == operation::kinesis_put_record || op == operation::kinesis_put_records;
      const api_error busy =
          kinesis ? api_error{error_type::throughput_exceeded,
                              "Rate exceeded for shard " + std::string(default_shard_id) + " in stream " +
                                  std::string(pending->request.stream_name()) + " under account " +
                                  options_.account_id + "."}
                  : service_unavailable();
      inbox->answer(std::move(pending), &busy);
      return;
    }
    case detail::stream_inbox::offer_result::closed: {
      const api_error failed{error_type::internal_failure, "Internal Service Failure"};
      inbox->answer(std::move(pending), &failed);
      return;
    }
  }
}

}  // namespace sluice::connector::http_stream
