// SPDX-License-Identifier: Apache-2.0
#pragma once
// Drives a record stage by hand: a run_context with a registered source, an error output that
// keeps what it receives, and tracked batches with positions 1, 2, 3, ...
#include <sluice/core/context.hpp>
#include <sluice/core/record_batch.hpp>
#include <sluice_test/support.hpp>

#include <string>
#include <vector>

namespace format_test {

struct harness {
  sluice_test::test_context t;
  std::vector<sluice::record_error> errors;
  std::uint32_t source;
  std::uint64_t next_position = 1;
  harness() {
    t.options.on_error = [this](const sluice::record_error& e) { errors.push_back(e); };
    source = t.ctx.tracker().add_source("test");
  }
  sluice::run_context& ctx() { return t.ctx; }
  /// A tracked batch of these payloads.
  sluice::record_batch make(const std::vector<std::string>& payloads) {
    sluice::record_batch b;
    for (const auto& p : payloads) b.append(p, {source, next_position++});
    t.ctx.tracker().track(b);
    return b;
  }
  /// Runs `payloads` through a stage opened on this harness; returns every record it emitted.
  template <class Stage>
  std::vector<std::string> run(const Stage& stage, const std::vector<std::string>& payloads) {
    std::vector<sluice::record_batch> out;
    auto node = stage.open(t.ctx, [&] { return sluice_test::collecting_node<sluice::record_batch>{&out}; });
    node.push(make(payloads));
    node.flush();
    std::vector<std::string> result;
    for (const auto& b : out)
      for (const sluice::record_ref r : b) result.emplace_back(r.payload);
    return result;
  }
};

}  // namespace format_test
