// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/object.hpp>

#include <string>
#include <utility>

namespace sluice::codec::detail {

/// The running node of every codec stage: encodes each object's body with `Encoder` (which has
/// `compress(std::string_view in, std::string& out)`) into a spare buffer, swaps the two (the old
/// body becomes the next spare, so no buffer is allocated per object), and records the encoding.
template <class Encoder, class Next>
class encoding_node {
 public:
  template <class MakeNext, class... EncoderArgs>
  encoding_node(const char* encoding, MakeNext&& make_next, EncoderArgs&&... args)
      : encoder_(std::forward<EncoderArgs>(args)...), encoding_(encoding), next_(make_next()) {}

  void push(object&& o) {
    encoder_.compress(o.body, spare_);
    o.body.swap(spare_);
    o.content_encoding.emplace_back(encoding_);
    next_.push(std::move(o));
  }
  void flush() { next_.flush(); }
  void tick() { next_.tick(); }

 private:
  Encoder encoder_;
  const char* encoding_;
  std::string spare_;
  Next next_;
};

}  // namespace sluice::codec::detail
