// SPDX-License-Identifier: Apache-2.0
// The firehose_endpoint program driven by the real AWS CLI and the real AWS SDK for JavaScript:
// what they send lands in the lake record for record, read back with the `sluice` command and the
// stock gzip; what they do wrong gets the errors they know.
#include <sluice/crypto/checksum.hpp>

#include "../s3/s3_test_support.hpp"
#include "endpoint_process.hpp"

#include <sluice_test/support.hpp>

#include <boost/json.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using sluice_test::endpoint_process;

namespace {

constexpr const char* key_id = "AKIDSLUICETEST";
constexpr const char* secret = "sluice/test+secret/0123456789abcdefghij";

std::string shell_quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

/// The AWS CLI isolated from this machine's settings, signing with the test key pair.
/// The AWS CLI, isolated from this machine's AWS configuration, signing with `secret_key`.
std::string aws(const std::string& args, const std::string& secret_key = std::string(secret)) {
  return "env -u AWS_PROFILE AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null "
         "AWS_EC2_METADATA_DISABLED=true AWS_PAGER= AWS_ACCESS_KEY_ID=" + std::string(key_id) +
         " AWS_SECRET_ACCESS_KEY=" + shell_quoted(secret_key) + " AWS_REGION=us-east-1 /usr/bin/aws " + args;
}

bool have(const char* program) { return ::access(program, X_OK) == 0; }

/// Sends one call with the real JS SDK (sdk_client.cjs); its one line of JSON output.
boost::json::object sdk(const std::string& url, const std::string& service, const std::string& operation,
                        const std::string& stream, const std::vector<std::string>& records,
                        const std::string& extra = "") {
  std::string command = R"({"endpoint":")" + url + R"(","region":"us-east-1","credentials":{"access_key_id":")" +
                        key_id + R"(","secret_access_key":")" + secret + R"("},"service":")" + service +
                        R"(","operation":")" + operation + R"(","stream":")" + stream + R"(","records":[)";
  for (std::size_t i = 0; i < records.size(); ++i)
    command += (i ? ",\"" : "\"") + sluice::crypto::to_base64(records[i]) + "\"";
  command += "]" + extra + "}";
  // On stdin: a command with 500 records or a 1 MB record is longer than an argument may be.
  sluice_test::temp_dir tmp;
  sluice_test::write_file(tmp / "command.json", command);
  const auto r = sluice_test::run_command("node " + shell_quoted(std::getenv("SDK_CLIENT")) + " < " +
                                          shell_quoted((tmp / "command.json").string()));
  REQUIRE(r.status == 0);
  return boost::json::parse(r.out).as_object();
}

bool sdk_available() {
  const char* modules = std::getenv("SLUICE_NODE_MODULES");
  return modules && fs::exists(fs::path(modules) / "@aws-sdk/client-firehose/package.json") &&
         fs::exists(fs::path(modules) / "@aws-sdk/client-kinesis/package.json");
}

/// Every object under `dir` (recursively, sidecars left out) whose path contains `part`.
std::vector<fs::path> objects_under(const fs::path& dir, const std::string& part = "") {
  std::vector<fs::path> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const std::string p = e.path().string();
    if (e.is_regular_file() && !p.ends_with(".meta.json") && p.find(part) != std::string::npos) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

/// A configuration with two delivery streams into `tmp/lake`:
/// - `events`: zstd, encrypted, newline-delimited, under events/YYYY/MM/dd/;
/// - `orders`: gzip, a transform that refuses non-JSON records, partitioned by customer_id.
fs::path write_config(const sluice_test::temp_dir& tmp) {
  const std::string lake = (tmp / "lake").string();
  const std::string config = R"({
    "listen": "127.0.0.1:0",
    "region": "us-east-1",
    "access_keys": [{"access_key_id": ")" + std::string(key_id) + R"(", "secret_access_key": ")" + secret + R"("}],
    "state_dir": ")" + (tmp / "state").string() + R"(",
    "delivery_streams": [
      {"name": "events", "lake": ")" + lake + R"(", "compression": "zstd", "newline_delimiter": true,
       "keyring": ")" + (tmp / "keyring.json").string() + R"(", "create_keyring": true,
       "content_type": "application/x-ndjson",
       "prefix": "events/!{timestamp:yyyy/MM/dd}/",
       "error_output_prefix": "event-errors/!{firehose:error-output-type}/",
       "buffering_hints": {"size_mib": 8, "interval_seconds": 600}},
      {"name": "orders", "lake": ")" + lake + R"(", "compression": "gzip", "newline_delimiter": true,
       "content_type": "application/x-ndjson", "transform": "require_json_object",
       "partition_keys": {"customer": ".customer_id"},
       "prefix": "orders/customer=!{partitionKeyFromQuery:customer}/",
       "error_output_prefix": "order-errors/!{firehose:error-output-type}/",
       "buffering_hints": {"size_mib": 64, "interval_seconds": 600}}
    ]})";
  sluice_test::write_file(tmp / "firehose.json", config);
  return tmp / "firehose.json";
}

}  // namespace

TEST_CASE("records the AWS CLI sends land in the lake, compressed and encrypted, record for record",
          "[integration][http_stream][cli]") {
  if (!have("/usr/bin/aws")) SLUICE_SKIP_OR_FAIL("/usr/bin/aws is missing: run scripts/bootstrap");
  sluice_test::temp_dir tmp;
  endpoint_process endpoint(write_config(tmp), tmp.path());
  const std::string url = " --endpoint-url " + endpoint.url();

  const std::vector<std::string> batch = {R"({"n":1,"event":"click"})", R"({"n":2,"event":"view"})",
                                          R"({"n":3,"event":"buy"})"};
  std::string records = "[";
  for (std::size_t i = 0; i < batch.size(); ++i) records += (i ? "," : "") + std::string(R"({"Data":)") + boost::json::serialize(boost::json::value(batch[i])) + "}";
  records += "]";
  auto put_batch = sluice_test::run_command(aws("firehose put-record-batch" + url +
                                                " --delivery-stream-name events --cli-binary-format raw-in-base64-out"
                                                " --records " + shell_quoted(records)));
  REQUIRE(put_batch.status == 0);
  const auto batch_answer = boost::json::parse(put_batch.out).as_object();
  CHECK(batch_answer.at("FailedPutCount").as_int64() == 0);
  CHECK(batch_answer.at("RequestResponses").as_array().size() == 3);

  auto put_one = sluice_test::run_command(aws("firehose put-record" + url +
                                              " --delivery-stream-name events --cli-binary-format raw-in-base64-out"
                                              " --record " + shell_quoted(R"({"Data":"{\"n\":4,\"event\":\"click\"}"})")));
  REQUIRE(put_one.status == 0);
  CHECK(boost::json::parse(put_one.out).as_object().at("RecordId").as_string().size() == 224);

  // Kinesis Data Streams producers reach the same stream by its name.
  auto kinesis = sluice_test::run_command(
      aws("kinesis put-records" + url + " --stream-name events --cli-binary-format raw-in-base64-out --records " +
          shell_quoted(R"([{"Data":"{\"n\":5}","PartitionKey":"a"},{"Data":"{\"n\":6}","PartitionKey":"b"}])")));
  REQUIRE(kinesis.status == 0);
  CHECK(boost::json::parse(kinesis.out).as_object().at("FailedRecordCount").as_int64() == 0);

  auto list = sluice_test::run_command(aws("firehose list-delivery-streams" + url));
  REQUIRE(list.status == 0);
  const auto names = boost::json::parse(list.out).as_object().at("DeliveryStreamNames").as_array();
  REQUIRE(names.size() == 2);
  CHECK(names[0].as_string() == "events");
  CHECK(names[1].as_string() == "orders");

  auto describe = sluice_test::run_command(aws("firehose describe-delivery-stream" + url + " --delivery-stream-name orders"));
  REQUIRE(describe.status == 0);
  const auto d = boost::json::parse(describe.out).as_object().at("DeliveryStreamDescription").as_object();
  CHECK(d.at("DeliveryStreamStatus").as_string() == "ACTIVE");
  const auto dest = d.at("Destinations").as_array()[0].as_object().at("ExtendedS3DestinationDescription").as_object();
  CHECK(dest.at("Prefix").as_string() == "orders/customer=!{partitionKeyFromQuery:customer}/");
  CHECK(dest.at("CompressionFormat").as_string() == "GZIP");
  CHECK(dest.at("BufferingHints").as_object().at("SizeInMBs").as_int64() == 64);

  // Mistakes get the errors the CLI knows, and the endpoint goes on serving.
  auto unknown = sluice_test::run_command(aws("firehose put-record" + url +
                                               " --delivery-stream-name nope --cli-binary-format raw-in-base64-out"
                                               " --record '{\"Data\":\"x\"}' 2>&1"));
  CHECK(unknown.status == 254);
  CHECK(unknown.out.find("ResourceNotFoundException") != std::string::npos);
  CHECK(unknown.out.find("Firehose nope under account 123456789012 not found.") != std::string::npos);
  auto wrong_key = sluice_test::run_command(aws("firehose put-record" + url +
                                                 " --delivery-stream-name events --cli-binary-format raw-in-base64-out"
                                                 " --record '{\"Data\":\"x\"}' 2>&1",
                                                 "wrong"));
  CHECK(wrong_key.status == 254);
  CHECK(wrong_key.out.find("InvalidSignatureException") != std::string::npos);

  // Acknowledged, so on disk; SIGTERM delivers them before the program exits.
  CHECK(objects_under(tmp / "lake").empty());
  REQUIRE(endpoint.terminate() == 0);
  const auto objects = objects_under(tmp / "lake" / "events");
  REQUIRE_FALSE(objects.empty());
  for (const auto& o : objects) CHECK(o.string().ends_with(".jsonl.zst.esdk"));

  // Read back with the sluice command: decrypted, decompressed, checked against the sidecars.
  const std::string cli = std::getenv("SLUICE_CLI");
  const std::string keyring = " --keyring " + shell_quoted((tmp / "keyring.json").string());
  auto verify = sluice_test::run_command(shell_quoted(cli) + " verify " + shell_quoted((tmp / "lake").string()) + keyring);
  CHECK(verify.status == 0);
  auto cat = sluice_test::run_command(shell_quoted(cli) + " cat " + shell_quoted((tmp / "lake").string()) + " --prefix events/" + keyring);
  REQUIRE(cat.status == 0);
  CHECK(lines_of(cat.out) == sorted({R"({"n":1,"event":"click"})", R"({"n":2,"event":"view"})",
                                     R"({"n":3,"event":"buy"})", R"({"n":4,"event":"click"})", R"({"n":5})",
                                     R"({"n":6})"}));
}

TEST_CASE("records the AWS SDK for JavaScript sends are transformed, partitioned, and failures land under the "
          "error prefix",
          "[integration][http_stream][sdk]") {
  if (!sdk_available()) SLUICE_SKIP_OR_FAIL("the AWS SDK for JavaScript is missing: run scripts/bootstrap");
  sluice_test::temp_dir tmp;
  endpoint_process endpoint(write_config(tmp), tmp.path());

  const std::vector<std::string> orders = {
      R"({"customer_id":"42","total":10})", R"({"customer_id":7,"total":3})", R"({"customer_id":"42","total":5})",
      "not json at all",                    R"({"total":1})"};
  auto answer = sdk(endpoint.url(), "firehose", "PutRecordBatch", "orders", orders);
  REQUIRE_FALSE(answer.contains("error"));
  CHECK(answer.at("FailedPutCount").as_int64() == 0);
  CHECK(answer.at("RequestResponses").as_array().size() == 5);

  auto kinesis = sdk(endpoint.url(), "kinesis", "PutRecords", "events", {R"({"k":1})", R"({"k":2})"});
  REQUIRE_FALSE(kinesis.contains("error"));
  CHECK(kinesis.at("FailedRecordCount").as_int64() == 0);
  CHECK(kinesis.at("Records").as_array()[0].as_object().at("ShardId").as_string() == "shardId-000000000000");

  // Errors as the SDK reports them: its exception names, with the endpoint still serving.
  auto missing = sdk(endpoint.url(), "firehose", "PutRecord", "nope", {"x"});
  CHECK(missing.at("error").as_object().at("name").as_string() == "ResourceNotFoundException");
  std::vector<std::string> too_many(501, "x");
  auto over = sdk(endpoint.url(), "firehose", "PutRecordBatch", "orders", too_many);
  CHECK(over.at("error").as_object().at("name").as_string() == "ValidationException");
  auto huge = sdk(endpoint.url(), "firehose", "PutRecord", "orders", {std::string(1'024'001, 'x')});
  CHECK(huge.at("error").as_object().at("name").as_string() == "ValidationException");
  auto describe = sdk(endpoint.url(), "firehose", "DescribeDeliveryStream", "events", {});
  CHECK(describe.at("DeliveryStreamDescription").as_object().at("DeliveryStreamName").as_string() == "events");

  // /metrics counts what the stage did (it runs behind the acknowledgement: wait for it).
  std::string metrics;
  for (int i = 0; i < 100; ++i) {
    metrics = sluice_test::run_command("curl -s " + endpoint.url() + "/metrics").out;
    if (metrics.find("sluice_firehose_records_partitioning_failed_total{stream=\"orders\"} 1\n") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK_THAT(metrics, Catch::Contains("sluice_firehose_records_accepted_total{stream=\"orders\"} 5\n"));
  CHECK_THAT(metrics, Catch::Contains("sluice_firehose_records_processing_failed_total{stream=\"orders\"} 1\n"));
  CHECK_THAT(metrics, Catch::Contains("sluice_firehose_records_partitioning_failed_total{stream=\"orders\"} 1\n"));
  CHECK_THAT(metrics, Catch::Contains("sluice_firehose_requests_invalid_total{stream=\"orders\"} 2\n"));

  REQUIRE(endpoint.terminate() == 0);
  // Partitioned by customer, gzip that the stock gzip reads.
  auto gunzip = [](const std::vector<fs::path>& files) {
    std::string all;
    for (const auto& f : files) {
      auto r = sluice_test::run_command("gzip -dc " + shell_quoted(f.string()));
      REQUIRE(r.status == 0);
      all += r.out;
    }
    return lines_of(all);
  };
  CHECK(gunzip(objects_under(tmp / "lake" / "orders" / "customer=42")) ==
        sorted({R"({"customer_id":"42","total":10})", R"({"customer_id":"42","total":5})"}));
  CHECK(gunzip(objects_under(tmp / "lake" / "orders" / "customer=7")) == sorted({R"({"customer_id":7,"total":3})"}));
  // The record the transform refused and the one without a customer, each under its error type,
  // in Firehose's error record shape with the original bytes.
  auto failed = gunzip(objects_under(tmp / "lake" / "order-errors" / "processing-failed"));
  REQUIRE(failed.size() == 1);
  auto failed_json = boost::json::parse(failed[0]).as_object();
  CHECK(sluice::crypto::from_base64(std::string(failed_json.at("rawData").as_string())) == "not json at all");
  auto unkeyed = gunzip(objects_under(tmp / "lake" / "order-errors" / "partitioning-failed"));
  REQUIRE(unkeyed.size() == 1);
  CHECK(sluice::crypto::from_base64(std::string(boost::json::parse(unkeyed[0]).as_object().at("rawData").as_string())) ==
        R"({"total":1})");
  // What the SDK sent through the Kinesis API landed in `events`, read back with the sluice command.
  const std::string cli = std::getenv("SLUICE_CLI");
  auto cat = sluice_test::run_command(shell_quoted(cli) + " cat " + shell_quoted((tmp / "lake").string()) +
                                      " --prefix events/ --keyring " + shell_quoted((tmp / "keyring.json").string()));
  REQUIRE(cat.status == 0);
  CHECK(lines_of(cat.out) == sorted({R"({"k":1})", R"({"k":2})"}));
}

TEST_CASE("a bad configuration file stops the program at start-up, naming the member",
          "[integration][http_stream][config]") {
  sluice_test::temp_dir tmp;
  const std::string program = sluice_test::endpoint_program();
  auto run = [&](const std::string& config) {
    sluice_test::write_file(tmp / "bad.json", config);
    return sluice_test::run_command("cd " + shell_quoted(tmp.path().string()) + " && AWS_ACCESS_KEY_ID=a AWS_SECRET_ACCESS_KEY=b " +
                                    shell_quoted(program) + " --config bad.json 2>&1");
  };
  auto size = run(R"({"delivery_streams": [{"name": "s", "buffering_hints": {"size_mib": 200}}]})");
  CHECK(size.status == 1);
  CHECK(size.out.find("bad.json: delivery_streams[0].buffering_hints.size_mib = 200: must be 1..128") != std::string::npos);
  auto typo = run(R"({"delivery_streams": [{"name": "s", "compresion": "zstd"}]})");
  CHECK(typo.status == 1);
  CHECK(typo.out.find("delivery_streams[0].compresion: unknown member") != std::string::npos);
  auto codec = run(R"({"delivery_streams": [{"name": "s", "compression": "lz4"}]})");
  CHECK(codec.status == 1);
  CHECK(codec.out.find("delivery_streams[0].compression = \"lz4\": must be \"none\", \"gzip\" or \"zstd\"") !=
        std::string::npos);
  auto transform = run(R"({"delivery_streams": [{"name": "s", "transform": "nope"}]})");
  CHECK(transform.status == 1);
  CHECK(transform.out.find("delivery_streams[0] ('s'): transform = \"nope\": no such transform (this program has: "
                           "require_json_object)") != std::string::npos);
  auto json = run("{not json");
  CHECK(json.status == 1);
  CHECK(json.out.find("bad.json: not JSON") != std::string::npos);
  CHECK_FALSE(fs::exists(tmp / "firehose-state"));  // nothing was started
}

TEST_CASE("with tls in its configuration the program serves HTTPS, which the AWS CLI trusts with --ca-bundle",
          "[integration][http_stream][tls]") {
  if (!have("/usr/bin/aws") || !have("/usr/bin/openssl"))
    SLUICE_SKIP_OR_FAIL("/usr/bin/aws and /usr/bin/openssl are needed: run scripts/bootstrap");
  sluice_test::temp_dir tmp;
  const fs::path cert = tmp / "cert.pem", key = tmp / "key.pem";
  auto made = sluice_test::run_command(
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 "
      "-addext subjectAltName=IP:127.0.0.1 -keyout " + key.string() + " -out " + cert.string() + " 2>&1");
  INFO(made.out);
  REQUIRE(made.status == 0);
  sluice_test::write_file(tmp / "tls.json", R"({"listen": "127.0.0.1:0",
    "tls": {"certificate_file": ")" + cert.string() + R"(", "private_key_file": ")" + key.string() + R"("},
    "access_keys": [{"access_key_id": ")" + std::string(key_id) + R"(", "secret_access_key": ")" + secret + R"("}],
    "state_dir": ")" + (tmp / "state").string() + R"(",
    "delivery_streams": [{"name": "events", "lake": ")" + (tmp / "lake").string() + R"(", "newline_delimiter": true}]})");
  endpoint_process endpoint(tmp / "tls.json", tmp.path());
  REQUIRE(endpoint.url().starts_with("https://127.0.0.1:"));
  auto put = sluice_test::run_command(aws("firehose put-record-batch --endpoint-url " + endpoint.url() +
                                          " --ca-bundle " + cert.string() +
                                          " --delivery-stream-name events --cli-binary-format raw-in-base64-out"
                                          " --records '[{\"Data\":\"over tls\"}]'"));
  REQUIRE(put.status == 0);
  CHECK(boost::json::parse(put.out).as_object().at("FailedPutCount").as_int64() == 0);
  // Without the CA the CLI refuses the certificate: the connection really is TLS.
  auto untrusted = sluice_test::run_command(aws("firehose list-delivery-streams --endpoint-url " + endpoint.url() + " 2>&1"));
  CHECK(untrusted.status != 0);
  CHECK(untrusted.out.find("SSL") != std::string::npos);
  REQUIRE(endpoint.terminate() == 0);
  std::string landed;
  for (const auto& o : objects_under(tmp / "lake")) landed += sluice_test::read_file(o);
  CHECK(landed == "over tls\n");
}

TEST_CASE("a delivery stream lands in an S3 bucket, and a missing bucket stops the program before it listens",
          "[integration][http_stream][s3]") {
  S3_SERVER_OR_SKIP(server);
  if (!have("/usr/bin/aws")) SLUICE_SKIP_OR_FAIL("/usr/bin/aws is missing: run scripts/bootstrap");
  sluice_test::temp_dir tmp;
  const std::string bucket = s3_test::unique_bucket("firehose");
  s3_test::create_bucket(server, bucket);
  // The store reaches the bucket the way the AWS CLI does: the server's keys, endpoint and
  // path-style addressing from the standard AWS environment. Clients sign with the endpoint's own.
  const std::string environment = "env -u AWS_ENDPOINT_URL_S3 -u AWS_SESSION_TOKEN -u AWS_REGION " +
                                  s3_test::aws_env(server) + "AWS_ENDPOINT_URL=" + server.endpoint + " ";
  auto config = [&](const std::string& lake) {
    sluice_test::write_file(tmp / "s3.json", R"({"listen": "127.0.0.1:0",
      "access_keys": [{"access_key_id": ")" + std::string(key_id) + R"(", "secret_access_key": ")" + secret + R"("}],
      "state_dir": ")" + (tmp / "state").string() + R"(",
      "delivery_streams": [{"name": "events", "lake": ")" + lake + R"(", "compression": "gzip",
        "newline_delimiter": true, "content_type": "application/x-ndjson", "prefix": "in/!{timestamp:yyyy}/",
        "error_output_prefix": "errors/!{firehose:error-output-type}/"}]})");
    return tmp / "s3.json";
  };

  {
    endpoint_process endpoint(config("s3://" + bucket + "/firehose"), tmp.path(), environment);
    auto put = sluice_test::run_command(aws("firehose put-record-batch --endpoint-url " + endpoint.url() +
                                            " --delivery-stream-name events --cli-binary-format raw-in-base64-out"
                                            " --records '[{\"Data\":\"{\\\"a\\\":1}\"},{\"Data\":\"{\\\"a\\\":2}\"}]'"));
    REQUIRE(put.status == 0);
    CHECK(boost::json::parse(put.out).as_object().at("FailedPutCount").as_int64() == 0);
    REQUIRE(endpoint.terminate() == 0);
  }
  auto listed = s3_test::aws_json(server, "s3api list-objects-v2 --bucket " + bucket + " --prefix firehose/in/");
  REQUIRE(listed.is_object());
  const auto& contents = listed.as_object().at("Contents").as_array();
  REQUIRE(contents.size() == 1);
  const std::string key(contents[0].as_object().at("Key").as_string());
  CHECK(key.ends_with(".jsonl.gz"));
  auto got = s3_test::aws(server, "s3api get-object --bucket " + bucket + " --key '" + key + "' " + (tmp / "o.gz").string());
  REQUIRE(got.status == 0);
  auto text = sluice_test::run_command("gzip -dc " + (tmp / "o.gz").string());
  REQUIRE(text.status == 0);
  CHECK(text.out == "{\"a\":1}\n{\"a\":2}\n");

  const std::string missing = s3_test::unique_bucket("firehose-missing");
  auto refused = sluice_test::run_command("cd " + tmp.path().string() + " && " + environment +
                                          shell_quoted(sluice_test::endpoint_program()) + " --config " +
                                          config("s3://" + missing + "/x").string() + " 2>&1");
  CHECK(refused.status == 1);
  CHECK(refused.out.find("listening") == std::string::npos);
  CHECK(refused.out.find(missing) != std::string::npos);
  CHECK(refused.out.find("delivery stream events failed to open: ") != std::string::npos);
}
