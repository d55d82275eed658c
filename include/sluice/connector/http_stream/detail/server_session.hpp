// SPDX-License-Identifier: Apache-2.0
#pragma once
// One connection of the server (plain or TLS) and the accept loop. A connection runs on its
// own strand: read a request under the limits and timeouts, route it, verify it, hand it to the
// handler, wait for the response, write it, and either read the next one or close.
#include <sluice/core/config.hpp>
#include <sluice/connector/http_stream/detail/server_core.hpp>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace sluice::connector::http_stream::detail {

namespace beast = boost::beast;
namespace http = beast::http;

/// A body buffer larger than this is freed after its request instead of kept for the next one:
/// idle keep-alive connections hold little memory, busy ones reuse pages already touched.
inline constexpr std::size_t retained_body_bytes = 1024 * 1024;
/// How long, and for how many bytes, a connection closed after an error response keeps reading
/// what the client still sends, so that closing does not reset the connection before the
/// client has read the response (a lingering close).
inline constexpr std::chrono::milliseconds linger_time{2000};
inline constexpr std::size_t linger_bytes = 8 * 1024 * 1024;

class session final : public session_base {
 public:
  session(std::shared_ptr<server_core> core, net::ip::tcp::socket socket, std::uint64_t id)
      : core_(std::move(core)), tcp_(std::move(socket)), executor_(tcp_.get_executor()), id_(id) {
    error_code ec;
    const auto peer = tcp_.socket().remote_endpoint(ec);
    remote_ = ec ? std::string("unknown") : endpoint_text(peer);
  }

  ~session() override {
    // Every path closes through close_now(); this only keeps the counts right if one did not.
    if (!closed_) session_closed();
  }
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  /// The connection's strand.
  [[nodiscard]] const net::any_io_executor& get_executor() const noexcept { return executor_; }

  /// Starts serving; call once, on the connection's strand.
  void start() {
    const auto& o = core_->options;
    tcp_.expires_after(o.header_timeout);
    if (core_->tls) {
      phase_ = phase::handshake;
      beast::async_detect_ssl(tcp_, buffer_,
                              [self = self()](error_code ec, bool is_tls) { self->on_detect(ec, is_tls); });
    } else {
      read_request();
    }
  }

  void deliver(response&& r) override {
    server_counters::sub(core_->counters.requests_in_handler);
    std::lock_guard lock(mutex_);
    if (closed_) {
      server_counters::add(core_->counters.responses_dropped);
      return;
    }
    net::post(executor_, [self = self(), r = std::move(r)]() mutable { self->on_response(std::move(r)); });
  }

  void on_stop() override {
    net::post(executor_, [self = self()] {
      // Only connections between requests close now; a request in progress gets its answer.
      if (self->phase_ == phase::idle || self->phase_ == phase::handshake) self->close_now();
    });
  }

  void force_close() override {
    net::post(executor_, [self = self()] { self->close_now(); });
  }

 private:
  enum class phase { handshake, idle, header, body, handler, writing, closing };

  std::shared_ptr<session> self() { return std::static_pointer_cast<session>(shared_from_this()); }
  beast::tcp_stream& lowest() noexcept { return tls_ ? tls_->next_layer() : tcp_; }
  /// Calls `f` with the stream requests travel on: TLS once the handshake is done, TCP before.
  template <class F>
  void with_stream(F&& f) {
    if (tls_)
      f(*tls_);
    else
      f(tcp_);
  }

  // ---- TLS -----------------------------------------------------------------------------------

  void on_detect(error_code ec, bool is_tls) {
    if (closed_) return;
    if (ec) {
      if (ec == beast::error::timeout) server_counters::add(core_->counters.timeouts);
      server_counters::add(core_->counters.tls_handshake_failures);
      close_now();
      return;
    }
    if (!is_tls) {
      // Like nginx: answer in plain HTTP, so the mistake is visible to whoever made it.
      server_counters::add(core_->counters.tls_handshake_failures);
      send(response::json_error(400, "BadRequestException",
                                "The plain HTTP request was sent to an HTTPS port; use https://"),
           close_mode::linger);
      return;
    }
    tls_.emplace(std::move(tcp_), *core_->tls);
    // The bytes detect_ssl read are the start of the handshake. (Beast 1.81 checks this
    // overload's handler against void(error_code), hence the default argument.)
    tls_->async_handshake(net::ssl::stream_base::server, buffer_.data(),
                          [self = self()](error_code e, std::size_t used = 0) { self->on_handshake(e, used); });
  }

  void on_handshake(error_code ec, std::size_t used) {
    if (closed_) return;
    if (ec) {
      if (ec == beast::error::timeout) server_counters::add(core_->counters.timeouts);
      server_counters::add(core_->counters.tls_handshake_failures);
      close_now();
      return;
    }
    buffer_.consume(used);
    read_request();
  }

  // ---- reading a request ---------------------------------------------------------------------

  void read_request() {
    if (closed_) return;
    if (core_->stopping.load()) {
      close_gracefully();
      return;
    }
    const auto& o = core_->options;
    request_id_.clear();
    // The parser appends to the body it is given: hand it the last request's memory, emptied.
    retained_.clear();
    parser_.emplace(std::piecewise_construct, std::make_tuple(std::move(retained_)));
    parser_->header_limit(static_cast<std::uint32_t>(o.max_header_bytes));
    parser_->body_limit(static_cast<std::uint64_t>(o.max_body_bytes));
    if (buffer_.size() > 0) {
      read_header();
      return;
    }
    // Between requests: wait for the first byte under the idle timeout (the header timeout
    // for the first request, already running since the connection was accepted).
    phase_ = phase::idle;
    if (!first_request_) lowest().expires_after(o.idle_timeout);
    with_stream([&](auto& s) {
      s.async_read_some(buffer_.prepare(4096),
                        [self = self()](error_code ec, std::size_t n) { self->on_first_bytes(ec, n); });
    });
  }

  void on_first_bytes(error_code ec, std::size_t n) {
    if (closed_) return;
    buffer_.commit(n);
    if (ec) {
      // A client closing or going quiet between requests is the normal end of keep-alive.
      if (ec == beast::error::timeout && first_request_) server_counters::add(core_->counters.timeouts);
      close_now();
      return;
    }
    if (!first_request_) lowest().expires_after(core_->options.header_timeout);
    read_header();
  }

  void read_header() {
    phase_ = phase::header;
    with_stream([&](auto& s) {
      http::async_read_header(s, buffer_, *parser_,
                              [self = self()](error_code ec, std::size_t n) { self->on_header(ec, n); });
    });
  }

  void on_header(error_code ec, std::size_t n) {
    server_counters::add(core_->counters.bytes_in, n);
    if (closed_) return;
    if (ec) {
      on_read_error(ec);
      return;
    }
    phase_ = phase::body;
    lowest().expires_after(core_->options.body_timeout);
    const auto expect = parser_->get()[http::field::expect];
    if (!parser_->is_done() && beast::iequals(expect, "100-continue")) {
      // curl sends large bodies only after this; the limits were already checked on the head.
      static constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
      with_stream([&](auto& s) {
        net::async_write(s, net::buffer(go_on.data(), go_on.size()), [self = self()](error_code e, std::size_t w) {
          server_counters::add(self->core_->counters.bytes_out, w);
          if (self->closed_) return;
          if (e) {
            self->on_read_error(e);
            return;
          }
          self->read_body();
        });
      });
      return;
    }
    read_body();
  }

  void read_body() {
    if (parser_->is_done()) {
      on_request();
      return;
    }
    with_stream([&](auto& s) {
      http::async_read(s, buffer_, *parser_, [self = self()](error_code ec, std::size_t n) { self->on_body(ec, n); });
    });
  }

  void on_body(error_code ec, std::size_t n) {
    server_counters::add(core_->counters.bytes_in, n);
    if (closed_) return;
    if (ec) {
      on_read_error(ec);
      return;
    }
    on_request();
  }

  void on_read_error(error_code ec) {
    auto& c = core_->counters;
    const auto& o = core_->options;
    if (ec == beast::error::timeout) {
      server_counters::add(c.timeouts);  // the stream has closed the socket already
      close_now();
    } else if (ec == http::error::header_limit) {
      server_counters::add(c.headers_too_large);
      send(response::json_error(431, "RequestHeaderFieldsTooLargeException",
                                "The request line and headers are larger than this endpoint's limit of " +
                                    std::to_string(o.max_header_bytes) + " bytes"),
           close_mode::linger);
    } else if (ec == http::error::body_limit) {
      server_counters::add(c.bodies_too_large);
      // The parser refuses a Content-Length over the limit once the head is in, before it
      // counts the head as done: the field is there, its parsed value not yet.
      const std::string_view length = parser_->get()[http::field::content_length];
      send(response::json_error(
               413, "RequestEntityTooLargeException",
               "The request body" + (length.empty() ? std::string{} : " of " + printable(length, 20) + " bytes") +
                   " is larger than this endpoint's limit of " + std::to_string(o.max_body_bytes) + " bytes"),
           close_mode::linger);
    } else if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
               ec != http::error::partial_message && ec != http::error::end_of_stream) {
      server_counters::add(c.bad_requests);
      send(response::json_error(400, "BadRequestException", "Malformed HTTP request: " + ec.message()),
           close_mode::linger);
    } else {
      // The client went away mid-request (end of stream, reset), or we closed the socket.
      if (ec != net::error::operation_aborted) server_counters::add(c.aborted);
      close_now();
    }
  }

  // ---- routing -------------------------------------------------------------------------------

  void on_request() {
    server_counters::add(core_->counters.requests);
    first_request_ = false;
    lowest().expires_never();  // until the response is written: the handler takes its time
    try {
      route();
    } catch (const std::exception& e) {  // a health or metrics route that threw, or no memory
      send(response::json_error(500, "InternalFailure", std::string("The server failed: ") + e.what()),
           close_mode::after);
    } catch (...) {
      send(response::json_error(500, "InternalFailure", "The server failed"), close_mode::after);
    }
  }

  void route() {
    const auto& req = parser_->get();
    const std::string_view target = req.target();
    const std::size_t q = target.find('?');
    const std::string_view path = target.substr(0, q);
    const std::string_view query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
    const auto method = req.method();
    auto not_allowed = [&](std::string_view allow) {
      response r = response::json_error(405, "MethodNotAllowedException",
                                        "Method " + printable(req.method_string()) + " is not allowed on " +
                                            printable(path) + "; use " + std::string(allow));
      r.headers.emplace_back("Allow", allow);
      send(std::move(r), close_mode::keep);
    };
    if (path == "/") {
      if (method != http::verb::post) return not_allowed("POST");
      authenticate_and_handle(path, query);
    } else if (path == "/health") {
      if (method != http::verb::get) return not_allowed("GET");
      if (core_->routes.health) return send(core_->routes.health(), close_mode::keep);
      response ok;
      ok.content_type = "text/plain; charset=utf-8";
      ok.body = "ok\n";
      send(std::move(ok), close_mode::keep);
    } else if (path == "/metrics") {
      if (method != http::verb::get) return not_allowed("GET");
      response r;
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      append_prometheus(r.body, core_->counters.snapshot());
      if (core_->routes.metrics) core_->routes.metrics(r.body);
      send(std::move(r), close_mode::keep);
    } else {
      send(response::json_error(404, "UnknownOperationException",
                                "No route for " + printable(req.method_string()) + " " + printable(target) +
                                    ": this endpoint serves POST / (the Firehose and Kinesis JSON APIs), GET "
                                    "/health and GET /metrics"),
           close_mode::keep);
    }
  }

  void authenticate_and_handle(std::string_view path, std::string_view query) {
    auto& req = parser_->get();
    http_.method = std::string(req.method_string());
    http_.path = std::string(path);
    http_.query = std::string(query);
    http_.headers.clear();
    for (const auto& field : req)
      http_.headers.push_back({std::string(field.name_string()), std::string(field.value())});
    http_.payload_hash.clear();

    const aws::verifier& verifier = core_->verifier_for(claimed_service(http_));
    const aws::verify_result verified = verifier.verify(http_, req.body(), core_->now());
    if (!verified) {
      server_counters::add(core_->counters.auth_failures);
      server_counters::add(core_->counters.auth_failures_by_reason[static_cast<std::size_t>(verified.failure)]);
      send(response::json_error(verified.http_status, verified.code, verified.message), close_mode::keep);
      return;
    }
    access_key_id_ = verified.access_key_id;
    // The scope is "<date>/<region>/<service>/aws4_request"; the verifier checked its shape.
    const std::string_view scope = verified.scope;
    const std::size_t r0 = scope.find('/') + 1;
    region_ = std::string(scope.substr(r0, scope.find('/', r0) - r0));
    if (request_id_.empty()) request_id_ = new_request_id();

    incoming_request in;
    if (const auto* t = http_.find("x-amz-target")) in.target = t->value;
    if (const auto* ct = http_.find("content-type")) in.content_type = ct->value;
    in.body = req.body();
    in.access_key_id = access_key_id_;
    in.service = verifier.options().service;
    in.region = region_;
    in.remote_address = remote_;
    in.request_id = request_id_;
    in.http = &http_;

    phase_ = phase::handler;
    server_counters::add(core_->counters.requests_in_handler);
    try {
      core_->handler(in, responder(self()));
    } catch (...) {
      // The responder, destroyed unanswered on the way out, has already queued a 500.
      server_counters::add(core_->counters.handler_errors);
    }
  }

  // ---- writing the response ------------------------------------------------------------------

  /// What happens to the connection after a response: `keep` keeps it alive when the request
  /// allows, `after` closes it, `linger` closes it after draining what the client still sends
  /// (the request was not read to its end).
  enum class close_mode { keep, after, linger };

  void on_response(response&& r) {
    if (closed_) {
      server_counters::add(core_->counters.responses_dropped);
      return;
    }
    if (phase_ != phase::handler) return;  // cannot happen: a responder answers once
    send(std::move(r), close_mode::keep);
  }

  void send(response&& r, close_mode mode) {
    phase_ = phase::writing;
    if (r.status < 200 || r.status > 599) {
      server_counters::add(core_->counters.handler_errors);
      r = response::json_error(500, "InternalFailure",
                               "The request handler answered with HTTP status " + std::to_string(r.status));
    }
    if (request_id_.empty()) request_id_ = new_request_id();
    const bool request_read = parser_ && parser_->is_done();
    keep_alive_ = mode == close_mode::keep && request_read && parser_->get().keep_alive() && !core_->stopping.load();
    linger_ = mode == close_mode::linger;

    res_ = {};
    res_.version(request_read ? parser_->get().version() : 11);
    res_.result(static_cast<unsigned>(r.status));
    res_.set(http::field::server, "sluice");
    res_.set(http::field::date, http_date(std::chrono::system_clock::now()));
    res_.set("x-amzn-RequestId", request_id_);
    if (!r.content_type.empty()) res_.set(http::field::content_type, r.content_type);
    for (auto& [name, value] : r.headers) res_.insert(name, value);
    res_.body() = std::move(r.body);
    res_.keep_alive(keep_alive_);
    res_.prepare_payload();
    core_->counters.count_response(r.status);

    lowest().expires_after(core_->options.write_timeout);
    with_stream([&](auto& s) {
      http::async_write(s, res_, [self = self()](error_code ec, std::size_t n) { self->on_write(ec, n); });
    });
  }

  void on_write(error_code ec, std::size_t n) {
    server_counters::add(core_->counters.bytes_out, n);
    if (closed_) return;
    if (ec) {
      if (ec == beast::error::timeout) server_counters::add(core_->counters.timeouts);
      close_now();
      return;
    }
    if (parser_) {
      retained_ = std::move(parser_->get().body());
      if (retained_.capacity() > retained_body_bytes) retained_ = std::string{};
    }
    res_ = {};
    if (keep_alive_) {
      read_request();
    } else if (linger_) {
      linger_close();
    } else {
      close_gracefully();
    }
  }

  // ---- closing -------------------------------------------------------------------------------

  /// TLS: send close_notify (bounded by the write timeout), then close.
  void close_gracefully() {
    phase_ = phase::closing;
    if (!tls_) {
      error_code ignored;
      tcp_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
      close_now();
      return;
    }
    lowest().expires_after(std::min<std::chrono::milliseconds>(core_->options.write_timeout, linger_time));
    tls_->async_shutdown([self = self()](error_code) { self->close_now(); });
  }

  void linger_close() {
    phase_ = phase::closing;
    error_code ignored;
    lowest().socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    lowest().expires_after(linger_time);
    drain();
  }

  void drain() {
    lowest().async_read_some(net::buffer(scratch_), [self = self()](error_code ec, std::size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > linger_bytes || self->closed_)
        self->close_now();
      else
        self->drain();
    });
  }

  /// Closes the socket (cancelling what is pending) and leaves the registry. Idempotent.
  void close_now() {
    {
      std::lock_guard lock(mutex_);
      if (closed_) return;
      closed_ = true;
    }
    phase_ = phase::closing;
    error_code ignored;
    lowest().socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    lowest().close();
    session_closed();
  }

  void session_closed();

  std::shared_ptr<server_core> core_;
  beast::tcp_stream tcp_;  ///< the connection until TLS takes it over (then moved-from)
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
  net::any_io_executor executor_;  ///< the connection's strand
  std::uint64_t id_;
  std::string remote_;

  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  std::string retained_;  ///< the last request's body memory, for the next request
  aws::http_request http_;
  std::string request_id_, access_key_id_, region_;
  std::array<char, 16 * 1024> scratch_{};  ///< lingering close reads into it
  std::size_t drained_ = 0;

  phase phase_ = phase::idle;
  bool first_request_ = true;
  bool keep_alive_ = false;
  bool linger_ = false;

  std::mutex mutex_;     ///< orders closed_ against deliver() from handler threads
  bool closed_ = false;  ///< written under mutex_ on the strand; read on the strand or under mutex_
};

// ---- the accept loop -----------------------------------------------------------------------------

inline void accept_next(const std::shared_ptr<server_core>& core);

/// Accepts again when max_connections had paused the loop and there is room now. Any thread.
inline void resume_accepting(const std::shared_ptr<server_core>& core) {
  if (!core->accept_paused.load() || core->stopping.load()) return;
  net::post(core->acceptor.get_executor(), [core] {
    if (core->stopping.load()) return;
    if (core->counters.connections_open.load() < core->options.max_connections && core->accept_paused.exchange(false))
      accept_next(core);
  });
}

inline void session::session_closed() {
  {
    std::lock_guard lock(core_->mutex);
    core_->sessions.erase(id_);
    server_counters::sub(core_->counters.connections_open);
  }
  core_->closed.notify_all();
  resume_accepting(core_);
}

inline void on_accept(const std::shared_ptr<server_core>& core, error_code ec, net::ip::tcp::socket socket) {
  if (ec == net::error::operation_aborted || !core->acceptor.is_open()) return;
  if (ec) {
    // Out of file descriptors or memory, or a connection reset before it was accepted: try
    // again shortly instead of spinning or giving up.
    auto timer = std::make_shared<net::steady_timer>(core->acceptor.get_executor(), std::chrono::milliseconds(50));
    timer->async_wait([core, timer](error_code e) {
      if (!e && !core->stopping.load()) accept_next(core);
    });
    return;
  }
  close_on_exec(socket.native_handle());
  std::shared_ptr<session> s;
  {
    std::lock_guard lock(core->mutex);
    if (core->stopping.load()) return;  // the socket closes with its destructor
    const std::uint64_t id = core->next_session++;
    s = std::make_shared<session>(core, std::move(socket), id);
    core->sessions.emplace(id, s);
    server_counters::add(core->counters.connections_accepted);
    server_counters::add(core->counters.connections_open);
  }
  net::dispatch(s->get_executor(), [s] { s->start(); });
  if (core->counters.connections_open.load() >= core->options.max_connections) {
    core->accept_paused.store(true);
    // A connection may have closed between the check and the flag: look again.
    if (core->counters.connections_open.load() >= core->options.max_connections || !core->accept_paused.exchange(false))
      return;
  }
  accept_next(core);
}

inline void accept_next(const std::shared_ptr<server_core>& core) {
  core->acceptor.async_accept(net::make_strand(core->ioc), [core](error_code ec, net::ip::tcp::socket socket) {
    on_accept(core, ec, std::move(socket));
  });
}

}  // namespace sluice::connector::http_stream::detail
