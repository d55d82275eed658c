// SPDX-License-Identifier: Apache-2.0
// Boost.JSON's definitions, for reading the test vectors (sluice::aws does not link Boost.JSON).
#include <boost/json/src.hpp>
