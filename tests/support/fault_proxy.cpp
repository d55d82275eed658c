// SPDX-License-Identifier: Apache-2.0
#include <sluice_test/fault_proxy.hpp>

#include <sluice/crypto/checksum.hpp>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <system_error>
#include <utility>

namespace sluice_test {
namespace {

// ---- text helpers ------------------------------------------------------------------------------

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) { return lower(x) == lower(y); });
}

/// Whether a request is selected by a method (exact; empty = any) and by substrings of its path
/// and query: how rules and count() pick requests.
bool selects(std::string_view method, std::string_view path_contains, std::string_view query_contains,
             std::string_view req_method, std::string_view path, std::string_view query) {
  return (method.empty() || method == req_method) && path.find(path_contains) != std::string_view::npos &&
         query.find(query_contains) != std::string_view::npos;
}

/// The path and the query (without `?`) of a request target.
std::pair<std::string_view, std::string_view> split_target(std::string_view target) {
  auto question = target.find('?');
  if (question == std::string_view::npos) return {target, {}};
  return {target.substr(0, question), target.substr(question + 1)};
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// Whether the comma-separated header value `value` holds `token` (case-insensitive).
bool has_token(std::optional<std::string_view> value, std::string_view token) {
  if (!value) return false;
  std::string_view rest = *value;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    if (iequals(trim(rest.substr(0, comma)), token)) return true;
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
  }
  return false;
}

// ---- HTTP messages -----------------------------------------------------------------------------

using header_list = std::vector<std::pair<std::string, std::string>>;  // names lower-cased

std::optional<std::string_view> find_header(const header_list& headers, std::string_view lower_name) {
  for (const auto& [name, value] : headers)
    if (name == lower_name) return value;
  return std::nullopt;
}

/// Parses `name: value` into `out` with the name lower-cased; false when there is no colon.
bool parse_field(std::string_view line, header_list& out) {
  auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(), lower);
  out.emplace_back(std::move(name), std::string(trim(line.substr(colon + 1))));
  return true;
}

/// A request or response head. The raw text is what gets forwarded, so the client's signed
/// headers reach the upstream exactly as signed.
struct message {
  std::string head;  // up to and including the blank line
  std::string method, target, version;
  int status = 0;
  header_list headers;

  [[nodiscard]] std::optional<std::string_view> header(std::string_view lower_name) const {
    return find_header(headers, lower_name);
  }
  /// Whether the connection may carry another message after this one.
  [[nodiscard]] bool keep_alive() const {
    auto connection = header("connection");
    if (version == "HTTP/1.0") return has_token(connection, "keep-alive");
    return !has_token(connection, "close");
  }
};

std::optional<message> parse_head(std::string head, bool request) {
  message m;
  std::string_view text(head);
  auto eol = text.find("\r\n");
  std::string_view start = text.substr(0, eol);
  auto sp1 = start.find(' ');
  auto sp2 = start.find(' ', sp1 == std::string_view::npos ? sp1 : sp1 + 1);
  if (sp1 == std::string_view::npos) return std::nullopt;
  if (request) {
    if (sp2 == std::string_view::npos) return std::nullopt;
    m.method = start.substr(0, sp1);
    m.target = start.substr(sp1 + 1, sp2 - sp1 - 1);
    m.version = start.substr(sp2 + 1);
  } else {
    m.version = start.substr(0, sp1);
    auto code = start.substr(sp1 + 1, 3);
    auto [p, ec] = std::from_chars(code.data(), code.data() + code.size(), m.status);
    if (ec != std::errc{} || p != code.data() + code.size() || m.status < 100) return std::nullopt;
  }
  if (!m.version.starts_with("HTTP/1.")) return std::nullopt;
  for (auto at = eol + 2; at < text.size();) {
    auto end = text.find("\r\n", at);
    auto line = text.substr(at, end - at);
    at = end + 2;
    if (line.empty()) break;
    if (!parse_field(line, m.headers)) return std::nullopt;
  }
  m.head = std::move(head);
  return m;
}

/// `head` without the fields named `lower_name`.
std::string without_field(std::string_view head, std::string_view lower_name) {
  std::string out;
  for (std::size_t at = 0; at < head.size();) {
    auto end = head.find("\r\n", at) + 2;
    auto line = head.substr(at, end - at);
    auto colon = line.find(':');
    if (colon == std::string_view::npos || !iequals(line.substr(0, colon), lower_name)) out += line;
    at = end;
  }
  return out;
}

/// How a message body is delimited (RFC 9112 section 6).
struct framing {
  enum kind_t { none, length, chunked, until_close } kind = none;
  std::uint64_t size = 0;
};

std::optional<std::uint64_t> parse_length(std::string_view text) {
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc{} || p != text.data() + text.size()) return std::nullopt;
  return n;
}

std::optional<framing> request_framing(const message& m) {
  if (has_token(m.header("transfer-encoding"), "chunked")) return framing{framing::chunked};
  auto length = m.header("content-length");
  if (!length) return framing{};
  auto n = parse_length(*length);
  if (!n) return std::nullopt;
  return framing{*n ? framing::length : framing::none, *n};
}

std::optional<framing> response_framing(const message& m, std::string_view request_method) {
  if (request_method == "HEAD" || m.status < 200 || m.status == 204 || m.status == 304) return framing{};
  if (has_token(m.header("transfer-encoding"), "chunked")) return framing{framing::chunked};
  auto length = m.header("content-length");
  if (!length) return framing{framing::until_close};
  auto n = parse_length(*length);
  if (!n) return std::nullopt;
  return framing{*n ? framing::length : framing::none, *n};
}

/// Finds the end of a chunked body at the start of `data`: HTTP/1.1's chunked coding, and S3's
/// aws-chunked, which is the same framing with signatures as chunk extensions and checksums as
/// trailers. Fills `payload` and `trailers` when given.
struct chunked_scan {
  enum { complete, incomplete, malformed } state;
  std::size_t length = 0;
};
chunked_scan scan_chunked(std::string_view data, std::string* payload = nullptr, header_list* trailers = nullptr) {
  constexpr std::size_t max_line = 8192;
  std::size_t at = 0;
  auto next_line = [&](std::string_view& line) {
    auto eol = data.find("\r\n", at);
    if (eol == std::string_view::npos) return false;
    line = data.substr(at, eol - at);
    at = eol + 2;
    return true;
  };
  auto unfinished = [&] {
    return chunked_scan{data.size() - at > max_line ? chunked_scan::malformed : chunked_scan::incomplete};
  };
  for (std::string_view line;;) {
    if (!next_line(line)) return unfinished();
    auto size_text = trim(line.substr(0, line.find(';')));
    std::uint64_t size = 0;
    auto [p, ec] = std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
    if (size_text.empty() || ec != std::errc{} || p != size_text.data() + size_text.size())
      return {chunked_scan::malformed};
    if (size == 0) break;
    if (size > data.size() - at || data.size() - at - size < 2) return {chunked_scan::incomplete};
    if (data.substr(at + size, 2) != "\r\n") return {chunked_scan::malformed};
    if (payload) payload->append(data.substr(at, size));
    at += size + 2;
  }
  for (std::string_view line;;) {
    if (!next_line(line)) return unfinished();
    if (line.empty()) return {chunked_scan::complete, at};
    header_list ignored;
    if (!parse_field(line, trailers ? *trailers : ignored)) return {chunked_scan::malformed};
  }
}

// ---- checksums ---------------------------------------------------------------------------------

std::string big_endian(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

std::string evp_digest(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), out, &n, md, nullptr) != 1) return {};
  return {reinterpret_cast<const char*>(out), n};
}

/// The raw digest S3 expects (base64-encoded) in each checksum header.
struct checksum_kind {
  std::string_view header;
  std::string (*digest)(std::string_view);
};
constexpr checksum_kind checksum_kinds[] = {
    {"content-md5", [](std::string_view d) { return evp_digest(EVP_md5(), d); }},
    {"x-amz-checksum-crc32c", [](std::string_view d) { return big_endian(sluice::crypto::crc32c::compute(d)); }},
    {"x-amz-checksum-crc32",
     [](std::string_view d) {
       return big_endian(static_cast<std::uint32_t>(
           crc32_z(0, reinterpret_cast<const Bytef*>(d.data()), d.size())));
     }},
    {"x-amz-checksum-sha1", [](std::string_view d) { return evp_digest(EVP_sha1(), d); }},
    {"x-amz-checksum-sha256",
     [](std::string_view d) {
       auto h = sluice::crypto::sha256::digest(d);
       return std::string(reinterpret_cast<const char*>(h.data()), h.size());
     }},
};

struct checksum_result {
  bool checked = false;
  bool ok = false;
};

/// Checks every checksum the request carries against its payload: the body without its chunked
/// framing, and without aws-chunked framing when the client streams a signed or trailing body.
checksum_result check_checksums(const message& req, std::string_view body) {
  std::string payload(body);
  header_list trailers;
  bool framed_ok = true;
  auto unframe = [&] {
    std::string inner;
    framed_ok = framed_ok && scan_chunked(payload, &inner, &trailers).state == chunked_scan::complete;
    payload = std::move(inner);
  };
  if (has_token(req.header("transfer-encoding"), "chunked")) unframe();
  if (has_token(req.header("content-encoding"), "aws-chunked") ||
      req.header("x-amz-content-sha256").value_or("").starts_with("STREAMING-"))
    unframe();

  checksum_result r{false, framed_ok};
  for (const auto& kind : checksum_kinds) {
    auto value = req.header(kind.header);
    if (!value) value = find_header(trailers, kind.header);
    if (!value) continue;
    r.checked = true;
    sluice::error_code ec;
    auto claimed = sluice::crypto::from_base64(*value, ec);
    if (ec || claimed != kind.digest(payload)) r.ok = false;
  }
  if (!r.checked) r.ok = false;
  return r;
}

// ---- sockets -----------------------------------------------------------------------------------

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

void set_no_delay(int fd) {
  // Heads and bodies go out in separate sends; Nagle's algorithm would hold the second one
  // back for the peer's delayed ACK (40 ms a request).
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/// Buffered reading from a socket.
class reader {
 public:
  explicit reader(int fd) : fd_(fd) {}

  /// The next message head, through its blank line; nullopt at end of stream, on an error, or
  /// when the head grows past 64 KiB.
  std::optional<std::string> read_head() {
    for (std::size_t from = 0;;) {
      auto end = view().find("\r\n\r\n", from);
      if (end != std::string_view::npos) return take(end + 4);
      if (view().size() > 64 * 1024) return std::nullopt;
      from = view().size() < 3 ? 0 : view().size() - 3;
      if (!fill()) return std::nullopt;
    }
  }
  /// Appends exactly `n` bytes to `out`.
  bool read(std::size_t n, std::string& out) {
    while (view().size() < n)
      if (!fill()) return false;
    out += take(n);
    return true;
  }
  /// A whole chunked body with its framing.
  bool read_chunked(std::string& out) {
    for (;;) {
      auto scan = scan_chunked(view());
      if (scan.state == chunked_scan::complete) {
        out += take(scan.length);
        return true;
      }
      if (scan.state == chunked_scan::malformed || !fill()) return false;
    }
  }
  /// Sends the next `n` bytes to `to` as they arrive (discards them when `to` is -1); false
  /// when the stream ends first or sending fails.
  bool relay(std::uint64_t n, int to) {
    for (;;) {
      auto piece = view().substr(0, static_cast<std::size_t>(std::min<std::uint64_t>(n, view().size())));
      if (to >= 0 && !send_all(to, piece)) return false;
      n -= piece.size();
      pos_ += piece.size();
      if (n == 0) return true;
      if (!fill()) return false;
    }
  }
  /// Bytes received on this connection so far.
  [[nodiscard]] std::uint64_t received() const noexcept { return received_; }

 private:
  std::string_view view() const { return std::string_view(buffer_).substr(pos_); }
  std::string take(std::size_t n) {
    std::string out = buffer_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  bool fill() {
    if (pos_ > 0) {
      buffer_.erase(0, pos_);
      pos_ = 0;
    }
    char chunk[65536];
    for (;;) {
      auto n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      buffer_.append(chunk, static_cast<std::size_t>(n));
      received_ += static_cast<std::uint64_t>(n);
      return true;
    }
  }

  int fd_;
  std::string buffer_;
  std::size_t pos_ = 0;
  std::uint64_t received_ = 0;
};

bool read_body(reader& in, framing f, std::string& out) {
  switch (f.kind) {
    case framing::length: return in.read(static_cast<std::size_t>(f.size), out);
    case framing::chunked: return in.read_chunked(out);
    default: return true;
  }
}

std::string reason_phrase(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

/// An error response with S3's XML error body.
std::string s3_error(int status, std::string_view code, std::string_view text, std::string_view resource,
                     bool close) {
  std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>";
  body += code;
  body += "</Code><Message>";
  body += text;
  body += "</Message><Resource>";
  body += resource;
  body += "</Resource><RequestId>sluice-fault-proxy</RequestId></Error>";
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) +
                    "\r\nContent-Type: application/xml\r\nx-amz-request-id: sluice-fault-proxy\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n";
  if (close) out += "Connection: close\r\n";
  return out + "\r\n" + body;
}

}  // namespace

struct fault_proxy::connection {
  std::thread thread;
  int client = -1;    // the sockets are closed by the session and shut down by the destructor,
  int upstream = -1;  // both under mutex_
  std::atomic<bool> done{false};
};

/// One client connection: reads its requests one after another, applies the rules and relays
/// each to the upstream connection.
class fault_proxy::session {
 public:
  session(fault_proxy& proxy, connection& c) : proxy_(proxy), c_(c), client_(c.client) {}

  void run() {
    while (auto head = client_.read_head()) {
      auto req = parse_head(std::move(*head), true);
      auto body = req ? request_framing(*req) : std::nullopt;
      if (!req || !body) {
        proxy_.record({.method = req ? req->method : "", .target = req ? req->target : "", .status = 400});
        send_all(c_.client, s3_error(400, "BadRequest", "The proxy could not parse this request.", "", true));
        return;
      }
      if (!handle(*req, *body)) return;
    }
  }

 private:
  /// Handles one request; false when the client connection must close.
  bool handle(const message& req, framing body_framing) {
    exchange ex{.method = req.method, .target = req.target};
    auto [path, query] = split_target(req.target);
    auto rule = proxy_.match(req.method, path, query);
    ex.applied = rule ? std::optional(rule->action) : std::nullopt;
    auto action = ex.applied;
    bool has_body = body_framing.kind != framing::none;
    bool expects_continue = has_body && has_token(req.header("expect"), "100-continue");
    std::string body;

    if (action == fault::slow_down_503 || action == fault::internal_error_500) {
      // The body was not wanted: read it when the client is sending it anyway; when it waits
      // for 100 Continue it may never send it, so answer at once and close instead.
      if (!expects_continue && !read_body(client_, body_framing, body)) return false;
      ex.request_body_bytes = body.size();
      bool close = expects_continue || !req.keep_alive();
      ex.status = action == fault::slow_down_503 ? 503 : 500;
      proxy_.record(ex);
      send_all(c_.client, ex.status == 503
                              ? s3_error(503, "SlowDown", "Please reduce your request rate.", path, close)
                              : s3_error(500, "InternalError", "We encountered an internal error. Please try again.",
                                         path, close));
      return !close;
    }

    // Answered here and not forwarded: an upstream 100 would only be dropped, and its separate
    // small write can wait out a delayed ACK. Signers never sign Expect (SigV4 leaves it out).
    std::string head = expects_continue ? without_field(req.head, "expect") : req.head;
    if (expects_continue && !send_all(c_.client, "HTTP/1.1 100 Continue\r\n\r\n")) return false;

    if (action == fault::reset_during_request_body) {
      // A chunked body is read whole and cut: it may be shorter than after_bytes.
      auto part = std::min<std::uint64_t>(body_framing.size, rule->after_bytes);
      bool read = body_framing.kind == framing::length ? client_.read(static_cast<std::size_t>(part), body)
                                                       : read_body(client_, body_framing, body);
      if (!read) return false;
      body.resize(std::min(body.size(), rule->after_bytes));
      if (c_.upstream >= 0 || proxy_.connect_upstream(c_.upstream)) {
        send_all(c_.upstream, head);
        send_all(c_.upstream, body);
      }
      ex.request_body_bytes = body.size();
      proxy_.record(ex);
      proxy_.close_socket(c_.upstream, true);
      proxy_.close_socket(c_.client, true);
      return false;
    }

    if (!read_body(client_, body_framing, body)) return false;
    ex.request_body_bytes = body.size();
    auto checksums = check_checksums(req, body);
    ex.checksum_checked = checksums.checked;
    ex.checksum_ok = checksums.ok;
    if (checksums.checked && !checksums.ok && reject_bad_checksums()) {
      ex.status = 400;
      proxy_.record(ex);
      return send_all(c_.client,
                      s3_error(400, "BadDigest",
                               "The Content-MD5 or checksum value that you specified did not match what the "
                               "server received.",
                               path, !req.keep_alive())) &&
             req.keep_alive();
    }

    auto resp = forward(head, body);
    auto resp_framing = resp ? response_framing(*resp, req.method) : std::nullopt;
    if (!resp || !resp_framing) {
      ex.status = 502;
      proxy_.record(ex);
      send_all(c_.client,
               s3_error(502, "BadGateway", "The fault proxy got no valid answer from the upstream.", path, true));
      return false;
    }
    ex.upstream_status = resp->status;
    ex.status = action == fault::reset_before_response ? 0 : resp->status;
    proxy_.record(ex);

    if (action == fault::reset_before_response) {
      // Let the upstream finish, so the request took effect though the client never hears.
      relay_body(*resp_framing, -1);
      proxy_.close_socket(c_.client, true);
      return false;
    }
    if (action == fault::stall_before_response && !proxy_.sleep_for(rule->stall)) return false;
    if (!send_all(c_.client, resp->head)) return false;
    if (action == fault::truncate_response_body) {
      relay_body(*resp_framing, c_.client, rule->after_bytes);
      return false;
    }
    return relay_body(*resp_framing, c_.client) && resp_framing->kind != framing::until_close &&
           action != fault::close_after_response && req.keep_alive() && resp->keep_alive();
  }

  [[nodiscard]] bool reject_bad_checksums() const {
    std::lock_guard lock(proxy_.mutex_);
    return proxy_.reject_bad_checksums_;
  }

  /// Sends the request upstream and reads the final response head. A kept-alive upstream
  /// connection the server closed meanwhile fails before any byte comes back: then the request
  /// is sent once more on a new connection.
  std::optional<message> forward(std::string_view head, std::string_view body) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool reused = c_.upstream >= 0;
      if (!reused) {
        if (!proxy_.connect_upstream(c_.upstream)) return std::nullopt;
        upstream_.emplace(c_.upstream);
      }
      auto received_before = upstream_->received();
      // A server may answer before it has read the whole body and stop reading, so the answer
      // is looked for even when sending failed.
      (void)(send_all(c_.upstream, head) && send_all(c_.upstream, body));
      while (auto resp_head = upstream_->read_head()) {
        auto resp = parse_head(std::move(*resp_head), false);
        // Interim responses carry nothing the client needs.
        if (resp && resp->status < 200 && resp->status != 101) continue;
        return resp;
      }
      bool retry = reused && upstream_->received() == received_before;
      proxy_.close_socket(c_.upstream);
      upstream_.reset();
      if (!retry) return std::nullopt;
    }
    return std::nullopt;
  }

  /// Relays the response body to `to` (discards it when `to` is -1), at most `limit` bytes of
  /// it as sent on the wire. True when the whole body went through. The upstream connection is
  /// closed when it cannot carry another response: the body was cut short, or ends with it.
  bool relay_body(framing f, int to, std::uint64_t limit = UINT64_MAX) {
    bool whole = true;
    switch (f.kind) {
      case framing::none: break;
      case framing::length: whole = upstream_->relay(std::min(f.size, limit), to) && f.size <= limit; break;
      case framing::until_close:
        upstream_->relay(limit, to);  // false at the end of the stream, which is this body's end
        whole = limit == UINT64_MAX;
        break;
      case framing::chunked: {
        std::string raw;
        whole = upstream_->read_chunked(raw) && raw.size() <= limit;
        raw.resize(static_cast<std::size_t>(std::min<std::uint64_t>(raw.size(), limit)));
        if (to >= 0 && !send_all(to, raw)) whole = false;
        break;
      }
    }
    if (!whole || f.kind == framing::until_close) {
      proxy_.close_socket(c_.upstream);
      upstream_.reset();
    }
    return whole;
  }

  fault_proxy& proxy_;
  connection& c_;
  reader client_;
  std::optional<reader> upstream_;
};

// ---- fault_proxy -------------------------------------------------------------------------------

fault_proxy::fault_proxy(std::string upstream_host, std::uint16_t upstream_port)
    : upstream_host_(std::move(upstream_host)), upstream_port_(upstream_port) {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener_ < 0) throw std::system_error(errno, std::generic_category(), "fault_proxy: socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener_, 128) != 0 ||
      ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int e = errno;
    ::close(listener_);
    throw std::system_error(e, std::generic_category(), "fault_proxy: listening on 127.0.0.1");
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

fault_proxy::~fault_proxy() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stopped_.notify_all();
  ::shutdown(listener_, SHUT_RDWR);  // wakes accept()
  acceptor_.join();
  ::close(listener_);
  {
    // Wakes every session blocked on a socket; each then closes its own sockets and ends.
    std::lock_guard lock(mutex_);
    for (auto& c : connections_)
      for (int fd : {c->client, c->upstream})
        if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& c : connections_) c->thread.join();
}

std::string fault_proxy::endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

void fault_proxy::add_rule(fault_rule rule) {
  std::lock_guard lock(mutex_);
  rules_.push_back({std::move(rule)});
}

void fault_proxy::clear_rules() {
  std::lock_guard lock(mutex_);
  rules_.clear();
}

void fault_proxy::reject_bad_checksums(bool on) {
  std::lock_guard lock(mutex_);
  reject_bad_checksums_ = on;
}

std::vector<fault_proxy::exchange> fault_proxy::log() const {
  std::lock_guard lock(mutex_);
  return log_;
}

std::size_t fault_proxy::count(std::string_view method, std::string_view path_contains,
                               std::string_view query_contains) const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(std::count_if(log_.begin(), log_.end(), [&](const exchange& e) {
    auto [path, query] = split_target(e.target);
    return selects(method, path_contains, query_contains, e.method, path, query);
  }));
}

std::size_t fault_proxy::connections() const {
  std::lock_guard lock(mutex_);
  return accepted_;
}

void fault_proxy::accept_loop() {
  for (;;) {
    int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0 && errno != EINTR && errno != ECONNABORTED && !sleep_for(std::chrono::milliseconds(10))) return;
    std::lock_guard lock(mutex_);
    if (stopping_) {
      if (fd >= 0) ::close(fd);
      return;
    }
    if (fd < 0) continue;
    set_no_delay(fd);
    // Join the sessions that ended, so a long test does not accumulate threads.
    std::erase_if(connections_, [](const auto& c) {
      if (!c->done) return false;
      c->thread.join();
      return true;
    });
    auto& c = *connections_.emplace_back(std::make_unique<connection>());
    c.client = fd;
    ++accepted_;
    c.thread = std::thread([this, &c] { serve(c); });
  }
}

void fault_proxy::serve(connection& c) {
  session(*this, c).run();
  close_socket(c.upstream);
  close_socket(c.client);
  c.done = true;
}

std::optional<fault_rule> fault_proxy::match(std::string_view method, std::string_view path, std::string_view query) {
  std::lock_guard lock(mutex_);
  for (auto& r : rules_) {
    if (!selects(r.rule.method, r.rule.path_contains, r.rule.query_contains, method, path, query)) continue;
    if (r.seen++ < r.rule.skip) continue;
    if (r.rule.times >= 0 && r.applied >= r.rule.times) continue;
    ++r.applied;
    return r.rule;
  }
  return std::nullopt;
}

void fault_proxy::record(exchange e) {
  std::lock_guard lock(mutex_);
  log_.push_back(std::move(e));
}

void fault_proxy::close_socket(int& fd, bool reset) {
  std::lock_guard lock(mutex_);
  if (fd < 0) return;
  if (reset) {
    linger l{1, 0};  // close() then sends RST instead of FIN
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  ::close(fd);
  fd = -1;
}

bool fault_proxy::connect_upstream(int& fd) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(upstream_host_.c_str(), std::to_string(upstream_port_).c_str(), &hints, &found) != 0) return false;
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(found, &::freeaddrinfo);
  for (auto* a = found; a; a = a->ai_next) {
    {
      // Registered before connecting, so the destructor can interrupt it.
      std::lock_guard lock(mutex_);
      if (stopping_) return false;
      fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) continue;
    }
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      set_no_delay(fd);
      return true;
    }
    close_socket(fd);
  }
  return false;
}

bool fault_proxy::sleep_for(std::chrono::milliseconds d) {
  std::unique_lock lock(mutex_);
  return !stopped_.wait_for(lock, d, [this] { return stopping_; });
}

}  // namespace sluice_test
