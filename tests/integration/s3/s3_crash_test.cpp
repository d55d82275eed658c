// SPDX-License-Identifier: Apache-2.0
// SIGKILL during a multipart upload, restart: the upload resumes (the parts S3 has are not sent
// again) and the object completes with the right bytes, once.
#include "s3_test_support.hpp"

#include <sluice/connector/generator.hpp>
#include <sluice/format/jsonl.hpp>
#include <sluice_test/fault_proxy.hpp>

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <set>
#include <string>
#include <thread>

using namespace sluice;

namespace {
/// The bytes the child's one object holds: what jsonl makes of the generator's events.
std::string expected_object() {
  auto sink = sluice_test::collecting_sink{};
  auto p = connector::generator{.records = 100'000, .chunk_records = 100'000} | format::jsonl{} | sink;
  p.run();
  REQUIRE(sink.objects->size() == 1);
  return sink.objects->front().body;
}

pid_t spawn(const std::vector<std::string>& args) {
  pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::_Exit(127);
  }
  return pid;
}
}  // namespace

TEST_CASE("a run killed during a multipart upload resumes it without sending the stored parts again", "[s3][crash]") {
  S3_SERVER_OR_SKIP(srv);
  const char* child = std::getenv("SLUICE_S3_CRASH_CHILD");
  REQUIRE(child != nullptr);
  std::string bucket = s3_test::unique_bucket("crash");
  s3_test::create_bucket(srv, bucket);
  sluice_test::temp_dir dir;
  std::string checkpoint = (dir / "checkpoint").string();
  std::string expected = expected_object();
  std::size_t parts = (expected.size() + (5u << 20) - 1) / (5u << 20);
  REQUIRE(parts >= 4);

  sluice_test::fault_proxy proxy(srv.host, srv.port);
  // Part 3 hangs, so the kill lands after parts 1 and 2 are stored and before the upload ends.
  proxy.add_rule({.method = "PUT", .query_contains = "partNumber=3&", .times = 1,
                  .action = sluice_test::fault::stall_before_response, .stall = std::chrono::milliseconds(60'000)});
  std::vector<std::string> args{child, proxy.endpoint(), srv.region, srv.access_key, srv.secret_key, bucket, checkpoint};
  pid_t pid = spawn(args);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (proxy.count("PUT", "", "partNumber=3&") == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  REQUIRE(proxy.count("PUT", "", "partNumber=3&") == 1);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFSIGNALED(status));
  CHECK(proxy.count("PUT", "", "partNumber=1&") == 1);
  CHECK(proxy.count("PUT", "", "partNumber=2&") == 1);
  proxy.clear_rules();

  // The restart: it completes the upload from its resume folder, then the replayed records find
  // their key stored.
  pid = spawn(args);
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  CHECK(proxy.count("PUT", "", "partNumber=1&") == 1);  // not sent again
  CHECK(proxy.count("PUT", "", "partNumber=2&") == 1);
  for (std::size_t n = 3; n <= parts; ++n) CHECK(proxy.count("PUT", "", "partNumber=" + std::to_string(n) + "&") >= 1);
  CHECK(proxy.count("POST", "", "uploads") == 1);  // one upload, resumed, never a second one

  auto listed = s3_test::aws_json(srv, "s3api list-objects-v2 --bucket " + bucket);
  REQUIRE(listed.at("Contents").as_array().size() == 1);
  std::string key(listed.at("Contents").at(0).at("Key").as_string());
  auto r = s3_test::aws(srv, "s3api get-object --bucket " + bucket + " --key '" + key + "' " + (dir / "got").string());
  REQUIRE(r.status == 0);
  CHECK(sluice_test::read_file(dir / "got") == expected);
  auto uploads = s3_test::aws_json(srv, "s3api list-multipart-uploads --bucket " + bucket);
  CHECK((!uploads.is_object() || !uploads.as_object().contains("Uploads")));
  // The resume folder is empty again, and the checkpoint covers every record.
  CHECK(std::filesystem::is_empty(checkpoint + ".s3-uploads"));
  CHECK(sluice_test::read_file(checkpoint).find("100000") != std::string::npos);
}

TEST_CASE("a run killed while objects stream aborts their uploads on restart and lands every record once",
          "[s3][crash][stream]") {
  S3_SERVER_OR_SKIP(srv);
  const char* child = std::getenv("SLUICE_S3_CRASH_CHILD");
  REQUIRE(child != nullptr);
  std::string bucket = s3_test::unique_bucket("crash-stream");
  s3_test::create_bucket(srv, bucket);
  sluice_test::temp_dir dir;
  std::string checkpoint = (dir / "checkpoint").string();

  sluice_test::fault_proxy proxy(srv.host, srv.port);
  // The first part hangs: the kill lands while every object is still open.
  proxy.add_rule({.method = "PUT", .query_contains = "partNumber=1&", .times = 1,
                  .action = sluice_test::fault::stall_before_response, .stall = std::chrono::milliseconds(60'000)});
  std::vector<std::string> args{child, proxy.endpoint(), srv.region, srv.access_key, srv.secret_key, bucket, checkpoint,
                                "stream"};
  pid_t pid = spawn(args);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (proxy.count("PUT", "", "partNumber=1&") == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  REQUIRE(proxy.count("PUT", "", "partNumber=1&") == 1);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFSIGNALED(status));
  auto open = s3_test::aws_json(srv, "s3api list-multipart-uploads --bucket " + bucket);
  REQUIRE((open.is_object() && open.as_object().contains("Uploads")));  // left by the killed run
  proxy.clear_rules();

  pid = spawn(args);
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);

  // The open uploads were aborted, and every record landed once in complete objects.
  auto uploads = s3_test::aws_json(srv, "s3api list-multipart-uploads --bucket " + bucket);
  CHECK((!uploads.is_object() || !uploads.as_object().contains("Uploads")));
  std::string expected = expected_object();
  std::multiset<std::string> want, got;
  for (std::size_t at = 0, end; (end = expected.find('\n', at)) != std::string::npos; at = end + 1)
    want.insert(expected.substr(at, end - at));
  auto listed = s3_test::aws_json(srv, "s3api list-objects-v2 --bucket " + bucket);
  for (const auto& o : listed.at("Contents").as_array()) {
    std::string key(o.at("Key").as_string());
    auto head = s3_test::aws_json(srv, "s3api head-object --bucket " + bucket + " --key '" + key + "'");
    CHECK(head.at("Metadata").as_object().contains("sha256"));  // complete, facts and all
    auto r = s3_test::aws(srv, "s3api get-object --bucket " + bucket + " --key '" + key + "' " + (dir / "got").string());
    REQUIRE(r.status == 0);
    std::string body = sluice_test::read_file(dir / "got");
    for (std::size_t at = 0, end; (end = body.find('\n', at)) != std::string::npos; at = end + 1)
      got.insert(body.substr(at, end - at));
  }
  CHECK(got.size() == want.size());
  CHECK(got == want);
  CHECK(std::filesystem::is_empty(checkpoint + ".s3-uploads"));
  CHECK(sluice_test::read_file(checkpoint).find("100000") != std::string::npos);
}
