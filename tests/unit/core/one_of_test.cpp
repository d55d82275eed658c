// SPDX-License-Identifier: Apache-2.0
// sluice::one_of: a stage or sink chosen at run time among alternatives of one pipeline type.
#include <sluice/core/one_of.hpp>

#include <sluice/batch/by_size.hpp>
#include <sluice/codec/none.hpp>
#include <sluice/format/jsonl.hpp>
#include <sluice/format/raw.hpp>

#include <sluice_test/support.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

using namespace sluice;

namespace {

/// An object stage that tags each object's content type with its name and counts how often it
/// was opened; its node can neither be copied nor moved, as nodes that own threads cannot.
struct tagger {
  using stage_concept = stage_tag;
  using input_type = object;
  using output_type = object;
  std::string tag;
  std::shared_ptr<std::atomic<int>> opened = std::make_shared<std::atomic<int>>(0);
  bool invalid = false;

  void validate() const {
    if (invalid) throw config_error("tagger." + tag + ": invalid");
  }

  template <class Next>
  struct node {
    std::string tag;
    Next next;
    template <class MakeNext>
    node(std::string t, MakeNext& make_next) : tag(std::move(t)), next(make_next()) {}
    node(const node&) = delete;
    node& operator=(const node&) = delete;
    void push(object&& o) {
      o.content_type += "+" + tag;
      next.push(std::move(o));
    }
    void flush() { next.flush(); }
    void tick() { next.tick(); }
  };
  template <class MakeNext>
  auto open(run_context&, MakeNext&& make_next) const {
    ++*opened;
    return node<decltype(make_next())>(tag, make_next);
  }
};

using choice = one_of<tagger, codec::none>;
static_assert(object_stage<choice>);
static_assert(sink<one_of<sluice_test::collecting_sink>>);

}  // namespace

TEST_CASE("one_of opens only the chosen alternative and passes everything through it", "[core][one_of]") {
  tagger a{.tag = "a"}, b{.tag = "b"};
  for (int pick = 0; pick < 3; ++pick) {
    sluice_test::collecting_sink sink;
    choice chosen = pick == 0 ? choice(a) : pick == 1 ? choice(b) : choice(codec::none{});
    auto p = sluice_test::vector_source{.payloads = {"x", "y"}} | batch::by_size{.max_records = 1}
           | format::raw{} | chosen | sink;
    p.run();
    REQUIRE(sink.objects->size() == 2);
    const std::string expected = pick == 0 ? "application/octet-stream+a"
                                 : pick == 1 ? "application/octet-stream+b"
                                             : "application/octet-stream";
    for (const auto& o : *sink.objects) CHECK(o.content_type == expected);
  }
  CHECK(*a.opened == 1);
  CHECK(*b.opened == 1);
}

TEST_CASE("one_of validates the chosen alternative and forwards the piece checks", "[core][one_of]") {
  choice bad = tagger{.tag = "t", .invalid = true};
  CHECK_THROWS_WITH(bad.validate(), Catch::Contains("tagger.t: invalid"));
  choice fine = codec::none{};
  CHECK_NOTHROW(fine.validate());
  CHECK_FALSE(fine.emits_pieces());

  one_of<batch::by_size> batcher = batch::by_size{.piece_bytes = 1 << 20};
  CHECK(batcher.emits_pieces());
}
