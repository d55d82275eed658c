// SPDX-License-Identifier: Apache-2.0
// The endpoint's promise: after a 200, nothing is lost, even on SIGKILL. Concurrent clients send
// PutRecordBatch calls of numbered records to the firehose_endpoint program; it is killed while
// they send, started again (it first delivers what its write-ahead buffer holds), then stopped
// with SIGTERM; every record of every call answered 200 must be in the lake, and nothing that
// was never sent.
#include <sluice/crypto/checksum.hpp>

#include "endpoint_process.hpp"

#include <sluice_test/http_client.hpp>
#include <sluice_test/support.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

fs::path write_config(const sluice_test::temp_dir& tmp) {
  sluice_test::write_file(tmp / "firehose.json", R"({
    "listen": "127.0.0.1:0",
    "access_keys": [{"access_key_id": ")" + std::string(sluice_test::test_id) + R"(",
                     "secret_access_key": ")" + std::string(sluice_test::test_secret) + R"("}],
    "state_dir": ")" + (tmp / "state").string() + R"(",
    "delivery_streams": [{"name": "events", "lake": ")" + (tmp / "lake").string() + R"(",
                          "compression": "zstd", "newline_delimiter": true,
                          "buffering_hints": {"size_mib": 1, "interval_seconds": 1}}]})");
  return tmp / "firehose.json";
}

std::string put_batch(const std::vector<std::string>& records) {
  std::string body = R"({"DeliveryStreamName":"events","Records":[)";
  for (std::size_t i = 0; i < records.size(); ++i)
    body += (i ? "," : "") + std::string(R"({"Data":")") + sluice::crypto::to_base64(records[i]) + "\"}";
  return body + "]}";
}

}  // namespace

TEST_CASE("every record answered 200 is delivered after a SIGKILL and a restart", "[integration][http_stream][crash]") {
  sluice_test::temp_dir tmp;
  const fs::path config = write_config(tmp);
  std::mutex mutex;
  std::set<std::string> acknowledged, sent;
  std::atomic<int> answered{0};

  {
    sluice_test::endpoint_process endpoint(config, tmp.path());
    std::atomic<bool> sending{true};
    std::vector<std::jthread> clients;
    for (int c = 0; c < 4; ++c) {
      clients.emplace_back([&, c] {
        sluice_test::raw_client client(endpoint.port());
        for (int call = 0; sending; ++call) {
          std::vector<std::string> records;
          for (int i = 0; i < 100; ++i)
            records.push_back("{\"client\":" + std::to_string(c) + ",\"call\":" + std::to_string(call) +
                              ",\"i\":" + std::to_string(i) + ",\"pad\":\"" + std::string(200, 'x') + "\"}");
          {
            std::lock_guard lock(mutex);
            sent.insert(records.begin(), records.end());
          }
          if (!client.send(sluice_test::signed_request(put_batch(records)))) return;
          auto reply = client.read_reply(30s);
          if (!reply) return;  // killed before it answered: the client cannot know, so may resend
          if (reply->status != 200) continue;
          auto json = reply->json().as_object();
          if (json.at("FailedPutCount").as_int64() != 0) continue;
          std::lock_guard lock(mutex);
          acknowledged.insert(records.begin(), records.end());
          ++answered;
        }
      });
    }
    // Kill it while the clients are in full flow, with objects open in the batcher.
    const auto until = std::chrono::steady_clock::now() + 30s;
    while (answered < 40 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
    endpoint.kill();
    sending = false;
  }
  INFO("calls answered 200 before the kill: " << answered);
  REQUIRE(answered >= 40);

  // Started again: it delivers what the crash left in its buffer; SIGTERM drains the rest.
  {
    sluice_test::endpoint_process endpoint(config, tmp.path());
    REQUIRE(endpoint.terminate() == 0);
  }

  std::string all;
  for (const auto& e : fs::recursive_directory_iterator(tmp / "lake")) {
    const std::string p = e.path().string();
    if (!e.is_regular_file() || !p.ends_with(".zst")) continue;
    auto r = sluice_test::run_command("zstd -dc '" + p + "'");
    REQUIRE(r.status == 0);
    all += r.out;
  }
  std::set<std::string> landed;
  std::size_t lines = 0;
  std::istringstream in(all);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    ++lines;
    landed.insert(line);
  }
  std::size_t lost = 0, unknown = 0;
  for (const auto& r : acknowledged) lost += landed.count(r) == 0;
  for (const auto& r : landed) unknown += sent.count(r) == 0;
  INFO("acknowledged " << acknowledged.size() << ", landed " << landed.size() << " distinct in " << lines << " lines");
  CHECK(lost == 0);
  CHECK(unknown == 0);
}
