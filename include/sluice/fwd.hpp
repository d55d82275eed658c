// SPDX-License-Identifier: Apache-2.0
#pragma once
// Forward declarations of the core vocabulary, for headers that only name these types.
#include <sluice/core/config.hpp>

namespace sluice {
inline namespace v0 {
struct record;
struct record_ref;
struct cursor;
class record_batch;
struct object;
class cursor_set;
class run_context;
struct pipeline_options;
template <class... Parts>
class pipeline;
}  // namespace v0
}  // namespace sluice
