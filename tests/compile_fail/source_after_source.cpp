// SPDX-License-Identifier: Apache-2.0
// expect: a source can only start a pipeline
#include <sluice_test/support.hpp>

int main() {
  auto p = sluice_test::vector_source{} | sluice_test::vector_source{};
  (void)p;
}
