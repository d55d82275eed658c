// SPDX-License-Identifier: Apache-2.0
#include <sluice/connector/http_stream/server.hpp>

#include <sluice/crypto/checksum.hpp>

#include <sluice_test/http_client.hpp>
#include <sluice_test/support.hpp>

#include <boost/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace hs = sluice::connector::http_stream;
namespace aws = sluice::aws;
using namespace std::chrono_literals;
using std::chrono::steady_clock;

namespace {

// The key pair the captures in testdata/firehose were signed with, and one of our own.
constexpr std::string_view example_id = "AKIDEXAMPLE";
constexpr std::string_view example_secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
using sluice_test::raw_client;
using sluice_test::reply;
using sluice_test::signed_request;
using sluice_test::test_id;
using sluice_test::test_secret;

hs::server_options test_options() {
  hs::server_options o;
  o.threads = 2;
  o.auth.secrets = hs::static_keys({{std::string(example_id), std::string(example_secret), {}},
                                    {std::string(test_id), std::string(test_secret), {}}});
  o.auth.region = "us-east-1";
  return o;
}

// ---- a server with a handler that records what it saw ------------------------------------------

struct seen_request {
  std::string target, content_type, body, access_key_id, service, region, remote_address, request_id;
};

/// Records each request and answers it, on the server thread or (`later`) from another thread.
struct recorder {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<seen_request> seen;
  std::string answer = R"({"FailedPutCount":0,"RequestResponses":[]})";
  bool later = false;
  std::vector<std::thread> workers;

  ~recorder() {
    for (auto& t : workers) t.join();
  }

  hs::request_handler handler() {
    return [this](const hs::incoming_request& in, hs::responder respond) {
      std::lock_guard lock(mutex);
      seen.push_back({std::string(in.target), std::string(in.content_type), std::string(in.body),
                      std::string(in.access_key_id), std::string(in.service), std::string(in.region),
                      std::string(in.remote_address), std::string(in.request_id)});
      changed.notify_all();
      hs::response r{.body = answer};
      if (!later) {
        respond(std::move(r));
        return;
      }
      workers.emplace_back([respond = std::move(respond), r = std::move(r)]() mutable {
        std::this_thread::sleep_for(20ms);
        respond(std::move(r));
      });
    };
  }

  std::size_t count() {
    std::lock_guard lock(mutex);
    return seen.size();
  }
  bool wait_for(std::size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, timeout, [&] { return seen.size() >= n; });
  }
};

/// The shell prefix that runs the real AWS CLI (v2 from Debian) isolated from the machine's
/// configuration, with the given keys.
std::string aws_cli(std::string_view id, std::string_view secret, const std::string& extra_env = {}) {
  return "env -u AWS_PROFILE -u AWS_CA_BUNDLE -u AWS_SESSION_TOKEN AWS_CONFIG_FILE=/dev/null "
         "AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true AWS_PAGER= AWS_MAX_ATTEMPTS=1 "
         "AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=" +
         std::string(id) + " AWS_SECRET_ACCESS_KEY='" + std::string(secret) + "' " + extra_env + " /usr/bin/aws ";
}

/// Polls `pred` until it holds or 5 s pass: for counters updated just after a client returns.
template <class Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 500; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

bool have_program(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

std::string base64(std::string_view s) { return sluice::crypto::to_base64(s); }

}  // namespace

// ---- real clients ----------------------------------------------------------------------------------

TEST_CASE("the AWS CLI's put-record-batch reaches the handler verified, and the CLI prints the handler's answer",
          "[http_stream][server][aws-cli]") {
  if (!have_program("/usr/bin/aws")) SLUICE_SKIP_OR_FAIL("the AWS CLI (/usr/bin/aws) is not installed");
  const auto data = sluice_test::testdata("firehose");
  if (!data) return;
  recorder rec;
  rec.answer = sluice_test::read_file(*data / "put-record-batch.response.json");
  rec.later = true;  // answered from another thread, as the endpoint does once records are durable
  hs::server srv(test_options(), rec.handler());
  sluice_test::temp_dir tmp;

  const std::string cmd = aws_cli(test_id, test_secret) + "firehose put-record-batch --endpoint-url " +
                          srv.endpoint_url() +
                          " --delivery-stream-name events --cli-binary-format raw-in-base64-out --output json"
                          " --records '[{\"Data\":\"{\\\"id\\\":1}\\n\"},{\"Data\":\"{\\\"id\\\":2}\\n\"}]' 2>" +
                          (tmp / "err").string();
  const auto r = sluice_test::run_command(cmd);
  INFO(cmd << "\nstderr: " << sluice_test::read_file(tmp / "err"));
  REQUIRE(r.status == 0);

  // What the CLI printed is the handler's answer, parsed by botocore against the model.
  const auto printed = boost::json::parse(r.out).as_object();
  const auto canned = boost::json::parse(rec.answer).as_object();
  CHECK(printed.at("FailedPutCount") == canned.at("FailedPutCount"));
  CHECK(printed.at("RequestResponses") == canned.at("RequestResponses"));

  REQUIRE(rec.count() == 1);
  const auto& seen = rec.seen[0];
  CHECK(seen.target == "Firehose_20150804.PutRecordBatch");
  CHECK(seen.content_type == "application/x-amz-json-1.1");
  CHECK(seen.access_key_id == test_id);
  CHECK(seen.service == "firehose");
  CHECK(seen.region == "us-east-1");
  CHECK(seen.remote_address.starts_with("127.0.0.1:"));
  CHECK(seen.request_id.size() == 36);
  const auto body = boost::json::parse(seen.body).as_object();
  CHECK(body.at("DeliveryStreamName") == "events");
  const auto& records = body.at("Records").as_array();
  REQUIRE(records.size() == 2);
  CHECK(records[0].at("Data").as_string() == base64("{\"id\":1}\n"));
  CHECK(records[1].at("Data").as_string() == base64("{\"id\":2}\n"));

  const auto s = srv.stats();
  CHECK(s.requests == 1);
  CHECK(s.responses[1] == 1);
  CHECK(s.auth_failures == 0);
}

TEST_CASE("the AWS CLI signing with a wrong secret gets InvalidSignatureException and the handler is not called",
          "[http_stream][server][aws-cli]") {
  if (!have_program("/usr/bin/aws")) SLUICE_SKIP_OR_FAIL("the AWS CLI (/usr/bin/aws) is not installed");
  recorder rec;
  hs::server srv(test_options(), rec.handler());
  const auto r = sluice_test::run_command(aws_cli(test_id, "not-the-secret") + "firehose put-record --endpoint-url " +
                                          srv.endpoint_url() +
                                          " --delivery-stream-name events --cli-binary-format raw-in-base64-out"
                                          " --record '{\"Data\":\"x\"}' 2>&1");
  INFO(r.out);
  CHECK(r.status == 254);  // the CLI's "service error" exit code
  CHECK(r.out.find("InvalidSignatureException") != std::string::npos);
  CHECK(r.out.find("The request signature we calculated does not match") != std::string::npos);
  CHECK(rec.count() == 0);
  const auto s = srv.stats();
  CHECK(s.auth_failures == 1);
  CHECK(s.auth_failures_by_reason[static_cast<std::size_t>(aws::auth_failure::signature_mismatch)] == 1);
  CHECK(s.responses[3] == 1);
}

// ---- captured requests -------------------------------------------------------------------------------

namespace {
struct capture {
  std::string name, bytes, body, amz_date, service;
};
std::vector<capture> captures(const std::filesystem::path& dir) {
  std::vector<capture> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    if (!name.ends_with(".request.txt")) continue;
    capture c{name, sluice_test::read_file(e.path()), {}, {}, {}};
    const std::size_t end = c.bytes.find("\r\n\r\n");
    REQUIRE(end != std::string::npos);
    c.body = c.bytes.substr(end + 4);
    for (std::size_t at = 0; at < end;) {
      const std::size_t eol = c.bytes.find("\r\n", at);
      std::string line = c.bytes.substr(at, eol - at);
      std::transform(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(line.size(), 11)),
                     line.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      if (line.starts_with("x-amz-date:")) c.amz_date = line.substr(line.find_first_not_of(' ', 11));
      at = eol + 2;
    }
    REQUIRE(c.amz_date.size() == 16);
    c.service = name.starts_with("kinesis") ? "kinesis" : "firehose";
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(), [](const capture& a, const capture& b) { return a.name < b.name; });
  return out;
}
}  // namespace

TEST_CASE("captured CLI and SDK requests replayed at their signing time verify and reach the handler unchanged",
          "[http_stream][server][sigv4]") {
  const auto data = sluice_test::testdata("firehose");
  if (!data) return;
  const auto all = captures(*data);
  REQUIRE(all.size() >= 5);
  for (const auto& c : all) {
    DYNAMIC_SECTION(c.name) {
      recorder rec;
      auto o = test_options();
      const auto signed_at = aws::parse_amz_date(c.amz_date);
      REQUIRE(signed_at);
      o.auth.clock = [t = *signed_at + 2s] { return t; };
      hs::server srv(o, rec.handler());
      raw_client client(srv.port());
      REQUIRE(client.send(c.bytes));
      const auto r = client.read_reply();
      REQUIRE(r);
      INFO(r->head << "\n" << r->body);
      CHECK(r->status == 200);
      CHECK(r->body == rec.answer);
      CHECK(r->header("content-type") == "application/x-amz-json-1.1");
      REQUIRE(rec.count() == 1);
      CHECK(rec.seen[0].body == c.body);
      CHECK(rec.seen[0].access_key_id == example_id);
      CHECK(rec.seen[0].service == c.service);
      CHECK(r->header("x-amzn-RequestId") == rec.seen[0].request_id);
    }
  }
}

TEST_CASE("a captured request replayed now is refused: Signature expired, as AWS words it",
          "[http_stream][server][sigv4]") {
  const auto data = sluice_test::testdata("firehose");
  if (!data) return;
  const auto c = captures(*data).front();
  recorder rec;
  hs::server srv(test_options(), rec.handler());
  raw_client client(srv.port());
  REQUIRE(client.send(c.bytes));
  const auto r = client.read_reply();
  REQUIRE(r);
  CHECK(r->status == 400);
  const auto err = r->json().as_object();
  CHECK(err.at("__type") == "InvalidSignatureException");
  CHECK(std::string(err.at("message").as_string())
            .starts_with("Signature expired: " + c.amz_date + " is now earlier than"));
  CHECK(rec.count() == 0);
  CHECK(srv.stats().auth_failures_by_reason[static_cast<std::size_t>(aws::auth_failure::request_time_skewed)] == 1);
}

TEST_CASE("unsigned, tampered and unknown-key requests get the AWS JSON errors, and the connection stays usable",
          "[http_stream][server][sigv4]") {
  recorder rec;
  hs::server srv(test_options(), rec.handler());
  raw_client client(srv.port());
  auto expect = [&](const std::string& request, std::string_view type) {
    REQUIRE(client.send(request));
    const auto r = client.read_reply();
    REQUIRE(r);
    INFO(r->body);
    CHECK(r->status == 400);
    CHECK(r->header("content-type") == "application/x-amz-json-1.1");
    CHECK(r->json().at("__type").as_string() == type);
    CHECK(!r->json().at("message").as_string().empty());
  };
  SECTION("no signature") {
    expect("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 2\r\n\r\n{}",
           "MissingAuthenticationTokenException");
  }
  SECTION("a body changed after signing") {
    std::string req = signed_request(R"({"DeliveryStreamName":"a"})");
    req[req.size() - 3] = 'b';
    expect(req, "InvalidSignatureException");
  }
  SECTION("an unknown access key") {
    expect(signed_request("{}", "AKIDUNKNOWN", "whatever"), "UnrecognizedClientException");
  }
  SECTION("a scope for a service the endpoint does not serve") {
    expect(signed_request("{}", test_id, test_secret, "s3"), "InvalidSignatureException");
  }
  SECTION("an Authorization header without its parts") {
    expect("POST / HTTP/1.1\r\nHost: x\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKID\r\nContent-Length: 0\r\n\r\n",
           "IncompleteSignatureException");
  }
  // Then a good request on the same connection.
  REQUIRE(client.send(signed_request("{}", test_id, test_secret, "kinesis")));
  const auto ok = client.read_reply();
  REQUIRE(ok);
  CHECK(ok->status == 200);
  REQUIRE(rec.count() == 1);
  CHECK(rec.seen[0].service == "kinesis");
  CHECK(srv.stats().auth_failures == 1);
}

// ---- bad input ------------------------------------------------------------------------------------------

TEST_CASE("a request head over the limit is answered 431 and the next connection is served",
          "[http_stream][server][limits]") {
  recorder rec;
  auto o = test_options();
  o.max_header_bytes = 4096;
  hs::server srv(o, rec.handler());
  {
    raw_client client(srv.port());
    std::string req = "POST / HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 100; ++i) req += "X-Filler-" + std::to_string(i) + ": " + std::string(100, 'a') + "\r\n";
    req += "\r\n";
    client.send(req);  // the server may answer and close before it has all of it
    const auto r = client.read_reply();
    REQUIRE(r);
    CHECK(r->status == 431);
    CHECK(r->json().at("__type") == "RequestHeaderFieldsTooLargeException");
    CHECK(r->header("connection") == "close");
    CHECK(client.closed_within(5s));
  }
  raw_client next(srv.port());
  REQUIRE(next.send(signed_request("{}")));
  const auto r = next.read_reply();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(srv.stats().headers_too_large == 1);
}

TEST_CASE("a body over the limit is answered 413, whether Content-Length announces it or chunks carry it",
          "[http_stream][server][limits]") {
  recorder rec;
  auto o = test_options();
  o.max_body_bytes = 64 * 1024;
  hs::server srv(o, rec.handler());
  SECTION("Content-Length: answered before the body is read") {
    raw_client client(srv.port());
    REQUIRE(client.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"));
    const auto r = client.read_reply();
    REQUIRE(r);
    CHECK(r->status == 413);
    CHECK(r->json().at("__type") == "RequestEntityTooLargeException");
    CHECK(std::string(r->json().at("message").as_string()).find("1000000 bytes") != std::string::npos);
  }
  SECTION("chunked: answered when the chunks pass the limit") {
    raw_client client(srv.port());
    REQUIRE(client.send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
    const std::string chunk = "8000\r\n" + std::string(0x8000, 'z') + "\r\n";
    for (int i = 0; i < 3; ++i) client.send(chunk);
    const auto r = client.read_reply();
    REQUIRE(r);
    CHECK(r->status == 413);
  }
  SECTION("curl with Expect: 100-continue gets the 413 without sending the body") {
    sluice_test::temp_dir tmp;
    sluice_test::write_file(tmp / "big", std::string(200 * 1024, 'x'));
    const auto r = sluice_test::run_command(
        "curl -s -o /dev/null -w '%{http_code} %{size_upload}' -H 'Expect: 100-continue' "
        "--data-binary @" +
        (tmp / "big").string() + " " + srv.endpoint_url() + "/");
    CHECK(r.out == "413 0");
  }
  CHECK(srv.stats().bodies_too_large == 1);
  CHECK(rec.count() == 0);
}

TEST_CASE("a signed request sent after 100 Continue reaches the handler", "[http_stream][server]") {
  recorder rec;
  hs::server srv(test_options(), rec.handler());
  raw_client client(srv.port());
  const std::string body = R"({"DeliveryStreamName":"s","Records":[]})";
  const std::string req = signed_request(body, test_id, test_secret, "firehose", std::chrono::system_clock::now(),
                                         "Expect: 100-continue\r\n");
  REQUIRE(client.send(req.substr(0, req.size() - body.size())));
  const auto go_on = client.read_reply(5s, true);
  REQUIRE(go_on);
  CHECK(go_on->status == 100);
  REQUIRE(client.send(body));
  const auto r = client.read_reply();
  REQUIRE(r);
  CHECK(r->status == 200);
  REQUIRE(rec.count() == 1);
  CHECK(rec.seen[0].body == body);
}

TEST_CASE("slow clients are cut off by the header and body timeouts", "[http_stream][server][timeouts]") {
  recorder rec;
  auto o = test_options();
  o.header_timeout = 1s;
  o.body_timeout = 1s;
  hs::server srv(o, rec.handler());
  auto trickle = [&](raw_client& client, std::string_view bytes) {
    // One byte every 100 ms until the server closes the connection.
    const auto start = steady_clock::now();
    for (char c : bytes) {
      if (!client.send(std::string_view(&c, 1))) break;
      if (client.closed_within(100ms)) break;
      if (steady_clock::now() - start > 10s) break;
    }
    return steady_clock::now() - start;
  };
  const std::string head =
      "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: Firehose_20150804.PutRecordBatch\r\n"
      "Content-Type: application/x-amz-json-1.1\r\nContent-Length: 500\r\n\r\n";
  SECTION("slow head") {
    raw_client client(srv.port());
    const auto took = trickle(client, head);
    CHECK(took >= 900ms);
    CHECK(took < 2500ms);
  }
  SECTION("slow body") {
    raw_client client(srv.port());
    REQUIRE(client.send(head));
    const auto took = trickle(client, std::string(500, 'x'));
    CHECK(took >= 900ms);
    CHECK(took < 2500ms);
  }
  CHECK(eventually([&] { return srv.stats().timeouts == 1; }));
  // Meanwhile other clients are served.
  raw_client other(srv.port());
  REQUIRE(other.send(signed_request("{}")));
  const auto r = other.read_reply();
  REQUIRE(r);
  CHECK(r->status == 200);
}

TEST_CASE("a kept-alive connection serves several requests and closes after the idle timeout",
          "[http_stream][server][timeouts]") {
  recorder rec;
  auto o = test_options();
  o.idle_timeout = 300ms;
  hs::server srv(o, rec.handler());
  raw_client client(srv.port());
  for (int i = 0; i < 3; ++i) {
    REQUIRE(client.send(signed_request("{\"n\":" + std::to_string(i) + "}")));
    const auto r = client.read_reply();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->header("connection").empty());
  }
  REQUIRE(client.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  REQUIRE(client.read_reply());
  const auto idle = steady_clock::now();
  CHECK(client.closed_within(3s));
  CHECK(steady_clock::now() - idle >= 250ms);
  const auto s = srv.stats();
  CHECK(s.connections_accepted == 1);
  CHECK(s.requests == 4);
  CHECK(s.timeouts == 0);  // an idle keep-alive connection closing is not a slow client
}

TEST_CASE("a client disconnecting in the middle of a body does not disturb the server",
          "[http_stream][server][robustness]") {
  recorder rec;
  hs::server srv(test_options(), rec.handler());
  for (int i = 0; i < 5; ++i) {
    raw_client client(srv.port());
    const std::string req = signed_request(std::string(10000, 'x'));
    REQUIRE(client.send(req.substr(0, req.size() - 5000)));
  }
  raw_client next(srv.port());
  REQUIRE(next.send(signed_request("{}")));
  const auto r = next.read_reply();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(rec.count() == 1);
  // The aborted connections are counted once their close has been seen.
  CHECK(eventually([&] { return srv.stats().aborted == 5; }));
  CHECK(eventually([&] { return srv.stats().connections_open == 1; }));
}

TEST_CASE("garbage instead of HTTP is answered 400 and closed", "[http_stream][server][robustness]") {
  recorder rec;
  hs::server srv(test_options(), rec.handler());
  std::string garbage;
  SECTION("binary bytes") { garbage = std::string("\x00\x01\x02\xff\xfe\r\n\r\n", 9); }
  SECTION("a request line without a version") { garbage = "hello garbage\r\n\r\n"; }
  SECTION("a bad Content-Length") { garbage = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"; }
  SECTION("a header line without a colon") { garbage = "GET / HTTP/1.1\r\nHost x\r\n\r\n"; }
  raw_client client(srv.port());
  client.send(garbage);
  const auto r = client.read_reply();
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(r->json().at("__type") == "BadRequestException");
  CHECK(client.closed_within(5s));
  CHECK(eventually([&] { return srv.stats().bad_requests == 1; }));
  raw_client next(srv.port());
  REQUIRE(next.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto ok = next.read_reply();
  REQUIRE(ok);
  CHECK(ok->status == 200);
}

TEST_CASE("200 concurrent connections each get their request answered", "[http_stream][server][concurrency]") {
  recorder rec;
  rec.later = true;
  hs::server srv(test_options(), rec.handler());
  constexpr int n = 200;
  std::vector<std::unique_ptr<raw_client>> clients;
  for (int i = 0; i < n; ++i) clients.push_back(std::make_unique<raw_client>(srv.port()));
  for (int i = 0; i < n; ++i) REQUIRE(clients[i]->send(signed_request("{\"client\":" + std::to_string(i) + "}")));
  int ok = 0;
  for (auto& c : clients) {
    const auto r = c->read_reply(30s);
    if (r && r->status == 200) ++ok;
  }
  CHECK(ok == n);
  REQUIRE(rec.count() == n);
  std::vector<std::string> bodies;
  for (const auto& s : rec.seen) bodies.push_back(s.body);
  std::sort(bodies.begin(), bodies.end());
  CHECK(std::unique(bodies.begin(), bodies.end()) == bodies.end());
  CHECK(srv.stats().connections_open == n);
  CHECK(srv.stats().connections_accepted == n);
}

TEST_CASE("at max_connections new connections wait until one closes", "[http_stream][server][limits]") {
  recorder rec;
  auto o = test_options();
  o.max_connections = 2;
  hs::server srv(o, rec.handler());
  auto a = std::make_unique<raw_client>(srv.port());
  raw_client b(srv.port());
  REQUIRE(a->send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  REQUIRE(a->read_reply());
  REQUIRE(b.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  REQUIRE(b.read_reply());
  raw_client c(srv.port());  // the kernel completes the handshake; the server has not accepted it
  REQUIRE(c.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK_FALSE(c.read_reply(500ms));
  a.reset();
  const auto r = c.read_reply(5s);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(srv.stats().connections_accepted == 3);
}

// ---- routes -----------------------------------------------------------------------------------------------

TEST_CASE("GET /health answers ok, or what the health route says", "[http_stream][server][routes]") {
  recorder rec;
  SECTION("default") {
    hs::server srv(test_options(), rec.handler());
    const auto r = sluice_test::run_command("curl -s -w ' %{http_code}' " + srv.endpoint_url() + "/health");
    CHECK(r.out == "ok\n 200");
  }
  SECTION("a route reporting trouble") {
    hs::server_routes routes{
        .health = [] { return hs::response{.status = 503, .content_type = "text/plain", .body = "buffer full\n"}; }};
    hs::server srv(test_options(), rec.handler(), routes);
    const auto r = sluice_test::run_command("curl -s -w ' %{http_code}' " + srv.endpoint_url() + "/health");
    CHECK(r.out == "buffer full\n 503");
  }
}

TEST_CASE("GET /metrics serves the server's counters and the route's own in Prometheus text",
          "[http_stream][server][routes]") {
  recorder rec;
  hs::server_routes routes{.metrics = [](std::string& out) {
    out += "# TYPE sluice_records_accepted_total counter\nsluice_records_accepted_total 42\n";
  }};
  hs::server srv(test_options(), rec.handler(), routes);
  raw_client client(srv.port());
  REQUIRE(client.send(signed_request("{}")));
  REQUIRE(client.read_reply());
  REQUIRE(client.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"));  // unsigned
  REQUIRE(client.read_reply());
  REQUIRE(client.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto r = client.read_reply();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->header("content-type") == "text/plain; version=0.0.4; charset=utf-8");
  const std::string& m = r->body;
  INFO(m);
  CHECK(m.find("# TYPE sluice_http_requests_total counter\nsluice_http_requests_total 3\n") != std::string::npos);
  CHECK(m.find("sluice_http_responses_total{code=\"2xx\"} 1\n") != std::string::npos);
  CHECK(m.find("sluice_http_responses_total{code=\"4xx\"} 1\n") != std::string::npos);
  CHECK(m.find("sluice_http_auth_failures_total{reason=\"missing_authentication\"} 1\n") != std::string::npos);
  CHECK(m.find("sluice_http_connections_open 1\n") != std::string::npos);
  CHECK(m.ends_with("sluice_records_accepted_total 42\n"));
}

TEST_CASE("other paths and methods are answered 404 and 405 with JSON errors", "[http_stream][server][routes]") {
  recorder rec;
  hs::server srv(test_options(), rec.handler());
  raw_client client(srv.port());
  REQUIRE(client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = client.read_reply();
  REQUIRE(r);
  CHECK(r->status == 405);
  CHECK(r->header("allow") == "POST");
  CHECK(r->json().at("__type") == "MethodNotAllowedException");
  REQUIRE(client.send("POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"));
  r = client.read_reply();
  REQUIRE(r);
  CHECK(r->status == 405);
  CHECK(r->header("allow") == "GET");
  REQUIRE(client.send("GET /nowhere?x=1 HTTP/1.1\r\nHost: x\r\n\r\n"));
  r = client.read_reply();
  REQUIRE(r);
  CHECK(r->status == 404);
  CHECK(r->json().at("__type") == "UnknownOperationException");
  CHECK(std::string(r->json().at("message").as_string()).find("/nowhere?x=1") != std::string::npos);
  CHECK(rec.count() == 0);
}

// ---- the handler contract ------------------------------------------------------------------------------------

TEST_CASE("a handler that drops its responder or throws gets the client a 500, not a hang",
          "[http_stream][server][handler]") {
  std::atomic<int> calls{0};
  bool throws = false;
  SECTION("dropped") { throws = false; }
  SECTION("thrown") { throws = true; }
  hs::server srv(test_options(), [&](const hs::incoming_request&, hs::responder) {
    ++calls;
    if (throws) throw std::runtime_error("handler bug");
  });
  raw_client client(srv.port());
  REQUIRE(client.send(signed_request("{}")));
  const auto r = client.read_reply();
  REQUIRE(r);
  CHECK(r->status == 500);
  CHECK(r->json().at("__type") == "InternalFailure");
  CHECK(calls == 1);
  CHECK(srv.stats().handler_errors == (throws ? 1u : 0u));
  // The connection still serves.
  REQUIRE(client.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto ok = client.read_reply();
  REQUIRE(ok);
  CHECK(ok->status == 200);
}

TEST_CASE("a response with an invalid status is sent as 500 and counted", "[http_stream][server][handler]") {
  hs::server srv(test_options(), [](const hs::incoming_request&, hs::responder r) { r({.status = 42}); });
  raw_client client(srv.port());
  REQUIRE(client.send(signed_request("{}")));
  const auto r = client.read_reply();
  REQUIRE(r);
  CHECK(r->status == 500);
  CHECK(std::string(r->json().at("message").as_string()).find("42") != std::string::npos);
  CHECK(srv.stats().handler_errors == 1);
}

TEST_CASE("stop lets a request in flight get its response, closes idle connections, then returns",
          "[http_stream][server][stop]") {
  std::mutex m;
  std::condition_variable cv;
  hs::responder pending;
  hs::server srv(test_options(), [&](const hs::incoming_request&, hs::responder r) {
    std::lock_guard lock(m);
    pending = std::move(r);
    cv.notify_all();
  });
  raw_client idle(srv.port());
  REQUIRE(idle.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  REQUIRE(idle.read_reply());
  raw_client busy(srv.port());
  REQUIRE(busy.send(signed_request("{}")));
  {
    std::unique_lock lock(m);
    REQUIRE(cv.wait_for(lock, 10s, [&] { return static_cast<bool>(pending); }));
  }
  std::thread answer([&] {
    std::this_thread::sleep_for(300ms);
    std::lock_guard lock(m);
    pending({.body = "{\"late\":true}"});
  });
  const auto start = steady_clock::now();
  srv.stop(10s);
  const auto took = steady_clock::now() - start;
  answer.join();
  CHECK(took >= 250ms);
  CHECK(took < 5s);
  CHECK(idle.closed_within(1s));
  const auto r = busy.read_reply(1s);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == "{\"late\":true}");
  CHECK(r->header("connection") == "close");
  CHECK(busy.closed_within(1s));
  // Nobody listens any more.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(srv.port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0);
  ::close(fd);
}

TEST_CASE("stop closes a request whose handler outlives the deadline and drops its late response",
          "[http_stream][server][stop]") {
  std::mutex m;
  hs::responder pending;
  std::atomic<bool> called{false};
  auto srv = std::make_unique<hs::server>(test_options(), [&](const hs::incoming_request&, hs::responder r) {
    std::lock_guard lock(m);
    pending = std::move(r);
    called = true;
  });
  raw_client client(srv->port());
  REQUIRE(client.send(signed_request("{}")));
  REQUIRE(eventually([&] { return called.load(); }));
  const auto start = steady_clock::now();
  srv->stop(300ms);
  CHECK(steady_clock::now() - start < 3s);
  CHECK(client.closed_within(1s));
  {
    std::lock_guard lock(m);
    pending({.body = "{}"});
  }
  CHECK(srv->stats().responses_dropped == 1);
  CHECK(srv->stats().connections_open == 0);
  srv.reset();  // and the server goes away cleanly with nothing left in flight
}

TEST_CASE("a responder may outlive its server", "[http_stream][server][stop]") {
  std::mutex m;
  hs::responder kept;
  std::atomic<bool> called{false};
  {
    hs::server srv(test_options(), [&](const hs::incoming_request&, hs::responder r) {
      std::lock_guard lock(m);
      kept = std::move(r);
      called = true;
    });
    raw_client client(srv.port());
    REQUIRE(client.send(signed_request("{}")));
    REQUIRE(eventually([&] { return called.load(); }));
    srv.stop(0ms);
  }
  std::lock_guard lock(m);
  kept({.body = "{}"});  // dropped: the connection and server are gone; nothing crashes or leaks
  CHECK_FALSE(kept);
}

// ---- TLS --------------------------------------------------------------------------------------------------------

namespace {
struct test_cert {
  sluice_test::temp_dir dir;
  std::filesystem::path cert = dir / "cert.pem", key = dir / "key.pem", other_key = dir / "other-key.pem";
  bool made = false;
  test_cert() {
    const auto r = sluice_test::run_command(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost "
        "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
        key.string() + " -out " + cert.string() +
        " 2>&1 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out " + other_key.string() +
        " 2>&1");
    INFO(r.out);
    made = r.status == 0;
  }
};
}  // namespace

TEST_CASE("HTTPS serves curl and the AWS CLI trusting a throwaway certificate and refuses plain HTTP cleanly",
          "[http_stream][server][tls]") {
  if (!have_program("/usr/bin/openssl") || !have_program("/usr/bin/curl"))
    SLUICE_SKIP_OR_FAIL("openssl and curl are needed");
  test_cert tc;
  REQUIRE(tc.made);
  recorder rec;
  auto o = test_options();
  o.tls = hs::tls_options{tc.cert, tc.key};
  o.header_timeout = 1s;
  hs::server srv(o, rec.handler());
  REQUIRE(srv.endpoint_url().starts_with("https://127.0.0.1:"));

  auto r = sluice_test::run_command("curl -sS --cacert " + tc.cert.string() + " -w ' %{http_code}' " +
                                    srv.endpoint_url() + "/health 2>&1");
  CHECK(r.out == "ok\n 200");
  r = sluice_test::run_command("curl -sS --tlsv1.2 --tls-max 1.2 --cacert " + tc.cert.string() +
                               " -w ' %{http_code} %{ssl_verify_result}' " + srv.endpoint_url() + "/health 2>&1");
  CHECK(r.out == "ok\n 200 0");

  // Plain HTTP to the TLS port: a readable 400, and the connection closes.
  const std::string plain = "http://127.0.0.1:" + std::to_string(srv.port()) + "/health";
  r = sluice_test::run_command("curl -sS -w ' %{http_code}' " + plain + " 2>&1");
  CHECK(r.out.find("plain HTTP request was sent to an HTTPS port") != std::string::npos);
  CHECK(r.out.ends_with(" 400"));
  // An untrusted certificate is refused by the client, and the server shrugs it off.
  r = sluice_test::run_command("curl -sS " + srv.endpoint_url() + "/health 2>&1");
  CHECK(r.status != 0);
  CHECK(eventually([&] { return srv.stats().tls_handshake_failures == 2; }));

  // A client that stops in the middle of its handshake is cut off by the header timeout.
  {
    raw_client stalled(srv.port());
    const auto start = steady_clock::now();
    REQUIRE(stalled.send(std::string("\x16\x03\x01\x02\x00\x01", 6)));
    CHECK(stalled.closed_within(5s));
    CHECK(steady_clock::now() - start >= 900ms);
    CHECK(eventually([&] { return srv.stats().timeouts == 1; }));
  }

  if (have_program("/usr/bin/aws")) {
    r = sluice_test::run_command(aws_cli(test_id, test_secret, "AWS_CA_BUNDLE=" + tc.cert.string()) +
                                 "firehose put-record --endpoint-url " + srv.endpoint_url() +
                                 " --delivery-stream-name events --cli-binary-format raw-in-base64-out"
                                 " --record '{\"Data\":\"over tls\"}' --output json 2>&1");
    INFO(r.out);
    CHECK(r.status == 0);
    REQUIRE(rec.count() == 1);
    CHECK(boost::json::parse(rec.seen[0].body).at("Record").at("Data").as_string() == base64("over tls"));
  }
}

// ---- configuration ---------------------------------------------------------------------------------------------

TEST_CASE("invalid options are refused at start-up with the field named", "[http_stream][server][config]") {
  auto refused = [](const hs::server_options& o, std::string_view words) {
    try {
      o.validate();
      FAIL("validate() accepted the options; expected an error containing: " << words);
    } catch (const sluice::config_error& e) {
      INFO(e.what());
      CHECK(std::string_view(e.what()).starts_with("sluice: http_stream::server_options."));
      CHECK(std::string_view(e.what()).find(words) != std::string_view::npos);
    }
  };
  auto o = test_options();
  CHECK_NOTHROW(o.validate());
  SECTION("port") {
    o.port = 70000;
    refused(o, "port = 70000: must be 0..65535");
  }
  SECTION("address") {
    o.address = "localhost:80";
    refused(o, "address = 'localhost:80'");
  }
  SECTION("limits and timeouts") {
    o.max_header_bytes = 10;
    refused(o, "max_header_bytes = 10");
    o = test_options();
    o.body_timeout = 0ms;
    refused(o, "body_timeout = 0 ms: must be positive");
    o = test_options();
    o.max_connections = 0;
    refused(o, "max_connections = 0");
  }
  SECTION("authentication") {
    o.auth.secrets = nullptr;
    refused(o, "auth.secrets");
    o = test_options();
    o.auth.services = {"firehose", "Kinesis"};
    refused(o, "auth.services[1] = 'Kinesis'");
    o.auth.services = {};
    refused(o, "auth.services = []");
  }
  SECTION("TLS files") {
    test_cert tc;
    REQUIRE(tc.made);
    o.tls = hs::tls_options{tc.dir / "missing.pem", tc.key};
    refused(o, "tls.certificate_file = '" + (tc.dir / "missing.pem").string() + "': no such file");
    o.tls = hs::tls_options{tc.key, tc.key};
    refused(o, "tls.certificate_file");
    o.tls = hs::tls_options{tc.cert, tc.cert};
    refused(o, "tls.private_key_file");
    o.tls = hs::tls_options{tc.cert, tc.other_key};
    refused(o, "does not belong to the certificate");
    o.tls = hs::tls_options{tc.cert, tc.key};
    CHECK_NOTHROW(o.validate());
  }
}

TEST_CASE("a port already in use is an error naming the address", "[http_stream][server][config]") {
  recorder rec;
  hs::server first(test_options(), rec.handler());
  auto o = test_options();
  o.port = first.port();
  try {
    hs::server second(o, rec.handler());
    FAIL("a second server listened on the same port");
  } catch (const sluice::error& e) {
    CHECK(std::string_view(e.what()).find("listening on 127.0.0.1:" + std::to_string(first.port())) !=
          std::string_view::npos);
  }
}

TEST_CASE("response::json_error escapes its text as JSON", "[http_stream][server]") {
  const auto r = hs::response::json_error(400, "SerializationException", "bad \"quote\" and \\ and \n");
  CHECK(r.status == 400);
  CHECK(r.content_type == "application/x-amz-json-1.1");
  const auto v = boost::json::parse(r.body);
  CHECK(v.at("__type") == "SerializationException");
  CHECK(v.at("message") == "bad \"quote\" and \\ and \n");
}
