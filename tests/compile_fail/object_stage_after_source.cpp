// SPDX-License-Identifier: Apache-2.0
// A stage that takes objects placed where record batches flow.
// expect: this stage takes sluice::object but receives sluice::record_batch; put a format:: stage
#include <sluice_test/support.hpp>
#include <sluice/codec/none.hpp>

int main() {
  auto p = sluice_test::vector_source{} | sluice::codec::none{} | sluice_test::collecting_sink{};
  (void)p;
}
