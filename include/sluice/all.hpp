// SPDX-License-Identifier: Apache-2.0
#pragma once
// Every component of sluice, for programs that link sluice::sluice. sluice never includes this
// header itself; include the headers of what you use to link only their dependencies.
#include <sluice/sluice.hpp>

#include <sluice/codec/gzip.hpp>
#include <sluice/codec/none.hpp>
#include <sluice/codec/zstd.hpp>
#include <sluice/crypto/checksum.hpp>
#include <sluice/crypto/envelope.hpp>
#include <sluice/crypto/keyring.hpp>
#include <sluice/format/csv.hpp>
#include <sluice/format/transform/filter.hpp>
#include <sluice/format/transform/map.hpp>
#include <sluice/format/transform/mask.hpp>
#include <sluice/format/transform/partition_by.hpp>
#include <sluice/format/transform/validate.hpp>
#include <sluice/store/local.hpp>
// Components with a dependency not every machine has: present when their target is linked.
#ifdef SLUICE_HAS_AWS
#include <sluice/aws/credentials.hpp>
#include <sluice/aws/sigv4.hpp>
#endif
#ifdef SLUICE_HAS_S3
#include <sluice/store/s3.hpp>
#include <sluice/store/s3_reader.hpp>
#endif
#ifdef SLUICE_HAS_HTTP_STREAM
#include <sluice/connector/http_stream/api.hpp>
#include <sluice/connector/http_stream/server.hpp>
#include <sluice/connector/http_stream/endpoint.hpp>
#include <sluice/connector/http_stream/processing.hpp>
#include <sluice/connector/http_stream/delivery.hpp>
#endif
