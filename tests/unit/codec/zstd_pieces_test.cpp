// SPDX-License-Identifier: Apache-2.0
// Streamed objects (object_piece) through codec::zstd: each non-empty piece is one complete
// frame, and an object made of such frames decodes with our decoder and with stock zstd.
#include <sluice/codec/zstd.hpp>

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

TEST_CASE("zstd encodes each non-empty piece as its own complete frame and leaves an empty piece empty",
          "[codec][zstd][pieces]") {
  // Two streamed objects, interleaved, and a whole one between them.
  const codec_test::interleaved_pieces t;
  const auto& [a, b, c, x, y, in, plain] = t;
  auto out = run_stage(codec::zstd{.level = 3}, in);
  REQUIRE(out.size() == plain.size());

  std::map<std::uint64_t, std::string> objects;
  for (std::size_t i = 0; i < out.size(); ++i) {
    INFO("piece " << i);
    CHECK(out[i].piece == in[i].piece);
    CHECK(out[i].content_encoding == std::vector<std::string>{"zstd"});  // on every piece, empty ones too
    if (plain[i].empty()) {
      CHECK(out[i].body.empty());
    } else {
      // Exactly one frame, complete, with its content size.
      CHECK(ZSTD_findFrameCompressedSize(out[i].body.data(), out[i].body.size()) == out[i].body.size());
      CHECK(ZSTD_getFrameContentSize(out[i].body.data(), out[i].body.size()) == plain[i].size());
      CHECK(codec::zstd_decompress(out[i].body) == plain[i]);
    }
    if (!out[i].piece.whole()) objects[out[i].piece.object_id] += out[i].body;
  }
  // Each object is the concatenation of its frames, which decodes to the concatenation of its pieces.
  CHECK(codec::zstd_decompress(objects[1]) == a + b + c);
  CHECK(codec::zstd_decompress(objects[2]) == x + y);
  codec::zstd_decompressor reused;
  CHECK(reused.decompress(objects[2]) == x + y);
  CHECK(reused.decompress(objects[1]) == a + b + c);
}

TEST_CASE("an object of zstd frames, one per piece, decodes with stock zstd -d", "[codec][zstd][pieces]") {
  if (!codec_test::have_command("zstd")) SLUICE_SKIP_OR_FAIL("the zstd command is not installed (apt-get install zstd)");
  std::string expected;
  std::string object_bytes = codec_test::encode_forty_pieces(codec::zstd{.level = 1}, expected);
  CHECK(codec_test::stock_decompress("zstd -q", object_bytes, "pieces.jsonl.zst") == expected);
  // `zstd -l` counts the frames: one per non-empty piece.
  sluice_test::temp_dir dir;
  sluice_test::write_file(dir / "o.zst", object_bytes);
  auto listed = sluice_test::run_command("zstd -lv '" + (dir / "o.zst").string() + "'");
  REQUIRE(listed.status == 0);
  CHECK_THAT(listed.out, Catch::Contains("# Zstandard Frames: 34"));
}
