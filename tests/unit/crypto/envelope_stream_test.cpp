// SPDX-License-Identifier: Apache-2.0
// Messages written in pieces: crypto::encryptor's begin/write/finish and crypto::envelope with
// streamed objects (object_piece).
#include <sluice/crypto/envelope.hpp>

#include <sluice_test/support.hpp>

#include "esdk_test_support.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

using namespace sluice;
using esdk_test::bytes;
using esdk_test::test_keyring;

namespace {

constexpr std::size_t frame_overhead = 4 + 12 + 16;  // sequence, IV, tag of a regular frame

/// A piece plan: the sizes given to write(), then the size given to finish().
struct plan {
  const char* name;
  std::vector<std::size_t> writes;
  std::size_t last = 0;
};

std::vector<plan> plans(std::size_t f) {
  std::vector<std::size_t> ones(3 * f + 2, 1), mixed;
  for (std::size_t i = 0; i < 12; ++i) mixed.push_back((i * 37 + 5) % (3 * f + 1));
  return {
      {"1-byte pieces", ones, 1},
      {"1-byte pieces, empty last piece", ones, 0},
      {"pieces ending on frame boundaries, empty last piece", {f, 2 * f, f}, 0},
      {"pieces ending on frame boundaries, full last piece", {f, 2 * f}, f},
      {"empty middle pieces", {0, 5, 0, 0, f, 0}, 3},
      {"a partial frame waiting, empty last piece", {f + 3}, 0},
      {"nothing written, everything at finish", {}, 2 * f + 1},
      {"a message of 0 bytes", {}, 0},
      {"a message of 0 bytes in empty pieces", {0, 0, 0}, 0},
      {"mixed sizes", mixed, 7},
  };
}

crypto::encrypt_options opts(crypto::suite s, std::uint64_t frame) {
  crypto::encrypt_options o;
  o.suite = s;
  o.frame_length = frame;
  o.context = {{"tenant", "acme"}};
  return o;
}

/// Writes `p` through `e` and returns the message (the outputs concatenated) and the plaintext.
/// Checks on the way that nothing waits beyond a partial frame and each write outputs exactly
/// the frames completed so far (plus the header the first time).
std::pair<std::string, std::string> stream(crypto::encryptor& e, const crypto::keyring& ring, const plan& p,
                                           const crypto::encrypt_options& o, std::uint64_t seed) {
  const std::size_t f = static_cast<std::size_t>(o.frame_length);
  e.begin(ring, o);
  REQUIRE(e.is_open());
  CHECK(e.buffered() == 0);
  std::string message, plaintext, out = "stale bytes that must be replaced";
  std::vector<std::size_t> output_sizes;
  for (std::size_t i = 0; i < p.writes.size(); ++i) {
    std::string piece = bytes(p.writes[i], seed + i);
    const std::size_t before = plaintext.size();
    plaintext += piece;
    e.write(piece, out);
    message += out;
    CHECK(e.is_open());
    CHECK(e.buffered() < f);
    CHECK(e.buffered() == plaintext.size() % f);
    output_sizes.push_back(out.size());
    const std::size_t frames = plaintext.size() / f - before / f;
    if (i > 0) CHECK(out.size() == frames * (frame_overhead + f));
  }
  std::string last = bytes(p.last, seed + 1000);
  plaintext += last;
  e.finish(last, out);
  message += out;
  CHECK_FALSE(e.is_open());
  CHECK(e.buffered() == 0);
  if (!p.writes.empty()) {
    // The first output is the header and the frames of the first piece.
    auto l = esdk_test::parse_layout(message);
    CHECK(output_sizes[0] == l.header_end + p.writes[0] / f * (frame_overhead + f));
  }
  return {message, plaintext};
}

}  // namespace

TEST_CASE("a message written in pieces of every shape decrypts to the pieces concatenated", "[crypto][envelope]") {
  auto ring = test_keyring();
  crypto::encryptor e;  // reused across every message: begin starts each afresh
  for (auto s : {crypto::suite::committing, crypto::suite::committing_signed}) {
    for (std::uint64_t frame : {1u, 7u, 64u, 4096u}) {
      const std::size_t f = static_cast<std::size_t>(frame);
      std::uint64_t seed = 1;
      for (const plan& p : plans(f)) {
        CAPTURE(crypto::to_string(s), frame, p.name);
        auto [message, plaintext] = stream(e, *ring, p, opts(s, frame), seed++);
        std::map<std::string, std::string> ctx;
        std::string back, reason;
        REQUIRE(crypto::decrypt(*ring, message, back, &ctx, &reason) == error_code{});
        CAPTURE(reason);
        CHECK(back == plaintext);
        CHECK(ctx.at("tenant") == "acme");
        CHECK(ctx.count("aws-crypto-public-key") == (s == crypto::suite::committing_signed ? 1u : 0u));

        // Regular frames of exactly `frame` bytes, then one final frame: it holds the last
        // 1..frame bytes finish() completed, or nothing when finish() got nothing after writes
        // that ended on a frame boundary (or the message is empty).
        std::size_t written = 0;
        for (std::size_t n : p.writes) written += n;
        const std::size_t total = plaintext.size();
        const std::size_t regular = p.last == 0 ? written / f : (total - 1) / f;
        auto l = esdk_test::parse_layout(message);
        REQUIRE(l.frames.size() == regular + 1);
        CHECK(esdk_test::be(message, l.frames.back() + 4 + 4 + 12, 4) == total - regular * f);
        CHECK((s == crypto::suite::committing ? l.body_end == message.size() : l.body_end < message.size()));
      }
    }
  }
}

TEST_CASE("a streamed message whose last piece carries the tail has the one-shot message's layout",
          "[crypto][envelope]") {
  auto ring = test_keyring();
  crypto::encryptor streamed, whole;
  for (std::size_t size : {1, 64, 65, 200, 256}) {
    CAPTURE(size);
    const std::string plaintext = bytes(size, size);
    const auto o = opts(crypto::suite::committing, 64);
    std::string one_shot;
    whole.encrypt(*ring, plaintext, one_shot, o);

    std::string message, out;
    streamed.begin(*ring, o);
    for (std::size_t at = 0; at + 1 < size; at += 10) {
      streamed.write(std::string_view(plaintext).substr(at, std::min<std::size_t>(10, size - 1 - at)), out);
      message += out;
    }
    streamed.finish(std::string_view(plaintext).substr(size - 1), out);
    message += out;

    auto a = esdk_test::parse_layout(one_shot), b = esdk_test::parse_layout(message);
    CHECK(message.size() == one_shot.size());
    CHECK(a.header_end == b.header_end);
    CHECK(a.frames == b.frames);
    CHECK(a.body_end == b.body_end);
    CHECK(crypto::decrypt(*ring, message) == plaintext);
    CHECK(crypto::decrypt(*ring, one_shot) == plaintext);
    CHECK(message.substr(3, 32) != one_shot.substr(3, 32));  // fresh message ids
  }
}

TEST_CASE("several encryptors keep messages open at once, pieces interleaved", "[crypto][envelope]") {
  auto ring = test_keyring();
  for (auto s : {crypto::suite::committing, crypto::suite::committing_signed}) {
    CAPTURE(crypto::to_string(s));
    std::vector<crypto::encryptor> writers(3);
    std::vector<std::string> messages(3), plaintexts(3);
    std::string out;
    for (std::size_t i = 0; i < writers.size(); ++i) writers[i].begin(*ring, opts(s, 100 + 10 * i));
    for (std::size_t round = 0; round < 20; ++round)
      for (std::size_t i = 0; i < writers.size(); ++i) {
        std::string piece = bytes(round * 7 % 45 + i, round * 10 + i);
        plaintexts[i] += piece;
        writers[i].write(piece, out);
        messages[i] += out;
      }
    for (std::size_t i = 0; i < writers.size(); ++i) {
      writers[i].finish("end", out);
      messages[i] += out;
      plaintexts[i] += "end";
      CAPTURE(i);
      CHECK(crypto::decrypt(*ring, messages[i]) == plaintexts[i]);
    }
    CHECK(messages[0].substr(3, 32) != messages[1].substr(3, 32));
  }
}

TEST_CASE("an encryptor refuses to write without an open message, and begin abandons an open one",
          "[crypto][envelope]") {
  auto ring = test_keyring();
  crypto::encryptor e;
  std::string out;
  CHECK_FALSE(e.is_open());
  CHECK_THROWS_WITH(e.write("x", out), "crypto::encryptor::write: no message is open; call begin() first");
  CHECK_THROWS_WITH(e.finish("x", out), "crypto::encryptor::finish: no message is open; call begin() first");

  e.begin(*ring, opts(crypto::suite::committing_signed, 16));
  e.write(bytes(40), out);
  CHECK(e.buffered() == 8);
  // A second begin drops the first message and its waiting bytes.
  e.begin(*ring, opts(crypto::suite::committing_signed, 16));
  CHECK(e.buffered() == 0);
  std::string message;
  e.write("fresh ", out);
  message += out;
  e.finish("start", out);
  message += out;
  CHECK(crypto::decrypt(*ring, message) == "fresh start");
  // After finish the message is closed: more bytes would reuse its key and IVs.
  CHECK_THROWS_AS(e.write("more", out), std::logic_error);

  // A bad option is refused at begin, before anything is written.
  auto bad = opts(crypto::suite::committing, 0);
  CHECK_THROWS_AS(e.begin(*ring, bad), config_error);
  CHECK_FALSE(e.is_open());
}

namespace {

object piece_of(std::uint64_t id, bool first, bool last, std::string body, const std::string& partition) {
  object o;
  o.body = std::move(body);
  o.stream = "events";
  o.partition = partition;
  o.record_count = o.body.size() / 10;
  o.piece = {id, first, last};
  return o;
}

}  // namespace

TEST_CASE("crypto::envelope streams interleaved objects piece by piece, one message each", "[crypto][envelope]") {
  auto ring = test_keyring("lake", "key-3");
  for (auto s : {crypto::suite::committing, crypto::suite::committing_signed}) {
    CAPTURE(crypto::to_string(s));
    sluice_test::test_context t;
    std::vector<object> out;
    crypto::envelope stage{.keyring = ring, .suite = s, .frame_length = 64, .context = {{"tenant", "acme"}}};
    stage.validate();
    auto node = stage.open(t.ctx, [&] { return sluice_test::collecting_node<object>{&out}; });

    // Object 1 and object 2 interleave, with a whole object between them; object 2 ends with
    // an empty piece on a frame boundary.
    struct step {
      std::uint64_t id;
      bool first, last;
      std::size_t size;
    };
    const std::vector<step> steps = {{1, true, false, 100}, {2, true, false, 64},  {1, false, false, 0},
                                     {2, false, false, 10}, {0, true, true, 150},  {1, false, false, 30},
                                     {2, false, false, 54}, {2, false, true, 0},   {1, false, false, 1},
                                     {1, false, true, 77}};
    std::map<std::uint64_t, std::string> plaintexts, messages;
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const auto& st = steps[i];
      std::string body = bytes(st.size, i + 1);
      plaintexts[st.id] += body;
      node.push(piece_of(st.id, st.first, st.last, std::move(body), "p=" + std::to_string(st.id)));
      REQUIRE(out.size() == i + 1);
      const object& o = out.back();
      messages[st.id] += o.body;
      CHECK(o.piece == object_piece{st.id, st.first, st.last});
      CHECK(o.encryption == "aws-encryption-sdk");
      CHECK(o.metadata.at("encryption-suite") == crypto::to_string(s));
      CHECK(o.metadata.at("encryption-key") == "lake/key-3");
      CHECK(o.metadata.at("frame-length") == "64");
      auto json = boost::json::parse(o.metadata.at("encryption-context")).as_object();
      CHECK(json.at("sluice:partition").as_string() == "p=" + std::to_string(st.id));
      CHECK(json.count("sluice:records") == 0);
    }
    // Object 1's empty middle piece came before anything filled a frame: its body is empty.
    CHECK(out[2].body.empty());
    CHECK(node.open_messages() == 0);
    node.flush();

    for (std::uint64_t id : {0, 1, 2}) {
      CAPTURE(id);
      std::map<std::string, std::string> ctx;
      std::string back, reason;
      REQUIRE(crypto::decrypt(*ring, messages[id], back, &ctx, &reason) == error_code{});
      CAPTURE(reason);
      CHECK(back == plaintexts[id]);
      ctx.erase("aws-crypto-public-key");
      CHECK(ctx == std::map<std::string, std::string>{{"sluice:partition", "p=" + std::to_string(id)},
                                                      {"sluice:stream", "events"},
                                                      {"tenant", "acme"}});
    }
    // Object 2 is 128 bytes, two full frames before its empty last piece: an empty final frame.
    auto l = esdk_test::parse_layout(messages[2]);
    REQUIRE(l.frames.size() == 3);
    CHECK(esdk_test::be(messages[2], l.frames.back() + 4 + 4 + 12, 4) == 0);
    CHECK(messages[1].substr(3, 32) != messages[2].substr(3, 32));
  }
}

TEST_CASE("crypto::envelope reuses finished objects' encryptors and keeps open ones through a flush",
          "[crypto][envelope]") {
  auto ring = test_keyring();
  sluice_test::test_context t;
  std::vector<object> out;
  int flushes = 0;
  crypto::envelope stage{.keyring = ring, .frame_length = 16};
  auto node = stage.open(t.ctx, [&] { return sluice_test::collecting_node<object>{&out, &flushes}; });
  std::map<std::uint64_t, std::string> messages, plaintexts;
  auto push = [&](std::uint64_t id, bool first, bool last, std::string body) {
    plaintexts[id] += body;
    node.push(piece_of(id, first, last, std::move(body), ""));
    messages[id] += out.back().body;
  };
  // One object after another, then a third left open across a flush, then ended.
  for (std::uint64_t id = 1; id <= 2; ++id) {
    push(id, true, false, bytes(20, id));
    CHECK(node.open_messages() == 1);
    push(id, false, true, bytes(5, id + 10));
    CHECK(node.open_messages() == 0);
  }
  push(3, true, false, "open across a flush ");
  node.flush();
  CHECK(flushes == 1);
  CHECK(node.open_messages() == 1);
  push(3, false, true, "and ended after it");
  for (std::uint64_t id = 1; id <= 3; ++id) {
    CAPTURE(id);
    CHECK(crypto::decrypt(*ring, messages[id]) == plaintexts[id]);
    auto ctx = std::map<std::string, std::string>{};
    std::string back;
    REQUIRE(crypto::decrypt(*ring, messages[id], back, &ctx) == error_code{});
    CHECK(ctx.count("sluice:partition") == 0);
  }
  // A node destroyed with a message open frees it (the sanitizer build checks for leaks).
  push(4, true, false, "never ended");
  CHECK(node.open_messages() == 1);
}

TEST_CASE("crypto::envelope refuses pieces out of protocol, naming the object", "[crypto][envelope]") {
  auto ring = test_keyring();
  sluice_test::test_context t;
  std::vector<object> out;
  crypto::envelope stage{.keyring = ring, .frame_length = 16};
  auto node = stage.open(t.ctx, [&] { return sluice_test::collecting_node<object>{&out}; });

  CHECK_THROWS_WITH(node.push(piece_of(9, false, false, "x", "")),
                    "crypto::envelope: object 9: a piece came before its first piece");
  CHECK_THROWS_WITH(node.push(piece_of(9, false, true, "x", "")),
                    "crypto::envelope: object 9: a piece came before its first piece");
  node.push(piece_of(5, true, false, "abc", ""));
  CHECK(node.open_messages() == 1);
  // A second first piece: the open message is abandoned, not mixed with another.
  CHECK_THROWS_WITH(node.push(piece_of(5, true, false, "abc", "")),
                    "crypto::envelope: object 5: a first piece came while its message was open");
  CHECK(node.open_messages() == 0);
  CHECK(out.size() == 1);
}
