// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/error.hpp>
#include <sluice/aws/sigv4.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

// The HTTP server under the Firehose-compatible endpoint: connections, limits, timeouts, TLS,
// SigV4 verification and the /health and /metrics routes. It knows nothing of Firehose's
// operations: every signed `POST /` goes to a request handler (the protocol layer), which
// answers through a responder, possibly later and from another thread.
//
// Boost.Asio and Beast stay out of this header: they are included by the definitions
// (impl/server.hpp), so code that only configures or wires a server compiles without them in a
// SLUICE_SEPARATE_COMPILATION build.

namespace sluice::connector::http_stream {

/// Certificate and key of an HTTPS listener, both PEM files.
struct tls_options {
  std::filesystem::path certificate_file;  ///< the certificate chain, leaf first
  std::filesystem::path private_key_file;  ///< the private key of the leaf certificate
};

/// How requests to `POST /` are authenticated: AWS Signature Version 4, as the AWS SDKs and
/// the AWS CLI sign them.
struct auth_options {
  /// The secret access key of each access key id clients may sign with (see static_keys()).
  /// Required. Called from the server's threads, so it must be safe to call concurrently.
  aws::secret_lookup secrets;
  /// The region the credential scope must name; empty accepts any region.
  std::string region;
  /// Signing names accepted in the credential scope: Firehose clients sign for "firehose",
  /// Kinesis Data Streams clients for "kinesis". The handler learns which one was used.
  std::vector<std::string> services{"firehose", "kinesis"};
  /// How far X-Amz-Date may be from the server's clock, either way. Firehose and Kinesis allow
  /// 5 minutes ("Signature expired: ... (... - 5 min.)").
  std::chrono::seconds max_skew{300};
  /// The clock requests are checked against; empty means std::chrono::system_clock::now.
  /// Tests set it to replay captured requests at the time they were signed. Called from the
  /// server's threads, concurrently.
  std::function<std::chrono::system_clock::time_point()> clock;
};

/// Configuration of a server. Every limit protects the server from one client: each is
/// enforced per connection and answered with the HTTP status a client expects.
///
/// Errors: validate() (and the server's constructor) throws sluice::config_error naming the
/// field, its value and what is allowed: `sluice: http_stream::server_options.port = 70000: must
/// be 0..65535`.
/// @code
///   http_stream::server_options o{.port = 4573,
///                                 .auth = {.secrets = http_stream::static_keys({{"AKID", "secret"}}),
///                                          .region = "us-east-1"}};
/// @endcode
struct server_options {
  std::string address = "127.0.0.1";  ///< IPv4 or IPv6 address to listen on ("0.0.0.0", "::")
  int port = 0;                       ///< 0 picks a free port; server::port() tells which
  /// Threads running the I/O; 0 picks min(2, hardware threads). Handlers run on them.
  unsigned threads = 0;
  /// Request line plus headers; a larger head is answered 431 and the connection closed.
  std::size_t max_header_bytes = 16 * 1024;
  /// Request body; a larger one is answered 413 (before it is read when Content-Length says
  /// so). Firehose's PutRecordBatch limit is 4 MiB of records; the default leaves room for the
  /// JSON and base64 around them.
  std::size_t max_body_bytes = 4 * 1024 * 1024 * 4 / 3 + 64 * 1024;
  /// From accepting a connection (or the first byte of a later request) to the end of the
  /// request head, TLS handshake included. Slow clients are disconnected.
  std::chrono::milliseconds header_timeout{30'000};
  /// From the end of the head to the end of the body.
  std::chrono::milliseconds body_timeout{30'000};
  /// How long a kept-alive connection may wait for its next request.
  std::chrono::milliseconds idle_timeout{60'000};
  /// Writing one response.
  std::chrono::milliseconds write_timeout{30'000};
  /// Connections served at once. At the limit the server stops accepting: new connections
  /// wait in the kernel's listen queue until one closes.
  std::size_t max_connections = 1024;
  /// How long stop() (and the destructor) lets requests in flight finish before closing them.
  std::chrono::milliseconds stop_timeout{10'000};
  /// HTTPS when set (TLS 1.2 or later); plain HTTP otherwise.
  std::optional<tls_options> tls;
  auth_options auth;

  /// Checks every field, and loads the TLS certificate and key to check that they parse and
  /// belong together. Throws sluice::config_error naming the field.
  SLUICE_DECL void validate() const;
};

/// A verified `POST /` request as the handler sees it.
///
/// Lifetime: every view stays valid until the request's responder is called (or destroyed);
/// after that the connection reuses the memory for its next request. Copy what must live longer.
struct incoming_request {
  std::string_view target;                  ///< X-Amz-Target ("Firehose_20150804.PutRecordBatch"); empty if absent
  std::string_view content_type;            ///< Content-Type as sent; empty if absent
  std::string_view body;                    ///< the whole body (never chunked here: it was read in full)
  std::string_view access_key_id;           ///< the access key the signature was verified with
  std::string_view service;                 ///< the signing name verified: one of auth_options::services
  std::string_view region;                  ///< the region of the credential scope
  std::string_view remote_address;          ///< the client, "127.0.0.1:50312" or "[::1]:50312"
  std::string_view request_id;              ///< the x-amzn-RequestId the response will carry
  const aws::http_request* http = nullptr;  ///< method, path, query and headers as received
};

/// What the handler answers. Every response also carries x-amzn-RequestId, Date, Server and
/// Content-Length; `Connection: close` is added when the connection will close.
struct response {
  int status = 200;  ///< 200..599; anything else is a handler bug and is sent as 500
  std::string content_type = "application/x-amz-json-1.1";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  ///< extra headers

  /// The AWS JSON protocol's error shape: `{"__type":"<type>","message":"<message>"}` with
  /// Content-Type application/x-amz-json-1.1, as Firehose and Kinesis send errors.
  [[nodiscard]] SLUICE_DECL static response json_error(int status, std::string_view type, std::string_view message);
};

namespace detail {
/// Where a responder delivers its response: the connection that received the request.
class response_sink {
 public:
  virtual void deliver(response&& r) = 0;

 protected:
  ~response_sink() = default;
};
}  // namespace detail

/// Sends the response to one request. Move-only; call it exactly once, from any thread, at any
/// time (the connection waits: no other request is read from it meanwhile).
///
/// Thread safety: one responder is used by one thread at a time; different responders may be
/// called concurrently. Lifetime: it keeps the connection's state alive, not the connection:
/// when the client has gone or the server stopped, the response is dropped (and counted).
/// Destroying a responder that was never called answers 500 InternalFailure, so a handler that
/// throws or loses a request does not leave the client waiting.
class responder {
 public:
  responder() = default;
  explicit responder(std::shared_ptr<detail::response_sink> sink) noexcept : sink_(std::move(sink)) {}
  responder(responder&&) noexcept = default;
  responder& operator=(responder&& other) noexcept {
    if (this != &other) {
      drop();
      sink_ = std::move(other.sink_);
    }
    return *this;
  }
  responder(const responder&) = delete;
  responder& operator=(const responder&) = delete;
  ~responder() { drop(); }

  /// Sends `r`. Precondition: the responder still owes its response (operator bool).
  void operator()(response r) {
    SLUICE_ASSERT(sink_ != nullptr);
    if (auto sink = std::exchange(sink_, nullptr)) sink->deliver(std::move(r));
  }
  /// True until the response has been sent.
  [[nodiscard]] explicit operator bool() const noexcept { return sink_ != nullptr; }

 private:
  void drop() noexcept {
    if (auto sink = std::exchange(sink_, nullptr)) {
      try {
        sink->deliver(
            response::json_error(500, "InternalFailure", "The request handler finished without sending a response."));
      } catch (...) {  // out of memory while building the answer: the client's read times out instead
      }
    }
  }
  std::shared_ptr<detail::response_sink> sink_;
};

/// Called on a server thread for every verified `POST /`. It must not block: hand slow work
/// (waiting for the records to be durable) to another thread and call the responder from
/// there. An exception it throws answers 500 InternalFailure (through the responder's
/// destructor) and is counted.
using request_handler = std::function<void(const incoming_request&, responder)>;

/// A secret lookup over a fixed set of keys (the session tokens are ignored).
[[nodiscard]] SLUICE_DECL aws::secret_lookup static_keys(std::vector<aws::credentials> keys);

/// What the server counted since it started. Counters only grow; the gauges say "now".
struct server_stats {
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_open = 0;        ///< gauge
  std::uint64_t requests = 0;                ///< requests read in full (head and body)
  std::uint64_t requests_in_handler = 0;     ///< gauge: handed to the handler, not yet answered
  std::uint64_t bytes_in = 0;                ///< request bytes read (heads and bodies)
  std::uint64_t bytes_out = 0;               ///< response bytes written
  std::array<std::uint64_t, 5> responses{};  ///< by status class: [0] 1xx .. [4] 5xx
  std::uint64_t auth_failures = 0;           ///< requests refused by SigV4 verification
  /// By reason, indexed by aws::auth_failure (index 0, none, stays 0).
  std::array<std::uint64_t, 11> auth_failures_by_reason{};
  std::uint64_t bad_requests = 0;            ///< malformed HTTP (400)
  std::uint64_t headers_too_large = 0;       ///< 431
  std::uint64_t bodies_too_large = 0;        ///< 413
  std::uint64_t timeouts = 0;                ///< connections cut off by a header (or handshake), body or write timeout
  std::uint64_t aborted = 0;                 ///< clients that disconnected in the middle of a request
  std::uint64_t tls_handshake_failures = 0;  ///< includes plain HTTP sent to the HTTPS port
  std::uint64_t handler_errors = 0;          ///< exceptions thrown by the handler and routes, invalid statuses
  std::uint64_t responses_dropped = 0;       ///< responses whose connection had closed
};

/// Appends `stats` in the Prometheus text exposition format (version 0.0.4): metric names
/// start with `prefix`, e.g. `sluice_http_requests_total 12`.
SLUICE_DECL void append_prometheus(std::string& out, const server_stats& stats,
                                   std::string_view prefix = "sluice_http_");

/// Routes other than `POST /`: both optional. They run on the server's threads, possibly
/// concurrently, and must not block; an exception they throw answers 500.
struct server_routes {
  /// `GET /health`: 200 "ok\n" when empty; else whatever it returns (for example 503 while a
  /// buffer is full). Not authenticated.
  std::function<response()> health;
  /// `GET /metrics`: the server's own counters (append_prometheus), then whatever this
  /// appends, served as `text/plain; version=0.0.4`. Not authenticated.
  std::function<void(std::string& out)> metrics;
};

namespace detail {
struct server_core;
}

/// An HTTP/1.1 (and HTTPS) server whose `POST /` requests are verified with SigV4 and handed to
/// a request_handler, plus `GET /health` and `GET /metrics`. Everything else is answered 404
/// or 405 with an AWS JSON error body.
///
/// Per connection: the request head and body are read in full under their size limits and
/// timeouts, verified, handed to the handler, and the connection waits for the response (one
/// request at a time; keep-alive, no pipelining). A client that misbehaves (garbage, huge
/// heads, slow sending, disconnecting mid-body) costs only its own connection.
///
/// What the server answers by itself, each with `{"__type", "message"}` in
/// application/x-amz-json-1.1 (the shape the AWS SDKs parse):
/// | case | status | __type |
/// |---|---|---|
/// | SigV4 failure | 400 | aws::aws_error_code() for error_style::json |
/// | malformed HTTP; plain HTTP on the HTTPS port | 400 | BadRequestException (then closes) |
/// | unknown path | 404 | UnknownOperationException |
/// | wrong method (the Allow header says which) | 405 | MethodNotAllowedException |
/// | body over max_body_bytes | 413 | RequestEntityTooLargeException (then closes) |
/// | head over max_header_bytes | 431 | RequestHeaderFieldsTooLargeException (then closes) |
/// | handler threw, dropped its responder or gave a bad status | 500 | InternalFailure |
/// The SigV4 codes are MissingAuthenticationTokenException, IncompleteSignatureException,
/// InvalidSignatureException (also "Signature expired") and UnrecognizedClientException. A
/// timeout closes the connection without an answer (the stream has already failed).
///
/// Thread safety: port(), stats() and stop() may be called from any thread except the server's
/// own (a handler must not stop its server). Lifetime: the server listens from construction
/// until stop() or destruction, which lets requests in flight finish for up to
/// server_options::stop_timeout.
/// Errors: the constructor throws sluice::config_error for invalid options and sluice::error
/// when it cannot listen ("http_stream::server: listening on 127.0.0.1:4573: Address already
/// in use").
/// @code
///   http_stream::server s(options, [](const http_stream::incoming_request& req, http_stream::responder r) {
///     r({.body = R"({"FailedPutCount":0,"RequestResponses":[]})"});
///   });
///   std::cout << "listening on port " << s.port() << '\n';
/// @endcode
class server {
 public:
  SLUICE_DECL server(server_options options, request_handler handler, server_routes routes = {});
  SLUICE_DECL ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// The port listened on (the one picked when options.port was 0).
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  /// "http://127.0.0.1:PORT" or "https://...": what a client's --endpoint-url is.
  [[nodiscard]] SLUICE_DECL std::string endpoint_url() const;
  /// A snapshot of the counters (relaxed: counters may be a request apart).
  [[nodiscard]] SLUICE_DECL server_stats stats() const noexcept;

  /// Stops accepting, closes idle connections, lets requests in flight get their response for
  /// up to `deadline` (answered with `Connection: close`), then closes what is left and joins
  /// the threads. Responses sent later are dropped. Idempotent; a concurrent call waits for the
  /// first one to finish.
  SLUICE_DECL void stop(std::chrono::milliseconds deadline);
  /// stop(options.stop_timeout).
  SLUICE_DECL void stop();

 private:
  std::shared_ptr<detail::server_core> core_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
  std::mutex stop_mutex_;
  bool stopped_ = false;  ///< guarded by stop_mutex_
};

}  // namespace sluice::connector::http_stream

// Definitions: here unless SLUICE_SEPARATE_COMPILATION is set, then in the one translation unit
// that defines SLUICE_SOURCE before including this header.
#if !defined(SLUICE_SEPARATE_COMPILATION) || defined(SLUICE_SOURCE)
#include <sluice/connector/http_stream/impl/server.hpp>
#endif
