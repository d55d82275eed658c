// SPDX-License-Identifier: Apache-2.0
#pragma once
// The state a server's connections share: the io_context, the TLS context, the verifiers, the
// counters and the registry that stop() walks. Connections hold it by shared_ptr, so it (and
// the io_context their sockets belong to) outlives every connection, even one kept alive by a
// responder after the server object is gone.
#include <sluice/core/config.hpp>
#include <sluice/core/detail/civil_time.hpp>
#include <sluice/core/error.hpp>
#include <sluice/aws/sigv4.hpp>
#include <sluice/connector/http_stream/server.hpp>
#include <sluice/crypto/detail/openssl.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#if defined(__unix__)
#include <fcntl.h>
#endif

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sluice::connector::http_stream::detail {

namespace net = boost::asio;

/// The counters of server_stats, updated from every connection with relaxed atomics.
struct server_counters {
  using counter = std::atomic<std::uint64_t>;
  counter connections_accepted{0}, connections_open{0}, requests{0}, requests_in_handler{0}, bytes_in{0}, bytes_out{0},
      auth_failures{0}, bad_requests{0}, headers_too_large{0}, bodies_too_large{0}, timeouts{0}, aborted{0},
      tls_handshake_failures{0}, handler_errors{0}, responses_dropped{0};
  std::array<counter, 5> responses{};
  std::array<counter, 11> auth_failures_by_reason{};

  static void add(counter& c, std::uint64_t n = 1) noexcept { c.fetch_add(n, std::memory_order_relaxed); }
  static void sub(counter& c, std::uint64_t n = 1) noexcept { c.fetch_sub(n, std::memory_order_relaxed); }

  void count_response(int status) noexcept {
    if (status >= 100 && status < 600) add(responses[static_cast<std::size_t>(status / 100 - 1)]);
  }

  [[nodiscard]] server_stats snapshot() const noexcept {
    auto get = [](const counter& c) { return c.load(std::memory_order_relaxed); };
    server_stats s;
    s.connections_accepted = get(connections_accepted);
    s.connections_open = get(connections_open);
    s.requests = get(requests);
    s.requests_in_handler = get(requests_in_handler);
    s.bytes_in = get(bytes_in);
    s.bytes_out = get(bytes_out);
    for (std::size_t i = 0; i < responses.size(); ++i) s.responses[i] = get(responses[i]);
    s.auth_failures = get(auth_failures);
    for (std::size_t i = 0; i < auth_failures_by_reason.size(); ++i)
      s.auth_failures_by_reason[i] = get(auth_failures_by_reason[i]);
    s.bad_requests = get(bad_requests);
    s.headers_too_large = get(headers_too_large);
    s.bodies_too_large = get(bodies_too_large);
    s.timeouts = get(timeouts);
    s.aborted = get(aborted);
    s.tls_handshake_failures = get(tls_handshake_failures);
    s.handler_errors = get(handler_errors);
    s.responses_dropped = get(responses_dropped);
    return s;
  }
};

/// What stop() needs of a connection, whatever its stream.
class session_base : public response_sink, public std::enable_shared_from_this<session_base> {
 public:
  virtual ~session_base() = default;
  /// The server is stopping: close now if no request is in progress. Runs on the strand.
  virtual void on_stop() = 0;
  /// The stop deadline passed: close whatever state the connection is in. Runs on the strand.
  virtual void force_close() = 0;
};

struct ssl_ctx_free {
  void operator()(SSL_CTX* p) const noexcept { SSL_CTX_free(p); }
};
using ssl_ctx_ptr = std::unique_ptr<SSL_CTX, ssl_ctx_free>;

/// A TLS 1.2+ server context holding the certificate chain and key of `tls`. Throws
/// config_error naming the field whose file is missing, unreadable or wrong, and when the key
/// does not belong to the certificate.
inline ssl_ctx_ptr make_tls_context(const tls_options& tls) {
  auto fail = [](std::string field, const std::filesystem::path& file, std::string_view what) {
    ERR_clear_error();
    return config_error("http_stream::server_options.tls." + field + " = '" + file.string() +
                        "': " + std::string(what));
  };
  auto openssl_reason = [](std::string_view what) { return crypto::detail::openssl_error(what); };
  const std::pair<const char*, const std::filesystem::path*> files[] = {{"certificate_file", &tls.certificate_file},
                                                                        {"private_key_file", &tls.private_key_file}};
  for (const auto& [field, file] : files) {
    if (file->empty()) throw fail(field, *file, "must name a PEM file");
    std::error_code ec;
    if (!std::filesystem::is_regular_file(*file, ec)) throw fail(field, *file, "no such file");
  }
  ssl_ctx_ptr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) throw std::runtime_error(crypto::detail::openssl_error("SSL_CTX_new"));
  if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1)
    throw std::runtime_error(crypto::detail::openssl_error("SSL_CTX_set_min_proto_version"));
  // No renegotiation (a client-driven CPU cost) and a fresh key per ECDHE exchange.
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_SINGLE_ECDH_USE | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), tls.certificate_file.c_str()) != 1)
    throw fail("certificate_file", tls.certificate_file,
               "not a PEM certificate chain (" + openssl_reason("reading it") + ")");
  const std::string mismatch = "does not belong to the certificate in '" + tls.certificate_file.string() + "'";
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), tls.private_key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    // OpenSSL compares the key with the certificate as it loads it.
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
      throw fail("private_key_file", tls.private_key_file, mismatch);
    throw fail("private_key_file", tls.private_key_file,
               "not an unencrypted PEM private key (" + openssl_reason("reading it") + ")");
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) throw fail("private_key_file", tls.private_key_file, mismatch);
  return ctx;
}

/// The current time as an HTTP Date header value (RFC 9110 IMF-fixdate):
/// `Wed, 25 Nov 2026 19:21:18 GMT`. SDKs correct their clock skew from it.
inline std::string http_date(std::chrono::system_clock::time_point t) {
  static constexpr std::string_view days[] = {"Thu", "Fri", "Sat", "Sun",
                                              "Mon", "Tue", "Wed"};  // 1970-01-01 was a Thursday
  static constexpr std::string_view months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto c = sluice::detail::to_civil(t);
  const std::int64_t day_number = sluice::detail::floor_div(c.epoch_seconds, 86400);
  std::string out;
  out.reserve(29);
  out += days[static_cast<std::size_t>(((day_number % 7) + 7) % 7)];
  out += ", ";
  sluice::detail::append_padded(out, c.day, 2);
  out += ' ';
  out += months[c.month - 1];
  out += ' ';
  sluice::detail::append_padded(out, c.year, 4);
  out += ' ';
  sluice::detail::append_padded(out, c.hour, 2);
  out += ':';
  sluice::detail::append_padded(out, c.minute, 2);
  out += ':';
  sluice::detail::append_padded(out, c.second, 2);
  out += " GMT";
  return out;
}

/// A random request id in the UUID form AWS uses for x-amzn-RequestId. Unique enough to find a
/// request in logs; not a secret.
inline std::string new_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  const std::uint64_t a = rng(), b = rng();
  std::string id(36, '-');
  int bit = 0;
  for (std::size_t i = 0; i < id.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) continue;
    const std::uint64_t word = bit < 64 ? a : b;
    id[i] = hex[(word >> (bit % 64)) & 15];
    bit += 4;
  }
  id[14] = '4';                     // version 4 (random)
  id[19] = hex[8 | (b >> 60 & 3)];  // variant 10xx
  return id;
}

/// Keeps a socket out of processes the application starts (Asio opens sockets without
/// SOCK_CLOEXEC): a child holding a copy would keep the connection open after the server closed it.
inline void close_on_exec(int fd) noexcept {
#if defined(__unix__)
  (void)::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC);
#else
  (void)fd;
#endif
}

/// `ip:port`, with brackets around IPv6 addresses.
inline std::string endpoint_text(const net::ip::tcp::endpoint& e) {
  const auto ip = e.address().to_string();
  return (e.address().is_v6() ? "[" + ip + "]" : ip) + ":" + std::to_string(e.port());
}

/// `text` cut to `max` bytes with control and non-ASCII bytes replaced by '?': request bytes
/// quoted in an error message stay printable.
inline std::string printable(std::string_view text, std::size_t max = 200) {
  std::string out(text.substr(0, max));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  if (text.size() > max) out += "...";
  return out;
}

/// Everything the connections of one server share.
struct server_core {
  server_core(server_options o, request_handler h, server_routes r)
      : options(std::move(o)), handler(std::move(h)), routes(std::move(r)) {}

  server_options options;
  request_handler handler;
  server_routes routes;
  net::io_context ioc;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::optional<net::ssl::context> tls;
  std::vector<aws::verifier> verifiers;  ///< one per accepted service, in auth.services order
  net::ip::tcp::acceptor acceptor{net::make_strand(ioc)};
  server_counters counters;

  // Registry of open connections, for stop(); guarded by `mutex`.
  std::mutex mutex;
  std::condition_variable closed;  ///< notified when a connection closes
  std::unordered_map<std::uint64_t, std::weak_ptr<session_base>> sessions;
  std::uint64_t next_session = 0;
  std::atomic<bool> stopping{false};
  /// Set (on the acceptor's strand) when max_connections stopped the accept loop.
  std::atomic<bool> accept_paused{false};

  [[nodiscard]] std::chrono::system_clock::time_point now() const {
    return options.auth.clock ? options.auth.clock() : std::chrono::system_clock::now();
  }

  /// The verifier for the service named in a request's credential scope; the first one when
  /// the scope names no accepted service (it then reports the scope mismatch).
  [[nodiscard]] const aws::verifier& verifier_for(std::string_view service) const noexcept {
    for (const auto& v : verifiers)
      if (v.options().service == service) return v;
    return verifiers.front();
  }
};

/// The service of the credential scope a request claims (`Credential=AKID/date/region/service/
/// aws4_request` in Authorization, or X-Amz-Credential in the query); empty when not found.
/// The verifier checks the whole credential; this only picks which verifier does.
inline std::string_view claimed_service(const aws::http_request& req) {
  std::string_view credential;
  if (const auto* auth = req.find("authorization")) {
    const std::string_view v = auth->value;
    const std::size_t at = v.find("Credential=");
    if (at == std::string_view::npos) return {};
    credential = v.substr(at + 11);
    credential = credential.substr(0, credential.find_first_of(", "));
  } else {
    const std::string_view q = req.query;
    const std::size_t at = q.find("X-Amz-Credential=");
    if (at == std::string_view::npos) return {};
    credential = q.substr(at + 17);
    credential = credential.substr(0, credential.find('&'));
    // Percent-encoded slashes (%2F) separate the parts of a presigned credential.
    std::size_t parts = 0, start = 0;
    for (std::size_t i = 0; i + 2 < credential.size(); ++i)
      if (credential[i] == '%' && credential[i + 1] == '2' && (credential[i + 2] == 'F' || credential[i + 2] == 'f')) {
        if (++parts == 3) start = i + 3;
        if (parts == 4) return credential.substr(start, i - start);
      }
    return {};
  }
  std::size_t start = 0;
  for (int part = 0; part < 3; ++part) {
    const std::size_t slash = credential.find('/', start);
    if (slash == std::string_view::npos) return {};
    start = slash + 1;
  }
  return credential.substr(start, credential.find('/', start) - start);
}

}  // namespace sluice::connector::http_stream::detail
