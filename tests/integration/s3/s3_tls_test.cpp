// SPDX-License-Identifier: Apache-2.0
// store::s3, s3_client and s3_reader over HTTPS to radosgw's TLS endpoint. scripts/services makes
// a throwaway CA and a certificate for 127.0.0.1, localhost and sluice-tls-vhost.localhost:
// verification is on by default, the CA given as connection.ca_file makes it pass, and an unknown
// CA or a name the certificate does not hold fail at start-up with the cause named. The AWS CLI,
// over HTTPS with --ca-bundle, judges what landed.
#include "s3_test_support.hpp"

#include <sluice/crypto/checksum.hpp>
#include <sluice/format/jsonl.hpp>
#include <sluice/store/s3.hpp>
#include <sluice/store/s3_client.hpp>
#include <sluice/store/s3_reader.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace sluice;
using sluice_test::vector_source;

namespace {

/// radosgw's HTTPS endpoint and the CA that signed its certificate, from scripts/services'
/// environment (SLUICE_S3_HTTPS_ENDPOINT, SLUICE_S3_CA_FILE).
struct tls_endpoint {
  std::string endpoint;  ///< https://127.0.0.1:PORT
  std::string ca_file;
  std::string port;
};

std::optional<tls_endpoint> find_tls() {
  const char* endpoint = std::getenv("SLUICE_S3_HTTPS_ENDPOINT");
  const char* ca = std::getenv("SLUICE_S3_CA_FILE");
  if (!endpoint || !*endpoint || !ca || !*ca) return std::nullopt;
  tls_endpoint t{endpoint, ca, {}};
  t.port = t.endpoint.substr(t.endpoint.rfind(':') + 1);
  return t;
}

/// The bucket scripts/services names in the certificate (DNS:sluice-tls-vhost.localhost), so
/// virtual-hosted style over HTTPS can verify it: OpenSSL honours no `*.localhost` wildcard.
constexpr const char* vhost_bucket = "sluice-tls-vhost";

/// The AWS CLI against the HTTPS endpoint, trusting only the test CA (--ca-bundle; the
/// support's environment unsets AWS_CA_BUNDLE).
sluice_test::command_result aws_tls(const s3_test::server& srv, const tls_endpoint& tls, const std::string& args) {
  s3_test::server https = srv;
  https.endpoint = tls.endpoint;
  return s3_test::aws(https, "--ca-bundle '" + tls.ca_file + "' " + args);
}

boost::json::value aws_tls_json(const s3_test::server& srv, const tls_endpoint& tls, const std::string& args) {
  auto r = aws_tls(srv, tls, args + " --output json");
  INFO("aws (https) " << args);
  REQUIRE(r.status == 0);
  if (r.out.find_first_not_of(" \n") == std::string::npos) return nullptr;
  return boost::json::parse(r.out);
}

/// Keys under the bucket and the bytes of each, read over HTTPS by the AWS CLI.
std::vector<std::pair<std::string, std::string>> aws_tls_objects(const s3_test::server& srv, const tls_endpoint& tls,
                                                                 const std::string& bucket) {
  std::vector<std::pair<std::string, std::string>> out;
  auto listed = aws_tls_json(srv, tls, "s3api list-objects-v2 --bucket " + bucket);
  if (!listed.is_object() || !listed.as_object().contains("Contents")) return out;
  sluice_test::temp_dir dir;
  for (const auto& o : listed.at("Contents").as_array()) {
    std::string key(o.at("Key").as_string());
    auto r = aws_tls(srv, tls, "s3api get-object --bucket " + bucket + " --key '" + key + "' " + (dir / "o").string());
    INFO("aws (https) get-object " << key);
    REQUIRE(r.status == 0);
    out.emplace_back(key, sluice_test::read_file(dir / "o"));
  }
  return out;
}

/// The message of what running `sink` behind a one-record source throws ("no error" if
/// nothing), and its error_code when it is a sluice::error.
template <class Sink>
std::string start_error(Sink sink, error_code* code = nullptr) {
  auto p = vector_source{.payloads = {"{}"}} | format::jsonl{} | std::move(sink);
  try {
    p.run();
  } catch (const sluice::error& e) {
    if (code) *code = e.code();
    return e.what();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

/// A server on 127.0.0.1, HTTPS with scripts/services' certificate or plain HTTP, that answers
/// every request `200` with no body and keeps what each request's `x-amz-content-sha256` said:
/// it shows what a client sends inside TLS, which no proxy can see. One connection at a time,
/// kept alive.
class hash_recorder {
 public:
  /// HTTPS with `tls_dir`'s server.pem and server.key; plain HTTP when `tls_dir` is empty.
  explicit hash_recorder(const std::filesystem::path& tls_dir) {
    if (!tls_dir.empty()) {
      tls_.emplace(boost::asio::ssl::context::tls_server);
      tls_->use_certificate_chain_file((tls_dir / "server.pem").string());
      tls_->use_private_key_file((tls_dir / "server.key").string(), boost::asio::ssl::context::pem);
    }
    acceptor_.open(boost::asio::ip::tcp::v4());
    acceptor_.bind({boost::asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    thread_ = std::thread([this] { serve(); });
  }
  ~hash_recorder() {
    // A blocking accept() does not return when another thread closes its socket: wake it with
    // a connection of our own.
    stopping_ = true;
    boost::asio::ip::tcp::socket wake(io_);
    boost::system::error_code ignored;
    wake.connect(acceptor_.local_endpoint(), ignored);
    thread_.join();
  }
  hash_recorder(const hash_recorder&) = delete;
  hash_recorder& operator=(const hash_recorder&) = delete;

  [[nodiscard]] std::string endpoint() const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }
  /// `x-amz-content-sha256` of every request so far, oldest first.
  [[nodiscard]] std::vector<std::string> payload_hashes() const {
    std::lock_guard lock(mutex_);
    return hashes_;
  }

 private:
  void serve() {
    for (;;) {
      boost::asio::ip::tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stopping_) return;
      if (!tls_) {
        answer_all(socket);
        continue;
      }
      boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream(std::move(socket), *tls_);
      stream.handshake(boost::asio::ssl::stream_base::server, ec);
      if (!ec) answer_all(stream);
    }
  }
  template <class Stream>
  void answer_all(Stream& stream) {
    namespace http = boost::beast::http;
    boost::beast::flat_buffer buffer;
    boost::system::error_code ec;
    while (!ec) {
      http::request<http::string_body> request;
      http::read(stream, buffer, request, ec);
      if (ec) return;
      {
        std::lock_guard lock(mutex_);
        hashes_.emplace_back(request["x-amz-content-sha256"]);
      }
      http::response<http::empty_body> answer(http::status::ok, request.version());
      answer.set(http::field::etag, "\"0\"");
      answer.keep_alive(request.keep_alive());
      answer.prepare_payload();  // Content-Length: 0, else the body would run to the close
      http::write(stream, answer, ec);
    }
  }

  boost::asio::io_context io_;
  std::optional<boost::asio::ssl::context> tls_;
  boost::asio::ip::tcp::acceptor acceptor_{io_};
  mutable std::mutex mutex_;
  std::vector<std::string> hashes_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace

/// Skips (fails under CI=true) when scripts/services' HTTPS variables are unset.
#define S3_TLS_OR_SKIP(srv, tls)                                                                            \
  S3_SERVER_OR_SKIP(srv);                                                                                   \
  auto tls##_found = find_tls();                                                                            \
  if (!tls##_found)                                                                                         \
    SLUICE_SKIP_OR_FAIL("no S3 HTTPS endpoint (SLUICE_S3_HTTPS_ENDPOINT, SLUICE_S3_CA_FILE): run "          \
                        "scripts/services start and source its env file");                                 \
  const tls_endpoint& tls = *tls##_found;                                                                   \
  INFO("HTTPS endpoint " << tls.endpoint << ", CA " << tls.ca_file);                                       \
  REQUIRE(std::filesystem::exists(tls.ca_file))

TEST_CASE("store::s3 over HTTPS with verify_tls on and the server's CA as ca_file lands single and multipart objects "
          "that the AWS CLI and s3_reader read back over HTTPS",
          "[s3][tls]") {
  S3_TLS_OR_SKIP(srv, tls);
  std::string bucket = s3_test::unique_bucket("tls");
  REQUIRE(aws_tls(srv, tls, "s3api create-bucket --bucket " + bucket).status == 0);

  // Two objects of 1,000 lines go up with one PutObject each; the third, one record of 12 MiB,
  // as a multipart upload of 3 parts (5, 5 and 2 MiB).
  auto payloads = s3_test::lines(2000, 100);
  payloads.push_back(s3_test::lines(1, 12 << 20, 7).front());
  auto conn = s3_test::connection(srv, tls.endpoint);
  conn.ca_file = tls.ca_file;
  REQUIRE(conn.verify_tls);  // the default
  auto p = vector_source{.payloads = payloads, .chunk = 1000} | format::jsonl{} |
           store::s3{.url = "s3://" + bucket + "/tls", .key = "{stream}/", .connection = conn,
                     .multipart_threshold = 5 << 20, .part_size = 5 << 20, .concurrency = 2};
  p.options.stream = "secure";
  p.run();

  // Keys hold zero-padded cursor positions: listed in key order, they come in record order.
  std::vector<std::string> expected{s3_test::joined(payloads, 0, 1000), s3_test::joined(payloads, 1000, 1000),
                                    s3_test::joined(payloads, 2000, 1)};
  auto objects = aws_tls_objects(srv, tls, bucket);
  REQUIRE(objects.size() == 3);
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto& [key, bytes] = objects[i];
    CAPTURE(key, expected[i].size());
    CHECK(key.starts_with("tls/secure/secure-"));
    CHECK((bytes == expected[i]));  // byte for byte (parenthesised: no 12 MiB dump on failure)
    auto head = aws_tls_json(srv, tls, "s3api head-object --bucket " + bucket + " --key '" + key + "'");
    std::string etag(head.at("ETag").as_string());
    bool multipart = i == 2;
    CHECK(etag.ends_with("-3\"") == multipart);
    CHECK((etag.find('-') == std::string::npos) == !multipart);
    CHECK(head.at("Metadata").at("sha256").as_string() == crypto::sha256_hex(expected[i]));
    keys.push_back(key.substr(std::string("tls/").size()));
  }
  CHECK(s3_test::multipart_uploads(srv, bucket) == 0);

  // sluice's reader over HTTPS with the same CA lists, reads and verifies them.
  store::s3_reader reader("s3://" + bucket + "/tls", conn);
  CHECK(reader.list() == keys);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    CAPTURE(keys[i]);
    std::string why;
    CHECK_FALSE(reader.verify(keys[i], why));
    CHECK(why.empty());
    auto o = reader.read(keys[i]);
    CHECK((o.body == expected[i]));
    CHECK(o.info.stream == "secure");
    CHECK(o.info.record_count == (i == 2 ? 1u : 1000u));
  }
}

TEST_CASE("with verify_tls on and no ca_file, store::s3 over HTTPS fails at start-up naming the endpoint and the "
          "unverified certificate",
          "[s3][tls]") {
  S3_TLS_OR_SKIP(srv, tls);
  std::string bucket = s3_test::unique_bucket("tls-noca");
  REQUIRE(aws_tls(srv, tls, "s3api create-bucket --bucket " + bucket).status == 0);

  // The premise: the machine's trust store does not know the throwaway CA, so the AWS CLI
  // without --ca-bundle refuses the server too.
  s3_test::server https = srv;
  https.endpoint = tls.endpoint;
  CHECK(s3_test::aws(https, "s3api list-objects-v2 --bucket " + bucket).status != 0);

  // No ca_file: libcurl's default trust store, or AWS_CA_BUNDLE's file when set.
  auto conn = s3_test::connection(srv, tls.endpoint);
  REQUIRE(conn.verify_tls);
  REQUIRE(conn.ca_file.empty());
  error_code code;
  std::string what = start_error(store::s3{.url = "s3://" + bucket, .connection = conn}, &code);
  CAPTURE(what);
  CHECK(code == make_error_code(errc::store_unreachable));
  CHECK(contains(what, "s3://" + bucket));
  CHECK(contains(what, tls.endpoint));
  CHECK(contains(what, "certificate"));
  // It failed before writing anything (not even the conditional-write probe).
  CHECK(s3_test::list_keys(srv, bucket).empty());

  // The client's own error: a transport failure, not retried (a certificate does not fix itself).
  store::s3_client client(conn);
  try {
    client.check_bucket(bucket, "");
    FAIL("expected a certificate verification failure");
  } catch (const store::s3_error& e) {
    CAPTURE(e.what());
    CHECK(e.status() == 0);
    CHECK(e.server_code().empty());
    CHECK(e.code() == make_error_code(errc::store_unreachable));
    CHECK(contains(e.what(), tls.endpoint));
    CHECK(contains(e.what(), "certificate"));
  }
  CHECK(client.retries() == 0);
}

TEST_CASE("with verify_tls on, a ca_file that does not exist fails at start-up naming the file", "[s3][tls]") {
  S3_TLS_OR_SKIP(srv, tls);
  std::string bucket = s3_test::unique_bucket("tls-cafile");
  REQUIRE(aws_tls(srv, tls, "s3api create-bucket --bucket " + bucket).status == 0);
  sluice_test::temp_dir dir;
  auto conn = s3_test::connection(srv, tls.endpoint);
  conn.ca_file = (dir / "no-such-ca.pem").string();
  std::string what = start_error(store::s3{.url = "s3://" + bucket, .connection = conn});
  CAPTURE(what);
  CHECK(contains(what, conn.ca_file));
  CHECK(s3_test::list_keys(srv, bucket).empty());
}

TEST_CASE("verify_tls = false connects to an HTTPS server whose certificate no trusted CA signed", "[s3][tls]") {
  // The option exists for self-signed development servers (a MinIO or radosgw on a laptop with
  // a certificate made on the spot); with a CA at hand, ca_file is the better choice.
  S3_TLS_OR_SKIP(srv, tls);
  std::string bucket = s3_test::unique_bucket("tls-noverify");
  REQUIRE(aws_tls(srv, tls, "s3api create-bucket --bucket " + bucket).status == 0);
  auto conn = s3_test::connection(srv, tls.endpoint);
  conn.verify_tls = false;
  REQUIRE(conn.ca_file.empty());  // the same settings that fail with verification on
  auto payloads = s3_test::lines(10, 200);
  auto p = vector_source{.payloads = payloads, .chunk = 10} | format::jsonl{} |
           store::s3{.url = "s3://" + bucket, .key = "{stream}/", .connection = conn};
  p.run();
  auto objects = aws_tls_objects(srv, tls, bucket);
  REQUIRE(objects.size() == 1);
  CHECK(objects[0].second == s3_test::joined(payloads, 0, 10));
  store::s3_reader reader("s3://" + bucket, conn);
  auto keys = reader.list();
  REQUIRE(keys.size() == 1);
  std::string why;
  CHECK_FALSE(reader.verify(keys[0], why));
  CHECK(why.empty());
}

TEST_CASE("with verify_tls on, a certificate that does not name the host fails although its CA is trusted", "[s3][tls]") {
  S3_TLS_OR_SKIP(srv, tls);
  std::string bucket = s3_test::unique_bucket("tls-name");
  REQUIRE(aws_tls(srv, tls, "s3api create-bucket --bucket " + bucket).status == 0);

  // By a name the certificate holds (localhost), with the CA: it works, so what fails below is
  // the name alone. libcurl resolves localhost and *.localhost to loopback itself.
  auto by_name = s3_test::connection(srv, "https://localhost:" + tls.port);
  by_name.ca_file = tls.ca_file;
  auto payloads = s3_test::lines(5, 100);
  auto p = vector_source{.payloads = payloads, .chunk = 5} | format::jsonl{} |
           store::s3{.url = "s3://" + bucket + "/by-name", .key = "{stream}/", .connection = by_name};
  p.run();
  auto objects = aws_tls_objects(srv, tls, bucket);
  REQUIRE(objects.size() == 1);
  CHECK(objects[0].second == s3_test::joined(payloads, 0, 5));

  // The same server and CA by a name the certificate does not hold.
  auto wrong = by_name;
  wrong.endpoint = "https://sluice-wrong-name.localhost:" + tls.port;
  error_code code;
  std::string what = start_error(store::s3{.url = "s3://" + bucket + "/wrong", .connection = wrong}, &code);
  CAPTURE(what);
  CHECK(code == make_error_code(errc::store_unreachable));
  CHECK(contains(what, wrong.endpoint));
  CHECK(contains(what, "certificate"));
  CHECK(contains(what, "'sluice-wrong-name.localhost'"));  // the name that did not match
  store::s3_client client(wrong);
  CHECK_THROWS_AS(client.check_bucket(bucket, ""), store::s3_error);
  CHECK(client.retries() == 0);
  CHECK(s3_test::list_keys(srv, bucket).size() == 1);

  // Virtual-hosted style verifies BUCKET.localhost: a bucket the certificate names works...
  (void)s3_test::aws(srv, std::string("s3api create-bucket --bucket ") + vhost_bucket);  // may exist from an earlier run
  REQUIRE(s3_test::aws(srv, std::string("s3api head-bucket --bucket ") + vhost_bucket).status == 0);
  auto vhost = by_name;
  vhost.addressing = aws::addressing_style::virtual_;
  std::string key = "vhost/" + s3_test::unique_bucket("key");
  store::s3_client vclient(vhost);
  vclient.send({.method = "PUT", .bucket = vhost_bucket, .key = key, .body = "over https, virtual-hosted",
                .send_body = true});
  CHECK(vclient.get_object(vhost_bucket, key) == "over https, virtual-hosted");
  auto r = aws_tls(srv, tls, std::string("s3api head-object --bucket ") + vhost_bucket + " --key " + key);
  CHECK(r.status == 0);
  // ...and one it does not name fails verification.
  try {
    vclient.check_bucket(bucket, "");
    FAIL("expected a host name mismatch for " << bucket << ".localhost");
  } catch (const store::s3_error& e) {
    CAPTURE(e.what());
    CHECK(contains(e.what(), "'" + bucket + ".localhost'"));
  }
}

TEST_CASE("over HTTPS a body with a checksum header goes as UNSIGNED-PAYLOAD, which radosgw takes, and over HTTP, "
          "without a checksum, or with payload_signing = always it is signed with its SHA-256",
          "[s3][tls]") {
  S3_TLS_OR_SKIP(srv, tls);
  const std::string body = "a body of thirty-three bytes here";
  const std::string sha256 = crypto::sha256_hex(body);
  crypto::crc32c crc;
  crc.update(body);
  const store::detail::header_list with_checksum{{"x-amz-checksum-crc32c", crypto::crc32c_base64(crc.value())}};
  auto put = [&](store::s3_client& client, const std::string& bucket, const std::string& key, bool checksum) {
    client.send({.method = "PUT", .bucket = bucket, .key = key,
                 .headers = checksum ? with_checksum : store::detail::header_list{}, .body = body, .send_body = true});
  };

  // What goes on the wire, inside TLS and outside it, seen by servers of the test's own.
  const auto tls_dir = std::filesystem::path(tls.ca_file).parent_path();
  for (bool https : {true, false}) {
    CAPTURE(https);
    hash_recorder recorder(https ? tls_dir : std::filesystem::path{});
    auto conn = s3_test::connection(srv, recorder.endpoint());
    conn.ca_file = tls.ca_file;
    conn.stall_timeout = std::chrono::seconds(5);  // a broken recorder fails the test in seconds
    conn.max_attempts = 1;
    {  // the recorder serves one connection at a time: each client closes its own before the next
      store::s3_client automatic(conn);
      put(automatic, "b", "with-checksum", true);
      put(automatic, "b", "without-checksum", false);
    }
    conn.payload_signing = store::s3_payload_signing::always;
    store::s3_client always(conn);
    put(always, "b", "always", true);
    CHECK(recorder.payload_hashes() == std::vector<std::string>{https ? "UNSIGNED-PAYLOAD" : sha256, sha256, sha256});
  }

  // radosgw checks the signature of the headers (the checksum among them) and stores the
  // unsigned body byte for byte.
  std::string bucket = s3_test::unique_bucket("tls-unsigned");
  REQUIRE(aws_tls(srv, tls, "s3api create-bucket --bucket " + bucket).status == 0);
  auto conn = s3_test::connection(srv, tls.endpoint);
  conn.ca_file = tls.ca_file;
  store::s3_client client(conn);
  put(client, bucket, "unsigned", true);
  auto objects = aws_tls_objects(srv, tls, bucket);
  REQUIRE(objects.size() == 1);
  CHECK(objects[0] == std::pair<std::string, std::string>{"unsigned", body});
}
