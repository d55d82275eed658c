// SPDX-License-Identifier: Apache-2.0
#pragma once

#if __cplusplus < 202002L
#error "sluice needs C++20 (-std=c++20 or later)"
#endif

#include <cstdio>
#include <cstdlib>

/// Version of the library, also exported to the CMake package.
#define SLUICE_VERSION_MAJOR 0
#define SLUICE_VERSION_MINOR 1
#define SLUICE_VERSION_PATCH 0

/// `SLUICE_DECL` marks heavy non-template functions defined in headers. They are `inline`
/// unless `SLUICE_SEPARATE_COMPILATION` is set, in which case one translation unit that
/// includes `<sluice/src.hpp>` holds their only definitions.
#ifdef SLUICE_SEPARATE_COMPILATION
#define SLUICE_DECL
#else
#define SLUICE_DECL inline
#endif

/// Precondition check: active unless NDEBUG; a violated precondition is a bug in the caller,
/// never a runtime condition, so it aborts with the place it happened.
#ifdef NDEBUG
#define SLUICE_ASSERT(expr) ((void)0)
#else
#define SLUICE_ASSERT(expr)                                                                    \
  ((expr) ? (void)0                                                                            \
          : (std::fprintf(stderr, "sluice: assertion failed: %s (%s:%d)\n", #expr, __FILE__,   \
                          __LINE__),                                                           \
             std::abort()))
#endif

namespace sluice {
inline namespace v0 {}
}  // namespace sluice
