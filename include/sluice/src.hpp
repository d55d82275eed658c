// SPDX-License-Identifier: Apache-2.0
#pragma once
// Separate compilation of sluice's heavy non-template code (message parsing, keyrings).
//
// Define SLUICE_SEPARATE_COMPILATION for every translation unit of the program (for example
// `target_compile_definitions(app PRIVATE SLUICE_SEPARATE_COMPILATION)`), then include this
// header in exactly one source file: that file holds the only definitions of the SLUICE_DECL
// functions, and the other files compile declarations only.
#include <sluice/core/config.hpp>

#ifndef SLUICE_SEPARATE_COMPILATION
#error "<sluice/src.hpp> is for SLUICE_SEPARATE_COMPILATION builds: define it for every translation unit"
#endif

#define SLUICE_SOURCE
#include <sluice/crypto/envelope.hpp>
#include <sluice/crypto/keyring.hpp>
#ifdef SLUICE_HAS_AWS
#include <sluice/aws/credentials.hpp>
#include <sluice/aws/sigv4.hpp>
#endif
#ifdef SLUICE_HAS_HTTP_STREAM
#include <sluice/connector/http_stream/api.hpp>
#include <sluice/connector/http_stream/server.hpp>
#include <sluice/connector/http_stream/endpoint.hpp>
#include <sluice/connector/http_stream/delivery.hpp>
#endif
