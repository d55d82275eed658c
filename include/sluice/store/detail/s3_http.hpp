// SPDX-License-Identifier: Apache-2.0
#pragma once
// HTTP for the S3 store: one thread drives a libcurl multi handle, so parts upload in parallel
// over kept-alive connections while the pipeline thread goes on producing objects.
#include <sluice/core/config.hpp>
#include <sluice/aws/sigv4.hpp>
#include <sluice/core/error.hpp>

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace sluice::store::detail {

using header_list = std::vector<aws::http_header>;

/// One HTTP exchange to send: the request as signed (method, path, query, headers including
/// Host) and where to send it. The body is borrowed: it must stay alive until the completion
/// runs.
struct http_request : aws::http_request {
  std::string origin;  ///< scheme, host and port: "http://127.0.0.1:7480"
  std::string_view body;
  bool send_body = false;  ///< PUT and POST send `body` (possibly empty) with a Content-Length

  [[nodiscard]] std::string url() const { return query.empty() ? origin + path : origin + path + "?" + query; }
};

/// What came back: the status and headers (names in lower case) and the body, or the transport
/// failure (connection refused or reset, timeout, truncated response) when `transport` is set.
struct http_response {
  long status = 0;
  header_list headers;
  std::string body;
  CURLcode transport = CURLE_OK;
  std::string transport_error;

  [[nodiscard]] std::string header(std::string_view name) const {
    for (const auto& [n, v] : headers)
      if (n == name) return v;
    return {};
  }
};

inline void curl_global_once() {
  static const bool done = [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw config_error("libcurl: global initialisation failed");
    return true;
  }();
  (void)done;
}

/// Connection and pacing settings of an http_engine.
struct http_options {
  /// Connections kept open to the server (and so requests in flight at once).
  unsigned max_connections = 8;
  std::chrono::milliseconds connect_timeout{10'000};
  /// A request that moves no byte for this long fails with a timeout (and may be retried).
  std::chrono::milliseconds stall_timeout{30'000};
  /// Upload bytes per second over all requests together; 0 for no cap.
  std::uint64_t bytes_per_second = 0;
  bool verify_tls = true;
  std::string ca_file;
};

/// Runs HTTP exchanges on its own thread with libcurl's multi interface.
///
/// Thread safety: start() may be called from any thread, completions included. Completions run
/// on the engine's thread, one at a time, and must not block.
class http_engine {
 public:
  using completion = std::function<void(http_response&&)>;

  explicit http_engine(http_options options) : options_(std::move(options)) {
    curl_global_once();
    multi_ = curl_multi_init();
    if (!multi_) throw config_error("libcurl: curl_multi_init failed");
    curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(options_.max_connections));
    curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(options_.max_connections));
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(options_.max_connections));
    tokens_ = static_cast<double>(options_.bytes_per_second);
    last_refill_ = std::chrono::steady_clock::now();
    thread_ = std::jthread([this](std::stop_token stop) { loop(stop); });
  }
  http_engine(const http_engine&) = delete;
  http_engine& operator=(const http_engine&) = delete;
  ~http_engine() {
    thread_.request_stop();
    curl_multi_wakeup(multi_);
    thread_.join();
    // Requests still running fail, so nobody waits for them forever.
    for (auto& t : active_) {
      curl_multi_remove_handle(multi_, t->easy);
      curl_easy_cleanup(t->easy);
      curl_slist_free_all(t->header_list);
      http_response r;
      r.transport = CURLE_ABORTED_BY_CALLBACK;
      r.transport_error = "the S3 client was shut down during the request";
      t->done(std::move(r));
    }
    curl_multi_cleanup(multi_);
  }

  /// Sends `request` no earlier than `not_before`; `done` gets the response.
  void start(http_request request, completion done,
             std::chrono::steady_clock::time_point not_before = {}) {
    {
      std::lock_guard lock(mutex_);
      incoming_.push_back({std::move(request), std::move(done), not_before});
    }
    curl_multi_wakeup(multi_);
  }

 private:
  struct pending {
    http_request request;
    completion done;
    std::chrono::steady_clock::time_point not_before;
  };
  struct transfer {
    http_engine* engine = nullptr;
    CURL* easy = nullptr;
    curl_slist* header_list = nullptr;
    http_request request;
    completion done;
    http_response response;
    std::size_t sent = 0;
    bool paused = false;
    // Stall detection: bytes moved either way at the last progress call, and when they moved.
    curl_off_t moved = -1;
    std::chrono::steady_clock::time_point moved_at;
    bool stalled = false;
    char error[CURL_ERROR_SIZE] = {};
  };

  static std::size_t on_read(char* buffer, std::size_t size, std::size_t count, void* user) {
    auto* t = static_cast<transfer*>(user);
    std::size_t n = std::min(size * count, t->request.body.size() - t->sent);
    if (n > 0 && t->engine->options_.bytes_per_second > 0) {
      // Pace uploads: take what the token bucket allows, pause when it is empty.
      auto allowed = static_cast<std::size_t>(std::max(0.0, t->engine->tokens_));
      if (allowed == 0) {
        t->paused = true;
        return CURL_READFUNC_PAUSE;
      }
      n = std::min(n, allowed);
      t->engine->tokens_ -= static_cast<double>(n);
    }
    std::copy_n(t->request.body.data() + t->sent, n, buffer);
    t->sent += n;
    return n;
  }
  static int on_seek(void* user, curl_off_t offset, int origin) {
    auto* t = static_cast<transfer*>(user);
    if (origin != SEEK_SET || offset < 0 || static_cast<std::size_t>(offset) > t->request.body.size())
      return CURL_SEEKFUNC_CANTSEEK;
    t->sent = static_cast<std::size_t>(offset);
    return CURL_SEEKFUNC_OK;
  }
  static std::size_t on_write(char* data, std::size_t size, std::size_t count, void* user) {
    static_cast<transfer*>(user)->response.body.append(data, size * count);
    return size * count;
  }
  static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* t = static_cast<transfer*>(user);
    std::string_view line(data, size * count);
    if (line.starts_with("HTTP/")) {
      t->response.headers.clear();  // a 100 Continue or a redirect came first
    } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
      std::string name(line.substr(0, colon));
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
        value.remove_suffix(1);
      t->response.headers.emplace_back(std::move(name), std::string(value));
    }
    return size * count;
  }

  static int on_progress(void* user, curl_off_t, curl_off_t down, curl_off_t, curl_off_t up) {
    auto* t = static_cast<transfer*>(user);
    auto now = std::chrono::steady_clock::now();
    if (down + up != t->moved || t->paused) {
      t->moved = down + up;
      t->moved_at = now;
      return 0;
    }
    if (now - t->moved_at < t->engine->options_.stall_timeout) return 0;
    t->stalled = true;
    return 1;  // abort: finish() reports it as a timeout
  }

  void begin(pending&& p) {
    auto t = std::make_unique<transfer>();
    t->engine = this;
    t->request = std::move(p.request);
    t->done = std::move(p.done);
    CURL* h = t->easy = curl_easy_init();
    if (!h) {
      t->response.transport = CURLE_OUT_OF_MEMORY;
      t->response.transport_error = "curl_easy_init failed";
      t->done(std::move(t->response));
      return;
    }
    std::string url = t->request.url();
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_PRIVATE, t.get());
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, t.get());
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
    // A stalled exchange (no byte either way for stall_timeout) is a timeout, not a hang.
    // (CURLOPT_LOW_SPEED_TIME averages over several seconds, so it notices a stall late.)
    t->moved_at = std::chrono::steady_clock::now();
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, t.get());
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
    if (!options_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, options_.ca_file.c_str());
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L * 1024);
    curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 2L * 1024 * 1024);
    const std::string& m = t->request.method;
    if (m == "HEAD") {
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (t->request.send_body) {
      curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(h, CURLOPT_READFUNCTION, &on_read);
      curl_easy_setopt(h, CURLOPT_READDATA, t.get());
      curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, &on_seek);
      curl_easy_setopt(h, CURLOPT_SEEKDATA, t.get());
      curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(t->request.body.size()));
      if (m != "PUT") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m.c_str());
    } else if (m != "GET") {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m.c_str());
    }
    for (const auto& [name, value] : t->request.headers) {
      // curl drops a header written "Name:" with nothing after it; "Name;" sends it empty.
      std::string line = value.empty() ? name + ";" : name + ": " + value;
      t->header_list = curl_slist_append(t->header_list, line.c_str());
    }
    // No "Expect: 100-continue" wait (a second of latency per part when a server ignores it),
    // and no Transfer-Encoding: every body has a length.
    t->header_list = curl_slist_append(t->header_list, "Expect:");
    t->header_list = curl_slist_append(t->header_list, "Accept:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, t->header_list);
    curl_multi_add_handle(multi_, h);
    active_.push_back(std::move(t));
  }

  void finish(CURL* h, CURLcode code) {
    auto it = std::find_if(active_.begin(), active_.end(), [&](const auto& t) { return t->easy == h; });
    if (it == active_.end()) return;
    std::unique_ptr<transfer> t = std::move(*it);
    active_.erase(it);
    curl_multi_remove_handle(multi_, h);
    if (t->stalled) {
      t->response.transport = CURLE_OPERATION_TIMEDOUT;
      t->response.transport_error =
          "no byte moved for " + std::to_string(options_.stall_timeout.count()) + " ms (stall timeout)";
    } else if (code != CURLE_OK) {
      t->response.transport = code;
      t->response.transport_error = t->error[0] ? t->error : curl_easy_strerror(code);
    } else {
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &t->response.status);
    }
    curl_easy_cleanup(h);
    t->easy = nullptr;
    curl_slist_free_all(t->header_list);
    t->header_list = nullptr;
    t->done(std::move(t->response));
  }

  void refill_tokens() {
    if (options_.bytes_per_second == 0) return;
    auto now = std::chrono::steady_clock::now();
    double elapsed = std::chrono::duration<double>(now - last_refill_).count();
    last_refill_ = now;
    // At most a tenth of a second of burst, so the cap holds over any short window too.
    double rate = static_cast<double>(options_.bytes_per_second);
    tokens_ = std::min(rate / 10, tokens_ + elapsed * rate);
    if (tokens_ >= 1) {
      for (auto& t : active_) {
        if (t->paused) {
          t->paused = false;
          curl_easy_pause(t->easy, CURLPAUSE_CONT);
        }
      }
    }
  }

  void loop(std::stop_token stop) {
    std::vector<pending> delayed;
    while (!stop.stop_requested()) {
      auto now = std::chrono::steady_clock::now();
      {
        std::lock_guard lock(mutex_);
        for (auto& p : incoming_) delayed.push_back(std::move(p));
        incoming_.clear();
      }
      auto next_due = now + std::chrono::milliseconds(500);
      for (std::size_t i = 0; i < delayed.size();) {
        if (delayed[i].not_before <= now) {
          pending p = std::move(delayed[i]);
          delayed.erase(delayed.begin() + static_cast<std::ptrdiff_t>(i));
          begin(std::move(p));
        } else {
          next_due = std::min(next_due, delayed[i].not_before);
          ++i;
        }
      }
      refill_tokens();
      int running = 0;
      curl_multi_perform(multi_, &running);
      int queued = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi_, &queued)) {
        if (msg->msg == CURLMSG_DONE) finish(msg->easy_handle, msg->data.result);
      }
      bool any_paused = std::any_of(active_.begin(), active_.end(), [](const auto& t) { return t->paused; });
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_due - std::chrono::steady_clock::now());
      if (any_paused) wait = std::min(wait, std::chrono::milliseconds(5));
      int timeout = static_cast<int>(std::clamp<std::int64_t>(wait.count(), 0, 500));
      curl_multi_poll(multi_, nullptr, 0, timeout, nullptr);
    }
    // Stopping: whatever did not complete fails, so nobody waits forever.
    std::lock_guard lock(mutex_);
    for (auto& p : incoming_) delayed.push_back(std::move(p));
    incoming_.clear();
    for (auto& p : delayed) {
      http_response r;
      r.transport = CURLE_ABORTED_BY_CALLBACK;
      r.transport_error = "the S3 client was shut down before the request was sent";
      p.done(std::move(r));
    }
  }

  http_options options_;
  CURLM* multi_ = nullptr;
  std::mutex mutex_;
  std::vector<pending> incoming_;
  std::list<std::unique_ptr<transfer>> active_;
  double tokens_ = 0;
  std::chrono::steady_clock::time_point last_refill_;
  std::jthread thread_;  // last: started when everything it uses exists
};

}  // namespace sluice::store::detail
