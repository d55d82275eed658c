// SPDX-License-Identifier: Apache-2.0
#include <sluice/codec/zstd.hpp>

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

static_assert(object_stage<codec::zstd>);
static_assert(!record_stage<codec::zstd>);

namespace {
unsigned long long content_size(const std::string& frame) {
  return ZSTD_getFrameContentSize(frame.data(), frame.size());
}
// The Content_Checksum_flag: bit 2 of the frame header descriptor, the byte after the magic
// number (RFC 8878, section 3.1.1.1.1).
bool has_checksum(const std::string& frame) {
  REQUIRE(frame.size() > 4);
  return (static_cast<unsigned char>(frame[4]) >> 2 & 1) != 0;
}
}  // namespace

TEST_CASE("zstd objects round-trip at 0 bytes, 1 byte, 1 KiB and 10 MiB", "[codec][zstd]") {
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{1024}, std::size_t{10} << 20}) {
    INFO("body of " << size << " bytes");
    std::string body = json_lines(size, 7);
    auto out = run_stage(codec::zstd{}, {make_object(body)});
    REQUIRE(out.size() == 1);
    CHECK(out[0].content_encoding == std::vector<std::string>{"zstd"});
    CHECK(out[0].content_type == "application/x-ndjson");
    CHECK(content_size(out[0].body) == size);  // the content size is in the frame header
    CHECK(out[0].body != body);
    std::string back;
    REQUIRE_FALSE(codec::zstd_decompress(out[0].body, back));
    CHECK(back == body);
    if (size >= (std::size_t{1} << 20)) CHECK(out[0].body.size() * 3 < body.size());
  }
}

TEST_CASE("zstd keeps earlier content encodings and appends its own", "[codec][zstd]") {
  auto o = make_object("abc");
  o.content_encoding = {"identity-test"};
  auto out = run_stage(codec::zstd{.level = 1}, {std::move(o)});
  CHECK(out[0].content_encoding == std::vector<std::string>{"identity-test", "zstd"});
}

TEST_CASE("zstd objects decompress with stock zstd -d", "[codec][zstd]") {
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{10} << 20}) {
    INFO("body of " << size << " bytes");
    std::string body = json_lines(size, 3);
    auto out = run_stage(codec::zstd{.level = 19 - 16 * (size > 1000)}, {make_object(body)});
    CHECK(codec_test::stock_decompress("zstd -q", out[0].body, "object.jsonl.zst") == body);
  }
}

TEST_CASE("zstd writes a content checksum only when asked, and stock zstd -d checks it", "[codec][zstd]") {
  std::string body = json_lines(std::size_t{1} << 20, 5);
  auto plain = run_stage(codec::zstd{.level = 1}, {make_object(body)});
  auto checked = run_stage(codec::zstd{.level = 1, .checksum = true}, {make_object(body)});
  CHECK_FALSE(has_checksum(plain[0].body));
  CHECK(has_checksum(checked[0].body));
  CHECK(checked[0].body.size() == plain[0].body.size() + 4);  // the 4 bytes of XXH64 at the end
  CHECK(codec_test::stock_decompress("zstd -q", plain[0].body, "plain.jsonl.zst") == body);
  CHECK(codec_test::stock_decompress("zstd -q", checked[0].body, "checked.jsonl.zst") == body);
  // A flipped bit in the checksum: the frame decodes, but stock zstd refuses it.
  std::string bad = checked[0].body;
  bad.back() = static_cast<char>(bad.back() ^ 1);
  sluice_test::temp_dir dir;
  sluice_test::write_file(dir / "bad.zst", bad);
  auto r = sluice_test::run_command("zstd -q -t '" + (dir / "bad.zst").string() + "' 2>&1");
  CHECK(r.status != 0);
  CHECK_THAT(r.out, Contains("checksum"));
  // The streaming compressor takes the same setting.
  codec::zstd_compressor z({.level = 1, .checksum = true});
  std::string frame;
  z.begin(body.size());
  z.write(body, frame);
  z.finish(frame);
  CHECK(has_checksum(frame));
  CHECK(codec::zstd_decompress(frame) == body);
}

TEST_CASE("zstd with two workers writes one frame that stock zstd -d reads", "[codec][zstd]") {
  std::string body = json_lines(std::size_t{10} << 20, 11);
  auto out = run_stage(codec::zstd{.level = 3, .workers = 2}, {make_object(body), make_object(body.substr(0, 5000))});
  REQUIRE(out.size() == 2);
  CHECK(content_size(out[0].body) == body.size());
  CHECK(ZSTD_findFrameCompressedSize(out[0].body.data(), out[0].body.size()) == out[0].body.size());
  CHECK(codec::zstd_decompress(out[0].body) == body);
  CHECK(codec::zstd_decompress(out[1].body) == body.substr(0, 5000));
  CHECK(codec_test::stock_decompress("zstd -q", out[0].body, "mt.jsonl.zst") == body);
}

TEST_CASE("zstd asks for output room of about the compressed size, not the input's", "[codec][zstd]") {
  // Nothing left in the recycler by other tests: every buffer the stage gets is one it asked for.
  while (take_recycled<std::string>(SIZE_MAX).capacity() > std::string().capacity()) {
  }
  sluice_test::test_context tc;
  std::vector<object> out;
  auto node = codec::zstd{.level = 1}.open(tc.ctx, [&] { return sluice_test::collecting_node<object>{&out}; });
  const std::string lines = json_lines(std::size_t{4} << 20, 3);
  for (int i = 0; i < 4; ++i) node.push_borrowed(make_object({}), lines);  // as format::jsonl hands a batch's lines
  REQUIRE(out.size() == 4);
  for (std::size_t i = 0; i < out.size(); ++i) {
    INFO("object " << i);
    CHECK(codec::zstd_decompress(out[i].body) == lines);
    // The first has no estimate yet (zstd's bound); the others take about what it compressed to.
    if (i > 0) CHECK(out[i].body.capacity() < lines.size() / 2);
  }
}

TEST_CASE("zstd reuses its buffers: after warm-up no object gets a new allocation", "[codec][zstd]") {
  // Two bodies are handed back and forth between the caller and the stage, as a format stage
  // that recycles buffers would: the stage must only ever write into those two allocations
  // (plus its first spare) and never allocate another.
  sluice_test::test_context tc;
  std::vector<object> out;
  auto node = codec::zstd{.level = 1}.open(tc.ctx, [&] { return sluice_test::collecting_node<object>{&out}; });
  std::string a = json_lines(256 << 10, 1), b = json_lines(256 << 10, 2);
  std::string recycled;
  std::set<const char*> seen;
  for (int i = 0; i < 8; ++i) {
    object o = make_object({});
    o.body.swap(recycled);
    o.body.assign(i % 2 ? a : b);  // fits: capacity is reused, no allocation
    const char* input_data = o.body.data();
    node.push(std::move(o));
    REQUIRE(out.size() == 1);
    CHECK(codec::zstd_decompress(out[0].body) == (i % 2 ? a : b));
    if (i >= 2) {
      seen.insert(out[0].body.data());
      CHECK(out[0].body.data() != input_data);  // the old body became the stage's spare
    }
    recycled.swap(out[0].body);
    out.clear();
  }
  CHECK(seen.size() == 2);  // steady state: two buffers in rotation, data pointers stable
}

TEST_CASE("zstd rejects a level or worker count out of range, naming field and range", "[codec][zstd]") {
  CHECK_THROWS_WITH(codec::zstd{.level = 40}.validate(), Equals("sluice: codec::zstd.level = 40: must be 1..22"));
  CHECK_THROWS_WITH(codec::zstd{.level = 0}.validate(), Equals("sluice: codec::zstd.level = 0: must be 1..22"));
  CHECK_THROWS_WITH(codec::zstd{.workers = 65}.validate(), Equals("sluice: codec::zstd.workers = 65: must be 0..64"));
  CHECK_THROWS_WITH(codec::zstd{.workers = -1}.validate(), Equals("sluice: codec::zstd.workers = -1: must be 0..64"));
  CHECK_THROWS_AS(codec::zstd_compressor({.level = 23}), config_error);
  CHECK_NOTHROW(codec::zstd{.level = 22, .workers = 64}.validate());

  // pipeline::run validates before any record is read.
  auto sink = sluice_test::collecting_sink{};
  auto p = sluice_test::vector_source{.payloads = {"{}"}} | format::jsonl{} | codec::zstd{.level = 40} | sink;
  CHECK_THROWS_WITH(p.run(), Equals("sluice: codec::zstd.level = 40: must be 1..22"));
  CHECK(sink.objects->empty());
  CHECK(p.metrics().snapshot().records_in == 0);
}

TEST_CASE("zstd_compressor streams frames with a reused context", "[codec][zstd]") {
  codec::zstd_compressor z({.level = 3});
  std::string body = json_lines(3 << 20, 5);
  std::string stream;
  for (int frame = 0; frame < 3; ++frame) {
    std::string one;
    if (frame == 1)
      z.begin(body.size());  // content size announced: it goes into the header
    else
      z.begin();
    for (std::size_t at = 0; at < body.size(); at += 100000) z.write(std::string_view(body).substr(at, 100000), one);
    z.finish(one);
    CHECK(z.bytes_in() == body.size());
    CHECK(content_size(one) == (frame == 1 ? body.size() : ZSTD_CONTENTSIZE_UNKNOWN));
    CHECK(codec::zstd_decompress(one) == body);
    stream += one;
  }
  // Three concatenated frames decode to three copies, with zstd_decompress and with zstd -d.
  CHECK(codec::zstd_decompress(stream) == body + body + body);
  CHECK(codec_test::stock_decompress("zstd -q", stream, "stream.zst") == body + body + body);

  // An empty frame is still a valid frame.
  std::string empty;
  z.begin(0);
  z.finish(empty);
  CHECK(codec::zstd_decompress(empty).empty());
}

TEST_CASE("zstd_compressor reports a content size that the data does not match", "[codec][zstd]") {
  codec::zstd_compressor z;
  std::string out;
  z.begin(10);
  z.write("12345", out);
  CHECK_THROWS_AS(z.finish(out), sluice::error);
  // The context is usable again for the next frame.
  out.clear();
  z.begin(5);
  z.write("12345", out);
  z.finish(out);
  CHECK(codec::zstd_decompress(out) == "12345");
}

TEST_CASE("zstd_decompress names what is wrong with corrupt input", "[codec][zstd]") {
  std::string body = json_lines(1 << 20, 9);
  std::string frame = run_stage(codec::zstd{.checksum = true}, {make_object(body)})[0].body;
  std::string out, reason;

  SECTION("bytes that are not zstd") {
    error_code ec = codec::zstd_decompress("this is plain text, not zstd", out, &reason);
    CHECK(ec == make_error_code(errc::corrupt_object));
    CHECK(reason == "zstd: frame 1 starting at byte 0: not a zstd frame (unknown magic number)");
    CHECK_THROWS_WITH(codec::zstd_decompress("this is plain text"),
                      StartsWith("zstd: frame 1 starting at byte 0: not a zstd frame (unknown magic number): "
                                 "corrupt object"));
  }
  SECTION("a flipped byte inside the frame") {
    std::string bad = frame;
    bad[bad.size() / 2] = static_cast<char>(bad[bad.size() / 2] ^ 0x5a);
    error_code ec = codec::zstd_decompress(bad, out, &reason);
    CHECK(ec == make_error_code(errc::corrupt_object));
    CHECK_THAT(reason, Contains("zstd: frame 1 starting at byte 0: "));
    CHECK((reason.find("corrupt") != std::string::npos || reason.find("checksum") != std::string::npos));
  }
  SECTION("a wrong checksum") {
    std::string bad = frame;
    bad.back() = static_cast<char>(bad.back() ^ 1);  // the last 4 bytes are the checksum
    CHECK(codec::zstd_decompress(bad, out, &reason) == make_error_code(errc::corrupt_object));
    CHECK(reason == "zstd: frame 1 starting at byte 0: content checksum does not match: the compressed bytes are corrupt");
  }
  SECTION("garbage after a good frame") {
    CHECK(codec::zstd_decompress(frame + "trailing junk!", out, &reason) == make_error_code(errc::corrupt_object));
    CHECK(reason == "zstd: frame 2 starting at byte " + std::to_string(frame.size()) +
                        ": not a zstd frame (unknown magic number)");
  }
}

TEST_CASE("zstd_decompress reports truncated input and where it ends", "[codec][zstd]") {
  std::string body = json_lines(1 << 20, 9);
  std::string frame = run_stage(codec::zstd{.checksum = true}, {make_object(body)})[0].body;
  std::string out, reason;

  SECTION("the end of the only frame is missing") {
    std::string cut = frame.substr(0, frame.size() - 10);
    CHECK(codec::zstd_decompress(cut, out, &reason) == make_error_code(errc::truncated_object));
    CHECK(reason == "zstd: the input ends inside frame 1 starting at byte 0 (" + std::to_string(cut.size()) +
                        " bytes of it present): the object is truncated");
    CHECK(out.size() < body.size());
    CHECK(body.compare(0, out.size(), out) == 0);  // what was decoded is a correct prefix
  }
  SECTION("the second frame is cut") {
    std::string two = frame + frame.substr(0, 20);
    CHECK(codec::zstd_decompress(two, out, &reason) == make_error_code(errc::truncated_object));
    CHECK_THAT(reason, Contains("inside frame 2 starting at byte " + std::to_string(frame.size()) + " (20 bytes"));
  }
  SECTION("only the checksum is missing") {
    CHECK(codec::zstd_decompress(frame.substr(0, frame.size() - 4), out, &reason) ==
          make_error_code(errc::truncated_object));
  }
  SECTION("an empty input") {
    CHECK(codec::zstd_decompress("", out, &reason) == make_error_code(errc::truncated_object));
    CHECK(reason == "zstd: the input is empty: expected at least one frame");
    CHECK_THROWS_AS(codec::zstd_decompress(""), sluice::error);
  }
}

TEST_CASE("zstd_decompressor reuses its context across inputs of different sizes", "[codec][zstd]") {
  codec::zstd_decompressor d;
  std::string out;
  for (std::size_t size : {std::size_t{5} << 20, std::size_t{3}, std::size_t{100000}}) {
    std::string body = json_lines(size, static_cast<std::uint32_t>(size));
    auto frame = run_stage(codec::zstd{.level = 1}, {make_object(body)})[0].body;
    REQUIRE_FALSE(d.decompress(frame, out));
    CHECK(out == body);
  }
  std::string reason;
  CHECK(d.decompress("nope", out, &reason) == make_error_code(errc::corrupt_object));
  CHECK(d.decompress(run_stage(codec::zstd{}, {make_object("ok")})[0].body) == "ok");  // usable after an error
}

TEST_CASE("codec::zstd compresses every object of a real pipeline", "[codec][zstd][pipeline]") {
  std::vector<std::string> payloads;
  std::string expected;
  std::string lines = json_lines(200000, 4);
  for (std::size_t at = 0, end; (end = lines.find('\n', at)) != std::string::npos; at = end + 1) {
    payloads.push_back(lines.substr(at, end - at));
    expected += payloads.back() + '\n';
  }
  auto sink = sluice_test::collecting_sink{};
  auto p = sluice_test::vector_source{.payloads = payloads, .chunk = 100} | format::jsonl{} |
           codec::zstd{.level = 3} | sink;
  p.run();
  REQUIRE(sink.objects->size() == (payloads.size() + 99) / 100);
  std::string decoded;
  std::uint64_t stored = 0;
  for (const object& o : *sink.objects) {
    CHECK(o.content_encoding == std::vector<std::string>{"zstd"});
    CHECK(o.content_type == "application/x-ndjson");
    decoded += codec::zstd_decompress(o.body);
    stored += o.body.size();
  }
  CHECK(decoded == expected);
  auto m = p.metrics().snapshot();
  CHECK(m.records_out == payloads.size());
  CHECK(m.bytes_out == stored);  // the sink saw compressed bytes
  CHECK(stored * 2 < expected.size());
}

TEST_CASE("zstd round-trips an object that compresses far worse than the one before it", "[codec][zstd]") {
  const int workers = GENERATE(0, 2);
  INFO(workers << " workers");
  codec_test::check_round_trip_of_uneven_bodies(codec::zstd{.workers = workers}, [](std::string_view in, std::string& out) {
    return codec::zstd_decompress(in, out);
  });
}
