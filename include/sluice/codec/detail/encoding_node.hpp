// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/object.hpp>
#include <sluice/core/recycler.hpp>

#include <string>
#include <string_view>
#include <utility>

namespace sluice::codec::detail {

/// The running node of every codec stage: encodes each object's body with `Encoder` (which has
/// `compress(std::string_view in, std::string& out)`, one complete frame or member per call)
/// into a spare buffer, swaps the two (the old body becomes the next spare, so no buffer is
/// allocated per object; see spare_buffer), and records the encoding.
///
/// A piece of a streamed object (object_piece) is encoded the same way, on its own: its body
/// becomes one complete frame or member, and the object is their concatenation, which every
/// zstd and gzip reader decodes as the concatenation of the contents. So the node keeps no
/// state per object, and a piece's bytes go on as soon as it is encoded. An empty piece stays
/// empty (a frame of nothing would add bytes for nothing); an empty whole object still becomes
/// one frame, as a reader of a single object expects.
template <class Encoder, class Next>
class encoding_node {
 public:
  template <class MakeNext, class... EncoderArgs>
  encoding_node(const char* encoding, MakeNext&& make_next, EncoderArgs&&... args)
      : encoder_(std::forward<EncoderArgs>(args)...), encoding_(encoding), next_(make_next()) {}

  void push(object&& o) {
    if (!o.body.empty() || o.piece.whole()) encode(o, o.body);
    o.content_encoding.emplace_back(encoding_);
    next_.push(std::move(o));
  }
  /// push() for an object whose body is `body`, bytes the caller keeps until this returns
  /// (format::jsonl passes a batch's lines in place). `o.body` is replaced by the encoded bytes.
  void push_borrowed(object&& o, std::string_view body) {
    encode(o, body);
    o.content_encoding.emplace_back(encoding_);
    next_.push(std::move(o));
  }
  void flush() { next_.flush(); }
  void tick() { next_.tick(); }

 private:
  /// Encodes `in` into the spare buffer and swaps it in as `o`'s body: the old body becomes the
  /// next spare.
  void encode(object& o, std::string_view in) {
    // Room for what the encoder expects to write (about what the previous object compressed
    // to), not for the input: a spare sized to the input took a batch-sized block from the heap
    // for each object that found none in the recycler, and these blocks, freed and taken again
    // in turn, let the heap grow with the input.
    std::string& out = spare_.with_room_for(encoder_.output_room(in.size()));
    encoder_.compress(in, out);
    o.body.swap(out);
  }

  Encoder encoder_;
  const char* encoding_;
  spare_buffer spare_;
  Next next_;
};

}  // namespace sluice::codec::detail
