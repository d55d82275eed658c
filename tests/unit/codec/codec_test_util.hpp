// SPDX-License-Identifier: Apache-2.0
#pragma once
// Helpers shared by the codec tests: JSON-like bodies, driving a stage by hand, and running
// the stock zstd / gzip commands on a body.
#include <sluice/core/context.hpp>
#include <sluice/core/object.hpp>
#include <sluice_test/support.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace codec_test {

/// `bytes` bytes (exactly) of JSON event lines, deterministic for a seed.
inline std::string json_lines(std::size_t bytes, std::uint32_t seed = 1) {
  static const char* const events[] = {"click", "view", "purchase", "signup", "logout", "search"};
  static const char* const paths[] = {"/", "/cart", "/product/42", "/search?q=boots", "/account", "/help"};
  std::string s;
  s.reserve(bytes + 512);
  std::uint32_t x = seed * 2654435761u + 1;
  auto next = [&] { return x = x * 1664525u + 1013904223u; };
  for (std::uint64_t id = 1; s.size() < bytes; ++id) {
    s += "{\"id\":" + std::to_string(id) + ",\"user\":\"user_" + std::to_string(next() % 5000) +
         "\",\"event\":\"" + events[next() % 6] + "\",\"ts\":\"2024-05-0" + std::to_string(1 + next() % 9) + "T" +
         std::to_string(10 + next() % 14) + ":" + std::to_string(10 + next() % 50) + ":00Z\",\"path\":\"" +
         paths[next() % 6] + "\",\"score\":" + std::to_string(next() % 100000) + ",\"session\":\"" +
         std::to_string(next()) + std::to_string(next()) + "\"}\n";
  }
  s.resize(bytes);
  return s;
}

/// `bytes` bytes that do not compress, deterministic for a seed.
inline std::string random_bytes(std::size_t bytes, std::uint64_t seed = 1) {
  std::string s(bytes, '\0');
  std::uint64_t x = seed;
  for (char& c : s) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;  // xorshift64
    c = static_cast<char>(x >> 56);
  }
  return s;
}

inline sluice::object make_object(std::string body) {
  sluice::object o;
  o.body = std::move(body);
  o.content_type = "application/x-ndjson";
  return o;
}

/// Pushes each object through a node of `stage` opened by hand and returns what it emits.
template <class Stage>
std::vector<sluice::object> run_stage(const Stage& stage, std::vector<sluice::object> in) {
  sluice_test::test_context tc;
  std::vector<sluice::object> out;
  auto node = stage.open(tc.ctx, [&] { return sluice_test::collecting_node<sluice::object>{&out}; });
  for (auto& o : in) node.push(std::move(o));
  node.flush();
  return out;
}

/// Runs a body that compresses well, then one that does not, then one that does through
/// `stage`, and checks that `decompress(in, out) -> error_code` gives each back: an encoder
/// that sizes its output by what the previous object compressed to must grow for the second.
template <class Stage, class Decompress>
void check_round_trip_of_uneven_bodies(const Stage& stage, Decompress decompress) {
  const std::vector<std::string> bodies = {json_lines(1 << 20, 3), random_bytes(1 << 20, 9), json_lines(1 << 20, 4)};
  std::vector<sluice::object> in;
  for (const auto& b : bodies) in.push_back(make_object(b));
  auto out = run_stage(stage, std::move(in));
  REQUIRE(out.size() == bodies.size());
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    INFO("object " << i);
    std::string back;
    REQUIRE_FALSE(decompress(out[i].body, back));
    CHECK(back == bodies[i]);
  }
  CHECK(out[1].body.size() >= bodies[1].size());  // it did not compress: the output grew past the estimate
}

/// A piece `p` of a streamed object with `body`.
inline sluice::object make_piece(std::string body, sluice::object_piece p) {
  sluice::object o = make_object(std::move(body));
  o.piece = p;
  return o;
}

/// Two streamed objects interleaved piece by piece, a whole object between them and empty pieces
/// among them: what each codec's piece test encodes. Object 1 is a + b + c, object 2 is x + y.
struct interleaved_pieces {
  std::string a = json_lines(300000, 1), b = json_lines(1, 2), c = json_lines(70000, 3);
  std::string x = json_lines(5000, 4), y = json_lines(2 << 20, 5);
  std::vector<sluice::object> in;
  std::vector<std::string> plain;  ///< each input's bytes, in order
  interleaved_pieces() {
    const std::pair<std::string, sluice::object_piece> pieces[] = {
        {a, {1, true, false}}, {x, {2, true, false}}, {"", {1, false, false}}, {"whole", {}},
        {b, {1, false, false}}, {y, {2, false, true}}, {c, {1, false, false}}, {"", {1, false, true}}};
    for (const auto& [body, piece] : pieces) {
      in.push_back(make_piece(body, piece));
      plain.push_back(body);
    }
  }
};

/// Encodes one streamed object of 40 pieces (some empty) with `stage` a piece at a time; returns
/// the object's bytes and, in `expected`, what they must decode to.
template <class Stage>
std::string encode_forty_pieces(const Stage& stage, std::string& expected) {
  std::string object_bytes;
  for (std::uint32_t i = 0; i < 40; ++i) {
    std::string piece = json_lines(i % 7 == 3 ? 0 : 1000 * i + 1, i);
    auto out = run_stage(stage, {make_piece(piece, {9, i == 0, i == 39})});
    REQUIRE(out.size() == 1);
    CHECK(out[0].body.empty() == piece.empty());
    object_bytes += out[0].body;
    expected += piece;
  }
  return object_bytes;
}

/// Whether the stock command `name` is on PATH (tests that run it skip or fail without it).
inline bool have_command(const std::string& name) {
  return sluice_test::run_command("command -v " + name + " >/dev/null 2>&1").status == 0;
}

/// Writes `body` to a temp file and decodes it with a stock command (`zstd -d`, `gzip -d`);
/// returns its stdout and requires exit status 0.
inline std::string stock_decompress(const std::string& command, const std::string& body, const char* name) {
  sluice_test::temp_dir dir;
  auto file = dir / name;
  sluice_test::write_file(file, body);
  auto r = sluice_test::run_command(command + " -d -c '" + file.string() + "'");
  INFO(command << " -d exited with " << r.status);
  REQUIRE(r.status == 0);
  return r.out;
}

}  // namespace codec_test
