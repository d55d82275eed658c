// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/concepts.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/object.hpp>
#include <sluice/core/pipeline.hpp>

#include <utility>

namespace sluice::codec {
using sluice::operator|;

/// The identity codec: objects pass through unchanged (no content_encoding is added). It keeps
/// a pipeline's shape when compression is a configuration choice, so a blueprint can pick
/// `codec::none` where it would otherwise pick `codec::zstd`.
///
/// Allocation: none; the object is moved on.
/// @code
///   auto tail = format::jsonl{} | codec::none{} | store::local{.root = "./lake"};
/// @endcode
struct none {
  using stage_concept = stage_tag;
  using input_type = object;
  using output_type = object;

  /// The running state: forwards everything to `Next`.
  template <class Next>
  class node {
   public:
    template <class MakeNext>
    explicit node(MakeNext&& make_next) : next_(make_next()) {}

    void push(object&& o) { next_.push(std::move(o)); }
    void flush() { next_.flush(); }
    void tick() { next_.tick(); }

   private:
    Next next_;
  };

  template <class MakeNext>
  auto open(run_context&, MakeNext&& make_next) const {
    return node<decltype(make_next())>(make_next);
  }
};

}  // namespace sluice::codec
