// SPDX-License-Identifier: Apache-2.0
#include <sluice/codec/none.hpp>

#include <sluice/format/jsonl.hpp>
#include <sluice_test/support.hpp>

#include "codec_test_util.hpp"

#include <catch2/catch.hpp>

using namespace sluice;

static_assert(object_stage<codec::none>);

TEST_CASE("codec::none passes objects through untouched", "[codec][none]") {
  sluice_test::test_context tc;
  std::vector<object> out;
  int flushes = 0;
  auto node = codec::none{}.open(tc.ctx, [&] { return sluice_test::collecting_node<object>{&out, &flushes}; });
  object o = codec_test::make_object(codec_test::json_lines(100000));
  o.record_count = 7;
  std::string copy = o.body;
  const char* data = o.body.data();
  node.push(std::move(o));
  node.flush();
  REQUIRE(out.size() == 1);
  CHECK(out[0].body == copy);
  CHECK(out[0].body.data() == data);  // moved, not copied
  CHECK(out[0].content_encoding.empty());
  CHECK(out[0].record_count == 7);
  CHECK(flushes == 1);
}

TEST_CASE("codec::none in a real pipeline stores the formatted bytes", "[codec][none][pipeline]") {
  auto sink = sluice_test::collecting_sink{};
  auto p = sluice_test::vector_source{.payloads = {"{\"a\":1}", "{\"a\":2}", "{\"a\":3}"}, .chunk = 2} |
           format::jsonl{} | codec::none{} | sink;
  p.run();
  REQUIRE(sink.objects->size() == 2);
  CHECK((*sink.objects)[0].body == "{\"a\":1}\n{\"a\":2}\n");
  CHECK((*sink.objects)[1].body == "{\"a\":3}\n");
  CHECK(p.metrics().snapshot().records_out == 3);
}
