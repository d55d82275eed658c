// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>

#include <cstddef>

namespace sluice {
inline namespace v0 {
/// Byte sizes for configuration: `.max_bytes = 64_MiB`. Bring them in with
/// `using namespace sluice::literals;`.
inline namespace literals {
constexpr std::size_t operator""_KiB(unsigned long long n) noexcept { return static_cast<std::size_t>(n) << 10; }
constexpr std::size_t operator""_MiB(unsigned long long n) noexcept { return static_cast<std::size_t>(n) << 20; }
constexpr std::size_t operator""_GiB(unsigned long long n) noexcept { return static_cast<std::size_t>(n) << 30; }
}  // namespace literals
}  // namespace v0
}  // namespace sluice
