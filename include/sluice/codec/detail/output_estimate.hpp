// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>

#include <algorithm>
#include <cstddef>

namespace sluice::codec::detail {

/// How much room an encoder's output starts with: what the previous object compressed to, scaled
/// to this input, with an eighth and 4 KiB of headroom. An encoder grows its output when the
/// data compresses worse than that.
///
/// Why: the output is a std::string, which zero-fills whatever it grows into. When format::jsonl
/// hands the codec a batch's lines in place, the codec's output buffer is a spent body (empty),
/// not the previous input; room for the worst case would be a fill of the input's size per
/// object, room for the likely output a fill of about the output's.
class output_estimate {
 public:
  /// The room to give an output for `in` bytes: `first` before any object was encoded, never
  /// more than `most`.
  [[nodiscard]] std::size_t room_for(std::size_t in, std::size_t first, std::size_t most) const noexcept {
    if (last_in_ == 0) return std::min(first, most);
    const auto scaled = static_cast<std::size_t>(static_cast<double>(in) * static_cast<double>(last_out_) /
                                                 static_cast<double>(last_in_));
    return std::min(scaled + scaled / 8 + 4096, most);
  }
  /// Remembers what `in` bytes encoded to.
  void record(std::size_t in, std::size_t out) noexcept {
    if (in == 0) return;
    last_in_ = in;
    last_out_ = out;
  }

 private:
  std::size_t last_in_ = 0, last_out_ = 0;
};

}  // namespace sluice::codec::detail
