// SPDX-License-Identifier: Apache-2.0
// format::raw: payloads back to back (Firehose's S3 objects), whole batches and streamed pieces.
#include <sluice/format/raw.hpp>

#include <sluice/batch/by_size.hpp>
#include <sluice/store/key_template.hpp>
#include <sluice_test/support.hpp>

#include "harness.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace sluice;
using format_test::harness;
using sluice_test::collecting_node;

static_assert(format_stage<format::raw>);

namespace {
std::string config_error_of(const format::raw& f) {
  try {
    f.validate();
  } catch (const config_error& e) {
    return e.what();
  }
  return "(no error)";
}
}  // namespace

TEST_CASE("raw writes payloads back to back, newlines and all, with the batch's facts", "[format][raw]") {
  harness h;
  std::vector<object> out;
  auto node = format::raw{}.open(h.ctx(), [&] { return collecting_node<object>{&out}; });
  record_batch b = h.make({"abc", "line\nbreak\n", "", std::string("\x00\xff", 2)});
  b.set_partition("prefix=a%2F");
  node.push(std::move(b));
  REQUIRE(out.size() == 1);
  CHECK(out[0].body == std::string("abcline\nbreak\n\x00\xff", 16));
  CHECK(out[0].record_count == 4);
  CHECK(out[0].record_bytes == 16);
  CHECK(out[0].covered.position_span() == std::pair<std::uint64_t, std::uint64_t>{1, 4});
  CHECK(out[0].content_type == "application/octet-stream");
  CHECK(out[0].partition == "prefix=a%2F");
  CHECK(h.errors.empty());  // nothing is refused: any bytes are a payload
  std::string ext;
  store::append_extension(out[0], ext);
  CHECK(ext == ".bin");
}

TEST_CASE("raw's content type is configurable and picks the key's extension", "[format][raw]") {
  harness h;
  std::vector<object> out;
  auto node = format::raw{.content_type = "application/x-ndjson"}.open(
      h.ctx(), [&] { return collecting_node<object>{&out}; });
  node.push(h.make({"{\"a\":1}\n", "{\"a\":2}\n"}));
  REQUIRE(out.size() == 1);
  CHECK(out[0].body == "{\"a\":1}\n{\"a\":2}\n");
  CHECK(out[0].content_type == "application/x-ndjson");
  std::string ext;
  store::append_extension(out[0], ext);
  CHECK(ext == ".jsonl");
}

TEST_CASE("raw turns batch pieces into object pieces, passing on an empty last piece", "[format][raw][pieces]") {
  harness h;
  std::vector<object> out;
  auto node = format::raw{}.open(h.ctx(), [&] { return collecting_node<object>{&out}; });
  auto push = [&](object_piece p, std::vector<std::string> payloads) {
    record_batch b = h.make(payloads);
    b.set_piece(p);
    node.push(std::move(b));
  };
  push({5, true, false}, {"ab", "cd"});
  push({5, false, false}, {"ef"});
  push({5, false, true}, {});
  push({}, {});  // a whole object without records makes nothing
  REQUIRE(out.size() == 3);
  CHECK(out[0].piece == object_piece{5, true, false});
  CHECK(out[0].body == "abcd");
  CHECK(out[1].piece == object_piece{5, false, false});
  CHECK(out[1].body == "ef");
  CHECK(out[1].covered.position_span() == std::pair<std::uint64_t, std::uint64_t>{3, 3});
  CHECK(out[2].piece == object_piece{5, false, true});
  CHECK(out[2].body.empty());
  CHECK(out[2].record_count == 0);
}

TEST_CASE("raw runs in a pipeline behind a streaming batcher", "[format][raw][pipeline]") {
  sluice_test::collecting_sink sink;
  std::vector<std::string> payloads;
  std::string expected;
  for (int i = 0; i < 3000; ++i) {
    payloads.push_back("record " + std::to_string(i) + std::string(40, '.') + "|");
    expected += payloads.back();
  }
  auto p = sluice_test::vector_source{.payloads = payloads, .chunk = 250} |
           batch::by_size{.max_bytes = 1 << 20, .piece_bytes = 64 << 10} | format::raw{} | sink;
  p.run();
  std::string lake;
  for (const auto& o : *sink.objects) lake += o.body;
  CHECK(sink.objects->size() > 1);  // 3000 records of ~52 bytes: several 64 KiB pieces
  CHECK(lake == expected);
}

TEST_CASE("raw refuses a content type that is not a media type", "[format][raw]") {
  CHECK(config_error_of(format::raw{.content_type = ""}) ==
        "sluice: format::raw.content_type = \"\": must be a media type such as application/octet-stream or "
        "application/x-ndjson (type/subtype, no control characters)");
  CHECK_THAT(config_error_of(format::raw{.content_type = "text"}), Catch::Matchers::Contains("content_type = \"text\""));
  CHECK_THAT(config_error_of(format::raw{.content_type = "text/plain\r\nX-Evil: 1"}),
             Catch::Matchers::Contains("must be a media type"));
  CHECK_NOTHROW(format::raw{.content_type = "text/plain; charset=utf-8"}.validate());
}
