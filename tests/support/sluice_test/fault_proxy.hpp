// SPDX-License-Identifier: Apache-2.0
#pragma once
// A fault-injecting HTTP/1.1 proxy for the S3 store tests. It sits between sluice's S3 client
// and a real server (radosgw) and makes the failures that server does not make on its own:
// throttling, internal errors, connection resets, stalls, truncated bodies; and it checks the
// `x-amz-checksum-*` headers radosgw ignores.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace sluice_test {

/// What the proxy does to a request a rule picks.
enum class fault {
  slow_down_503,              ///< answer S3's `503 SlowDown` error, never forward
  internal_error_500,         ///< answer S3's `500 InternalError` error, never forward
  reset_during_request_body,  ///< forward the head and `after_bytes` of the body, then reset both sides
  reset_before_response,      ///< forward the whole request, let the server answer, reset the client
  stall_before_response,      ///< hold the server's response for `stall`, then forward it
  truncate_response_body,     ///< forward the response head and `after_bytes` of its body, then close
  close_after_response,       ///< forward the whole response, then close the kept-alive connection
};

/// Picks requests and the fault to apply to them. Empty strings match anything.
///
/// Rules are tried in the order they were added; the first one that is due applies, and every
/// earlier matching rule counts the request toward its `skip`.
/// @code
///   // The second part upload fails twice with SlowDown, then passes.
///   proxy.add_rule({.method = "PUT", .query_contains = "partNumber=2", .times = 2,
///                   .action = sluice_test::fault::slow_down_503});
/// @endcode
struct fault_rule {
  std::string method;          ///< exact HTTP method, e.g. "PUT"
  std::string path_contains;   ///< substring of the request path (before `?`)
  std::string query_contains;  ///< substring of the query (after `?`), e.g. "uploads"
  int skip = 0;                ///< let this many matching requests pass first
  int times = 1;               ///< then apply the fault this many times; -1 = every time
  fault action = fault::slow_down_503;
  std::size_t after_bytes = 0;            ///< body bytes (as sent on the wire) before a reset or truncation
  std::chrono::milliseconds stall{2000};  ///< how long stall_before_response holds the response
};

/// The proxy. Listens on 127.0.0.1 on a free port; one thread per client connection, each with
/// its own upstream connection, kept alive as long as both sides allow. Request bodies are read
/// whole before they are forwarded (so checksums can be checked first); response bodies stream.
/// The proxy answers `Expect: 100-continue` itself and forwards the request without it (SigV4
/// signers leave Expect unsigned); other headers reach the upstream byte for byte.
///
/// Thread safety: every member function may be called from any thread while requests flow.
/// Lifetime: the destructor stops accepting, closes every socket and joins every thread,
/// without waiting for stalls to end.
/// Errors: the constructor throws std::system_error when it cannot listen. A client sending a
/// malformed request gets `400` and its connection closed; an unreachable upstream gives `502`.
class fault_proxy {
 public:
  /// One request as the proxy handled it, recorded before its answer reaches the client.
  struct exchange {
    std::string method;
    std::string target;                   ///< path and query as the client sent them
    int status = 0;                       ///< status sent to the client; 0 when none was
    int upstream_status = 0;              ///< status the upstream answered; 0 when not forwarded
    std::optional<fault> applied;         ///< the fault a rule applied, if any
    std::size_t request_body_bytes = 0;   ///< body bytes read from the client (chunk framing included)
    bool checksum_checked = false;        ///< the request carried a checksum header or trailer
    bool checksum_ok = false;             ///< every checksum it carried matched its body
  };

  fault_proxy(std::string upstream_host, std::uint16_t upstream_port);
  ~fault_proxy();
  fault_proxy(const fault_proxy&) = delete;
  fault_proxy& operator=(const fault_proxy&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  /// "http://127.0.0.1:PORT": the endpoint to give the client instead of the server's.
  [[nodiscard]] std::string endpoint() const;

  void add_rule(fault_rule rule);
  void clear_rules();

  /// When on, a request whose checksum (`Content-MD5`, `x-amz-checksum-crc32c`, `-crc32`,
  /// `-sha1` or `-sha256`, as a header or an aws-chunked trailer) does not match its body is
  /// answered `400 BadDigest` instead of being forwarded. Off by default: mismatches are only
  /// recorded.
  void reject_bad_checksums(bool on);

  /// A snapshot of every exchange so far, oldest first.
  [[nodiscard]] std::vector<exchange> log() const;
  /// How many exchanges match; empty arguments match anything.
  [[nodiscard]] std::size_t count(std::string_view method, std::string_view path_contains = {},
                                  std::string_view query_contains = {}) const;
  /// How many client connections the proxy has accepted.
  [[nodiscard]] std::size_t connections() const;

 private:
  struct connection;
  class session;
  struct rule_state {
    fault_rule rule;
    int seen = 0;
    int applied = 0;
  };

  void accept_loop();
  void serve(connection& c);
  std::optional<fault_rule> match(std::string_view method, std::string_view path, std::string_view query);
  void record(exchange e);
  /// Closes `fd` (if open) under the lock the destructor shuts sockets down with; `reset`
  /// makes the peer see a connection reset instead of an orderly close.
  void close_socket(int& fd, bool reset = false);
  /// Connects to the upstream and stores the socket in `fd`; false when it cannot.
  bool connect_upstream(int& fd);
  /// Waits `d` or until the proxy stops; false when it stopped.
  bool sleep_for(std::chrono::milliseconds d);

  std::string upstream_host_;
  std::uint16_t upstream_port_;
  int listener_ = -1;
  std::uint16_t port_ = 0;

  mutable std::mutex mutex_;  // guards everything below, and the sockets of every connection
  std::condition_variable stopped_;
  bool stopping_ = false;
  bool reject_bad_checksums_ = false;
  std::vector<rule_state> rules_;
  std::vector<exchange> log_;
  std::list<std::unique_ptr<connection>> connections_;
  std::size_t accepted_ = 0;
  std::thread acceptor_;
};

}  // namespace sluice_test
