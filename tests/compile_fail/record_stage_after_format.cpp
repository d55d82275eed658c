// SPDX-License-Identifier: Apache-2.0
// A format placed twice: the second receives objects but takes record batches.
// expect: this stage takes sluice::record_batch but receives sluice::object; record stages and batchers go before the format:: stage
#include <sluice_test/support.hpp>
#include <sluice/format/jsonl.hpp>

int main() {
  auto p = sluice_test::vector_source{} | sluice::format::jsonl{} | sluice::format::jsonl{};
  (void)p;
}
