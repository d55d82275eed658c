// SPDX-License-Identifier: Apache-2.0
// s3_client's reading calls against radosgw, checked against what the AWS CLI wrote.
#include "s3_test_support.hpp"

#include <sluice/store/s3_client.hpp>
#include <sluice_test/fault_proxy.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

using namespace sluice;

TEST_CASE("s3_client lists every page, reads ranges and heads, and deletes in bulk", "[s3]") {
  S3_SERVER_OR_SKIP(srv);
  std::string bucket = s3_test::unique_bucket("client");
  s3_test::create_bucket(srv, bucket);
  store::s3_client client(s3_test::connection(srv));
  std::vector<std::string> keys;
  for (int i = 0; i < 7; ++i) {
    std::string key = "dir/key " + std::to_string(i) + "+&=ü.txt";  // characters that need encoding
    std::string body = "object " + std::to_string(i) + " body";
    client.send({.method = "PUT", .bucket = bucket, .key = key, .headers = {{"x-amz-meta-n", std::to_string(i)}},
                 .body = body, .send_body = true});
    keys.push_back(key);
  }
  // The AWS CLI sees the same keys, so the encoding and signing agree with it.
  auto listed = s3_test::aws_json(srv, "s3api list-objects-v2 --bucket " + bucket);
  REQUIRE(listed.at("Contents").as_array().size() == 7);
  CHECK(listed.at("Contents").at(3).at("Key").as_string() == keys[3]);

  auto all = client.list_objects(bucket, "dir/", 3);  // pages of 3: three requests
  REQUIRE(all.size() == 7);
  for (std::size_t i = 0; i < all.size(); ++i) {
    CHECK(all[i].key == keys[i]);
    CHECK(all[i].size == keys[i].size() - std::string("dir/key +&=ü.txt").size() + 12);
  }
  CHECK(client.list_objects(bucket, "nothing/").empty());

  CHECK(client.get_object(bucket, keys[2]) == "object 2 body");
  CHECK(client.get_object(bucket, keys[2], std::pair<std::uint64_t, std::uint64_t>{7, 7}) == "2");
  CHECK(client.get_object(bucket, keys[2], std::pair<std::uint64_t, std::uint64_t>{0, 5}) == "object");
  auto head = client.head_object(bucket, keys[4]);
  REQUIRE(head);
  CHECK(head->size == 13);
  CHECK(head->metadata.at("n") == "4");
  CHECK_FALSE(client.head_object(bucket, "dir/missing"));
  try {
    (void)client.get_object(bucket, "dir/missing");
    FAIL("expected NoSuchKey");
  } catch (const store::s3_error& e) {
    CHECK(e.server_code() == "NoSuchKey");
    CHECK(e.status() == 404);
    CHECK(std::string(e.what()).find(bucket + "/dir/missing") != std::string::npos);
  }

  client.delete_objects(bucket, {keys[0], keys[1], keys[2], "dir/never-existed"});
  auto rest = client.list_objects(bucket, "");
  REQUIRE(rest.size() == 4);
  CHECK(rest[0].key == keys[3]);
}

TEST_CASE("stale multipart uploads are listed and aborted", "[s3]") {
  S3_SERVER_OR_SKIP(srv);
  std::string bucket = s3_test::unique_bucket("uploads");
  s3_test::create_bucket(srv, bucket);
  store::s3_client client(s3_test::connection(srv));
  std::string a = client.create_multipart_upload(bucket, "p/a", {});
  std::string b = client.create_multipart_upload(bucket, "p/b", {});
  std::string body(5 << 20, 'z');
  client.send({.method = "PUT", .bucket = bucket, .key = "p/a", .query = {{"partNumber", "1"}, {"uploadId", a}},
               .body = body, .send_body = true});
  auto uploads = client.list_multipart_uploads(bucket, "p/");
  REQUIRE(uploads.size() == 2);
  CHECK(uploads[0].key == "p/a");
  CHECK(uploads[0].upload_id == a);
  auto parts = client.list_parts(bucket, "p/a", a);
  REQUIRE(parts);
  REQUIRE(parts->size() == 1);
  CHECK(parts->at(0).size == body.size());
  client.abort_multipart_upload(bucket, "p/a", a);
  client.abort_multipart_upload(bucket, "p/b", b);
  client.abort_multipart_upload(bucket, "p/b", b);  // already gone: still fine
  CHECK(client.list_multipart_uploads(bucket, "p/").empty());
  CHECK_FALSE(client.list_parts(bucket, "p/a", a));
}

TEST_CASE("virtual-hosted addressing reaches the same bucket as path-style", "[s3]") {
  S3_SERVER_OR_SKIP(srv);
  std::string bucket = s3_test::unique_bucket("vhost");
  s3_test::create_bucket(srv, bucket);
  // radosgw runs with `rgw dns name = localhost`, and libcurl resolves *.localhost to loopback.
  auto conn = s3_test::connection(srv, "http://localhost:" + std::to_string(srv.port));
  conn.addressing = aws::addressing_style::virtual_;
  store::s3_client client(conn);
  client.send({.method = "PUT", .bucket = bucket, .key = "v/one", .body = "virtual", .send_body = true});
  CHECK(client.get_object(bucket, "v/one") == "virtual");
  // The path-style AWS CLI sees what the virtual-hosted client wrote.
  auto head = s3_test::aws_json(srv, "s3api head-object --bucket " + bucket + " --key v/one");
  CHECK(head.at("ContentLength").to_number<int>() == 7);
}

TEST_CASE("credentials, region and endpoint come from the standard AWS environment", "[s3]") {
  S3_SERVER_OR_SKIP(srv);
  std::string bucket = s3_test::unique_bucket("env");
  s3_test::create_bucket(srv, bucket);
  std::map<std::string, std::string> env{{"AWS_ACCESS_KEY_ID", srv.access_key},
                                         {"AWS_SECRET_ACCESS_KEY", srv.secret_key},
                                         {"AWS_REGION", srv.region},
                                         {"AWS_ENDPOINT_URL", srv.endpoint},
                                         {"AWS_CONFIG_FILE", "/dev/null"},
                                         {"AWS_SHARED_CREDENTIALS_FILE", "/dev/null"}};
  auto lookup = [&](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  store::s3_client client({}, lookup);
  CHECK(client.endpoint() == srv.endpoint);
  client.send({.method = "PUT", .bucket = bucket, .key = "e", .body = "from env", .send_body = true});
  CHECK(client.get_object(bucket, "e") == "from env");

  env.erase("AWS_ACCESS_KEY_ID");
  env.erase("AWS_SECRET_ACCESS_KEY");
  try {
    store::s3_client none({}, lookup);
    FAIL("expected an error for missing credentials");
  } catch (const config_error& e) {
    CHECK(std::string(e.what()).find("AWS_ACCESS_KEY_ID") != std::string::npos);
  }
}

TEST_CASE("a truncated or reset answer to a GET is read again, whole", "[s3]") {
  S3_SERVER_OR_SKIP(srv);
  std::string bucket = s3_test::unique_bucket("truncated");
  s3_test::create_bucket(srv, bucket);
  sluice_test::fault_proxy proxy(srv.host, srv.port);
  store::s3_client client(s3_test::connection(srv, proxy.endpoint()));
  std::string body(300'000, 'b');
  for (std::size_t i = 0; i < body.size(); i += 7) body[i] = static_cast<char>('a' + i % 26);
  client.send({.method = "PUT", .bucket = bucket, .key = "t", .body = body, .send_body = true});
  proxy.add_rule({.method = "GET", .path_contains = "/t", .times = 1,
                  .action = sluice_test::fault::truncate_response_body, .after_bytes = 1000});
  proxy.add_rule({.method = "GET", .path_contains = "/t", .times = 1, .action = sluice_test::fault::reset_before_response});
  CHECK(client.get_object(bucket, "t") == body);
  CHECK(proxy.count("GET", "/t") == 3);
  CHECK(client.retries() == 2);
}

TEST_CASE("an answer whose ETag is not the MD5 of the bytes sent fails the request, not retried", "[s3]") {
  S3_SERVER_OR_SKIP(srv);
  std::string bucket = s3_test::unique_bucket("etag");
  s3_test::create_bucket(srv, bucket);
  store::s3_client client(s3_test::connection(srv));
  std::string body = "checked by its ETag";
  std::string md5 = crypto::to_hex(store::s3_client::md5(body));
  client.send({.method = "PUT", .bucket = bucket, .key = "right", .body = body, .send_body = true,
               .expected_etag = md5});
  try {
    client.send({.method = "PUT", .bucket = bucket, .key = "wrong", .body = body, .send_body = true,
                 .expected_etag = std::string(32, '0')});
    FAIL("expected an ETag mismatch");
  } catch (const store::s3_error& e) {
    CHECK(e.server_code() == "ETagMismatch");
    CHECK(std::string(e.what()).find(md5) != std::string::npos);
    CHECK(std::string(e.what()).find("attempts") == std::string::npos);  // one attempt only
  }
  CHECK(client.retries() == 0);
}
