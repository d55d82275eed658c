// SPDX-License-Identifier: Apache-2.0
// Interoperability with the real AWS Encryption SDK for JavaScript (@aws-crypto/client-node
// 5.0.2): sluice reads what the SDK writes, and the SDK reads what sluice writes. Node runs are
// batched (esdk-batch.cjs runs many jobs in one process) because loading the SDK dominates.
#include <sluice/crypto/envelope.hpp>

#include <sluice_test/support.hpp>

#include "esdk_test_support.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

using namespace sluice;
namespace fs = std::filesystem;
using esdk_test::quote;

namespace {

struct interop_case {
  crypto::suite suite;
  std::uint64_t frame_length;
  std::size_t size;
};

/// Both suites with these plaintext shapes: empty, an odd size over several 64-byte frames, an
/// exact multiple of the frame length, and a large one over 1 MiB frames.
std::vector<interop_case> interop_cases() {
  std::vector<interop_case> v;
  for (auto s : {crypto::suite::committing, crypto::suite::committing_signed})
    for (interop_case c : {interop_case{s, 64, 0}, interop_case{s, 64, 1000}, interop_case{s, 4096, 3 * 4096},
                           interop_case{s, 1 << 20, 3 * (1 << 20) + 12345}})
      v.push_back(c);
  return v;
}

std::string node_command(const fs::path& modules, const fs::path& script, const std::string& args) {
  return "NODE_PATH=" + quote(modules.string()) + " node " + quote(script.string()) + " " + args;
}

}  // namespace

TEST_CASE("sluice decrypts the messages the AWS Encryption SDK made in testdata/esdk", "[crypto][esdk]") {
  auto esdk = sluice_test::testdata("esdk");
  if (!esdk) return;
  auto doc = boost::json::parse(sluice_test::read_file(*esdk / "keyring.json")).as_object();
  auto ring = crypto::raw_aes_keyring::from_hex(std::string(doc.at("keyNamespace").as_string()),
                                                std::string(doc.at("keyName").as_string()),
                                                std::string(doc.at("wrappingKeyHex").as_string()));
  const std::string expected = sluice_test::read_file(*esdk / "plaintext.bin");
  REQUIRE(expected.size() == 223);

  struct vector_file {
    const char* name;
    bool signed_suite;
    bool caller_context;
    std::size_t frames;
  };
  for (auto v : {vector_file{"default-0578.esdk", true, true, 1}, vector_file{"default-0578-empty-context.esdk", true, false, 1},
                 vector_file{"nosig-0478.esdk", false, true, 1}, vector_file{"nosig-0478-frame64.esdk", false, true, 4}}) {
    CAPTURE(v.name);
    const std::string message = sluice_test::read_file(*esdk / v.name);
    std::map<std::string, std::string> ctx;
    std::string plaintext, reason;
    error_code ec = crypto::decrypt(ring, message, plaintext, &ctx, &reason);
    CAPTURE(reason);
    REQUIRE_FALSE(ec);
    CHECK(plaintext == expected);
    std::map<std::string, std::string> own = ctx;
    own.erase("aws-crypto-public-key");
    if (v.caller_context)
      CHECK(own == std::map<std::string, std::string>{{"purpose", "interop-test"}, {"tenant", "acme"}});
    else
      CHECK(own.empty());
    CHECK(ctx.count("aws-crypto-public-key") == (v.signed_suite ? 1u : 0u));
    CHECK(esdk_test::parse_layout(message).frames.size() == v.frames);

    // The same message under another key name is refused with the names involved.
    auto other = crypto::raw_aes_keyring::from_hex("interop-namespace", "interop-key-2", esdk_test::test_key_hex);
    CHECK(crypto::decrypt(other, message, plaintext, nullptr, &reason) == errc::key_not_found);
    CHECK(reason == "encrypted data key: the message's data key is wrapped for interop-namespace/interop-key-1; "
                    "the keyring holds interop-namespace/interop-key-2");
    // And under the right name with the wrong key material, as a failed authentication.
    auto wrong = crypto::raw_aes_keyring::from_hex("interop-namespace", "interop-key-1", esdk_test::other_key_hex);
    CHECK(crypto::decrypt(wrong, message, plaintext) == errc::authentication_failed);
  }
}

TEST_CASE("the AWS Encryption SDK decrypts what sluice writes: both suites, frame lengths, rotated keys",
          "[crypto][esdk]") {
  auto modules = esdk_test::node_modules();
  if (!modules) SLUICE_SKIP_OR_FAIL("node or @aws-crypto/client-node missing (set SLUICE_NODE_MODULES)");
  auto esdk = sluice_test::testdata("esdk");
  if (!esdk) return;
  sluice_test::temp_dir dir;
  auto ring = esdk_test::test_keyring("sluice-interop", "key-1");

  // Objects written through the stage, as a pipeline writes them.
  boost::json::array jobs;
  std::vector<std::string> plaintexts;
  sluice_test::test_context t;
  std::vector<object> out;
  const auto cases = interop_cases();
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    crypto::envelope stage{.keyring = ring, .suite = c.suite, .frame_length = c.frame_length,
                           .context = {{"tenant", "acme"}}};
    stage.validate();
    auto node = stage.open(t.ctx, [&] { return sluice_test::collecting_node<object>{&out}; });
    object o;
    o.body = esdk_test::bytes(c.size, c.size + 7);
    plaintexts.push_back(o.body);
    o.stream = "interop";
    o.partition = "dt=2024-05-0" + std::to_string(i);
    o.record_count = c.size;
    node.push(std::move(o));
    auto message = dir / ("m" + std::to_string(i) + ".esdk");
    sluice_test::write_file(message, out.back().body);
    jobs.push_back(boost::json::object{
        {"op", "decrypt"},
        {"namespace", "sluice-interop"},
        {"keys", boost::json::object{{"key-1", esdk_test::test_key_hex}}},
        {"expect", boost::json::object{{"sluice:stream", "interop"},
                                       {"sluice:partition", "dt=2024-05-0" + std::to_string(i)},
                                       {"tenant", "acme"}}},
        {"in", message.string()},
        {"out", (dir / ("p" + std::to_string(i))).string()}});
  }

  // A local_keyring before and after a rotation: the SDK reads both with the file's keys.
  auto keyfile = dir / "keys.json";
  crypto::local_keyring::create(keyfile, "lake");
  std::string old_message, new_message;
  crypto::encrypt(crypto::local_keyring(keyfile), "before rotation", old_message);
  crypto::local_keyring::rotate(keyfile);
  crypto::encrypt(crypto::local_keyring(keyfile), "after rotation", new_message,
                  {.suite = crypto::suite::committing_signed});
  sluice_test::write_file(dir / "old.esdk", old_message);
  sluice_test::write_file(dir / "new.esdk", new_message);
  auto keys = boost::json::parse(sluice_test::read_file(keyfile)).at("keys").as_object();
  for (const char* name : {"old", "new"})
    jobs.push_back(boost::json::object{{"op", "decrypt"},
                                       {"namespace", "lake"},
                                       {"keys", keys},
                                       {"in", (dir / (std::string(name) + ".esdk")).string()},
                                       {"out", (dir / (std::string(name) + ".out")).string()}});
  sluice_test::write_file(dir / "jobs.json", boost::json::serialize(jobs));

  // One batch process for everything, and beside it the shared oracle script (esdk-decrypt.cjs)
  // on the large signed message.
  const std::string oracle_key = " --namespace sluice-interop --key key-1=" + esdk_test::test_key_hex +
                                 " --expect sluice:stream=interop --expect tenant=acme";
  std::vector<std::string> commands = {
      node_command(*modules, esdk_test::tools_dir() / "esdk-batch.cjs",
                   quote((dir / "jobs.json").string()) + " >" + quote((dir / "results.json").string())),
      node_command(*modules, *esdk / "esdk-decrypt.cjs",
                   oracle_key + " --out " + quote((dir / "oracle7").string()) + " " + quote((dir / "m7.esdk").string())),
  };
  auto status = esdk_test::run_parallel(commands, dir.path());
  CAPTURE(sluice_test::read_file(dir / "log_0"), sluice_test::read_file(dir / "log_1"));
  REQUIRE(status == std::vector<int>{0, 0});
  CHECK(sluice_test::read_file(dir / "oracle7") == plaintexts[7]);

  auto results = boost::json::parse(sluice_test::read_file(dir / "results.json")).as_array();
  REQUIRE(results.size() == cases.size() + 2);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& r = results[i].as_object();
    CAPTURE(i, crypto::to_string(cases[i].suite), cases[i].frame_length, cases[i].size, boost::json::serialize(r));
    REQUIRE(r.at("ok").as_bool());
    CHECK(r.at("suiteId").as_string() == crypto::to_string(cases[i].suite));
    CHECK(r.at("frameLength").to_number<std::uint64_t>() == cases[i].frame_length);
    CHECK(sluice_test::read_file(dir / ("p" + std::to_string(i))) == plaintexts[i]);
  }
  CAPTURE(boost::json::serialize(results));
  REQUIRE(results[cases.size()].at("ok").as_bool());
  REQUIRE(results[cases.size() + 1].at("ok").as_bool());
  CHECK(sluice_test::read_file(dir / "old.out") == "before rotation");
  CHECK(sluice_test::read_file(dir / "new.out") == "after rotation");
}

TEST_CASE("the AWS Encryption SDK decrypts objects that sluice streamed piece by piece", "[crypto][esdk]") {
  auto modules = esdk_test::node_modules();
  if (!modules) SLUICE_SKIP_OR_FAIL("node or @aws-crypto/client-node missing (set SLUICE_NODE_MODULES)");
  sluice_test::temp_dir dir;
  auto ring = esdk_test::test_keyring("sluice-interop", "key-1");

  // Piece shapes, frames of 64 bytes: 1-byte pieces; pieces on frame boundaries with an empty
  // last piece (the message then ends with an empty final frame after its regular frames);
  // empty middle pieces; large pieces over many frames; an object of 0 bytes.
  struct shape {
    std::vector<std::size_t> pieces;  // the last one ends the object
    std::size_t final_frame;          // content bytes of the final frame
  };
  const std::vector<shape> shapes = {
      {std::vector<std::size_t>(150, 1), 150 - 2 * 64},
      {{64, 128, 0, 64, 0}, 0},
      {{10, 0, 0, 70, 0, 5}, 85 - 64},
      {{10000, 0, 5000, 3000}, 18000 - 281 * 64},
      {{0, 0}, 0},
  };
  // One node per suite; the objects' pieces go through it interleaved round-robin, as open
  // partitions send them.
  sluice_test::test_context t;
  std::vector<object> out;
  boost::json::array jobs;
  std::vector<std::string> plaintexts, messages;
  for (auto s : {crypto::suite::committing, crypto::suite::committing_signed}) {
    crypto::envelope stage{.keyring = ring, .suite = s, .frame_length = 64, .context = {{"tenant", "acme"}}};
    stage.validate();
    auto node = stage.open(t.ctx, [&] { return sluice_test::collecting_node<object>{&out}; });
    const std::size_t base = messages.size();
    std::vector<std::uint64_t> ids;
    for (std::size_t k = 0; k < shapes.size(); ++k) {
      ids.push_back(t.ctx.next_object_id());
      plaintexts.emplace_back();
      messages.emplace_back();
    }
    for (std::size_t round = 0, pushed = 1; pushed > 0; ++round) {
      pushed = 0;
      for (std::size_t k = 0; k < shapes.size(); ++k) {
        const auto& pieces = shapes[k].pieces;
        if (round >= pieces.size()) continue;
        object o;
        o.body = esdk_test::bytes(pieces[round], ids[k] * 1000 + round);
        plaintexts[base + k] += o.body;
        o.stream = "interop";
        o.partition = "object=" + std::to_string(ids[k]);
        o.piece = {ids[k], round == 0, round + 1 == pieces.size()};
        node.push(std::move(o));
        messages[base + k] += out.back().body;
        ++pushed;
      }
    }
    CHECK(node.open_messages() == 0);
    for (std::size_t k = 0; k < shapes.size(); ++k) {
      const std::size_t i = base + k;
      CAPTURE(i);
      auto l = esdk_test::parse_layout(messages[i]);
      CHECK(esdk_test::be(messages[i], l.frames.back() + 4 + 4 + 12, 4) == shapes[k].final_frame);
      auto file = dir / ("m" + std::to_string(i) + ".esdk");
      sluice_test::write_file(file, messages[i]);
      jobs.push_back(boost::json::object{
          {"op", "decrypt"},
          {"namespace", "sluice-interop"},
          {"keys", boost::json::object{{"key-1", esdk_test::test_key_hex}}},
          {"expect", boost::json::object{{"sluice:stream", "interop"},
                                         {"sluice:partition", "object=" + std::to_string(ids[k])},
                                         {"tenant", "acme"}}},
          {"in", file.string()},
          {"out", (dir / ("p" + std::to_string(i))).string()}});
    }
  }
  sluice_test::write_file(dir / "jobs.json", boost::json::serialize(jobs));
  auto r = sluice_test::run_command(
      node_command(*modules, esdk_test::tools_dir() / "esdk-batch.cjs", quote((dir / "jobs.json").string())));
  CAPTURE(r.out);
  REQUIRE(r.status == 0);
  auto results = boost::json::parse(r.out).as_array();
  REQUIRE(results.size() == messages.size());
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const auto& res = results[i].as_object();
    CAPTURE(i, boost::json::serialize(res));
    REQUIRE(res.at("ok").as_bool());
    CHECK(res.at("suiteId").as_string() == (i < shapes.size() ? "0x0478" : "0x0578"));
    CHECK(res.at("context").as_object().count("sluice:records") == 0);
    CHECK(sluice_test::read_file(dir / ("p" + std::to_string(i))) == plaintexts[i]);
  }
}

TEST_CASE("sluice decrypts what the AWS Encryption SDK writes fresh", "[crypto][esdk]") {
  auto modules = esdk_test::node_modules();
  if (!modules) SLUICE_SKIP_OR_FAIL("node or @aws-crypto/client-node missing (set SLUICE_NODE_MODULES)");
  sluice_test::temp_dir dir;
  const std::string ns = "sdk-writes", name = "key-9";

  boost::json::array jobs;
  auto cases = interop_cases();
  cases.push_back({crypto::suite::committing, 4096, 0});
  for (std::size_t i = 0; i < cases.size(); ++i) {
    auto in = dir / ("p" + std::to_string(i));
    sluice_test::write_file(in, esdk_test::bytes(cases[i].size, i + 100));
    jobs.push_back(boost::json::object{{"op", "encrypt"},
                                       {"namespace", ns},
                                       {"keyName", name},
                                       {"keyHex", esdk_test::test_key_hex},
                                       {"suite", crypto::to_string(cases[i].suite)},
                                       {"frameLength", cases[i].frame_length},
                                       {"context", boost::json::object{{"case", std::to_string(i)}, {"by", "sdk"}}},
                                       {"in", in.string()},
                                       {"out", (dir / ("m" + std::to_string(i))).string()}});
  }
  sluice_test::write_file(dir / "jobs.json", boost::json::serialize(jobs));
  auto r = sluice_test::run_command(
      node_command(*modules, esdk_test::tools_dir() / "esdk-batch.cjs", quote((dir / "jobs.json").string())));
  CAPTURE(r.out);
  REQUIRE(r.status == 0);
  auto results = boost::json::parse(r.out).as_array();
  REQUIRE(results.size() == cases.size());

  auto ring = esdk_test::test_keyring(ns, name);
  crypto::decryptor reused;  // one decryptor for all: its contexts must reset between messages
  for (std::size_t i = 0; i < cases.size(); ++i) {
    CAPTURE(i, crypto::to_string(cases[i].suite), cases[i].frame_length, cases[i].size);
    REQUIRE(results[i].at("ok").as_bool());
    const std::string message = sluice_test::read_file(dir / ("m" + std::to_string(i)));
    CHECK(esdk_test::be(message, 1, 2) == static_cast<std::uint16_t>(cases[i].suite));
    std::map<std::string, std::string> ctx;
    std::string plaintext, reason;
    error_code ec = reused.decrypt(*ring, message, plaintext, &ctx, reason);
    CAPTURE(reason);
    REQUIRE_FALSE(ec);
    CHECK(plaintext == esdk_test::bytes(cases[i].size, i + 100));
    CHECK(ctx.at("case") == std::to_string(i));
    CHECK(ctx.at("by") == "sdk");
    CHECK(ctx.count("aws-crypto-public-key") == (cases[i].suite == crypto::suite::committing_signed ? 1u : 0u));
    // The SDK's framing: floor(size / frame length) regular frames, then one final frame, which
    // is empty for an exact multiple (sluice's one-shot encrypt writes a full final frame
    // instead, and a streamed message an empty one only when its last piece is empty; both are
    // valid).
    auto l = esdk_test::parse_layout(message);
    CHECK(l.frames.size() == cases[i].size / cases[i].frame_length + 1);
  }
}
