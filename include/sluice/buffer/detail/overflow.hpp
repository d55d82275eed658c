// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>

#include <string_view>

namespace sluice::buffer {

/// What a buffer does when it is full: shared by buffer::queue (capacity in items) and
/// buffer::disk (max_bytes unacknowledged on disk).
enum class overflow {
  /// Wait until there is room: back-pressure travels up to the source, which stops reading.
  block,
  /// Refuse at once with sluice::error(errc::buffer_full) and consume nothing; the pipeline's
  /// entry node releases the records and the source hands the refusal to its client (a 503).
  reject,
};

namespace detail {
inline std::string_view to_string(overflow o) noexcept {
  return o == overflow::block ? "block" : "reject";
}
}  // namespace detail

}  // namespace sluice::buffer
