// SPDX-License-Identifier: Apache-2.0
#pragma once
// The real S3-compatible server the S3 tests use (radosgw, started by scripts/services), and the
// real AWS CLI and rclone that judge what sluice wrote there.
#include <sluice/store/s3.hpp>
#include <sluice_test/support.hpp>

#include <boost/json.hpp>

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace s3_test {

/// The server from scripts/services' environment (SLUICE_S3_ENDPOINT, ...).
struct server {
  std::string endpoint, access_key, secret_key, region, kms_key_id;
  std::string host;
  std::uint16_t port = 0;
};

inline std::optional<server> find_server() {
  auto get = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v ? v : "");
  };
  server s{get("SLUICE_S3_ENDPOINT"), get("SLUICE_S3_ACCESS_KEY"), get("SLUICE_S3_SECRET_KEY"),
           get("SLUICE_S3_REGION"), get("SLUICE_S3_KMS_KEY_ID")};
  if (s.endpoint.empty() || s.access_key.empty()) return std::nullopt;
  if (s.region.empty()) s.region = "us-east-1";
  std::string hostport = s.endpoint.substr(s.endpoint.find("://") + 3);
  s.host = hostport.substr(0, hostport.find(':'));
  s.port = static_cast<std::uint16_t>(std::stoi(hostport.substr(hostport.find(':') + 1)));
  return s;
}

/// Skips (fails under CI=true) when no server was started.
#define S3_SERVER_OR_SKIP(var)                                                                     \
  auto var##_found = ::s3_test::find_server();                                                     \
  if (!var##_found) SLUICE_SKIP_OR_FAIL("no S3 server: run scripts/services start and source its env file"); \
  const ::s3_test::server& var = *var##_found

/// Connection settings for sluice, to `endpoint` (the server's, or a proxy's in front of it).
inline sluice::store::s3_connection connection(const server& s, std::string endpoint = {}) {
  sluice::store::s3_connection c;
  c.endpoint = endpoint.empty() ? s.endpoint : endpoint;
  c.region = s.region;
  c.credentials = {s.access_key, s.secret_key, ""};
  c.addressing = sluice::aws::addressing_style::path;
  c.base_delay = std::chrono::milliseconds(20);
  c.max_delay = std::chrono::milliseconds(500);
  return c;
}

/// A bucket name no other test (or earlier run) uses.
inline std::string unique_bucket(const std::string& tag) {
  static std::atomic<int> counter{0};
  return "sluice-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 100000);
}

/// Environment prefix for /usr/bin/aws: isolated from the machine's files, path-style, no
/// checksum trailers (radosgw 16 refuses them).
inline std::string aws_env(const server& s) {
  static sluice_test::temp_dir dir;
  static const std::string config = [&] {
    auto p = dir / "aws-config";
    sluice_test::write_file(p, "[default]\nregion = " + s.region + "\ns3 =\n  addressing_style = path\n");
    return p.string();
  }();
  return "env -u AWS_PROFILE -u AWS_CA_BUNDLE AWS_CONFIG_FILE=" + config +
         " AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true AWS_PAGER= "
         "AWS_REQUEST_CHECKSUM_CALCULATION=when_required AWS_RESPONSE_CHECKSUM_VALIDATION=when_required "
         "AWS_ACCESS_KEY_ID=" + s.access_key + " AWS_SECRET_ACCESS_KEY='" + s.secret_key + "' AWS_DEFAULT_REGION=" +
         s.region + " ";
}

/// Runs the real AWS CLI against the server; returns its status and stdout.
inline sluice_test::command_result aws(const server& s, const std::string& args) {
  return sluice_test::run_command(aws_env(s) + "/usr/bin/aws --endpoint-url " + s.endpoint + " " + args);
}

/// Runs the AWS CLI, requires success and parses its JSON output.
inline boost::json::value aws_json(const server& s, const std::string& args) {
  auto r = aws(s, args + " --output json");
  INFO("aws " << args);
  REQUIRE(r.status == 0);
  if (r.out.find_first_not_of(" \n") == std::string::npos) return nullptr;
  return boost::json::parse(r.out);
}

inline void create_bucket(const server& s, const std::string& bucket) {
  auto r = aws(s, "s3api create-bucket --bucket " + bucket);
  INFO("creating bucket " << bucket);
  REQUIRE(r.status == 0);
}

/// `count` JSON lines of about `size` bytes each, all different.
inline std::vector<std::string> lines(std::size_t count, std::size_t size = 100, std::size_t seed = 0) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < count; ++i) {
    std::string s = "{\"n\":" + std::to_string(seed + i) + ",\"pad\":\"";
    for (std::size_t j = s.size(); j + 2 < size; ++j) s += static_cast<char>('a' + (i * 7 + j * 13 + seed) % 26);
    out.push_back(s + "\"}");
  }
  return out;
}

/// What format::jsonl makes of records [first, first + n).
inline std::string joined(const std::vector<std::string>& v, std::size_t first, std::size_t n) {
  std::string out;
  for (std::size_t i = first; i < first + n && i < v.size(); ++i) out += v[i] + "\n";
  return out;
}

/// The bytes of `key`, through `aws s3api get-object`.
inline std::string get_object(const server& s, const std::string& bucket, const std::string& key) {
  sluice_test::temp_dir dir;
  auto r = aws(s, "s3api get-object --bucket " + bucket + " --key '" + key + "' " + (dir / "o").string());
  INFO("get-object " << key);
  REQUIRE(r.status == 0);
  return sluice_test::read_file(dir / "o");
}

/// Keys under `prefix`, through `aws s3api list-objects-v2`.
inline std::vector<std::string> list_keys(const server& s, const std::string& bucket, const std::string& prefix = {}) {
  auto v = aws_json(s, "s3api list-objects-v2 --bucket " + bucket + (prefix.empty() ? "" : " --prefix '" + prefix + "'"));
  std::vector<std::string> keys;
  if (v.is_object() && v.as_object().contains("Contents"))
    for (const auto& o : v.at("Contents").as_array()) keys.emplace_back(o.at("Key").as_string());
  return keys;
}

/// Multipart uploads in progress, through `aws s3api list-multipart-uploads`.
inline std::size_t multipart_uploads(const server& s, const std::string& bucket) {
  auto v = aws_json(s, "s3api list-multipart-uploads --bucket " + bucket);
  return v.is_object() && v.as_object().contains("Uploads") ? v.at("Uploads").as_array().size() : 0;
}

/// Runs rclone against the server (remote name `lake:`).
inline sluice_test::command_result rclone(const server& s, const std::string& args) {
  return sluice_test::run_command(
      "env -u AWS_CA_BUNDLE RCLONE_CONFIG_LAKE_TYPE=s3 RCLONE_CONFIG_LAKE_PROVIDER=Ceph RCLONE_CONFIG_LAKE_ENDPOINT=" +
      s.endpoint + " RCLONE_CONFIG_LAKE_ACCESS_KEY_ID=" + s.access_key + " RCLONE_CONFIG_LAKE_SECRET_ACCESS_KEY='" +
      s.secret_key + "' RCLONE_CONFIG_LAKE_FORCE_PATH_STYLE=true RCLONE_CONFIG_LAKE_REGION=" + s.region +
      " rclone --config /dev/null " + args);
}

}  // namespace s3_test
