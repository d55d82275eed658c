// SPDX-License-Identifier: Apache-2.0
#pragma once
// Definitions of <sluice/connector/http_stream/server.hpp>.
#include <sluice/core/config.hpp>
#include <sluice/core/error.hpp>
#include <sluice/connector/http_stream/detail/server_core.hpp>
#include <sluice/connector/http_stream/detail/server_session.hpp>
#include <sluice/connector/http_stream/server.hpp>
#include <sluice/format/json.hpp>

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <string>
#include <unordered_map>

namespace sluice::connector::http_stream {

SLUICE_DECL void server_options::validate() const {
  auto fail = [](std::string_view field, const std::string& value, std::string_view what) {
    return config_error("http_stream::server_options." + std::string(field) + " = " + value + ": " + std::string(what));
  };
  auto ms = [](std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; };
  {
    error_code ec;
    (void)boost::asio::ip::make_address(address, ec);
    if (ec)
      throw fail("address", "'" + address + "'", "not an IPv4 or IPv6 address (such as 127.0.0.1, 0.0.0.0 or ::)");
  }
  if (port < 0 || port > 65535) throw fail("port", std::to_string(port), "must be 0..65535 (0 picks a free port)");
  if (threads > 256)
    throw fail("threads", std::to_string(threads), "must be 0..256 (0 picks min(2, hardware threads))");
  if (max_header_bytes < 1024 || max_header_bytes > 1024 * 1024)
    throw fail("max_header_bytes", std::to_string(max_header_bytes), "must be 1024..1048576");
  if (max_body_bytes < 1 || max_body_bytes > (std::size_t{1} << 30))
    throw fail("max_body_bytes", std::to_string(max_body_bytes), "must be 1..1073741824 (1 GiB)");
  const std::pair<const char*, std::chrono::milliseconds> timeouts[] = {{"header_timeout", header_timeout},
                                                                        {"body_timeout", body_timeout},
                                                                        {"idle_timeout", idle_timeout},
                                                                        {"write_timeout", write_timeout}};
  for (const auto& [field, value] : timeouts)
    if (value.count() <= 0) throw fail(field, ms(value), "must be positive");
  if (stop_timeout.count() < 0) throw fail("stop_timeout", ms(stop_timeout), "must not be negative");
  if (max_connections < 1) throw fail("max_connections", std::to_string(max_connections), "must be at least 1");
  if (tls) (void)detail::make_tls_context(*tls);
  if (!auth.secrets)
    throw fail("auth.secrets", "(empty)",
               "give the secret lookup of the access keys clients sign with (static_keys())");
  if (auth.services.empty()) throw fail("auth.services", "[]", "name at least one signing service (\"firehose\")");
  for (std::size_t i = 0; i < auth.services.size(); ++i) {
    const std::string& s = auth.services[i];
    const bool ok = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
    if (!ok)
      throw fail("auth.services[" + std::to_string(i) + "]", "'" + detail::printable(s) + "'",
                 "must be a signing name: lower-case letters, digits and '-' (\"firehose\", \"kinesis\")");
    if (std::find(auth.services.begin(), auth.services.begin() + static_cast<std::ptrdiff_t>(i), s) !=
        auth.services.begin() + static_cast<std::ptrdiff_t>(i))
      throw fail("auth.services[" + std::to_string(i) + "]", "'" + s + "'", "is listed twice");
  }
  if (auth.max_skew.count() < 0)
    throw fail("auth.max_skew", std::to_string(auth.max_skew.count()) + " s", "must not be negative");
}

SLUICE_DECL response response::json_error(int status, std::string_view type, std::string_view message) {
  response r;
  r.status = status;
  r.body.reserve(32 + type.size() + message.size());
  r.body += "{\"__type\":";
  format::detail::append_quoted(r.body, type);
  r.body += ",\"message\":";
  format::detail::append_quoted(r.body, message);
  r.body += '}';
  return r;
}

SLUICE_DECL aws::secret_lookup static_keys(std::vector<aws::credentials> keys) {
  auto table = std::make_shared<std::unordered_map<std::string, std::string>>();
  for (auto& k : keys) {
    if (k.access_key_id.empty() || k.secret_access_key.empty())
      throw config_error("http_stream::static_keys: access key '" + detail::printable(k.access_key_id) +
                         "': both the access key id and the secret must be set");
    if (!table->emplace(std::move(k.access_key_id), std::move(k.secret_access_key)).second)
      throw config_error("http_stream::static_keys: an access key id is listed twice");
  }
  return [table](std::string_view id) -> std::optional<std::string> {
    if (auto it = table->find(std::string(id)); it != table->end()) return it->second;
    return std::nullopt;
  };
}

SLUICE_DECL void append_prometheus(std::string& out, const server_stats& s, std::string_view prefix) {
  auto metric = [&](std::string_view name, std::string_view type, std::string_view help) {
    out.append("# HELP ").append(prefix).append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(prefix).append(name).append(" ").append(type).append("\n");
  };
  auto sample = [&](std::string_view name, std::string_view labels, std::uint64_t v) {
    out.append(prefix).append(name);
    if (!labels.empty()) out.append("{").append(labels).append("}");
    out.append(" ").append(std::to_string(v)).append("\n");
  };
  auto single = [&](std::string_view name, std::string_view type, std::string_view help, std::uint64_t v) {
    metric(name, type, help);
    sample(name, {}, v);
  };
  single("connections_accepted_total", "counter", "Connections accepted.", s.connections_accepted);
  single("connections_open", "gauge", "Connections open now.", s.connections_open);
  single("requests_total", "counter", "Requests read in full (head and body).", s.requests);
  single("requests_in_handler", "gauge", "Requests handed to the handler and not yet answered.", s.requests_in_handler);
  single("received_bytes_total", "counter", "Request bytes read, heads and bodies.", s.bytes_in);
  single("sent_bytes_total", "counter", "Response bytes written.", s.bytes_out);
  metric("responses_total", "counter", "Responses sent, by status class.");
  static constexpr std::string_view classes[] = {"code=\"1xx\"", "code=\"2xx\"", "code=\"3xx\"", "code=\"4xx\"",
                                                 "code=\"5xx\""};
  for (std::size_t i = 0; i < s.responses.size(); ++i) sample("responses_total", classes[i], s.responses[i]);
  metric("auth_failures_total", "counter", "Requests refused by SigV4 verification, by reason.");
  static constexpr std::string_view reasons[] = {"",
                                                 "reason=\"missing_authentication\"",
                                                 "reason=\"malformed\"",
                                                 "reason=\"scope_mismatch\"",
                                                 "reason=\"header_not_signed\"",
                                                 "reason=\"unknown_access_key\"",
                                                 "reason=\"signature_mismatch\"",
                                                 "reason=\"request_time_skewed\"",
                                                 "reason=\"presign_expired\"",
                                                 "reason=\"content_sha256_mismatch\"",
                                                 "reason=\"content_sha256_invalid\""};
  static_assert(std::size(reasons) == std::tuple_size_v<decltype(s.auth_failures_by_reason)>);
  for (std::size_t i = 1; i < s.auth_failures_by_reason.size(); ++i)
    sample("auth_failures_total", reasons[i], s.auth_failures_by_reason[i]);
  single("bad_requests_total", "counter", "Malformed HTTP requests (400).", s.bad_requests);
  single("headers_too_large_total", "counter", "Requests whose head was over the limit (431).", s.headers_too_large);
  single("bodies_too_large_total", "counter", "Requests whose body was over the limit (413).", s.bodies_too_large);
  single("timeouts_total", "counter", "Connections cut off by a header, body or write timeout.", s.timeouts);
  single("aborted_total", "counter", "Clients that disconnected in the middle of a request.", s.aborted);
  single("tls_handshake_failures_total", "counter", "TLS handshakes that failed, plain HTTP on the TLS port included.",
         s.tls_handshake_failures);
  single("handler_errors_total", "counter", "Exceptions thrown by the request handler, and invalid statuses.",
         s.handler_errors);
  single("responses_dropped_total", "counter", "Responses whose connection had already closed.", s.responses_dropped);
}

SLUICE_DECL server::server(server_options options, request_handler handler, server_routes routes) {
  namespace net = boost::asio;
  options.validate();
  if (!handler) throw config_error("http_stream::server: the request handler is empty");
  core_ = std::make_shared<detail::server_core>(std::move(options), std::move(handler), std::move(routes));
  auto& core = *core_;
  const auto& o = core.options;
  if (o.tls) core.tls.emplace(detail::make_tls_context(*o.tls).release());
  for (const auto& service : o.auth.services)
    core.verifiers.emplace_back(
        o.auth.secrets,
        aws::verify_options{
            .region = o.auth.region, .service = service, .style = aws::error_style::json, .max_skew = o.auth.max_skew});

  const net::ip::tcp::endpoint at(net::ip::make_address(o.address), static_cast<std::uint16_t>(o.port));
  const std::string where = "http_stream::server: listening on " + detail::endpoint_text(at);
  error_code ec;
  core.acceptor.open(at.protocol(), ec);
  throw_if(ec, where);
  detail::close_on_exec(core.acceptor.native_handle());
  // A restarted endpoint binds again at once, while the last run's connections sit in TIME_WAIT.
  core.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  throw_if(ec, where);
  core.acceptor.bind(at, ec);
  throw_if(ec, where);
  core.acceptor.listen(net::socket_base::max_listen_connections, ec);
  throw_if(ec, where);
  port_ = core.acceptor.local_endpoint().port();

  core.work.emplace(core.ioc.get_executor());
  net::post(core.acceptor.get_executor(), [c = core_] { detail::accept_next(c); });
  unsigned n = o.threads;
  if (n == 0) n = std::clamp(std::thread::hardware_concurrency(), 1u, 2u);
  try {
    for (unsigned i = 0; i < n; ++i)
      threads_.emplace_back([c = core_] {
        for (;;) {
          try {
            c->ioc.run();
            return;
          } catch (...) {
            // A completion handler threw past its own guard: count it and keep the thread serving.
            detail::server_counters::add(c->counters.handler_errors);
          }
        }
      });
  } catch (...) {
    stop(std::chrono::milliseconds{0});
    throw;
  }
}

SLUICE_DECL server::~server() { stop(); }

SLUICE_DECL std::string server::endpoint_url() const {
  const bool v6 = core_->options.address.find(':') != std::string::npos;
  return std::string(core_->tls ? "https://" : "http://") +
         (v6 ? "[" + core_->options.address + "]" : core_->options.address) + ":" + std::to_string(port_);
}

SLUICE_DECL server_stats server::stats() const noexcept { return core_->counters.snapshot(); }

SLUICE_DECL void server::stop() { stop(core_->options.stop_timeout); }

SLUICE_DECL void server::stop(std::chrono::milliseconds deadline) {
  namespace net = boost::asio;
  std::lock_guard stopping(stop_mutex_);
  if (stopped_) return;
  stopped_ = true;
  auto& core = *core_;
  // From a handler this would wait for its own thread.
  SLUICE_ASSERT(!core.ioc.get_executor().running_in_this_thread());

  auto all_sessions = [&] {
    std::vector<std::shared_ptr<detail::session_base>> out;
    std::lock_guard lock(core.mutex);
    for (auto& [id, weak] : core.sessions)
      if (auto s = weak.lock()) out.push_back(std::move(s));
    return out;
  };
  {
    std::lock_guard lock(core.mutex);
    core.stopping.store(true);
  }
  net::post(core.acceptor.get_executor(), [c = core_] {
    error_code ignored;
    c->acceptor.close(ignored);
  });
  for (auto& s : all_sessions()) s->on_stop();
  {
    std::unique_lock lock(core.mutex);
    core.closed.wait_for(lock, deadline, [&] { return core.sessions.empty(); });
  }
  for (auto& s : all_sessions()) s->force_close();
  core.work.reset();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

}  // namespace sluice::connector::http_stream
