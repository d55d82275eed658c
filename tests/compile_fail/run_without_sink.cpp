// SPDX-License-Identifier: Apache-2.0
// expect: this pipeline has no sink: end it with a store:: stage
#include <sluice_test/support.hpp>
#include <sluice/format/jsonl.hpp>

int main() {
  auto p = sluice_test::vector_source{} | sluice::format::jsonl{};
  p.run();
}
