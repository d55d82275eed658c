// SPDX-License-Identifier: Apache-2.0
#pragma once
// A blocking HTTP/1.1 client over a plain socket, with timeouts, for the tests of the
// Firehose-compatible endpoint: it sends exactly the bytes a test gives (including what no HTTP
// client would send) and SigV4-signed requests made with sluice's own signer.
#include <sluice/aws/sigv4.hpp>

#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace sluice_test {

/// A key pair of the tests' own (the captures in testdata/firehose use AKIDEXAMPLE).
inline constexpr std::string_view test_id = "AKIDSLUICETEST";
inline constexpr std::string_view test_secret = "sluice/test+secret/0123456789abcdefghij";

/// A response as read off the socket.
struct reply {
  int status = 0;
  std::string head;  ///< status line and headers
  std::string body;

  /// The value of header `name` (case-insensitive), or empty.
  [[nodiscard]] std::string header(std::string_view name) const {
    std::size_t at = head.find("\r\n");
    while (at != std::string::npos && at + 2 < head.size()) {
      const std::size_t end = head.find("\r\n", at + 2);
      const std::string_view line = std::string_view(head).substr(at + 2, end - at - 2);
      const std::size_t colon = line.find(':');
      if (colon != std::string_view::npos && colon == name.size() &&
          std::equal(name.begin(), name.end(), line.begin(),
                     [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
        std::string_view v = line.substr(colon + 1);
        while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
        return std::string(v);
      }
      at = end;
    }
    return {};
  }
  [[nodiscard]] boost::json::value json() const { return boost::json::parse(body); }
};

class raw_client {
 public:
  explicit raw_client(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~raw_client() { close(); }
  raw_client(const raw_client&) = delete;
  raw_client& operator=(const raw_client&) = delete;

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  /// Sends everything; false when the server has closed or reset the connection.
  bool send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  /// Reads more bytes within `timeout`: > 0 bytes read, 0 the server closed (or reset), -1 the
  /// time ran out.
  int receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (ready == 0) return -1;
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return 0;
    pending_.append(buf, static_cast<std::size_t>(n));
    return static_cast<int>(n);
  }

  /// The next response (100 Continue skipped unless `interim`), or nullopt when the connection
  /// closed or the time ran out first.
  std::optional<reply> read_reply(std::chrono::milliseconds timeout = std::chrono::seconds(10), bool interim = false) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const std::size_t end = pending_.find("\r\n\r\n");
      if (end != std::string::npos) {
        reply r;
        r.head = pending_.substr(0, end);
        r.status = std::atoi(r.head.c_str() + 9);
        if (r.status == 100 && !interim) {
          pending_.erase(0, end + 4);
          continue;
        }
        const std::string length = r.header("content-length");
        const std::size_t size = length.empty() ? 0 : std::stoul(length);
        if (pending_.size() >= end + 4 + size) {
          r.body = pending_.substr(end + 4, size);
          pending_.erase(0, end + 4 + size);
          return r;
        }
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left <= std::chrono::milliseconds(0) || receive(left) <= 0) return std::nullopt;
    }
  }

  /// Whether the server closes the connection within `timeout` (bytes sent before are kept).
  bool closed_within(std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left <= std::chrono::milliseconds(0)) return false;
      const int n = receive(left);
      if (n == 0) return true;
      if (n < 0) return false;
    }
  }

 private:
  int fd_ = -1;
  std::string pending_;
};

/// A PutRecordBatch-shaped request signed now (or at `when`) with `id`/`secret`, as raw bytes.
inline std::string signed_request(std::string_view body, std::string_view id = test_id,
                                  std::string_view secret = test_secret, std::string service = "firehose",
                                  std::chrono::system_clock::time_point when = std::chrono::system_clock::now(),
                                  std::string_view extra_headers = {},
                                  std::string_view target = "Firehose_20150804.PutRecordBatch") {
  sluice::aws::signer signer({std::string(id), std::string(secret), {}},
                     {.region = "us-east-1", .service = std::move(service)});
  sluice::aws::http_request req{.method = "POST",
                        .path = "/",
                        .headers = {{"Host", "127.0.0.1"},
                                    {"Content-Type", "application/x-amz-json-1.1"},
                                    {"X-Amz-Target", std::string(target)}},
                        .payload_hash = sluice::aws::payload_hash(body)};
  signer.sign(req, when);
  std::string out = "POST / HTTP/1.1\r\n";
  for (const auto& h : req.headers) out += h.name + ": " + h.value + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += extra_headers;
  out += "\r\n";
  out += body;
  return out;
}

}  // namespace sluice_test
