// SPDX-License-Identifier: Apache-2.0
#include <sluice/crypto/envelope.hpp>

#include <sluice/format/jsonl.hpp>
#include <sluice_test/support.hpp>

#include "esdk_test_support.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace sluice;
using esdk_test::bytes;
using esdk_test::test_keyring;

static_assert(object_stage<crypto::envelope>);

namespace {
crypto::encrypt_options opts(crypto::suite s, std::uint64_t frame, std::map<std::string, std::string> ctx = {}) {
  crypto::encrypt_options o;
  o.suite = s;
  o.frame_length = frame;
  o.context = std::move(ctx);
  return o;
}
struct failure {
  error_code ec;
  std::string reason;
};
failure try_decrypt(const crypto::keyring& ring, const std::string& message) {
  std::string plaintext = "stale";
  failure f;
  f.ec = crypto::decrypt(ring, message, plaintext, nullptr, &f.reason);
  if (f.ec) CHECK(plaintext.empty());
  return f;
}
}  // namespace

TEST_CASE("envelope messages round-trip for both suites, many sizes and frame lengths", "[crypto][envelope]") {
  auto ring = test_keyring();
  for (auto s : {crypto::suite::committing, crypto::suite::committing_signed}) {
    for (std::uint64_t frame : {std::uint64_t{1}, std::uint64_t{64}, std::uint64_t{4096}, std::uint64_t{1} << 20}) {
      for (std::size_t size : {0, 1, 63, 64, 65, 128, 1000, 3 * 4096, 100000}) {
        if (frame == 1 && size > 1000) continue;  // 100k one-byte frames: slow and adds nothing
        CAPTURE(crypto::to_string(s), frame, size);
        std::string plaintext = bytes(size, size + frame);
        std::string message, back;
        crypto::encrypt(*ring, plaintext, message, opts(s, frame, {{"tenant", "acme"}}));
        REQUIRE(message[0] == 2);
        REQUIRE(esdk_test::be(message, 1, 2) == static_cast<std::uint16_t>(s));
        std::map<std::string, std::string> ctx;
        std::string reason;
        REQUIRE(crypto::decrypt(*ring, message, back, &ctx, &reason) == error_code{});
        REQUIRE(back == plaintext);
        CHECK(ctx.at("tenant") == "acme");
        CHECK(ctx.count("aws-crypto-public-key") == (s == crypto::suite::committing_signed ? 1u : 0u));
        // Layout: regular frames of exactly `frame` bytes, then one final frame.
        auto l = esdk_test::parse_layout(message);
        std::size_t regular = size == 0 ? 0 : (size - 1) / frame;
        CHECK(l.frames.size() == regular + 1);
        CHECK((s == crypto::suite::committing ? l.body_end == message.size() : l.body_end < message.size()));
      }
    }
  }
}

TEST_CASE("two messages of the same plaintext differ: fresh data key and message id", "[crypto][envelope]") {
  auto ring = test_keyring();
  std::string a, b;
  crypto::encrypt(*ring, "same", a);
  crypto::encrypt(*ring, "same", b);
  REQUIRE(a.size() == b.size());
  CHECK(a.substr(3, 32) != b.substr(3, 32));
  CHECK(a != b);
}

TEST_CASE("frame IVs are the sequence numbers and the body AAD binds each frame", "[crypto][envelope]") {
  auto ring = test_keyring();
  std::string message;
  crypto::encrypt(*ring, bytes(200), message, opts(crypto::suite::committing, 64));
  auto l = esdk_test::parse_layout(message);
  REQUIRE(l.frames.size() == 4);
  for (std::uint32_t i = 0; i < 3; ++i) {
    std::size_t f = l.frames[i];
    CHECK(esdk_test::be(message, f, 4) == i + 1);
    CHECK(message.substr(f + 4, 8) == std::string(8, '\0'));
    CHECK(esdk_test::be(message, f + 12, 4) == i + 1);
  }
  std::size_t last = l.frames[3];
  CHECK(esdk_test::be(message, last + 4, 4) == 4);
  CHECK(esdk_test::be(message, last + 8 + 8, 4) == 4);
  CHECK(esdk_test::be(message, last + 20, 4) == 200 - 3 * 64);
}

TEST_CASE("the encryptor reuses its output buffer from message to message", "[crypto][envelope]") {
  auto ring = test_keyring();
  crypto::encryptor e;
  std::string plaintext = bytes(1 << 20), message, back;
  crypto::encrypt_options o = opts(crypto::suite::committing, 16384);
  e.encrypt(*ring, plaintext, message, o);
  const char* data = message.data();
  e.encrypt(*ring, plaintext, message, o);
  CHECK(message.data() == data);
  REQUIRE(crypto::decrypt(*ring, message, back) == error_code{});
  CHECK(back == plaintext);
}

TEST_CASE("a reused encryptor and decryptor keep signed messages apart", "[crypto][envelope]") {
  auto ring = test_keyring();
  crypto::encryptor e;
  crypto::decryptor d;
  crypto::encrypt_options o = opts(crypto::suite::committing_signed, 64);
  std::vector<std::string> messages(3);
  for (std::size_t i = 0; i < messages.size(); ++i) e.encrypt(*ring, bytes(100 + i, i), messages[i], o);
  CHECK(messages[0].substr(3, 32) != messages[1].substr(3, 32));
  for (std::size_t i = 0; i < messages.size(); ++i) {
    std::string plaintext, reason;
    error_code ec = d.decrypt(*ring, messages[i], plaintext, nullptr, reason);
    CAPTURE(i, reason);
    REQUIRE_FALSE(ec);
    CHECK(plaintext == bytes(100 + i, i));
  }
  // A footer moved from another message does not verify under this message's key.
  auto l0 = esdk_test::parse_layout(messages[0]);
  auto l1 = esdk_test::parse_layout(messages[1]);
  std::string spliced = messages[0].substr(0, l0.body_end) + messages[1].substr(l1.body_end);
  std::string plaintext, reason;
  CHECK(d.decrypt(*ring, spliced, plaintext, nullptr, reason) == errc::authentication_failed);
  CHECK(reason == "footer: the ECDSA P-384 signature does not verify (the message was altered)");
}

TEST_CASE("every flipped byte of a message is rejected, naming the part", "[crypto][envelope]") {
  auto ring = test_keyring();
  for (auto s : {crypto::suite::committing, crypto::suite::committing_signed}) {
    std::string message;
    crypto::encrypt(*ring, bytes(150), message, opts(s, 64, {{"tenant", "acme"}}));
    auto l = esdk_test::parse_layout(message);
    REQUIRE(l.frames.size() == 3);
    for (std::size_t at = 0; at < message.size(); ++at) {
      std::string bad = message;
      bad[at] = static_cast<char>(bad[at] ^ 0x10);
      auto f = try_decrypt(*ring, bad);
      CAPTURE(crypto::to_string(s), at, f.reason);
      REQUIRE(f.ec);
      if (at < l.header_end) {
        CHECK((f.reason.starts_with("header") || f.reason.starts_with("encrypted data key")));
      } else if (at < l.frames[1]) {
        CHECK(f.reason.starts_with("frame 1"));
      } else if (at < l.frames[2]) {
        CHECK(f.reason.starts_with("frame 2"));
      } else if (at < l.body_end) {
        // The marker of the final frame altered reads as a regular frame 3 with a bad number.
        CHECK((f.reason.starts_with("final frame 3") || f.reason.starts_with("frame 3")));
      } else {
        CHECK(f.reason.starts_with("footer"));
      }
    }
  }
}

TEST_CASE("tampering errors say what failed", "[crypto][envelope]") {
  auto ring = test_keyring();
  std::string message;
  crypto::encrypt(*ring, bytes(150), message, opts(crypto::suite::committing_signed, 64));
  auto l = esdk_test::parse_layout(message);

  SECTION("a frame's ciphertext") {
    std::string bad = message;
    bad[l.frames[1] + 20] ^= 1;
    auto f = try_decrypt(*ring, bad);
    CHECK(f.ec == errc::authentication_failed);
    CHECK(f.reason == "frame 2: the authentication tag does not verify (the frame was altered or moved)");
  }
  SECTION("a frame's IV") {
    std::string bad = message;
    bad[l.frames[0] + 4] ^= 1;
    auto f = try_decrypt(*ring, bad);
    CHECK(f.ec == errc::corrupt_object);
    CHECK(f.reason == "frame 1: the IV is not the sequence number (the format requires it)");
  }
  SECTION("the commit key in the header") {
    std::string bad = message;
    bad[l.header_end - 17] ^= 1;
    auto f = try_decrypt(*ring, bad);
    CHECK(f.ec == errc::authentication_failed);
    CHECK(f.reason.starts_with("header: the key commitment does not match"));
  }
  SECTION("the frame length in the header") {
    std::string bad = message;
    bad[l.header_end - 16 - 32 - 1] ^= 1;
    auto f = try_decrypt(*ring, bad);
    CHECK(f.ec == errc::authentication_failed);
    CHECK(f.reason == "header: the header authentication tag does not verify (the header was altered)");
  }
  SECTION("the footer signature") {
    std::string bad = message;
    bad[message.size() - 3] ^= 1;
    auto f = try_decrypt(*ring, bad);
    CHECK(f.ec == errc::authentication_failed);
    CHECK(f.reason == "footer: the ECDSA P-384 signature does not verify (the message was altered)");
  }
  SECTION("two frames swapped") {
    std::string bad = message;
    std::size_t n = l.frames[1] - l.frames[0];
    std::string first = bad.substr(l.frames[0], n);
    bad.replace(l.frames[0], n, bad.substr(l.frames[1], n));
    bad.replace(l.frames[1], n, first);
    auto f = try_decrypt(*ring, bad);
    CHECK(f.ec == errc::corrupt_object);
    CHECK(f.reason.starts_with("frame 1 (offset " + std::to_string(l.frames[0]) + "): sequence number 2, expected 1"));
  }
  SECTION("bytes after the end") {
    auto f = try_decrypt(*ring, message + "x");
    CHECK(f.ec == errc::corrupt_object);
    CHECK(f.reason == "1 unexpected bytes after the end of the message at offset " + std::to_string(message.size()));
  }
  SECTION("the throwing twin names the part") {
    std::string bad = message;
    bad[l.frames[2] + 30] ^= 1;
    try {
      (void)crypto::decrypt(*ring, bad);
      FAIL("decrypt did not throw");
    } catch (const sluice::error& e) {
      CHECK(e.code() == errc::authentication_failed);
      CHECK_THAT(e.what(), Catch::Contains("decrypting an AWS Encryption SDK message: final frame 3: the "
                                           "authentication tag does not verify"));
    }
  }
}

TEST_CASE("a truncated message is reported with the offset and the field at every length", "[crypto][envelope]") {
  auto ring = test_keyring();
  for (auto s : {crypto::suite::committing, crypto::suite::committing_signed}) {
    std::string message;
    crypto::encrypt(*ring, bytes(100), message, opts(s, 64, {{"k", "v"}}));
    for (std::size_t n = 0; n < message.size(); ++n) {
      auto f = try_decrypt(*ring, message.substr(0, n));
      CAPTURE(crypto::to_string(s), n, f.reason);
      REQUIRE(f.ec == errc::truncated_object);
      CHECK_THAT(f.reason, Catch::Contains("the message ends at byte " + std::to_string(n) + " inside "));
    }
  }
  std::string message;
  crypto::encrypt(*ring, bytes(100), message, opts(crypto::suite::committing_signed, 64));
  auto l = esdk_test::parse_layout(message);
  CHECK(try_decrypt(*ring, message.substr(0, 20)).reason ==
        "header: the message ends at byte 20 inside the message id (at offset 3, 32 bytes needed, 17 left)");
  CHECK(try_decrypt(*ring, message.substr(0, l.frames[1])).reason ==
        "frame 2: the message ends at byte " + std::to_string(l.frames[1]) +
            " inside the sequence number (no final frame yet) (at offset " + std::to_string(l.frames[1]) +
            ", 4 bytes needed, 0 left)");
  CHECK_THAT(try_decrypt(*ring, message.substr(0, l.body_end)).reason,
             Catch::StartsWith("footer: the message ends at byte " + std::to_string(l.body_end) +
                               " inside the signature length"));
}

TEST_CASE("version 1 messages, other suites and non-framed content are refused", "[crypto][envelope]") {
  auto ring = test_keyring();
  std::string message;
  crypto::encrypt(*ring, "x", message);

  std::string v1 = message;
  v1[0] = 1;
  auto f = try_decrypt(*ring, v1);
  CHECK(f.ec == errc::unsupported_format);
  CHECK(f.reason == "header: message format version 1 (algorithm suites without key commitment) is not supported; "
                    "only version 2 (suites 0x0478 and 0x0578) is read");

  std::string other = message;
  other[1] = 0x01;  // 0x0178: HKDF-SHA256 without commitment
  f = try_decrypt(*ring, other);
  CHECK(f.ec == errc::unsupported_format);
  CHECK(f.reason == "header: algorithm suite 0x0178 is not supported; sluice reads 0x0478 and 0x0578");

  f = try_decrypt(*ring, "{\"not\": \"a message\"}");
  CHECK(f.ec == errc::corrupt_object);
  CHECK(f.reason == "header: the first byte is 0x7b: not an AWS Encryption SDK message (version must be 2)");

  auto l = esdk_test::parse_layout(message);
  std::string nonframed = message;
  nonframed[l.header_end - 16 - 32 - 4 - 1] = 1;
  f = try_decrypt(*ring, nonframed);
  CHECK(f.ec == errc::unsupported_format);
  CHECK(f.reason == "header: non-framed content (content type 1) is not supported");
}

TEST_CASE("a wrong key or a missing key is reported with the key's name", "[crypto][envelope]") {
  auto ring = test_keyring("lake", "key-1");
  std::string message;
  crypto::encrypt(*ring, "secret", message);

  auto wrong = test_keyring("lake", "key-1", esdk_test::other_key_hex);
  auto f = try_decrypt(*wrong, message);
  CHECK(f.ec == errc::authentication_failed);
  CHECK(f.reason == "encrypted data key: the encrypted data key for lake/key-1 does not decrypt with the keyring's key "
                    "of that name (wrong key material, or the message's encryption context was altered)");

  auto missing = test_keyring("lake", "key-2");
  f = try_decrypt(*missing, message);
  CHECK(f.ec == errc::key_not_found);
  CHECK(f.reason == "encrypted data key: the message's data key is wrapped for lake/key-1; the keyring holds lake/key-2");

  auto other_ns = test_keyring("other", "key-1");
  f = try_decrypt(*other_ns, message);
  CHECK(f.ec == errc::key_not_found);
  CHECK_THAT(f.reason, Catch::Contains("wrapped for lake/key-1; the keyring holds other/key-1"));
}

TEST_CASE("crypto::envelope validates its configuration", "[crypto][envelope]") {
  auto ring = test_keyring();
  auto message_of = [](const crypto::envelope& e) -> std::string {
    try {
      e.validate();
    } catch (const config_error& err) {
      return err.what();
    }
    return "";
  };
  CHECK(message_of(crypto::envelope{.keyring = ring}).empty());
  CHECK(message_of(crypto::envelope{}) ==
        "sluice: crypto::envelope.keyring = null: must be set (e.g. a crypto::local_keyring)");
  CHECK(message_of(crypto::envelope{.keyring = ring, .frame_length = 0}) ==
        "sluice: crypto::envelope.frame_length = 0: must be 1..2147483648 (2^31)");
  CHECK(message_of(crypto::envelope{.keyring = ring, .frame_length = (std::uint64_t{1} << 31) + 1}) ==
        "sluice: crypto::envelope.frame_length = 2147483649: must be 1..2147483648 (2^31)");
  CHECK(message_of(crypto::envelope{.keyring = ring, .frame_length = std::uint64_t{1} << 31}).empty());
  CHECK(message_of(crypto::envelope{.keyring = ring, .context = {{"aws-crypto-public-key", "x"}}}) ==
        "sluice: crypto::envelope.context[\"aws-crypto-public-key\"]: keys starting with `aws-crypto-` are "
        "reserved to the AWS Encryption SDK");
  CHECK_THAT(message_of(crypto::envelope{.keyring = ring, .context = {{"sluice:stream", "x"}}}),
             Catch::StartsWith("sluice: crypto::envelope.context[\"sluice:stream\"]: keys starting with `sluice:` "
                               "are reserved"));
  crypto::envelope bad_suite{.keyring = ring, .suite = static_cast<crypto::suite>(0x0178)};
  CHECK(message_of(bad_suite) == "sluice: crypto::envelope.suite = 0x0178: must be crypto::suite::committing "
                                 "(0x0478) or committing_signed (0x0578)");

  std::string message;
  CHECK_THROWS_WITH(crypto::encrypt(*ring, "x", message, opts(crypto::suite::committing, 64, {{"aws-crypto-x", "y"}})),
                    Catch::Contains("crypto::encrypt_options.context[\"aws-crypto-x\"]"));
}

TEST_CASE("crypto::envelope in a pipeline encrypts each object and describes it", "[crypto][envelope]") {
  auto ring = test_keyring("lake", "key-7");
  sluice_test::vector_source src;
  for (int i = 0; i < 250; ++i) src.payloads.push_back("{\"n\":" + std::to_string(i) + "}");
  src.chunk = 100;
  sluice_test::collecting_sink sink;
  auto p = src | format::jsonl{} |
           crypto::envelope{.keyring = ring, .frame_length = 1000, .context = {{"tenant", "acme"}}} | sink;
  p.options.stream = "events";
  p.run();

  REQUIRE(sink.objects->size() == 3);
  int n = 0;
  for (const object& o : *sink.objects) {
    std::string expected;
    for (std::uint64_t i = 0; i < o.record_count; ++i) expected += "{\"n\":" + std::to_string(n++) + "}\n";
    std::map<std::string, std::string> ctx;
    std::string plaintext, reason;
    REQUIRE(crypto::decrypt(*ring, o.body, plaintext, &ctx, &reason) == error_code{});
    CHECK(plaintext == expected);
    // No record count: a streamed object's header is written before its count is known.
    CHECK(ctx == std::map<std::string, std::string>{{"sluice:stream", "events"}, {"tenant", "acme"}});
    CHECK(o.encryption == "aws-encryption-sdk");
    CHECK(o.content_type == "application/x-ndjson");
    CHECK(o.metadata.at("encryption-suite") == "0x0478");
    CHECK(o.metadata.at("encryption-key") == "lake/key-7");
    CHECK(o.metadata.at("frame-length") == "1000");
    auto json = boost::json::parse(o.metadata.at("encryption-context")).as_object();
    CHECK(json.at("sluice:stream").as_string() == "events");
    CHECK(json.at("tenant").as_string() == "acme");
    CHECK(json.size() == 2);
  }
  CHECK(n == 250);
  CHECK(p.metrics().snapshot().objects_out == 3);
}

TEST_CASE("crypto::envelope puts the partition in the context and signs with 0x0578", "[crypto][envelope]") {
  auto ring = test_keyring();
  sluice_test::test_context t;
  std::vector<object> out;
  crypto::envelope stage{.keyring = ring, .suite = crypto::suite::committing_signed, .frame_length = 64};
  stage.validate();
  auto node = stage.open(t.ctx, [&] { return sluice_test::collecting_node<object>{&out}; });
  for (int i = 0; i < 2; ++i) {
    object o;
    o.body = bytes(300 + static_cast<std::size_t>(i), static_cast<std::uint64_t>(i));
    o.stream = "s";
    o.partition = "dt=2024-01-0" + std::to_string(i + 1);
    o.record_count = 3;
    node.push(std::move(o));
  }
  node.flush();
  REQUIRE(out.size() == 2);
  for (int i = 0; i < 2; ++i) {
    std::map<std::string, std::string> ctx;
    std::string plaintext;
    std::string reason;
    error_code ec = crypto::decrypt(*ring, out[i].body, plaintext, &ctx, &reason);
    CAPTURE(i, reason);
    REQUIRE_FALSE(ec);
    CHECK(plaintext == bytes(300 + static_cast<std::size_t>(i), static_cast<std::uint64_t>(i)));
    CHECK(ctx.at("sluice:partition") == "dt=2024-01-0" + std::to_string(i + 1));
    CHECK(ctx.count("sluice:records") == 0);
    CHECK(ctx.at("aws-crypto-public-key").size() == 68);
    CHECK(out[i].metadata.at("encryption-suite") == "0x0578");
    CHECK(esdk_test::be(out[i].body, 1, 2) == 0x0578);
  }
}
