// SPDX-License-Identifier: Apache-2.0
// expect: nothing can follow a sink
#include <sluice_test/support.hpp>
#include <sluice/format/jsonl.hpp>
#include <sluice/codec/none.hpp>

int main() {
  auto p = sluice_test::vector_source{} | sluice::format::jsonl{} | sluice_test::collecting_sink{} |
           sluice::codec::none{};
  (void)p;
}
