// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>

#include <cstdint>

// Opened inside the inline namespace v0, as sluice::detail is everywhere (see civil_time.hpp).
namespace sluice {
inline namespace v0 {
namespace detail {

/// The golden-ratio increment of splitmix64's sequence.
inline constexpr std::uint64_t splitmix64_gamma = 0x9E3779B97F4A7C15ULL;

/// splitmix64: `x` advanced by one step and mixed. Well spread and deterministic, for values that
/// must look random yet repeat on replay (generated events, RecordId filler, random-string).
constexpr std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += splitmix64_gamma;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

}  // namespace detail
}  // namespace v0
}  // namespace sluice
