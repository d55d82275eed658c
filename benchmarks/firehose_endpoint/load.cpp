// SPDX-License-Identifier: Apache-2.0
// The load generator of the firehose_endpoint benchmark: SigV4-signed PutRecordBatch requests
// built before the clock starts, sent over keep-alive connections by one Asio thread (Beast
// parses the answers), closed loop for throughput or open loop at a fixed rate for latency.
#include "firehose_endpoint/firehose_endpoint.hpp"

#include <sluice/aws/sigv4.hpp>
#include <sluice/crypto/checksum.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <optional>
#include <stdexcept>

namespace firehose_bench {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using clock_type = std::chrono::steady_clock;

namespace {

/// xorshift64*: cheap, deterministic filler.
struct filler {
  std::uint64_t state;
  char next() {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    return alphabet[(state * 2685821657736338717ULL >> 32) % 36];
  }
};

/// One record: a JSON event line of exactly `size` bytes (at least 96), '\n' included.
std::string make_record(std::uint64_t seq, std::size_t size, filler& f) {
  static constexpr const char* events[] = {"page_view", "click", "add_to_cart", "purchase", "search"};
  std::string r;
  r.reserve(size);
  r += record_marker;
  r += std::to_string(seq);
  r += ",\"ts\":\"2024-06-01T12:";
  r += std::to_string(10 + seq % 50);
  r += ":00Z\",\"user\":\"u";
  r += std::to_string(seq * 7919 % 100000);
  r += "\",\"event\":\"";
  r += events[seq % 5];
  r += "\",\"pad\":\"";
  const std::size_t tail = 3;  // "}\n and the closing quote
  if (r.size() + tail > size) throw std::invalid_argument("records must be at least 96 bytes");
  while (r.size() + tail < size) r += f.next();
  r += "\"}\n";
  return r;
}

}  // namespace

request_pool make_pool(const shape& s, const target& t, std::size_t count, std::uint64_t first_seq) {
  sluice::aws::signing_options options;
  options.region = t.region;
  options.service = "firehose";
  const sluice::aws::signer signer({t.access_key_id, t.secret_access_key, ""}, options);
  const std::string host = t.host + ":" + std::to_string(t.port);
  const auto now = std::chrono::system_clock::now();
  request_pool pool;
  pool.records_per_request = s.records;
  pool.data_bytes_per_request = s.records * s.record_bytes;
  filler f{first_seq * 0x9E3779B97F4A7C15ULL + 1};
  std::uint64_t seq = first_seq;
  for (std::size_t i = 0; i < count; ++i) {
    std::string body = "{\"DeliveryStreamName\":\"" + t.stream + "\",\"Records\":[";
    for (std::size_t r = 0; r < s.records; ++r) {
      const std::string record = make_record(seq++, s.record_bytes, f);
      body += r == 0 ? "{\"Data\":\"" : ",{\"Data\":\"";
      body += sluice::crypto::to_base64(
          {reinterpret_cast<const std::uint8_t*>(record.data()), record.size()});
      body += "\"}";
    }
    body += "]}";
    // What the AWS CLI sends (../shared/testdata/firehose): these headers signed, Content-Length not.
    sluice::aws::http_request req{.method = "POST",
                                  .path = "/",
                                  .query = "",
                                  .headers = {{"host", host},
                                              {"content-type", "application/x-amz-json-1.1"},
                                              {"x-amz-target", "Firehose_20150804.PutRecordBatch"}},
                                  .payload_hash = sluice::aws::payload_hash(body)};
    signer.sign(req, now);
    std::string wire = "POST / HTTP/1.1\r\n";
    for (const auto& h : req.headers) wire += h.name + ": " + h.value + "\r\n";
    wire += "content-length: " + std::to_string(body.size()) + "\r\n\r\n";
    wire += body;
    pool.body_bytes = std::max(pool.body_bytes, body.size());
    pool.wire.push_back(std::move(wire));
  }
  return pool;
}

double load_result::latency_quantile(double q) const {
  if (latencies_ms.empty()) return 0;
  std::vector<double> v = latencies_ms;
  const auto k = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size()))) - (q > 0 ? 1 : 0);
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

namespace {

class load_run {
 public:
  load_run(const target& t, const request_pool& pool, const load_options& o) : t_(t), pool_(pool), o_(o) {}

  load_result run() {
    const asio::ip::tcp::endpoint ep(asio::ip::make_address(t_.host), t_.port);
    ep_ = ep;
    for (unsigned i = 0; i < o_.connections; ++i) {
      auto c = std::make_unique<connection>(io_);
      c->socket.connect(ep);
      c->socket.set_option(asio::ip::tcp::no_delay(true));
      conns_.push_back(std::move(c));
    }
    start_ = clock_type::now();
    window_start_ = start_ + to_duration(o_.warmup_seconds);
    end_ = window_start_ + to_duration(o_.seconds);
    if (o_.rate > 0) {
      for (auto& c : conns_) idle_.push_back(c.get());
      schedule_next();
    } else {
      for (auto& c : conns_) send(*c, start_);
    }
    // Every request sent gets its answer: a server that stops answering fails the run.
    asio::steady_timer watchdog(io_);
    watchdog.expires_at(end_ + std::chrono::seconds(60));
    watchdog.async_wait([this](boost::system::error_code ec) {
      if (!ec) fail("no answer to " + std::to_string(in_flight_) + " requests 60 s after the end of the run");
    });
    while (!finished()) io_.run_one();
    watchdog.cancel();
    io_.poll();
    if (!error_.empty()) throw std::runtime_error(error_);
    result_.seconds = std::chrono::duration<double>(end_ - window_start_).count();
    return std::move(result_);
  }

 private:
  struct connection {
    explicit connection(asio::io_context& io) : socket(io) {}
    asio::ip::tcp::socket socket;
    boost::beast::flat_buffer buffer;
    std::optional<http::response_parser<http::string_body>> parser;
    clock_type::time_point due;
    std::size_t request = 0;
  };

  static clock_type::duration to_duration(double s) {
    return std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(s));
  }

  bool finished() const { return !error_.empty() || (stopped_issuing() && in_flight_ == 0 && queue_.empty()); }
  bool stopped_issuing() const { return issuing_done_; }

  void fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    for (auto& c : conns_) {
      boost::system::error_code ignored;
      c->socket.close(ignored);
    }
    io_.stop();
  }

  // Open loop: request k is due at start + k / rate; due requests queue for a free connection.
  void schedule_next() {
    const auto due = start_ + to_duration(static_cast<double>(issued_) / o_.rate);
    if (due >= end_) {
      issuing_done_ = true;
      return;
    }
    timer_.expires_at(due);
    timer_.async_wait([this, due](boost::system::error_code ec) {
      if (ec) return;
      ++issued_;
      queue_.push_back(due);
      dispatch();
      schedule_next();
    });
  }

  void dispatch() {
    while (!queue_.empty() && !idle_.empty()) {
      connection* c = idle_.back();
      idle_.pop_back();
      const auto due = queue_.front();
      queue_.pop_front();
      send(*c, due);
    }
  }

  void send(connection& c, clock_type::time_point due) {
    c.due = due;
    c.request = next_request_++ % pool_.wire.size();
    ++in_flight_;
    ++result_.requests_sent;
    asio::async_write(c.socket, asio::buffer(pool_.wire[c.request]),
                      [this, &c](boost::system::error_code ec, std::size_t) {
                        if (ec) return fail("sending a request: " + ec.message());
                        c.parser.emplace();
                        c.parser->body_limit(16 * 1024 * 1024);
                        http::async_read(c.socket, c.buffer, *c.parser,
                                         [this, &c](boost::system::error_code rec, std::size_t) { answered(c, rec); });
                      });
  }

  void answered(connection& c, boost::system::error_code ec) {
    if (ec) return fail("reading an answer: " + ec.message() + " (the server closed the connection?)");
    --in_flight_;
    const auto now = clock_type::now();
    auto& res = c.parser->get();
    const bool ok = res.result_int() == 200;
    std::uint64_t failed = 0;
    if (ok && o_.firehose_responses) {
      const std::string& body = res.body();
      const auto at = body.find("\"FailedPutCount\":");
      if (at == std::string::npos) return fail("a 200 without FailedPutCount: " + body.substr(0, 200));
      failed = std::strtoull(body.c_str() + at + 17, nullptr, 10);
    }
    if (ok) {
      result_.failed_put_records += failed;
      result_.records_acknowledged += pool_.records_per_request - failed;
      if (now >= window_start_ && now <= end_) {
        ++result_.requests;
        result_.records += pool_.records_per_request;
        result_.data_bytes += pool_.data_bytes_per_request;
        result_.body_bytes += pool_.wire[c.request].size() - (pool_.wire[c.request].find("\r\n\r\n") + 4);
        result_.latencies_ms.push_back(std::chrono::duration<double, std::milli>(now - c.due).count());
      }
    } else {
      ++result_.non_200;
      if (result_.first_error.empty())
        result_.first_error = std::to_string(res.result_int()) + " " + res.body().substr(0, 300);
    }
    if (!res.keep_alive()) {  // the server closes this one: open another
      ++result_.reconnects;
      boost::system::error_code ignored;
      c.socket.close(ignored);
      c.buffer.clear();
      c.socket.connect(ep_, ignored);
      if (ignored) return fail("reconnecting: " + ignored.message());
      c.socket.set_option(asio::ip::tcp::no_delay(true));
    }
    if (o_.rate > 0) {
      idle_.push_back(&c);
      dispatch();
    } else if (now < end_) {
      send(c, now);
    } else if (in_flight_ == 0) {
      issuing_done_ = true;
    }
  }

  const target& t_;
  const request_pool& pool_;
  const load_options& o_;
  asio::io_context io_{1};
  asio::steady_timer timer_{io_};
  asio::ip::tcp::endpoint ep_;
  std::vector<std::unique_ptr<connection>> conns_;
  std::vector<connection*> idle_;
  std::deque<clock_type::time_point> queue_;
  clock_type::time_point start_, window_start_, end_;
  std::uint64_t issued_ = 0, next_request_ = 0, in_flight_ = 0;
  bool issuing_done_ = false;
  std::string error_;
  load_result result_;
};

}  // namespace

load_result run_load(const target& t, const request_pool& pool, const load_options& options) {
  if (pool.wire.empty()) throw std::invalid_argument("run_load: empty request pool");
  if (options.connections == 0 || options.seconds <= 0)
    throw std::invalid_argument("run_load: connections and seconds must be positive");
  load_run run(t, pool, options);
  return run.run();
}

}  // namespace firehose_bench
