// SPDX-License-Identifier: Apache-2.0
// The one translation unit holding the definitions of sluice::aws (what <sluice/src.hpp> does
// for the whole library when SLUICE_HAS_AWS is defined).
#define SLUICE_SOURCE
#include <sluice/aws/credentials.hpp>
#include <sluice/aws/sigv4.hpp>
