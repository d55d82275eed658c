// SPDX-License-Identifier: Apache-2.0
// The main example and the `sluice` command, run as programs: the lake the example writes is read
// back by `sluice cat`, checked by `sluice verify`, and decoded independently by the real AWS
// Encryption SDK and the stock zstd. Damaged lakes and wrong keys give clear errors.
#include <sluice/crypto/keyring.hpp>

#include <sluice_test/support.hpp>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

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
