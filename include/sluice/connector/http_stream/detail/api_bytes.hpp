// SPDX-License-Identifier: Apache-2.0
#pragma once
// The byte arena that holds a request's decoded records, which the strict streaming base64
// decoder (crypto/detail/encoding.hpp) writes into. Internals of <sluice/connector/http_stream/api.hpp>.
#include <sluice/core/config.hpp>
#include <sluice/crypto/detail/encoding.hpp>

#include <cstddef>
#include <cstring>
#include <memory>

namespace sluice::connector::http_stream::detail {

/// A growable byte buffer that never zero-fills: a request's decoded records are written into
/// it directly, and its pages stay touched from one request to the next (fresh pages cost
/// ~16 us per 4 KiB on these machines, see shared/notes/toolchain.md).
class byte_arena {
 public:
  [[nodiscard]] char* data() noexcept { return data_.get(); }
  [[nodiscard]] const char* data() const noexcept { return data_.get(); }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  void clear() noexcept { size_ = 0; }
  /// Drops everything from `n` on (n <= size()).
  void truncate(std::size_t n) noexcept { size_ = n < size_ ? n : size_; }
  /// Makes room for `extra` more bytes after size(); keeps the contents.
  void reserve_more(std::size_t extra) {
    if (capacity_ - size_ >= extra) return;
    std::size_t want = capacity_ < 4096 ? 4096 : capacity_ * 2;
    while (want - size_ < extra) want *= 2;
    auto grown = std::make_unique_for_overwrite<char[]>(want);
    if (size_ > 0) std::memcpy(grown.get(), data_.get(), size_);
    data_ = std::move(grown);
    capacity_ = want;
  }
  /// Counts `n` bytes already written after size() (within the reserved room) as contents.
  void commit(std::size_t n) noexcept { size_ += n; }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

// The strict streaming base64 decoder is crypto's (one decoder for the whole library).
using crypto::detail::base64_decoder;
using crypto::detail::base64_fault;

}  // namespace sluice::connector::http_stream::detail
