// SPDX-License-Identifier: Apache-2.0
// The main example and the `sluice` command, run as programs: the lake the example writes is read
// back by `sluice cat`, checked by `sluice verify`, and decoded independently by the real AWS
// Encryption SDK and the stock zstd. Damaged lakes and wrong keys give clear errors. The same
// against a real S3-compatible server (radosgw from scripts/services), reached through the
// standard AWS environment and judged by the real AWS CLI; and `sluice s3 uploads`.
#include <sluice/crypto/keyring.hpp>

#include <sluice_test/support.hpp>
#ifdef SLUICE_HAS_S3
#include "../s3/s3_test_support.hpp"
#endif

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using sluice_test::run_command;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

/// Runs a command with stderr folded into the captured output.
sluice_test::command_result run(const std::string& command) { return run_command(command + " 2>&1"); }

/// A lake written once for all the test cases of this file: the example is the expensive part.
struct lake_fixture {
  sluice_test::temp_dir dir;
  fs::path lake = dir / "lake";
  fs::path keyring = dir / "keyring.json";
  std::string cli = env("SLUICE_CLI");
  sluice_test::command_result written;
  lake_fixture() {
    written = run(env("SLUICE_EXAMPLE") + " --records 20000 --workers 2 --lake " + lake.string() + " --keyring " +
                  keyring.string());
  }
  std::vector<fs::path> objects() const {
    std::vector<fs::path> out;
    for (auto& e : fs::recursive_directory_iterator(lake))
      if (e.path().extension() == ".esdk") out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
  }
};

std::size_t count_lines(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

}  // namespace

TEST_CASE("the example writes a lake that sluice verify accepts and sluice cat reads back", "[cli][example]") {
  lake_fixture f;
  INFO(f.written.out);
  REQUIRE(f.written.status == 0);
  CHECK_THAT(f.written.out, Catch::Contains("20000 records"));
  auto objects = f.objects();
  REQUIRE(objects.size() >= 5);  // five event types at least, each its own partition
  for (const auto& o : objects) {
    CHECK(fs::exists(o.string() + ".meta.json"));
    CHECK_THAT(o.string(), Catch::Contains("clickstream/2024/05/01/"));
    CHECK_THAT(o.string(), Catch::Contains("/event_type="));
  }

  auto verified = run(f.cli + " verify " + f.lake.string() + " --keyring " + f.keyring.string());
  INFO(verified.out);
  CHECK(verified.status == 0);
  CHECK_THAT(verified.out, Catch::Contains(std::to_string(objects.size()) + " of " + std::to_string(objects.size()) +
                                           " objects verified, 20000 records"));

  auto all = run_command(f.cli + " cat " + f.lake.string() + " --keyring " + f.keyring.string());
  REQUIRE(all.status == 0);
  CHECK(count_lines(all.out) == 20000);
  // Every event id once: the lake holds each generated record exactly once.
  std::vector<std::string> ids;
  std::size_t at = 0;
  while ((at = all.out.find("\"event_id\":\"", at)) != std::string::npos) {
    at += 12;
    ids.push_back(all.out.substr(at, 36));
  }
  std::sort(ids.begin(), ids.end());
  CHECK(ids.size() == 20000);
  CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());

  SECTION("partitions hold only their own event type") {
    for (const auto& o : objects) {
      auto type = o.parent_path().filename().string().substr(std::string("event_type=").size());
      auto one = run_command(f.cli + " cat " + o.string() + " --keyring " + f.keyring.string());
      REQUIRE(one.status == 0);
      CHECK(count_lines(one.out) > 0);
      CHECK(count_lines(one.out) == static_cast<std::size_t>(std::count_if(
                                        one.out.begin(), one.out.end(), [](char c) { return c == '\n'; })));
      std::size_t lines = count_lines(one.out);
      std::size_t matching = 0;
      for (std::size_t p = 0; (p = one.out.find("\"event_type\":\"" + type + "\"", p)) != std::string::npos; ++p)
        ++matching;
      CHECK(matching == lines);
    }
  }
}

TEST_CASE("the real AWS Encryption SDK and stock zstd decode a lake object", "[cli][interop]") {
  auto modules = env("SLUICE_NODE_MODULES");
  auto esdk = sluice_test::testdata("esdk/esdk-decrypt.cjs");
  if (modules.empty() || !fs::exists(fs::path(modules) / "@aws-crypto/client-node/package.json"))
    SLUICE_SKIP_OR_FAIL("@aws-crypto/client-node is not installed (run scripts/bootstrap)");
  if (!esdk) SLUICE_SKIP_OR_FAIL("../shared/testdata/esdk is absent");
  lake_fixture f;
  REQUIRE(f.written.status == 0);
  auto keyring = boost::json::parse(sluice_test::read_file(f.keyring)).as_object();
  std::string ns(keyring.at("namespace").as_string());
  std::string current(keyring.at("current").as_string());
  std::string hex(keyring.at("keys").at(current).as_string());

  auto object = f.objects().front();
  auto plain = f.dir / "plain.zst";
  auto by_sdk = run("NODE_PATH=" + modules + " node " + esdk->string() + " --namespace " + ns + " --key " + current +
                    "=" + hex + " --expect sluice:stream=clickstream --out " + plain.string() + " " + object.string());
  INFO(by_sdk.out);
  REQUIRE(by_sdk.status == 0);
  auto by_zstd = run_command("zstd -d -c " + plain.string());
  REQUIRE(by_zstd.status == 0);
  auto by_sluice = run_command(f.cli + " cat " + object.string() + " --keyring " + f.keyring.string());
  REQUIRE(by_sluice.status == 0);
  CHECK(by_zstd.out == by_sluice.out);
  CHECK(count_lines(by_zstd.out) > 0);
}

TEST_CASE("sluice verify names a damaged object and the check it failed", "[cli][errors]") {
  lake_fixture f;
  REQUIRE(f.written.status == 0);
  auto objects = f.objects();
  REQUIRE(objects.size() >= 2);
  const std::string verify = f.cli + " verify " + f.lake.string() + " --keyring " + f.keyring.string();

  SECTION("a flipped byte fails the checksum") {
    std::fstream file(objects[0], std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(100);
    char c = 0;
    file.seekg(100);
    file.get(c);
    file.seekp(100);
    file.put(static_cast<char>(c ^ 0x5a));
    file.close();
    auto r = run(verify);
    CHECK(r.status == 1);
    CHECK_THAT(r.out, Catch::Contains("FAIL " + fs::relative(objects[0], f.lake).string()));
    CHECK_THAT(r.out, Catch::Contains("SHA-256"));
    CHECK_THAT(r.out, Catch::Contains(std::to_string(objects.size() - 1) + " of " + std::to_string(objects.size())));
  }
  SECTION("a truncated object fails on its size") {
    fs::resize_file(objects[1], fs::file_size(objects[1]) / 2);
    auto r = run(verify);
    CHECK(r.status == 1);
    CHECK_THAT(r.out, Catch::Contains("FAIL " + fs::relative(objects[1], f.lake).string()));
    CHECK_THAT(r.out, Catch::Contains("bytes but its sidecar"));
  }
  SECTION("a keyring without the object's key is a clear error") {
    auto other = f.dir / "other-keyring.json";
    sluice::crypto::local_keyring::create(other, "sluice-demo", "key-9");
    auto r = run(f.cli + " verify " + f.lake.string() + " --keyring " + other.string());
    CHECK(r.status == 1);
    CHECK_THAT(r.out, Catch::Contains("sluice-demo/key-1"));
  }
  SECTION("the same key name with other key bytes fails authentication") {
    auto other = f.dir / "other-keyring.json";
    sluice::crypto::local_keyring::create(other, "sluice-demo", "key-1");
    auto r = run(f.cli + " cat " + objects[0].string() + " --keyring " + other.string());
    CHECK(r.status == 1);
    CHECK_THAT(r.out, Catch::Contains("decrypting"));
  }
  SECTION("an encrypted lake without a keyring says to give one") {
    auto r = run(f.cli + " verify " + f.lake.string());
    CHECK(r.status == 1);
    CHECK_THAT(r.out, Catch::Contains("--keyring"));
  }
  SECTION("after rotation the old objects still verify") {
    auto rotated = run(f.cli + " keyring rotate " + f.keyring.string());
    REQUIRE(rotated.status == 0);
    CHECK_THAT(rotated.out, Catch::Contains("key-2"));
    CHECK(run(verify).status == 0);
  }
}

TEST_CASE("the sluice command rejects bad usage with a message", "[cli][errors]") {
  std::string cli = env("SLUICE_CLI");
  CHECK(run(cli).status == 2);
  CHECK(run(cli + " cat").status == 2);
  auto unknown = run(cli + " cat lake --colour");
  CHECK(unknown.status == 2);
  CHECK_THAT(unknown.out, Catch::Contains("unknown option --colour"));
  auto missing = run(cli + " verify /nonexistent/lake");
  CHECK(missing.status == 1);
  CHECK_THAT(missing.out, Catch::Contains("/nonexistent/lake"));
}

#ifdef SLUICE_HAS_S3
namespace {

/// The standard AWS environment a user sets, pointing the programs at the test server: keys in
/// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, the endpoint in AWS_ENDPOINT_URL, path-style in
/// the AWS_CONFIG_FILE, and nothing from the machine's own AWS settings.
std::string aws_environment(const s3_test::server& s) {
  return "env -u AWS_ENDPOINT_URL_S3 -u AWS_SESSION_TOKEN -u AWS_REGION " + s3_test::aws_env(s) +
         "AWS_ENDPOINT_URL=" + s.endpoint + " ";
}

/// The keys under `prefix` in `bucket`, as the AWS CLI lists them.
std::vector<std::string> aws_keys(const s3_test::server& s, const std::string& bucket, const std::string& prefix) {
  auto listed = s3_test::aws_json(s, "s3api list-objects-v2 --bucket " + bucket +
                                         (prefix.empty() ? "" : " --prefix '" + prefix + "'"));
  std::vector<std::string> keys;
  if (listed.is_object() && listed.as_object().contains("Contents"))
    for (const auto& o : listed.at("Contents").as_array()) keys.emplace_back(o.at("Key").as_string());
  std::sort(keys.begin(), keys.end());
  return keys;
}

/// The upload ids in progress in `bucket`, as the AWS CLI lists them.
std::vector<std::string> aws_uploads(const s3_test::server& s, const std::string& bucket) {
  auto listed = s3_test::aws_json(s, "s3api list-multipart-uploads --bucket " + bucket);
  std::vector<std::string> ids;
  if (listed.is_object() && listed.as_object().contains("Uploads"))
    for (const auto& u : listed.at("Uploads").as_array()) ids.emplace_back(u.at("UploadId").as_string());
  return ids;
}

/// A clickstream lake of 20,000 records the example wrote to s3://BUCKET/demo, in a bucket of
/// its own. The example runs in a folder of its own without --keyring, so it makes its default
/// keyring there.
struct s3_lake_fixture {
  s3_test::server server;
  std::string bucket = s3_test::unique_bucket("cli");
  std::string url = "s3://" + bucket + "/demo";
  sluice_test::temp_dir dir;
  fs::path keyring = dir / "lake-keyring.json";
  std::string aws;
  std::string cli;
  sluice_test::command_result written;
  explicit s3_lake_fixture(const s3_test::server& s) : server(s), aws(aws_environment(s)), cli(aws + env("SLUICE_CLI")) {
    s3_test::create_bucket(server, bucket);
    written = run("cd " + dir.path().string() + " && " + aws + env("SLUICE_EXAMPLE") +
                  " --records 20000 --workers 2 --lake " + url);
  }
};

}  // namespace

TEST_CASE("the example writes an s3:// lake that sluice verify accepts, sluice cat reads and the AWS CLI lists",
          "[cli][example][s3]") {
  S3_SERVER_OR_SKIP(server);
  s3_lake_fixture f(server);
  INFO(f.written.out);
  REQUIRE(f.written.status == 0);
  CHECK_THAT(f.written.out, Catch::Contains("20000 records"));
  // The default keyring of an s3:// lake is in the current folder, not derived from the url.
  CHECK(fs::exists(f.keyring));
  CHECK_THAT(f.written.out, Catch::Contains("--keyring lake-keyring.json"));

  // The AWS CLI sees every object under the prefix and nothing else in the bucket.
  auto keys = aws_keys(server, f.bucket, "");
  REQUIRE(keys.size() >= 5);  // five event types at least, each its own partition
  CHECK(aws_keys(server, f.bucket, "demo/") == keys);
  for (const auto& k : keys) {
    CHECK_THAT(k, Catch::StartsWith("demo/clickstream/2024/05/01/"));
    CHECK_THAT(k, Catch::Contains("/event_type="));
    CHECK_THAT(k, Catch::EndsWith(".jsonl.zst.esdk"));
  }
  CHECK_THAT(f.written.out, Catch::Contains("the lake at " + f.url + " now holds " + std::to_string(keys.size()) +
                                            " objects"));
  CHECK_THAT(f.written.out, Catch::Contains("verify " + f.url + " --keyring lake-keyring.json"));

  auto verified = run(f.cli + " verify " + f.url + " --keyring " + f.keyring.string());
  INFO(verified.out);
  CHECK(verified.status == 0);
  CHECK_THAT(verified.out, Catch::Contains(std::to_string(keys.size()) + " of " + std::to_string(keys.size()) +
                                           " objects verified, 20000 records"));
  for (const auto& k : keys) CHECK_THAT(verified.out, Catch::Contains("ok   " + k.substr(5)));  // below demo/

  auto all = run_command(f.cli + " cat " + f.url + " --keyring " + f.keyring.string());
  REQUIRE(all.status == 0);
  CHECK(count_lines(all.out) == 20000);
  std::vector<std::string> ids;
  for (std::size_t at = 0; (at = all.out.find("\"event_id\":\"", at)) != std::string::npos;) {
    at += 12;
    ids.push_back(all.out.substr(at, 36));
  }
  std::sort(ids.begin(), ids.end());
  CHECK(ids.size() == 20000);
  CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());

  SECTION("s3://bucket/KEY names one object, whose records are its partition's") {
    std::size_t total = 0;
    for (const auto& k : keys) {
      auto type = k.substr(k.find("event_type=") + 11);
      type = type.substr(0, type.find('/'));
      auto one = run_command(f.cli + " cat 's3://" + f.bucket + "/" + k + "' --keyring " + f.keyring.string());
      INFO(k);
      REQUIRE(one.status == 0);
      std::size_t lines = count_lines(one.out);
      CHECK(lines > 0);
      std::size_t matching = 0;
      for (std::size_t p = 0; (p = one.out.find("\"event_type\":\"" + type + "\"", p)) != std::string::npos; ++p)
        ++matching;
      CHECK(matching == lines);
      total += lines;
    }
    CHECK(total == 20000);
  }
  SECTION("a url ending in '/' and --prefix name the objects below them") {
    auto some = run(f.cli + " verify " + f.url + "/ --prefix clickstream/2024/05/01/00/event_type=purchase/ --keyring " +
                    f.keyring.string());
    INFO(some.out);
    CHECK(some.status == 0);
    // One object per worker's batcher: every object listed is a purchase object, and all verified.
    std::size_t listed = 0;
    std::istringstream lines(some.out);
    for (std::string line; std::getline(lines, line);) {
      if (!line.starts_with("ok   ")) continue;
      ++listed;
      CHECK_THAT(line, Catch::Contains("event_type=purchase/"));
    }
    REQUIRE(listed >= 1);
    CHECK_THAT(some.out, Catch::Contains(std::to_string(listed) + " of " + std::to_string(listed) + " objects verified"));
  }
}

TEST_CASE("sluice verify names a damaged S3 object and the check it failed", "[cli][errors][s3]") {
  S3_SERVER_OR_SKIP(server);
  s3_lake_fixture f(server);
  INFO(f.written.out);
  REQUIRE(f.written.status == 0);
  auto keys = aws_keys(server, f.bucket, "demo/");
  REQUIRE(keys.size() >= 2);

  // Replace one object with a copy that has a flipped byte but the same metadata, with the AWS CLI.
  const std::string& victim = keys[0];
  auto head = s3_test::aws_json(server, "s3api head-object --bucket " + f.bucket + " --key '" + victim + "'");
  REQUIRE(head.at("Metadata").as_object().contains("sha256"));
  auto body = f.dir / "object";
  auto got = s3_test::aws(server, "s3api get-object --bucket " + f.bucket + " --key '" + victim + "' " + body.string());
  REQUIRE(got.status == 0);
  std::string bytes = sluice_test::read_file(body);
  REQUIRE(bytes.size() > 100);
  bytes[100] = static_cast<char>(bytes[100] ^ 0x5a);
  sluice_test::write_file(body, bytes);
  auto metadata = f.dir / "metadata.json";
  sluice_test::write_file(metadata, boost::json::serialize(head.at("Metadata")));
  auto put = s3_test::aws(server, "s3api put-object --bucket " + f.bucket + " --key '" + victim + "' --body " +
                                      body.string() + " --metadata file://" + metadata.string());
  REQUIRE(put.status == 0);

  auto r = run(f.cli + " verify " + f.url + " --keyring " + f.keyring.string());
  INFO(r.out);
  CHECK(r.status == 1);
  CHECK_THAT(r.out, Catch::Contains("FAIL " + victim.substr(5)));
  CHECK_THAT(r.out, Catch::Contains("SHA-256"));
  CHECK_THAT(r.out, Catch::Contains("s3://" + f.bucket + "/" + victim));
  CHECK_THAT(r.out, Catch::Contains(std::to_string(keys.size() - 1) + " of " + std::to_string(keys.size()) +
                                    " objects verified"));
}

TEST_CASE("sluice names a missing bucket, an empty prefix, missing credentials and a bad age", "[cli][errors][s3]") {
  S3_SERVER_OR_SKIP(server);
  const std::string aws = aws_environment(server);
  const std::string cli = env("SLUICE_CLI");
  std::string bucket = s3_test::unique_bucket("cli-empty");
  s3_test::create_bucket(server, bucket);

  auto empty = run(aws + cli + " verify s3://" + bucket + "/nothing-here");
  CHECK(empty.status == 1);
  CHECK_THAT(empty.out, Catch::Contains("no objects under s3://" + bucket + "/nothing-here/"));

  std::string missing = s3_test::unique_bucket("cli-missing");
  auto no_bucket = run(aws + cli + " cat s3://" + missing + "/demo");
  CHECK(no_bucket.status == 1);
  CHECK_THAT(no_bucket.out, Catch::Contains(missing));
  CHECK_THAT(no_bucket.out, Catch::Contains("NoSuchBucket"));

  auto no_keys = run(aws + "env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY " + cli + " s3 uploads s3://" + bucket);
  CHECK(no_keys.status == 1);
  CHECK_THAT(no_keys.out, Catch::Contains("AWS_ACCESS_KEY_ID"));

  auto bad_url = run(aws + cli + " s3 uploads s3://" + bucket + "/x --older-than soon");
  CHECK(bad_url.status == 2);
  CHECK_THAT(bad_url.out, Catch::Contains("--older-than soon"));
}

TEST_CASE("sluice s3 uploads lists the multipart uploads under a prefix and --abort removes them",
          "[cli][s3][uploads]") {
  S3_SERVER_OR_SKIP(server);
  const std::string aws = aws_environment(server);
  const std::string cli = aws + env("SLUICE_CLI");
  std::string bucket = s3_test::unique_bucket("cli-uploads");
  s3_test::create_bucket(server, bucket);
  auto start = [&](const std::string& key) {
    auto r = s3_test::aws_json(server, "s3api create-multipart-upload --bucket " + bucket + " --key " + key);
    return std::string(r.at("UploadId").as_string());
  };
  std::string inside = start("demo/big.bin");
  std::string outside = start("other/big.bin");
  REQUIRE(aws_uploads(server, bucket).size() == 2);

  auto listed = run(cli + " s3 uploads s3://" + bucket + "/demo");
  INFO(listed.out);
  REQUIRE(listed.status == 0);
  CHECK_THAT(listed.out, Catch::Contains("demo/big.bin\t" + inside + "\t"));
  CHECK_THAT(listed.out, !Catch::Contains(outside));
  CHECK_THAT(listed.out, Catch::Contains("1 of 1 multipart uploads in progress under s3://" + bucket + "/demo/"));

  // Younger than the age given: kept.
  auto young = run(cli + " s3 uploads s3://" + bucket + "/demo --abort --older-than 3600");
  INFO(young.out);
  REQUIRE(young.status == 0);
  CHECK_THAT(young.out, Catch::Contains("aborted 0 of 1"));
  CHECK(aws_uploads(server, bucket).size() == 2);

  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  auto old = run(cli + " s3 uploads s3://" + bucket + "/demo --abort --older-than 1");
  INFO(old.out);
  REQUIRE(old.status == 0);
  CHECK_THAT(old.out, Catch::Contains("aborted 1 of 1"));
  CHECK(aws_uploads(server, bucket) == std::vector<std::string>{outside});  // the other prefix's is untouched

  auto all = run(cli + " s3 uploads s3://" + bucket + " --abort");
  INFO(all.out);
  REQUIRE(all.status == 0);
  CHECK_THAT(all.out, Catch::Contains("other/big.bin\t" + outside));
  CHECK_THAT(all.out, Catch::Contains("aborted 1 of 1"));
  CHECK(aws_uploads(server, bucket).empty());
}
#endif
