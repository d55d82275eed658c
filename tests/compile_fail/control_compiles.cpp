// SPDX-License-Identifier: Apache-2.0
// The control case: a well-formed pipeline compiles, so the other cases fail for their reason and
// not because the test setup is broken. (A compile without errors prints nothing.)
// expect: ^$
#include <sluice_test/support.hpp>
#include <sluice/format/jsonl.hpp>
#include <sluice/codec/none.hpp>

int main() {
  auto p = sluice_test::vector_source{} | sluice::format::jsonl{} | sluice::codec::none{} |
           sluice_test::collecting_sink{};
  (void)p;
}
