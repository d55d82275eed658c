// SPDX-License-Identifier: Apache-2.0
#pragma once
// The umbrella of the dependency-free part of sluice: core vocabulary and pipeline, buffers,
// batchers, the JSON Lines format and the files connector. Codecs, encryption and stores that
// need a library have their own headers (sluice/codec/zstd.hpp, sluice/crypto/envelope.hpp, ...),
// or take them all with sluice/all.hpp.
#include <sluice/core/config.hpp>
#include <sluice/core/concepts.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/cursor.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/metrics.hpp>
#include <sluice/core/one_of.hpp>
#include <sluice/core/object.hpp>
#include <sluice/core/pipeline.hpp>
#include <sluice/core/record.hpp>
#include <sluice/core/record_batch.hpp>
#include <sluice/core/units.hpp>
#include <sluice/batch/by_size.hpp>
#include <sluice/buffer/disk.hpp>
#include <sluice/buffer/queue.hpp>
#include <sluice/connector/files/files.hpp>
#include <sluice/connector/generator.hpp>
#include <sluice/format/jsonl.hpp>
#include <sluice/format/raw.hpp>
