// SPDX-License-Identifier: Apache-2.0
#include <sluice_test/fault_proxy.hpp>

#include <catch2/catch.hpp>
#include <curl/curl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

using sluice_test::fault;
using sluice_test::fault_proxy;
using namespace std::chrono_literals;

namespace {

// ---- a small origin server for the proxy to forward to -----------------------------------------

/// An HTTP/1.1 server on 127.0.0.1, a thread per connection, kept alive. PUT stores the body
/// under the path, GET serves it back, HEAD gives its length, DELETE answers 204, and
/// `Expect: 100-continue` gets a 100. The query picks how GET answers: `chunked`, `close` (the
/// body ends when the connection does), `interim` (a 103 first), `then-close` (a whole response,
/// then the kept-alive connection is closed).
class origin {
 public:
  struct request {
    std::string method, target, body;
    std::map<std::string, std::string> headers;  // names lower-cased
    [[nodiscard]] std::string header(const std::string& name) const {
      auto found = headers.find(name);
      return found == headers.end() ? "" : found->second;
    }
  };

  origin() {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listener_, 64) == 0);
    REQUIRE(::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] {
      for (int fd; (fd = ::accept(listener_, nullptr, nullptr)) >= 0;) {
        std::lock_guard lock(mutex_);
        fds_.push_back(fd);
        threads_.emplace_back([this, fd] { serve(fd); });
      }
    });
  }
  ~origin() {
    ::shutdown(listener_, SHUT_RDWR);
    acceptor_.join();
    ::close(listener_);
    {
      std::lock_guard lock(mutex_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : threads_) t.join();
    for (int fd : fds_) ::close(fd);
  }

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] std::vector<request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  [[nodiscard]] std::size_t connections() const {
    std::lock_guard lock(mutex_);
    return fds_.size();
  }

 private:
  void serve(int fd) {
    std::string in;
    auto fill = [&] {
      char buf[65536];
      auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) in.append(buf, static_cast<std::size_t>(n));
      return n > 0;
    };
    auto need = [&](std::size_t n) {
      while (in.size() < n)
        if (!fill()) return false;
      return true;
    };
    auto send = [&](const std::string& s) { return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == ssize_t(s.size()); };
    for (;;) {
      std::size_t end;
      while ((end = in.find("\r\n\r\n")) == std::string::npos)
        if (!fill()) return;
      request r;
      std::string head = in.substr(0, end + 2);
      in.erase(0, end + 4);
      auto eol = head.find("\r\n");
      auto line = head.substr(0, eol);
      r.method = line.substr(0, line.find(' '));
      r.target = line.substr(r.method.size() + 1, line.rfind(' ') - r.method.size() - 1);
      for (auto at = eol + 2; at < head.size();) {
        auto next = head.find("\r\n", at);
        auto field = head.substr(at, next - at);
        auto colon = field.find(':');
        std::string name = field.substr(0, colon);
        for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        r.headers[name] = field.substr(field.find_first_not_of(' ', colon + 1));
        at = next + 2;
      }
      if (r.header("expect") == "100-continue" && !send("HTTP/1.1 100 Continue\r\n\r\n")) return;
      if (r.header("transfer-encoding") == "chunked") {
        for (;;) {
          std::size_t line_end;
          while ((line_end = in.find("\r\n")) == std::string::npos)
            if (!fill()) return;
          auto size = std::stoul(in.substr(0, line_end), nullptr, 16);
          if (!need(line_end + 2 + size + 2)) return;
          r.body += in.substr(line_end + 2, size);
          in.erase(0, line_end + 2 + size + 2);  // a last chunk without trailers ends with CRLF CRLF
          if (size == 0) break;
        }
      } else if (r.headers.count("content-length")) {
        auto size = std::stoul(r.header("content-length"));
        if (!need(size)) return;
        r.body = in.substr(0, size);
        in.erase(0, size);
      }
      std::string path = r.target.substr(0, r.target.find('?'));
      std::string query = r.target.find('?') == std::string::npos ? "" : r.target.substr(r.target.find('?') + 1);
      std::optional<std::string> object;
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(r);
        if (r.method == "PUT") objects_[path] = r.body;
        if (objects_.count(path)) object = objects_[path];
      }
      std::string out;
      if (r.method == "PUT") {
        out = "HTTP/1.1 200 OK\r\nETag: \"etag-" + std::to_string(r.body.size()) + "\"\r\nContent-Length: 0\r\n\r\n";
      } else if (r.method == "DELETE") {
        out = "HTTP/1.1 204 No Content\r\n\r\n";
      } else if (!object) {
        std::string body = "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code></Error>";
        out = "HTTP/1.1 404 Not Found\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
        if (r.method != "HEAD") out += body;
      } else if (r.method == "HEAD") {
        out = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(object->size()) + "\r\n\r\n";
      } else if (query == "chunked") {
        out = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        for (std::size_t at = 0; at < object->size(); at += 4000) {
          auto piece = object->substr(at, 4000);
          char size[32];
          std::snprintf(size, sizeof size, "%zx;ext=1\r\n", piece.size());
          out += size + piece + "\r\n";
        }
        out += "0\r\nx-trailer: t\r\n\r\n";
      } else if (query == "interim") {
        out = "HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: " +
              std::to_string(object->size()) + "\r\n\r\n" + *object;
      } else if (query == "then-close") {
        // Closes a kept-alive connection after a response, as servers do when it idles.
        send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(object->size()) + "\r\n\r\n" + *object);
        ::shutdown(fd, SHUT_RDWR);
        return;
      } else if (query == "close") {
        if (send("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + *object)) ::shutdown(fd, SHUT_WR);
        return;
      } else {
        out = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(object->size()) + "\r\n\r\n" + *object;
      }
      if (!send(out)) return;
    }
  }

  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::vector<int> fds_;
  std::vector<std::thread> threads_;
  std::vector<request> requests_;
  std::map<std::string, std::string> objects_;
};

// ---- a libcurl client ----------------------------------------------------------------------------

struct reply {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string headers, body;
  std::chrono::milliseconds took{0};
};

struct request_options {
  std::vector<std::string> headers;
  bool chunked = false;  // send the body with Transfer-Encoding: chunked
  long timeout_ms = 10000;
};

/// One easy handle, so its requests share kept-alive connections.
class http_client {
 public:
  using options = request_options;

  http_client() {
    static const bool initialised = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    REQUIRE(initialised);
    handle_ = curl_easy_init();
    REQUIRE(handle_);
  }
  ~http_client() { curl_easy_cleanup(handle_); }
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  reply get(const std::string& url, const options& o = {}) { return perform("GET", url, nullptr, o); }
  reply head(const std::string& url) { return perform("HEAD", url, nullptr, {}); }
  reply put(const std::string& url, const std::string& body, const options& o = {}) {
    return perform("PUT", url, &body, o);
  }
  reply del(const std::string& url) { return perform("DELETE", url, nullptr, {}); }

 private:
  struct upload {
    std::string_view rest;
  };
  static std::size_t on_write(char* p, std::size_t size, std::size_t n, void* out) {
    static_cast<std::string*>(out)->append(p, size * n);
    return size * n;
  }
  static std::size_t on_read(char* p, std::size_t size, std::size_t n, void* in) {
    auto& u = *static_cast<upload*>(in);
    auto k = std::min(size * n, u.rest.size());
    std::copy_n(u.rest.data(), k, p);
    u.rest.remove_prefix(k);
    return k;
  }

  reply perform(const char* method, const std::string& url, const std::string* body, const options& o) {
    // curl_easy_reset keeps the handle's open connections: that is how the tests see keep-alive.
    curl_easy_reset(handle_);
    reply r;
    upload up{body ? std::string_view(*body) : std::string_view{}};
    curl_slist* headers = nullptr;
    for (const auto& h : o.headers) headers = curl_slist_append(headers, h.c_str());
    if (o.chunked) headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
    curl_easy_setopt(handle_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(handle_, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(handle_, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(handle_, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(handle_, CURLOPT_HEADERFUNCTION, on_write);
    curl_easy_setopt(handle_, CURLOPT_HEADERDATA, &r.headers);
    curl_easy_setopt(handle_, CURLOPT_TIMEOUT_MS, o.timeout_ms);
    // Long enough that a proxy which never answers 100 Continue shows in the timings.
    curl_easy_setopt(handle_, CURLOPT_EXPECT_100_TIMEOUT_MS, 5000L);
    if (std::string_view(method) == "HEAD") {
      curl_easy_setopt(handle_, CURLOPT_NOBODY, 1L);
    } else if (body) {
      curl_easy_setopt(handle_, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(handle_, CURLOPT_READFUNCTION, on_read);
      curl_easy_setopt(handle_, CURLOPT_READDATA, &up);
      if (!o.chunked) curl_easy_setopt(handle_, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body->size()));
    } else if (std::string_view(method) != "GET") {
      curl_easy_setopt(handle_, CURLOPT_CUSTOMREQUEST, method);
    }
    auto start = std::chrono::steady_clock::now();
    r.code = curl_easy_perform(handle_);
    r.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    curl_easy_getinfo(handle_, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(headers);
    return r;
  }

  CURL* handle_ = nullptr;
};

std::string random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen() & 0xFF);
  return s;
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

/// Whether `condition` holds within two seconds: for what another thread does after the client
/// has its answer.
template <class Condition>
bool eventually(Condition condition) {
  for (int i = 0; i < 200 && !condition(); ++i) std::this_thread::sleep_for(10ms);
  return condition();
}

}  // namespace

TEST_CASE("fault_proxy passes PUT, GET and HEAD through on one kept-alive connection", "[support][fault_proxy]") {
  origin up;
  fault_proxy proxy("127.0.0.1", up.port());
  http_client client;
  auto payload = random_bytes(100'000, 1);

  auto put = client.put(proxy.endpoint() + "/bucket/key?x-id=PutObject", payload, {.headers = {"x-amz-meta-a: 1"}});
  REQUIRE(put.code == CURLE_OK);
  CHECK(put.status == 200);
  CHECK(contains(put.headers, "ETag: \"etag-100000\""));
  auto get = client.get(proxy.endpoint() + "/bucket/key");
  REQUIRE(get.code == CURLE_OK);
  CHECK(get.status == 200);
  CHECK(get.body == payload);
  auto head = client.head(proxy.endpoint() + "/bucket/key");
  REQUIRE(head.code == CURLE_OK);
  CHECK(head.status == 200);
  CHECK(contains(head.headers, "Content-Length: 100000"));
  CHECK(head.body.empty());
  auto interim = client.get(proxy.endpoint() + "/bucket/key?interim");  // the 103 is not relayed
  CHECK(interim.body == payload);
  CHECK_FALSE(contains(interim.headers, "103"));
  auto missing = client.get(proxy.endpoint() + "/bucket/none");
  CHECK(missing.status == 404);
  CHECK(contains(missing.body, "<Code>NoSuchKey</Code>"));
  auto del = client.del(proxy.endpoint() + "/bucket/key");
  CHECK(del.status == 204);

  CHECK(proxy.connections() == 1);
  CHECK(up.connections() == 1);
  auto seen = up.requests();
  REQUIRE(seen.size() == 6);
  CHECK(seen[0].target == "/bucket/key?x-id=PutObject");
  CHECK(seen[0].header("x-amz-meta-a") == "1");
  CHECK(seen[0].body == payload);
  auto log = proxy.log();
  REQUIRE(log.size() == 6);
  CHECK(log[0].method == "PUT");
  CHECK(log[0].target == "/bucket/key?x-id=PutObject");
  CHECK(log[0].status == 200);
  CHECK(log[0].upstream_status == 200);
  CHECK(log[0].request_body_bytes == payload.size());
  CHECK_FALSE(log[0].applied);
  CHECK_FALSE(log[0].checksum_checked);
  CHECK(log[2].method == "HEAD");
  CHECK(log[4].status == 404);
  CHECK(log[5].status == 204);
}

TEST_CASE("fault_proxy relays chunked bodies both ways and responses that end when the server closes",
          "[support][fault_proxy]") {
  origin up;
  fault_proxy proxy("127.0.0.1", up.port());
  http_client client;
  auto payload = random_bytes(70'000, 2);

  auto put = client.put(proxy.endpoint() + "/b/chunked", payload, {.chunked = true});
  REQUIRE(put.code == CURLE_OK);
  CHECK(put.status == 200);
  REQUIRE(up.requests().size() == 1);
  CHECK(up.requests()[0].header("transfer-encoding") == "chunked");
  CHECK(up.requests()[0].body == payload);
  CHECK(proxy.log()[0].request_body_bytes > payload.size());  // the chunk framing is counted

  auto chunked = client.get(proxy.endpoint() + "/b/chunked?chunked");
  REQUIRE(chunked.code == CURLE_OK);
  CHECK(contains(chunked.headers, "Transfer-Encoding: chunked"));
  CHECK(chunked.body == payload);

  auto until_close = client.get(proxy.endpoint() + "/b/chunked?close");
  REQUIRE(until_close.code == CURLE_OK);
  CHECK(until_close.body == payload);
  // The body ended with the connection, so the next request needs a new one.
  auto again = client.get(proxy.endpoint() + "/b/chunked");
  CHECK(again.body == payload);
  CHECK(proxy.connections() == 2);
}

TEST_CASE("fault_proxy sends a request again on a new upstream connection when the server closed the idle one",
          "[support][fault_proxy]") {
  origin up;
  fault_proxy proxy("127.0.0.1", up.port());
  http_client client;
  REQUIRE(client.put(proxy.endpoint() + "/b/k", "abc").status == 200);
  CHECK(client.get(proxy.endpoint() + "/b/k?then-close").body == "abc");
  std::this_thread::sleep_for(50ms);  // let the close arrive, as it would while idle
  auto after = client.get(proxy.endpoint() + "/b/k");
  REQUIRE(after.code == CURLE_OK);
  CHECK(after.body == "abc");
  CHECK(proxy.connections() == 1);
  CHECK(up.connections() == 2);
  CHECK(up.requests().size() == 3);
}

TEST_CASE("fault_proxy lets a 2 MiB PUT with Expect: 100-continue go through without curl's expect wait",
          "[support][fault_proxy]") {
  origin up;
  fault_proxy proxy("127.0.0.1", up.port());
  http_client client;
  auto payload = random_bytes(2 << 20, 3);

  for (int i = 0; i < 2; ++i) {
    auto put = client.put(proxy.endpoint() + "/b/big" + std::to_string(i), payload,
                          {.headers = {"Expect: 100-continue"}});
    REQUIRE(put.code == CURLE_OK);
    CHECK(put.status == 200);
    CHECK(put.took < 2000ms);  // curl waits 5 s for a 100 Continue that does not come
  }
  auto seen = up.requests();
  REQUIRE(seen.size() == 2);
  // The proxy answered the Expect; the server got the request without it.
  CHECK(seen[1].headers.count("expect") == 0);
  CHECK(seen[1].header("content-length") == std::to_string(payload.size()));
  CHECK(seen[1].body == payload);
  CHECK(client.get(proxy.endpoint() + "/b/big1").body == payload);
  CHECK(proxy.connections() == 1);
}

TEST_CASE("fault_proxy answers SlowDown and InternalError as S3 does, without forwarding the request",
          "[support][fault_proxy]") {
  auto [action, status, code] = GENERATE(table<fault, long, std::string>(
      {{fault::slow_down_503, 503, "SlowDown"}, {fault::internal_error_500, 500, "InternalError"}}));
  origin up;
  fault_proxy proxy("127.0.0.1", up.port());
  http_client client;
  auto small = random_bytes(10'000, 4);

  // curl 7.88 sends Expect: 100-continue with every PUT body; "Expect:" turns that off.
  const request_options no_expect{.headers = {"Expect:"}};
  proxy.add_rule({.method = "PUT", .action = action});
  auto failed = client.put(proxy.endpoint() + "/b/k", small, no_expect);
  REQUIRE(failed.code == CURLE_OK);
  CHECK(failed.status == status);
  CHECK(contains(failed.headers, "Content-Type: application/xml"));
  CHECK(contains(failed.body, "<?xml"));
  CHECK(contains(failed.body, "<Code>" + code + "</Code>"));
  CHECK(up.requests().empty());
  auto log = proxy.log();
  REQUIRE(log.size() == 1);
  CHECK(log[0].applied == action);
  CHECK(log[0].status == status);
  CHECK(log[0].upstream_status == 0);
  CHECK(log[0].request_body_bytes == small.size());  // drained, so the connection stays usable

  auto retried = client.put(proxy.endpoint() + "/b/k", small, no_expect);
  CHECK(retried.status == 200);
  CHECK(proxy.connections() == 1);

  // A client waiting for 100 Continue is answered at once and the connection is closed, as it
  // may or may not send the body.
  proxy.add_rule({.method = "PUT", .action = action});
  auto big = client.put(proxy.endpoint() + "/b/big", small, {.headers = {"Expect: 100-continue"}});
  REQUIRE(big.code == CURLE_OK);
  CHECK(big.status == status);
  CHECK(big.took < 2000ms);
  CHECK(client.get(proxy.endpoint() + "/b/big").status == 404);
  CHECK(proxy.connections() == 2);
  CHECK(up.requests().size() == 2);
}

TEST_CASE("fault_proxy resets the connection after part of the request body", "[support][fault_proxy]") {
  origin up;
  fault_proxy proxy("127.0.0.1", up.port());
  proxy.add_rule({.method = "PUT", .action = fault::reset_during_request_body, .after_bytes = 1000});

  auto failed = http_client().put(proxy.endpoint() + "/b/k", random_bytes(512 * 1024, 6));
  CHECK((failed.code == CURLE_SEND_ERROR || failed.code == CURLE_RECV_ERROR));
  auto log = proxy.log();
  REQUIRE(log.size() == 1);
  CHECK(log[0].applied == fault::reset_during_request_body);
  CHECK(log[0].request_body_bytes == 1000);
  CHECK(log[0].status == 0);
  CHECK(eventually([&] { return up.connections() == 1; }));  // the server saw the start of the request ...
  auto after = http_client().get(proxy.endpoint() + "/b/k");
  CHECK(after.status == 404);  // ... but never a whole one

  // The rule applied once; the next upload passes.
  auto payload = random_bytes(512 * 1024, 7);
  CHECK(http_client().put(proxy.endpoint() + "/b/k", payload).status == 200);
  CHECK(http_client().get(proxy.endpoint() + "/b/k").body == payload);
}

TEST_CASE("fault_proxy resets the client after the server has carried out the request", "[support][fault_proxy]") {
  origin up;
  fault_proxy proxy("127.0.0.1", up.port());
  proxy.add_rule({.method = "PUT", .action = fault::reset_before_response});
  auto payload = random_bytes(20'000, 8);

  auto failed = http_client().put(proxy.endpoint() + "/b/k", payload);
  CHECK(failed.code == CURLE_RECV_ERROR);
  auto log = proxy.log();
  REQUIRE(log.size() == 1);
  CHECK(log[0].applied == fault::reset_before_response);
  CHECK(log[0].upstream_status == 200);
  CHECK(log[0].status == 0);
  // The object was stored although the client never heard so.
  CHECK(http_client().get(proxy.endpoint() + "/b/k").body == payload);
}

TEST_CASE("fault_proxy stalls the response: a short client timeout expires, a patient client gets it",
          "[support][fault_proxy]") {
  origin up;
  fault_proxy proxy("127.0.0.1", up.port());
  auto payload = random_bytes(1000, 9);
  REQUIRE(http_client().put(proxy.endpoint() + "/b/k", payload).status == 200);

  proxy.add_rule({.method = "GET", .action = fault::stall_before_response, .stall = 3000ms});
  auto impatient = http_client().get(proxy.endpoint() + "/b/k", {.timeout_ms = 300});
  CHECK(impatient.code == CURLE_OPERATION_TIMEDOUT);
  CHECK(impatient.took < 2000ms);

  proxy.add_rule({.method = "GET", .action = fault::stall_before_response, .stall = 400ms});
  auto patient = http_client().get(proxy.endpoint() + "/b/k");
  REQUIRE(patient.code == CURLE_OK);
  CHECK(patient.body == payload);
  CHECK(patient.took >= 400ms);
  CHECK(proxy.count("GET") == 2);
}

TEST_CASE("fault_proxy truncates the response body and curl reports a partial transfer", "[support][fault_proxy]") {
  origin up;
  fault_proxy proxy("127.0.0.1", up.port());
  auto payload = random_bytes(10'000, 10);
  REQUIRE(http_client().put(proxy.endpoint() + "/b/k", payload).status == 200);

  proxy.add_rule({.method = "GET", .action = fault::truncate_response_body, .after_bytes = 100});
  auto cut = http_client().get(proxy.endpoint() + "/b/k");
  CHECK(cut.code == CURLE_PARTIAL_FILE);
  CHECK(cut.status == 200);
  CHECK(cut.body == payload.substr(0, 100));
  CHECK(proxy.log().back().applied == fault::truncate_response_body);
  CHECK(http_client().get(proxy.endpoint() + "/b/k").body == payload);
}

TEST_CASE("fault_proxy closes a kept-alive connection after a whole response", "[support][fault_proxy]") {
  origin up;
  fault_proxy proxy("127.0.0.1", up.port());
  http_client client;
  auto payload = random_bytes(5000, 11);
  REQUIRE(client.put(proxy.endpoint() + "/b/k", payload).status == 200);

  proxy.add_rule({.method = "GET", .action = fault::close_after_response});
  auto first = client.get(proxy.endpoint() + "/b/k");
  REQUIRE(first.code == CURLE_OK);
  CHECK(first.body == payload);
  CHECK(proxy.connections() == 1);
  auto second = client.get(proxy.endpoint() + "/b/k");
  REQUIRE(second.code == CURLE_OK);
  CHECK(second.body == payload);
  CHECK(proxy.connections() == 2);
}

TEST_CASE("fault_proxy rules match method, path and query, skip the first matches and apply a set number of times",
          "[support][fault_proxy]") {
  origin up;
  fault_proxy proxy("127.0.0.1", up.port());
  http_client client;
  const std::string part2 = "/b/k?partNumber=2&uploadId=u";
  proxy.add_rule({.method = "PUT",
                  .path_contains = "/b/",
                  .query_contains = "partNumber=2",
                  .skip = 1,
                  .times = 2,
                  .action = fault::slow_down_503});

  std::vector<long> statuses;
  statuses.push_back(client.put(proxy.endpoint() + "/b/k?partNumber=1&uploadId=u", "1").status);  // query differs
  statuses.push_back(client.get(proxy.endpoint() + part2).status);                               // method differs
  statuses.push_back(client.put(proxy.endpoint() + "/c/k?partNumber=2&uploadId=u", "2").status);  // path differs
  for (int i = 0; i < 4; ++i) statuses.push_back(client.put(proxy.endpoint() + part2, "2").status);
  CHECK(statuses == std::vector<long>{200, 200, 200, 200, 503, 503, 200});
  CHECK(proxy.count("PUT", "/b/", "partNumber=2") == 4);
  CHECK(proxy.count("PUT") == 6);
  CHECK(proxy.count("", "", "partNumber=2") == 6);
  CHECK(proxy.count("GET", "/c/") == 0);

  // times = -1 applies to every match until the rules are cleared.
  proxy.add_rule({.method = "DELETE", .times = -1, .action = fault::internal_error_500});
  for (int i = 0; i < 3; ++i) CHECK(client.del(proxy.endpoint() + "/b/k").status == 500);
  proxy.clear_rules();
  CHECK(client.del(proxy.endpoint() + "/b/k").status == 204);
}

TEST_CASE("fault_proxy checks checksum headers and trailers, and answers BadDigest when rejecting",
          "[support][fault_proxy]") {
  origin up;
  fault_proxy proxy("127.0.0.1", up.port());
  http_client client;
  // Digests of this text from Python's hashlib and zlib (CRC32C from a bitwise reference).
  const std::string text = "The quick brown fox jumps over the lazy dog";
  const std::vector<std::string> good = {
      "Content-MD5: nhB9nTcrtoJr2B01QqQZ1g==",
      "x-amz-checksum-crc32c: ImIEBA==",
      "x-amz-checksum-crc32: QU+jOQ==",
      "x-amz-checksum-sha1: L9ThxnotKPzthJ7hu3bnORuT6xI=",
      "x-amz-checksum-sha256: 16j7swfXgJRpypq8sAguT41WUeRtPNt2LQLQvzfJ5ZI=",
  };
  for (const auto& header : good) {
    INFO(header);
    REQUIRE(client.put(proxy.endpoint() + "/b/k", text, {.headers = {header}}).status == 200);
    auto e = proxy.log().back();
    CHECK(e.checksum_checked);
    CHECK(e.checksum_ok);
  }
  // The same, with the body sent chunked: the framing is not part of the checksum.
  REQUIRE(client.put(proxy.endpoint() + "/b/k", text, {.headers = {good[1]}, .chunked = true}).status == 200);
  CHECK(proxy.log().back().checksum_ok);

  client.put(proxy.endpoint() + "/b/k", text);
  CHECK_FALSE(proxy.log().back().checksum_checked);

  // Off by default: a mismatch is recorded and forwarded.
  auto wrong = client.put(proxy.endpoint() + "/b/k", text + ".", {.headers = {good[1]}});
  CHECK(wrong.status == 200);
  CHECK(proxy.log().back().checksum_checked);
  CHECK_FALSE(proxy.log().back().checksum_ok);
  // Not base64 at all: a mismatch too.
  client.put(proxy.endpoint() + "/b/k", text, {.headers = {"x-amz-checksum-sha256: ???"}});
  CHECK_FALSE(proxy.log().back().checksum_ok);

  proxy.reject_bad_checksums(true);
  auto before = up.requests().size();
  for (const auto& header : good) {
    INFO(header);
    auto rejected = client.put(proxy.endpoint() + "/b/k", text + ".", {.headers = {header}});
    CHECK(rejected.status == 400);
    CHECK(contains(rejected.body, "<Code>BadDigest</Code>"));
  }
  CHECK(up.requests().size() == before);
  CHECK(client.put(proxy.endpoint() + "/b/k", text, {.headers = {good[4]}}).status == 200);
  CHECK(proxy.connections() == 1);

  // aws-chunked with the checksum as a trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER).
  auto aws_chunked = [&](const std::string& crc) {
    std::string body = "2b\r\n" + text + "\r\n0\r\nx-amz-checksum-crc32c:" + crc + "\r\n\r\n";
    return client.put(proxy.endpoint() + "/b/k", body,
                      {.headers = {"Content-Encoding: aws-chunked",
                                   "x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                                   "x-amz-trailer: x-amz-checksum-crc32c", "x-amz-decoded-content-length: 43"}});
  };
  CHECK(aws_chunked("ImIEBA==").status == 200);
  CHECK(proxy.log().back().checksum_checked);
  CHECK(proxy.log().back().checksum_ok);
  CHECK(aws_chunked("AAAAAA==").status == 400);
  CHECK_FALSE(proxy.log().back().checksum_ok);
}

TEST_CASE("fault_proxy answers 502 when the upstream cannot be reached", "[support][fault_proxy]") {
  // A port that was just free: nothing listens there.
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(s);

  fault_proxy proxy("127.0.0.1", ntohs(addr.sin_port));
  auto r = http_client().get(proxy.endpoint() + "/b/k");
  REQUIRE(r.code == CURLE_OK);
  CHECK(r.status == 502);
  CHECK(proxy.log().at(0).status == 502);
}

TEST_CASE("destroying fault_proxy with idle connections and a stalled response returns promptly",
          "[support][fault_proxy]") {
  origin up;
  auto proxy = std::make_unique<fault_proxy>("127.0.0.1", up.port());
  proxy->add_rule({.method = "GET", .times = -1, .action = fault::stall_before_response, .stall = 30s});

  std::vector<int> idle;
  for (int i = 0; i < 3; ++i) {
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(proxy->port());
    REQUIRE(::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    timeval two_seconds{2, 0};
    ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &two_seconds, sizeof two_seconds);
    idle.push_back(s);
  }
  reply stalled;
  std::thread waiting([&, url = proxy->endpoint() + "/b/k"] {
    stalled = http_client().get(url, {.timeout_ms = 20000});
  });
  REQUIRE(eventually([&] { return proxy->count("GET") == 1; }));
  CHECK(proxy->connections() == 4);

  auto start = std::chrono::steady_clock::now();
  proxy.reset();
  CHECK(std::chrono::steady_clock::now() - start < 1s);
  waiting.join();
  CHECK(stalled.code != CURLE_OK);
  CHECK(stalled.took < 5s);
  for (int s : idle) {
    char c;
    auto n = ::recv(s, &c, 1, 0);
    CHECK((n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)));  // closed, not left open
    ::close(s);
  }
}
