// SPDX-License-Identifier: Apache-2.0
#include <sluice/codec/gzip.hpp>

#include <sluice/format/jsonl.hpp>
#include <sluice_test/support.hpp>

#include "codec_test_util.hpp"

#include <catch2/catch.hpp>

#include <set>

using namespace sluice;
using codec_test::json_lines;
using codec_test::make_object;
using codec_test::run_stage;
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;
using Catch::Matchers::StartsWith;

static_assert(object_stage<codec::gzip>);

#if defined(SLUICE_GZIP_ISAL)
#define GZIP_BACKEND "[isal]"
static_assert(codec::gzip::min_level == 0 && codec::gzip::max_level == 3);
#else
#define GZIP_BACKEND "[zlib]"
static_assert(codec::gzip::min_level == 1 && codec::gzip::max_level == 9);
#endif

TEST_CASE("gzip objects round-trip at 0 bytes, 1 byte, 1 KiB and 10 MiB", "[codec][gzip]" GZIP_BACKEND) {
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{1024}, std::size_t{10} << 20}) {
    INFO("body of " << size << " bytes");
    std::string body = json_lines(size, 7);
    auto out = run_stage(codec::gzip{}, {make_object(body)});
    REQUIRE(out.size() == 1);
    CHECK(out[0].content_encoding == std::vector<std::string>{"gzip"});
    CHECK(out[0].content_type == "application/x-ndjson");
    REQUIRE(out[0].body.size() >= 18);
    CHECK(static_cast<unsigned char>(out[0].body[0]) == 0x1f);  // gzip magic
    CHECK(static_cast<unsigned char>(out[0].body[1]) == 0x8b);
    std::string back;
    REQUIRE_FALSE(codec::gzip_decompress(out[0].body, back));
    CHECK(back == body);
    if (size >= (std::size_t{1} << 20)) CHECK(out[0].body.size() * 3 < body.size());
  }
}

TEST_CASE("gzip objects decompress with stock gzip -d at every level", "[codec][gzip]" GZIP_BACKEND) {
  std::string big = json_lines(std::size_t{10} << 20, 3);
  for (int level = codec::gzip::min_level; level <= codec::gzip::max_level; ++level) {
    INFO("level " << level);
    for (const std::string& body : {std::string(), std::string("x"), big.substr(0, 300000)}) {
      auto out = run_stage(codec::gzip{.level = level}, {make_object(body)});
      CHECK(codec_test::stock_decompress("gzip", out[0].body, "object.jsonl.gz") == body);
      CHECK(codec::gzip_decompress(out[0].body) == body);
    }
  }
  auto out = run_stage(codec::gzip{.level = 1}, {make_object(big)});
  CHECK(codec_test::stock_decompress("gzip", out[0].body, "big.jsonl.gz") == big);
}

TEST_CASE("gzip compresses incompressible bodies larger than their input", "[codec][gzip]" GZIP_BACKEND) {
  // Random bytes make the member larger than the input: the buffer has to grow.
  std::string noise(1 << 20, '\0');
  std::uint64_t x = 88172645463325252ull;
  for (char& c : noise) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    c = static_cast<char>(x);
  }
  auto out = run_stage(codec::gzip{}, {make_object(noise), make_object(noise.substr(0, 1000))});
  CHECK(codec::gzip_decompress(out[0].body) == noise);
  CHECK(codec::gzip_decompress(out[1].body) == noise.substr(0, 1000));
  CHECK(codec_test::stock_decompress("gzip", out[0].body, "noise.gz") == noise);
}

TEST_CASE("gzip reuses its buffers: after warm-up no object gets a new allocation", "[codec][gzip]" GZIP_BACKEND) {
  sluice_test::test_context tc;
  std::vector<object> out;
  auto node = codec::gzip{}.open(tc.ctx, [&] { return sluice_test::collecting_node<object>{&out}; });
  std::string a = json_lines(256 << 10, 1), b = json_lines(256 << 10, 2);
  std::string recycled;
  std::set<const char*> seen;
  for (int i = 0; i < 8; ++i) {
    object o = make_object({});
    o.body.swap(recycled);
    o.body.assign(i % 2 ? a : b);
    const char* input_data = o.body.data();
    node.push(std::move(o));
    REQUIRE(out.size() == 1);
    CHECK(codec::gzip_decompress(out[0].body) == (i % 2 ? a : b));
    if (i >= 2) {
      seen.insert(out[0].body.data());
      CHECK(out[0].body.data() != input_data);
    }
    recycled.swap(out[0].body);
    out.clear();
  }
  CHECK(seen.size() == 2);
}

TEST_CASE("gzip rejects a level out of range, naming the field, range and back end", "[codec][gzip]" GZIP_BACKEND) {
#if defined(SLUICE_GZIP_ISAL)
  CHECK_THROWS_WITH(codec::gzip{.level = 4}.validate(), Equals("sluice: codec::gzip.level = 4: must be 0..3 (ISA-L igzip)"));
  CHECK_THROWS_WITH(codec::gzip{.level = -1}.validate(), Equals("sluice: codec::gzip.level = -1: must be 0..3 (ISA-L igzip)"));
  CHECK_NOTHROW(codec::gzip{.level = 0}.validate());
#else
  CHECK_THROWS_WITH(codec::gzip{.level = 0}.validate(), Equals("sluice: codec::gzip.level = 0: must be 1..9 (zlib)"));
  CHECK_THROWS_WITH(codec::gzip{.level = 10}.validate(), Equals("sluice: codec::gzip.level = 10: must be 1..9 (zlib)"));
  CHECK_NOTHROW(codec::gzip{.level = 9}.validate());
#endif
  auto sink = sluice_test::collecting_sink{};
  auto p = sluice_test::vector_source{.payloads = {"{}"}} | format::jsonl{} | codec::gzip{.level = 12} | sink;
  CHECK_THROWS_WITH(p.run(), StartsWith("sluice: codec::gzip.level = 12: must be "));
  CHECK(sink.objects->empty());
}

TEST_CASE("gzip_decompress decodes concatenated members", "[codec][gzip]" GZIP_BACKEND) {
  std::string a = json_lines(100000, 1), b = json_lines(3, 2), c = json_lines(700000, 3);
  auto out = run_stage(codec::gzip{}, {make_object(a), make_object(b), make_object(c)});
  std::string all = out[0].body + out[1].body + out[2].body;
  CHECK(codec::gzip_decompress(all) == a + b + c);
  CHECK(codec_test::stock_decompress("gzip", all, "three.gz") == a + b + c);
  // And members written by stock gzip.
  sluice_test::temp_dir dir;
  sluice_test::write_file(dir / "x.txt", c);
  REQUIRE(sluice_test::run_command("gzip -9 -c '" + (dir / "x.txt").string() + "' > '" + (dir / "x.gz").string() + "'").status == 0);
  CHECK(codec::gzip_decompress(sluice_test::read_file(dir / "x.gz") + out[0].body) == c + a);
}

TEST_CASE("gzip_decompress names what is wrong with corrupt input", "[codec][gzip]" GZIP_BACKEND) {
  std::string body = json_lines(1 << 20, 9);
  std::string member = run_stage(codec::gzip{}, {make_object(body)})[0].body;
  std::string out, reason;

  SECTION("bytes that are not gzip") {
    error_code ec = codec::gzip_decompress("this is plain text, not gzip", out, &reason);
    CHECK(ec == make_error_code(errc::corrupt_object));
    CHECK_THAT(reason, StartsWith("gzip: member 1 starting at byte 0: not a gzip member (bad header"));
    CHECK_THROWS_WITH(codec::gzip_decompress("this is plain text, not gzip"),
                      StartsWith("gzip: member 1 starting at byte 0: not a gzip member") && Contains(": corrupt object"));
  }
  SECTION("a wrong CRC-32 in the trailer") {
    std::string bad = member;
    bad[bad.size() - 8] = static_cast<char>(bad[bad.size() - 8] ^ 1);  // first byte of the CRC-32
    CHECK(codec::gzip_decompress(bad, out, &reason) == make_error_code(errc::corrupt_object));
    CHECK_THAT(reason, StartsWith("gzip: member 1 starting at byte 0: the CRC-32 or length in the trailer does not "
                                  "match: the compressed bytes are corrupt"));
  }
  SECTION("a flipped byte inside the deflate data") {
    std::string bad = member;
    for (std::size_t at = 100; at < bad.size() - 100; at += bad.size() / 7) bad[at] = static_cast<char>(bad[at] ^ 0xff);
    CHECK(codec::gzip_decompress(bad, out, &reason) == make_error_code(errc::corrupt_object));
    CHECK_THAT(reason, StartsWith("gzip: member 1 starting at byte 0: "));
  }
  SECTION("garbage after a good member") {
    CHECK(codec::gzip_decompress(member + "trailing junk that is long enough", out, &reason) ==
          make_error_code(errc::corrupt_object));
    CHECK_THAT(reason, StartsWith("gzip: member 2 starting at byte " + std::to_string(member.size()) +
                                  ": not a gzip member"));
  }
}

TEST_CASE("gzip_decompress reports truncated input and where it ends", "[codec][gzip]" GZIP_BACKEND) {
  std::string body = json_lines(1 << 20, 9);
  std::string member = run_stage(codec::gzip{}, {make_object(body)})[0].body;
  std::string out, reason;

  SECTION("the middle of the only member") {
    std::string cut = member.substr(0, member.size() / 2);
    CHECK(codec::gzip_decompress(cut, out, &reason) == make_error_code(errc::truncated_object));
    CHECK(reason == "gzip: the input ends inside member 1 starting at byte 0 (" + std::to_string(cut.size()) +
                        " bytes of it present): the object is truncated");
    CHECK(body.compare(0, out.size(), out) == 0);  // what was decoded is a correct prefix
  }
  SECTION("only the trailer is missing") {
    CHECK(codec::gzip_decompress(member.substr(0, member.size() - 8), out, &reason) ==
          make_error_code(errc::truncated_object));
  }
  SECTION("the second member is cut in its header") {
    CHECK(codec::gzip_decompress(member + member.substr(0, 5), out, &reason) == make_error_code(errc::truncated_object));
    CHECK_THAT(reason, Contains("inside member 2 starting at byte " + std::to_string(member.size()) + " (5 bytes"));
  }
  SECTION("an empty input") {
    CHECK(codec::gzip_decompress("", out, &reason) == make_error_code(errc::truncated_object));
    CHECK(reason == "gzip: the input is empty: expected at least one member");
  }
}

TEST_CASE("gzip_decompressor reuses its decoder across inputs and after errors", "[codec][gzip]" GZIP_BACKEND) {
  codec::gzip_decompressor d;
  std::string out, reason;
  for (std::size_t size : {std::size_t{5} << 20, std::size_t{3}, std::size_t{100000}}) {
    std::string body = json_lines(size, static_cast<std::uint32_t>(size));
    auto member = run_stage(codec::gzip{}, {make_object(body)})[0].body;
    REQUIRE_FALSE(d.decompress(member, out));
    CHECK(out == body);
    CHECK(d.decompress(member.substr(0, member.size() - 3), out, &reason) == make_error_code(errc::truncated_object));
  }
  CHECK(d.decompress(run_stage(codec::gzip{}, {make_object("ok")})[0].body) == "ok");
}

TEST_CASE("codec::gzip compresses every object of a real pipeline", "[codec][gzip][pipeline]" GZIP_BACKEND) {
  std::vector<std::string> payloads;
  std::string expected;
  std::string lines = json_lines(200000, 4);
  for (std::size_t at = 0, end; (end = lines.find('\n', at)) != std::string::npos; at = end + 1) {
    payloads.push_back(lines.substr(at, end - at));
    expected += payloads.back() + '\n';
  }
  auto sink = sluice_test::collecting_sink{};
  auto p = sluice_test::vector_source{.payloads = payloads, .chunk = 100} | format::jsonl{} | codec::gzip{} | sink;
  p.run();
  REQUIRE(sink.objects->size() == (payloads.size() + 99) / 100);
  std::string decoded, concatenated;
  std::uint64_t stored = 0;
  for (const object& o : *sink.objects) {
    CHECK(o.content_encoding == std::vector<std::string>{"gzip"});
    decoded += codec::gzip_decompress(o.body);
    concatenated += o.body;
    stored += o.body.size();
  }
  CHECK(decoded == expected);
  CHECK(codec_test::stock_decompress("gzip", concatenated, "all.gz") == expected);
  auto m = p.metrics().snapshot();
  CHECK(m.records_out == payloads.size());
  CHECK(m.bytes_out == stored);
}

TEST_CASE("gzip round-trips an object that compresses far worse than the one before it", "[codec][gzip]") {
  codec_test::check_round_trip_of_uneven_bodies(codec::gzip{}, [](std::string_view in, std::string& out) {
    return codec::gzip_decompress(in, out);
  });
}
