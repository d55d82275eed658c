// SPDX-License-Identifier: Apache-2.0
// store::s3 against radosgw: what lands is checked with the AWS CLI and rclone, byte for byte and
// metadata for metadata; failures come from the fault-injecting proxy in front of the server.
#include "s3_test_support.hpp"

#include <sluice/format/jsonl.hpp>
#include <sluice/store/s3.hpp>
#include <sluice/store/s3_reader.hpp>
#include <sluice_test/fault_proxy.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <thread>
#include <string>
#include <vector>

using namespace sluice;
using sluice_test::fault;
using sluice_test::fault_proxy;
using sluice_test::vector_source;

namespace {

}  // namespace

TEST_CASE("store::s3 lands objects the AWS CLI and rclone read back byte for byte, with the sidecar's facts as metadata",
          "[s3]") {
  S3_SERVER_OR_SKIP(srv);
  std::string bucket = s3_test::unique_bucket("put");
  s3_test::create_bucket(srv, bucket);
  auto payloads = s3_test::lines(3000);
  auto p = vector_source{.payloads = payloads, .chunk = 1000} | format::jsonl{} |
           store::s3{.url = "s3://" + bucket + "/raw", .key = "{stream}/", .connection = s3_test::connection(srv)};
  p.options.stream = "clicks";
  p.run();

  auto keys = s3_test::list_keys(srv, bucket);
  REQUIRE(keys.size() == 3);
  for (std::size_t k = 0; k < keys.size(); ++k) {
    CAPTURE(keys[k]);
    CHECK(keys[k].starts_with("raw/clicks/clicks-"));
    CHECK(keys[k].ends_with(".jsonl"));
    std::string expected = s3_test::joined(payloads, k * 1000, 1000);
    CHECK(s3_test::get_object(srv, bucket, keys[k]) == expected);
    auto head = s3_test::aws_json(srv, "s3api head-object --bucket " + bucket + " --key '" + keys[k] + "'");
    CHECK(head.at("ContentLength").to_number<std::uint64_t>() == expected.size());
    CHECK(head.at("ContentType").as_string() == "application/x-ndjson");
    const auto& meta = head.at("Metadata").as_object();
    CHECK(meta.at("record-count").as_string() == "1000");
    CHECK(meta.at("stream").as_string() == "clicks");
    CHECK(meta.at("size").as_string() == std::to_string(expected.size()));
    CHECK(meta.at("sha256").as_string() == crypto::sha256_hex(expected));
    CHECK(meta.at("crc32c").as_string().size() == 8);
    auto cursors = boost::json::parse(meta.at("cursors").as_string());
    CHECK(cursors.at(0).at("first_position").to_number<int>() == static_cast<int>(k * 1000 + 1));
    CHECK(cursors.at(0).at("records").to_number<int>() == 1000);
  }
  // rclone, a second independent reader.
  auto cat = s3_test::rclone(srv, "cat lake:" + bucket + "/raw/clicks/");
  REQUIRE(cat.status == 0);
  CHECK(cat.out == s3_test::joined(payloads, 0, 3000));

  // sluice's own reader sees the same facts as the local store's sidecar.
  store::s3_reader reader("s3://" + bucket + "/raw", s3_test::connection(srv));
  auto rkeys = reader.list();
  REQUIRE(rkeys.size() == 3);
  for (const auto& key : rkeys) {
    std::string why;
    CHECK_FALSE(reader.verify(key, why));
    auto o = reader.read(key);
    CHECK(o.info.record_count == 1000);
    CHECK(o.info.stream == "clicks");
    CHECK(o.info.content_type == "application/x-ndjson");
  }
}

TEST_CASE("objects over the threshold go up as parallel parts, each with a checksum, and land as one object", "[s3]") {
  S3_SERVER_OR_SKIP(srv);
  std::string bucket = s3_test::unique_bucket("multipart");
  s3_test::create_bucket(srv, bucket);
  fault_proxy proxy(srv.host, srv.port);
  auto payloads = s3_test::lines(230, 100 * 1024);  // one object of about 23 MiB: 5 parts of 5 MiB
  auto p = vector_source{.payloads = payloads, .chunk = 1000} | format::jsonl{} |
           store::s3{.url = "s3://" + bucket, .key = "{stream}/", .connection = s3_test::connection(srv, proxy.endpoint()),
                     .multipart_threshold = 5 << 20, .part_size = 5 << 20, .concurrency = 3};
  p.run();

  auto keys = s3_test::list_keys(srv, bucket);
  REQUIRE(keys.size() == 1);
  std::string expected = s3_test::joined(payloads, 0, payloads.size());
  CHECK(s3_test::get_object(srv, bucket, keys[0]) == expected);
  auto head = s3_test::aws_json(srv, "s3api head-object --bucket " + bucket + " --key '" + keys[0] + "'");
  CHECK(std::string(head.at("ETag").as_string()).ends_with("-5\""));
  CHECK(head.at("Metadata").at("sha256").as_string() == crypto::sha256_hex(expected));
  CHECK(proxy.count("PUT", "", "partNumber=") == 5);
  for (const auto& e : proxy.log()) {
    if (e.target.find("partNumber=") == std::string::npos) continue;
    CAPTURE(e.target);
    CHECK(e.checksum_checked);
    CHECK(e.checksum_ok);
  }
  CHECK(s3_test::multipart_uploads(srv, bucket) == 0);
}

TEST_CASE("a replay finds its keys stored and writes no second copy", "[s3]") {
  S3_SERVER_OR_SKIP(srv);
  std::string bucket = s3_test::unique_bucket("replay");
  s3_test::create_bucket(srv, bucket);
  fault_proxy proxy(srv.host, srv.port);
  auto payloads = s3_test::lines(2000);
  payloads.push_back(std::string(6 << 20, 'x'));  // the last object goes multipart
  for (auto mode : {store::s3_conditional::automatic, store::s3_conditional::head_first}) {
    CAPTURE(static_cast<int>(mode));
    auto make = [&] {
      return vector_source{.payloads = payloads, .chunk = 1000} | format::jsonl{} |
             store::s3{.url = "s3://" + bucket + "/m" + std::to_string(static_cast<int>(mode)), .key = "{stream}/",
                       .connection = s3_test::connection(srv, proxy.endpoint()), .multipart_threshold = 5 << 20,
                       .part_size = 5 << 20, .conditional = mode};
    };
    auto first = make();
    first.run();
    std::string prefix = "m" + std::to_string(static_cast<int>(mode)) + "/";
    auto keys = s3_test::list_keys(srv, bucket, prefix);
    REQUIRE(keys.size() == 3);
    auto before = s3_test::aws_json(srv, "s3api list-objects-v2 --bucket " + bucket + " --prefix " + prefix);

    // Object bytes the server accepted (probes aside), before and after the replay.
    auto stored_writes = [&] {
      std::size_t n = 0;
      for (const auto& e : proxy.log())
        if (e.method == "PUT" && e.target.find(".sluice-conditional-probe") == std::string::npos && e.status == 200) ++n;
      return n;
    };
    auto writes_before = stored_writes();
    auto second = make();
    second.run();
    CHECK(second.metrics().snapshot().objects_out == 3);  // all acknowledged
    CHECK(s3_test::list_keys(srv, bucket, prefix) == keys);
    auto after = s3_test::aws_json(srv, "s3api list-objects-v2 --bucket " + bucket + " --prefix " + prefix);
    for (std::size_t i = 0; i < keys.size(); ++i)
      CHECK(after.at("Contents").at(i).at("LastModified") == before.at("Contents").at(i).at("LastModified"));
    // Nothing was stored again: only PUTs refused with 412, or none at all after a HEAD.
    CHECK(stored_writes() == writes_before);
  }
}

TEST_CASE("throttling, resets, stalls and truncated answers are retried and every object lands once", "[s3]") {
  S3_SERVER_OR_SKIP(srv);
  std::string bucket = s3_test::unique_bucket("faults");
  s3_test::create_bucket(srv, bucket);
  fault_proxy proxy(srv.host, srv.port);
  proxy.add_rule({.method = "PUT", .query_contains = "partNumber=2&", .times = 2, .action = fault::slow_down_503});
  proxy.add_rule({.method = "PUT", .query_contains = "partNumber=3&", .times = 1,
                  .action = fault::reset_during_request_body, .after_bytes = 1 << 20});
  proxy.add_rule({.method = "PUT", .query_contains = "partNumber=4&", .times = 1,
                  .action = fault::stall_before_response, .stall = std::chrono::milliseconds(6000)});
  proxy.add_rule({.method = "POST", .query_contains = "uploadId=", .times = 1, .action = fault::internal_error_500});
  proxy.add_rule({.method = "PUT", .path_contains = "/small/", .skip = 1, .times = 1,
                  .action = fault::truncate_response_body, .after_bytes = 0});
  proxy.add_rule({.method = "PUT", .path_contains = "/small/", .skip = 1, .times = 1, .action = fault::reset_before_response});

  auto big = s3_test::lines(60, 100 * 1024);  // about 6 MiB: parts of 5 MiB and 1 MiB... and a second object
  auto conn = s3_test::connection(srv, proxy.endpoint());
  conn.stall_timeout = std::chrono::milliseconds(2500);
  auto p1 = vector_source{.payloads = s3_test::lines(250, 100 * 1024, 7), .chunk = 1000} | format::jsonl{} |
            store::s3{.url = "s3://" + bucket + "/big", .key = "{stream}/", .connection = conn,
                      .multipart_threshold = 5 << 20, .part_size = 5 << 20, .concurrency = 2};
  p1.run();
  auto small_payloads = s3_test::lines(3000);
  auto p2 = vector_source{.payloads = small_payloads, .chunk = 500} | format::jsonl{} |
            store::s3{.url = "s3://" + bucket + "/small", .key = "{stream}/", .connection = conn,
                      .conditional = store::s3_conditional::off};
  p2.run();

  auto bigkeys = s3_test::list_keys(srv, bucket, "big/");
  REQUIRE(bigkeys.size() == 1);
  CHECK(s3_test::get_object(srv, bucket, bigkeys[0]) == s3_test::joined(s3_test::lines(250, 100 * 1024, 7), 0, 250));
  auto smallkeys = s3_test::list_keys(srv, bucket, "small/");
  REQUIRE(smallkeys.size() == 6);
  for (std::size_t k = 0; k < smallkeys.size(); ++k)
    CHECK(s3_test::get_object(srv, bucket, smallkeys[k]) == s3_test::joined(small_payloads, k * 500, 500));
  // Each fault hit its part (at least) once more than it was applied; a loaded machine may add
  // a retry of its own, so the counts are lower bounds.
  CHECK(proxy.count("PUT", "", "partNumber=2&") >= 3);
  CHECK(proxy.count("PUT", "", "partNumber=3&") >= 2);
  // The stalled attempt is logged when its stall ends (the client gave up on it long before).
  for (int i = 0; i < 200 && proxy.count("PUT", "", "partNumber=4&") < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(proxy.count("PUT", "", "partNumber=4&") >= 2);
  CHECK(s3_test::multipart_uploads(srv, bucket) == 0);
  for (const auto& e : proxy.log()) CHECK((!e.checksum_checked || e.checksum_ok));
}

TEST_CASE("when retries run out the error names bucket, key and code, nothing is acknowledged and the upload is aborted",
          "[s3]") {
  S3_SERVER_OR_SKIP(srv);
  std::string bucket = s3_test::unique_bucket("giveup");
  s3_test::create_bucket(srv, bucket);
  fault_proxy proxy(srv.host, srv.port);
  proxy.add_rule({.method = "PUT", .query_contains = "partNumber=2&", .times = -1, .action = fault::slow_down_503});
  sluice_test::temp_dir dir;
  auto conn = s3_test::connection(srv, proxy.endpoint());
  conn.max_attempts = 3;
  auto p = vector_source{.payloads = s3_test::lines(120, 100 * 1024), .chunk = 1000} | format::jsonl{} |
           store::s3{.url = "s3://" + bucket, .key = "{stream}/", .connection = conn,
                     .multipart_threshold = 5 << 20, .part_size = 5 << 20};
  p.options.checkpoint = dir / "checkpoint";
  try {
    p.run();
    FAIL("the run should have failed");
  } catch (const store::s3_error& e) {
    std::string what = e.what();
    CAPTURE(what);
    CHECK(what.find(bucket + "/default/default-") != std::string::npos);
    CHECK(what.find("SlowDown") != std::string::npos);
    CHECK(what.find("after 3 attempts") != std::string::npos);
    CHECK(e.code() == errc::store_refused);
  }
  CHECK(proxy.count("PUT", "", "partNumber=2&") == 3);
  CHECK(p.metrics().snapshot().objects_out == 0);
  CHECK(s3_test::list_keys(srv, bucket).empty());
  CHECK(s3_test::multipart_uploads(srv, bucket) == 0);
  std::string checkpoint = std::filesystem::exists(dir / "checkpoint") ? sluice_test::read_file(dir / "checkpoint") : "";
  CHECK(checkpoint.find("\"vector\"") == std::string::npos);
}

TEST_CASE("bad configuration and unusable servers fail at start-up with the cause named", "[s3]") {
  S3_SERVER_OR_SKIP(srv);
  std::string bucket = s3_test::unique_bucket("startup");
  s3_test::create_bucket(srv, bucket);
  auto run_with = [&](store::s3 sink) -> std::string {
    auto p = vector_source{.payloads = {"{}"}} | format::jsonl{} | std::move(sink);
    try {
      p.run();
    } catch (const std::exception& e) {
      return e.what();
    }
    return "no error";
  };
  auto conn = s3_test::connection(srv);
  std::string missing = run_with({.url = "s3://no-such-bucket-sluice", .connection = conn});
  CHECK(missing.find("s3://no-such-bucket-sluice") != std::string::npos);
  CHECK(missing.find("does not exist") != std::string::npos);

  auto wrong_secret = conn;
  wrong_secret.credentials.secret_access_key = "not-the-secret";
  std::string bad_sig = run_with({.url = "s3://" + bucket, .connection = wrong_secret});
  CHECK(bad_sig.find("SignatureDoesNotMatch") != std::string::npos);
  CHECK(bad_sig.find("access denied") != std::string::npos);

  auto unknown_key = conn;
  unknown_key.credentials.access_key_id = "AKIDUNKNOWN";
  CHECK(run_with({.url = "s3://" + bucket, .connection = unknown_key}).find("InvalidAccessKeyId") != std::string::npos);

  auto skewed = conn;
  skewed.clock = [] { return std::chrono::system_clock::now() - std::chrono::hours(1); };
  CHECK(run_with({.url = "s3://" + bucket, .connection = skewed}).find("RequestTimeTooSkewed") != std::string::npos);

  auto refused = conn;
  refused.endpoint = "http://127.0.0.1:9";  // discard port: nothing listens
  refused.max_attempts = 2;
  std::string unreachable = run_with({.url = "s3://" + bucket, .connection = refused});
  CHECK(unreachable.find("127.0.0.1:9") != std::string::npos);

  CHECK(run_with({.url = "s3://" + bucket, .key = "{nope}/", .connection = conn}).find("{nope}") != std::string::npos);
  CHECK(run_with({.url = "s3:/" + bucket, .connection = conn}).find("must start with s3://") != std::string::npos);
  CHECK(run_with({.url = "s3://" + bucket, .connection = conn, .part_size = 1 << 20}).find("5 MiB") != std::string::npos);
  CHECK(run_with({.url = "s3://" + bucket, .connection = conn,
                  .encryption = {.kind = store::s3_server_side_encryption::mode::customer, .customer_key = "short"}})
            .find("32 bytes") != std::string::npos);
}

TEST_CASE("an object whose key passes 1,024 bytes goes to the error output and the run goes on", "[s3]") {
  S3_SERVER_OR_SKIP(srv);
  std::string bucket = s3_test::unique_bucket("longkey");
  s3_test::create_bucket(srv, bucket);
  std::vector<record_error> errors;
  auto p = vector_source{.payloads = s3_test::lines(2), .chunk = 1} | format::jsonl{} |
           store::s3{.url = "s3://" + bucket + "/" + std::string(1000, 'p'), .key = "{stream}/",
                     .connection = s3_test::connection(srv)};
  p.options.on_error = [&](const record_error& e) { errors.push_back(e); };
  p.run();
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].stage == "store::s3");
  CHECK(errors[0].reason.find("exceeds 1024 bytes") != std::string::npos);
  CHECK(s3_test::list_keys(srv, bucket).empty());
}

TEST_CASE("SSE-KMS and SSE-C encrypt at rest, tags and the canned ACL are set", "[s3]") {
  S3_SERVER_OR_SKIP(srv);
  std::string bucket = s3_test::unique_bucket("sse");
  s3_test::create_bucket(srv, bucket);
  auto payloads = s3_test::lines(100);
  using mode = store::s3_server_side_encryption::mode;
  if (!srv.kms_key_id.empty()) {
    auto p = vector_source{.payloads = payloads} | format::jsonl{} |
             store::s3{.url = "s3://" + bucket + "/kms", .key = "{stream}/", .connection = s3_test::connection(srv),
                       .encryption = {.kind = mode::kms, .kms_key_id = srv.kms_key_id},
                       .tags = {{"team", "data"}, {"tier", "raw zone"}}, .acl = "public-read"};
    p.run();
    auto keys = s3_test::list_keys(srv, bucket, "kms/");
    REQUIRE(keys.size() == 1);
    auto head = s3_test::aws_json(srv, "s3api head-object --bucket " + bucket + " --key '" + keys[0] + "'");
    CHECK(head.at("ServerSideEncryption").as_string() == "aws:kms");
    CHECK(std::string(head.at("SSEKMSKeyId").as_string()).find(srv.kms_key_id) != std::string::npos);
    CHECK(s3_test::get_object(srv, bucket, keys[0]) == s3_test::joined(payloads, 0, 100));
    auto tags = s3_test::aws_json(srv, "s3api get-object-tagging --bucket " + bucket + " --key '" + keys[0] + "'");
    std::map<std::string, std::string> got;
    for (const auto& t : tags.at("TagSet").as_array())
      got[std::string(t.at("Key").as_string())] = std::string(t.at("Value").as_string());
    CHECK(got == std::map<std::string, std::string>{{"team", "data"}, {"tier", "raw zone"}});
    auto acl = s3_test::aws_json(srv, "s3api get-object-acl --bucket " + bucket + " --key '" + keys[0] + "'");
    bool public_read = false;
    for (const auto& g : acl.at("Grants").as_array())
      if (g.at("Permission") == "READ" && g.at("Grantee").as_object().contains("URI") &&
          std::string_view(g.at("Grantee").at("URI").as_string()).ends_with("/AllUsers"))
        public_read = true;
    CHECK(public_read);
  } else {
    WARN("SLUICE_S3_KMS_KEY_ID unset: SSE-KMS not checked");
  }
  std::string key32(32, 'k');
  auto p = vector_source{.payloads = payloads} | format::jsonl{} |
           store::s3{.url = "s3://" + bucket + "/ssec", .key = "{stream}/", .connection = s3_test::connection(srv),
                     .encryption = {.kind = mode::customer, .customer_key = key32}};
  p.run();
  auto keys = s3_test::list_keys(srv, bucket, "ssec/");
  REQUIRE(keys.size() == 1);
  sluice_test::temp_dir dir;
  // Without the key the server refuses to read it; with it, the bytes come back.
  CHECK(s3_test::aws(srv, "s3api get-object --bucket " + bucket + " --key '" + keys[0] + "' " + (dir / "x").string())
            .status != 0);
  auto r = s3_test::aws(srv, "s3api get-object --bucket " + bucket + " --key '" + keys[0] +
                                 "' --sse-customer-algorithm AES256 --sse-customer-key " + key32 + " " +
                                 (dir / "y").string());
  REQUIRE(r.status == 0);
  CHECK(sluice_test::read_file(dir / "y") == s3_test::joined(payloads, 0, 100));
}

TEST_CASE("the bandwidth cap holds the upload rate over all parts", "[s3]") {
  S3_SERVER_OR_SKIP(srv);
  std::string bucket = s3_test::unique_bucket("bwlimit");
  s3_test::create_bucket(srv, bucket);
  auto conn = s3_test::connection(srv);
  conn.bytes_per_second = 4 << 20;
  auto payloads = s3_test::lines(120, 100 * 1024);  // about 12 MiB
  auto p = vector_source{.payloads = payloads, .chunk = 1000} | format::jsonl{} |
           store::s3{.url = "s3://" + bucket, .key = "{stream}/", .connection = conn, .multipart_threshold = 5 << 20,
                     .part_size = 5 << 20, .concurrency = 3};
  auto start = std::chrono::steady_clock::now();
  p.run();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // 12 MiB at 4 MiB/s cannot take under 2.5 s (the first tenth of a second may burst).
  CHECK(seconds >= 2.5);
  CHECK(s3_test::list_keys(srv, bucket).size() == 1);
}

TEST_CASE("with checksum = md5 every upload carries Content-MD5 and each answer's ETag is checked against it", "[s3]") {
  S3_SERVER_OR_SKIP(srv);
  std::string bucket = s3_test::unique_bucket("md5");
  s3_test::create_bucket(srv, bucket);
  fault_proxy proxy(srv.host, srv.port);
  proxy.reject_bad_checksums(true);
  auto payloads = s3_test::lines(60, 100 * 1024);  // about 6 MiB: two parts, and one small object
  payloads.insert(payloads.begin(), "{}");
  auto p = vector_source{.payloads = payloads, .chunk = 59} | format::jsonl{} |
           store::s3{.url = "s3://" + bucket, .key = "{stream}/", .connection = s3_test::connection(srv, proxy.endpoint()),
                     .multipart_threshold = 5 << 20, .part_size = 5 << 20, .checksum = store::s3_checksum::md5};
  p.run();
  CHECK(p.metrics().snapshot().objects_out == 2);
  std::size_t checked = 0;
  for (const auto& e : proxy.log()) {
    // Uploads only: the probe and a body-less CopyObject (the large object's facts, set after
    // it completes) carry nothing to check.
    if (e.method != "PUT" || e.target.find(".sluice-conditional-probe") != std::string::npos ||
        e.request_body_bytes == 0)
      continue;
    CAPTURE(e.target);
    CHECK(e.checksum_checked);
    CHECK(e.checksum_ok);
    ++checked;
  }
  CHECK(checked == 3);  // one PutObject and two parts
  auto keys = s3_test::list_keys(srv, bucket);
  REQUIRE(keys.size() == 2);
  CHECK(s3_test::get_object(srv, bucket, keys[1]) == s3_test::joined(payloads, 59, 2));
}

TEST_CASE("on a server that ignores If-None-Match the store says so and checks keys with HEAD, so a replay adds no version",
          "[s3]") {
  S3_SERVER_OR_SKIP(srv);
  // radosgw 16 ignores If-None-Match on versioned buckets: a real server without conditional writes.
  std::string bucket = s3_test::unique_bucket("versioned");
  s3_test::create_bucket(srv, bucket);
  REQUIRE(s3_test::aws(srv, "s3api put-bucket-versioning --bucket " + bucket +
                                " --versioning-configuration Status=Enabled").status == 0);
  auto payloads = s3_test::lines(300);
  std::vector<std::string> logs;
  for (int run = 0; run < 2; ++run) {
    auto p = vector_source{.payloads = payloads, .chunk = 100} | format::jsonl{} |
             store::s3{.url = "s3://" + bucket, .key = "{stream}/", .connection = s3_test::connection(srv)};
    p.options.on_log = [&](std::string_view stage, std::string_view message) {
      logs.push_back(std::string(stage) + ": " + std::string(message));
    };
    p.run();
    CHECK(p.metrics().snapshot().objects_out == 3);
  }
  REQUIRE(logs.size() == 2);  // once per start-up
  CHECK(logs[0].find("store::s3: ") == 0);
  CHECK(logs[0].find("ignores `If-None-Match: *`") != std::string::npos);
  CHECK(logs[0].find("HEAD") != std::string::npos);
  auto versions = s3_test::aws_json(srv, "s3api list-object-versions --bucket " + bucket);
  std::size_t objects = 0;
  for (const auto& v : versions.at("Versions").as_array())
    if (std::string_view(v.at("Key").as_string()).find(".sluice-conditional-probe") == std::string_view::npos) ++objects;
  CHECK(objects == 3);  // one version per key after two runs
}
