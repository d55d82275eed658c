// SPDX-License-Identifier: Apache-2.0
// Streamed objects (object_piece) through codec::gzip: each non-empty piece is one complete
// member, and an object made of such members decodes with our decoder and with stock gzip.
#include <sluice/codec/gzip.hpp>

#include <sluice_test/support.hpp>

#include "codec_test_util.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

using namespace sluice;
using codec_test::json_lines;
using codec_test::make_object;
using codec_test::make_piece;
using codec_test::run_stage;

#if defined(SLUICE_GZIP_ISAL)
#define GZIP_BACKEND "[isal]"
#else
#define GZIP_BACKEND "[zlib]"
#endif

TEST_CASE("gzip encodes each non-empty piece as its own complete member and leaves an empty piece empty",
          "[codec][gzip][pieces]" GZIP_BACKEND) {
  // Two streamed objects, interleaved, and a whole one between them.
  const codec_test::interleaved_pieces t;
  const auto& [a, b, c, x, y, in, plain] = t;
  auto out = run_stage(codec::gzip{}, in);
  REQUIRE(out.size() == plain.size());

  std::map<std::uint64_t, std::string> objects;
  for (std::size_t i = 0; i < out.size(); ++i) {
    INFO("piece " << i);
    CHECK(out[i].piece == in[i].piece);
    CHECK(out[i].content_encoding == std::vector<std::string>{"gzip"});  // on every piece, empty ones too
    if (plain[i].empty()) {
      CHECK(out[i].body.empty());
    } else {
      // One complete member: the gzip magic, and it decodes on its own.
      REQUIRE(out[i].body.size() >= 18);
      CHECK(static_cast<unsigned char>(out[i].body[0]) == 0x1f);
      CHECK(static_cast<unsigned char>(out[i].body[1]) == 0x8b);
      CHECK(codec::gzip_decompress(out[i].body) == plain[i]);
    }
    if (!out[i].piece.whole()) objects[out[i].piece.object_id] += out[i].body;
  }
  CHECK(codec::gzip_decompress(objects[1]) == a + b + c);
  CHECK(codec::gzip_decompress(objects[2]) == x + y);
  codec::gzip_decompressor reused;
  CHECK(reused.decompress(objects[2]) == x + y);
  CHECK(reused.decompress(objects[1]) == a + b + c);
}

TEST_CASE("an object of gzip members, one per piece, decodes with stock gzip -d", "[codec][gzip][pieces]" GZIP_BACKEND) {
  if (!codec_test::have_command("gzip")) SLUICE_SKIP_OR_FAIL("the gzip command is not installed (apt-get install gzip)");
  std::string expected;
  std::string object_bytes = codec_test::encode_forty_pieces(codec::gzip{}, expected);
  CHECK(codec_test::stock_decompress("gzip", object_bytes, "pieces.jsonl.gz") == expected);
  // `gzip -t` checks every member's CRC-32 and length.
  sluice_test::temp_dir dir;
  sluice_test::write_file(dir / "o.gz", object_bytes);
  CHECK(sluice_test::run_command("gzip -t '" + (dir / "o.gz").string() + "'").status == 0);
}
