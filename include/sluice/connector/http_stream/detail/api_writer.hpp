// SPDX-License-Identifier: Apache-2.0
#pragma once
// Definitions of the response side of <sluice/connector/http_stream/api.hpp>: targets, error
// types, RecordIds, sequence numbers and the response writers.
#include <sluice/core/config.hpp>
#include <sluice/connector/http_stream/api.hpp>
#include <sluice/connector/http_stream/detail/api_json.hpp>
#include <sluice/core/detail/splitmix64.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::connector::http_stream {

namespace detail {
inline constexpr std::string_view firehose_prefix = "Firehose_20150804.";
inline constexpr std::string_view kinesis_prefix = "Kinesis_20131202.";

// Appends the unpadded standard base64 of `n` bytes, n a multiple of 3 (a RecordId's 168).
inline void append_base64_groups(std::string& out, const std::uint8_t* in, std::size_t n) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (std::size_t i = 0; i + 3 <= n; i += 3) {
    const std::uint32_t v = std::uint32_t{in[i]} << 16 | std::uint32_t{in[i + 1]} << 8 | in[i + 2];
    const char quad[4] = {alphabet[v >> 18], alphabet[(v >> 12) & 63], alphabet[(v >> 6) & 63], alphabet[v & 63]};
    out.append(quad, 4);
  }
}

inline void open_entry(std::string& out, bool& first) {
  if (!first) out += ',';
  first = false;
}
}  // namespace detail

SLUICE_DECL operation parse_target(std::string_view t) noexcept {
  if (t.starts_with(detail::firehose_prefix)) {
    const auto name = t.substr(detail::firehose_prefix.size());
    if (name == "PutRecordBatch") return operation::firehose_put_record_batch;
    if (name == "PutRecord") return operation::firehose_put_record;
    if (name == "ListDeliveryStreams") return operation::firehose_list_delivery_streams;
    if (name == "DescribeDeliveryStream") return operation::firehose_describe_delivery_stream;
  } else if (t.starts_with(detail::kinesis_prefix)) {
    const auto name = t.substr(detail::kinesis_prefix.size());
    if (name == "PutRecords") return operation::kinesis_put_records;
    if (name == "PutRecord") return operation::kinesis_put_record;
  }
  return operation::unknown;
}

SLUICE_DECL std::string_view target_name(operation op) noexcept {
  switch (op) {
    case operation::firehose_put_record: return "Firehose_20150804.PutRecord";
    case operation::firehose_put_record_batch: return "Firehose_20150804.PutRecordBatch";
    case operation::firehose_list_delivery_streams: return "Firehose_20150804.ListDeliveryStreams";
    case operation::firehose_describe_delivery_stream: return "Firehose_20150804.DescribeDeliveryStream";
    case operation::kinesis_put_record: return "Kinesis_20131202.PutRecord";
    case operation::kinesis_put_records: return "Kinesis_20131202.PutRecords";
    case operation::unknown: break;
  }
  return {};
}

SLUICE_DECL std::string_view signing_name(operation op) noexcept {
  switch (op) {
    case operation::kinesis_put_record:
    case operation::kinesis_put_records: return "kinesis";
    case operation::unknown: return {};
    default: return "firehose";
  }
}

SLUICE_DECL bool is_json_content_type(std::string_view value) noexcept {
  const auto semicolon = value.find(';');
  auto media = value.substr(0, semicolon);
  while (!media.empty() && (media.front() == ' ' || media.front() == '\t')) media.remove_prefix(1);
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
  if (media.size() != content_type.size()) return false;
  for (std::size_t i = 0; i < media.size(); ++i) {
    char c = media[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != content_type[i]) return false;
  }
  return true;
}

SLUICE_DECL std::string_view type_name(error_type t) noexcept {
  switch (t) {
    case error_type::serialization: return "SerializationException";
    case error_type::validation: return "ValidationException";
    case error_type::invalid_argument: return "InvalidArgumentException";
    case error_type::resource_not_found: return "ResourceNotFoundException";
    case error_type::unknown_operation: return "UnknownOperationException";
    case error_type::service_unavailable: return "ServiceUnavailableException";
    case error_type::throughput_exceeded: return "ProvisionedThroughputExceededException";
    case error_type::internal_failure: return "InternalFailure";
  }
  return "InternalFailure";
}

SLUICE_DECL int http_status(error_type t) noexcept {
  switch (t) {
    case error_type::service_unavailable: return 503;  // "fault": true in the Firehose model
    case error_type::internal_failure: return 500;
    default: return 400;                               // every "exception" that is not a fault
  }
}

SLUICE_DECL api_error unknown_operation(std::string_view target) {
  if (target.empty())
    return {error_type::unknown_operation, "The request has no X-Amz-Target header naming an operation",
            api_error::no_record};
  std::string m = "X-Amz-Target '";
  m.append(target).append("' names no operation this endpoint serves (it serves Firehose_20150804.PutRecord, "
                          "PutRecordBatch, ListDeliveryStreams, DescribeDeliveryStream and Kinesis_20131202.PutRecord, "
                          "PutRecords)");
  return {error_type::unknown_operation, std::move(m), api_error::no_record};
}

SLUICE_DECL api_error stream_not_found(operation op, std::string_view stream, std::string_view account_id) {
  const bool kinesis = op == operation::kinesis_put_record || op == operation::kinesis_put_records;
  std::string m = kinesis ? "Stream " : "Firehose ";
  m.append(stream).append(" under account ").append(account_id).append(" not found.");
  return {error_type::resource_not_found, std::move(m), api_error::no_record};
}

SLUICE_DECL api_error service_unavailable(std::string_view message) {
  return {error_type::service_unavailable, std::string(message), api_error::no_record};
}

// ---- ids ---------------------------------------------------------------------------------------

SLUICE_DECL record_id_generator::record_id_generator() {
  std::random_device rd;
  for (std::size_t i = 0; i < instance_.size(); i += 4) {
    const std::uint32_t r = rd();
    for (std::size_t j = 0; j < 4; ++j) instance_[i + j] = static_cast<std::uint8_t>(r >> (8 * j));
  }
}

// The block of an id: instance, request number, the index (left zero here), then filler spread
// from the instance and the request number.
inline void record_id_generator::fill(std::uint8_t (&b)[block_size], std::uint64_t request_number) const noexcept {
  std::copy(instance_.begin(), instance_.end(), b);
  for (int i = 0; i < 8; ++i) b[16 + i] = static_cast<std::uint8_t>(request_number >> (56 - 8 * i));
  for (std::size_t i = index_at; i < index_at + 4; ++i) b[i] = 0;
  std::uint64_t state = request_number * 0xD1342543DE82EF95ULL;
  for (std::size_t i = 0; i < 16; ++i) state = state * 31 + instance_[i];
  for (std::size_t i = index_at + 4; i < block_size; i += 8) {
    // splitmix64: the filler spread from the id's unique prefix.
    const std::uint64_t r = sluice::detail::splitmix64(state);
    state += sluice::detail::splitmix64_gamma;
    for (std::size_t j = 0; j < 8 && i + j < block_size; ++j) b[i + j] = static_cast<std::uint8_t>(r >> (8 * j));
  }
}

SLUICE_DECL void record_id_generator::append(std::string& out, std::uint64_t request_number,
                                             std::uint32_t index) const {
  ids_of(request_number).append(out, index);
}

SLUICE_DECL record_id_generator::request_ids record_id_generator::ids_of(std::uint64_t request_number) const {
  std::uint8_t b[block_size];
  fill(b, request_number);
  request_ids ids;
  std::string first;
  detail::append_base64_groups(first, b, block_size);
  std::copy(first.begin(), first.end(), ids.first_.begin());
  ids.after_index_[0] = b[index_at + 4];
  ids.after_index_[1] = b[index_at + 5];
  return ids;
}

SLUICE_DECL void record_id_generator::request_ids::append(std::string& out, std::uint32_t index) const {
  // Bytes 24..29 (the index and two filler bytes) are base64 groups 8 and 9: characters 32..39.
  const std::uint8_t six[6] = {static_cast<std::uint8_t>(index >> 24), static_cast<std::uint8_t>(index >> 16),
                               static_cast<std::uint8_t>(index >> 8),  static_cast<std::uint8_t>(index),
                               after_index_[0],                        after_index_[1]};
  const std::size_t at = out.size();
  out.append(first_.data(), first_.size());
  std::string groups;
  groups.reserve(8);
  detail::append_base64_groups(groups, six, sizeof six);
  out.replace(at + index_at / 3 * 4, 8, groups);
}

SLUICE_DECL void append_sequence_number(std::string& out, sequence_number n) {
  out += "49";
  detail::append_padded(out, n.epoch, 20);
  detail::append_padded(out, n.counter, 34);
}

// ---- writers -------------------------------------------------------------------------------------

SLUICE_DECL void write_error(std::string& out, std::string_view type, std::string_view message) {
  out.clear();
  out += "{\"__type\":";
  detail::append_json_string(out, type);
  out += ",\"message\":";
  detail::append_json_string(out, message);
  out += '}';
}

SLUICE_DECL void write_put_record_response(std::string& out, const record_id_generator& ids,
                                           std::uint64_t request_number, bool encrypted) {
  out.clear();
  out += "{\"RecordId\":\"";
  ids.append(out, request_number, 0);
  out += encrypted ? "\",\"Encrypted\":true}" : "\",\"Encrypted\":false}";
}

SLUICE_DECL void write_put_record_batch_response(std::string& out, std::span<const record_outcome> outcomes,
                                                 const record_id_generator& ids, std::uint64_t request_number,
                                                 bool encrypted) {
  SLUICE_ASSERT(!outcomes.empty());  // RequestResponses: min 1, one per record of a valid request
  std::size_t failed = 0;
  for (const auto& o : outcomes) failed += o.ok() ? 0 : 1;
  out.clear();
  out.reserve(64 + outcomes.size() * (record_id_generator::id_size + 16));
  out += "{\"FailedPutCount\":";
  detail::append_uint(out, failed);
  out += encrypted ? ",\"Encrypted\":true" : ",\"Encrypted\":false";
  out += ",\"RequestResponses\":[";
  bool first = true;
  const auto request_ids = ids.ids_of(request_number);
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    detail::open_entry(out, first);
    if (outcomes[i].ok()) {
      out += "{\"RecordId\":\"";
      request_ids.append(out, static_cast<std::uint32_t>(i));
      out += "\"}";
    } else {
      out += "{\"ErrorCode\":";
      detail::append_json_string(out, outcomes[i].error_code);
      out += ",\"ErrorMessage\":";
      detail::append_json_string(out, outcomes[i].error_message);
      out += '}';
    }
  }
  out += "]}";
}

SLUICE_DECL void write_kinesis_put_record_response(std::string& out, sequence_number n, std::string_view shard_id) {
  out.clear();
  out += "{\"ShardId\":";
  detail::append_json_string(out, shard_id);
  out += ",\"SequenceNumber\":\"";
  append_sequence_number(out, n);
  out += "\",\"EncryptionType\":\"NONE\"}";
}

SLUICE_DECL void write_kinesis_put_records_response(std::string& out, std::span<const record_outcome> outcomes,
                                                    sequence_number first, std::string_view shard_id) {
  SLUICE_ASSERT(!outcomes.empty());  // Records: min 1
  std::size_t failed = 0;
  for (const auto& o : outcomes) failed += o.ok() ? 0 : 1;
  out.clear();
  out.reserve(64 + outcomes.size() * 110);
  out += "{\"FailedRecordCount\":";
  detail::append_uint(out, failed);
  out += ",\"Records\":[";
  bool first_entry = true;
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    detail::open_entry(out, first_entry);
    if (outcomes[i].ok()) {
      out += "{\"SequenceNumber\":\"";
      append_sequence_number(out, {first.epoch, first.counter + i});
      out += "\",\"ShardId\":";
      detail::append_json_string(out, shard_id);
      out += '}';
    } else {
      out += "{\"ErrorCode\":";
      detail::append_json_string(out, outcomes[i].error_code);
      out += ",\"ErrorMessage\":";
      detail::append_json_string(out, outcomes[i].error_message);
      out += '}';
    }
  }
  out += "],\"EncryptionType\":\"NONE\"}";
}

SLUICE_DECL void write_list_delivery_streams_response(std::string& out, std::span<const std::string_view> names,
                                                      const list_delivery_streams_request& request) {
  // Every stream this endpoint serves is DirectPut: a KinesisStreamAsSource filter lists none.
  std::vector<std::string_view> sorted;
  if (request.delivery_stream_type != "KinesisStreamAsSource") {
    const auto& after = request.exclusive_start_delivery_stream_name;
    for (auto n : names)
      if (after.empty() || n > after) sorted.push_back(n);
    std::sort(sorted.begin(), sorted.end());
  }
  const std::size_t shown = std::min<std::size_t>(sorted.size(), request.limit);
  out.clear();
  out += "{\"DeliveryStreamNames\":[";
  for (std::size_t i = 0; i < shown; ++i) {
    if (i) out += ',';
    detail::append_json_string(out, sorted[i]);
  }
  out += shown < sorted.size() ? "],\"HasMoreDeliveryStreams\":true}" : "],\"HasMoreDeliveryStreams\":false}";
}

SLUICE_DECL std::string delivery_stream_arn(std::string_view region, std::string_view account_id,
                                            std::string_view name) {
  std::string arn = "arn:aws:firehose:";
  arn.append(region).append(":").append(account_id).append(":deliverystream/").append(name);
  return arn;
}

SLUICE_DECL void write_describe_delivery_stream_response(std::string& out, const delivery_stream_description& stream,
                                                         const describe_delivery_stream_request& request) {
  static constexpr std::string_view destination_id = "destinationId-000000000001";
  static constexpr std::string_view compression_names[] = {"UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY",
                                                                 "ZSTD"};
  const auto& d = stream.destination;
  out.clear();
  out += "{\"DeliveryStreamDescription\":{\"DeliveryStreamName\":";
  detail::append_json_string(out, stream.name);
  out += ",\"DeliveryStreamARN\":";
  detail::append_json_string(out, delivery_stream_arn(stream.region, stream.account_id, stream.name));
  out += ",\"DeliveryStreamStatus\":\"ACTIVE\""
         ",\"DeliveryStreamEncryptionConfiguration\":{\"Status\":\"DISABLED\"}"
         ",\"DeliveryStreamType\":\"DirectPut\",\"VersionId\":\"";
  detail::append_uint(out, stream.version_id);
  // JSON 1.1 timestamps are epoch seconds as a number; milliseconds as the fraction.
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(stream.create_time.time_since_epoch()).count();
  const auto ums = static_cast<std::uint64_t>(ms < 0 ? 0 : ms);
  out += "\",\"CreateTimestamp\":";
  detail::append_uint(out, ums / 1000);
  out += '.';
  detail::append_padded(out, ums % 1000, 3);
  out += ",\"Destinations\":[";
  // One destination: listed unless the request starts after it.
  const auto& start = request.exclusive_start_destination_id;
  if (start.empty() || start < destination_id) {
    out += "{\"DestinationId\":\"";
    out += destination_id;
    out += "\",\"ExtendedS3DestinationDescription\":{\"RoleARN\":";
    if (d.role_arn.empty()) {
      detail::append_json_string(out, "arn:aws:iam::" + stream.account_id + ":role/sluice");
    } else {
      detail::append_json_string(out, d.role_arn);
    }
    out += ",\"BucketARN\":";
    detail::append_json_string(out, d.bucket_arn);
    out += ",\"Prefix\":";
    detail::append_json_string(out, d.prefix);
    if (!d.error_output_prefix.empty()) {
      out += ",\"ErrorOutputPrefix\":";
      detail::append_json_string(out, d.error_output_prefix);
    }
    out += ",\"BufferingHints\":{\"SizeInMBs\":";
    detail::append_uint(out, d.buffering_size_mib);
    out += ",\"IntervalInSeconds\":";
    detail::append_uint(out, d.buffering_interval_seconds);
    out += "},\"CompressionFormat\":\"";
    out += compression_names[static_cast<std::size_t>(d.compression)];
    out += "\",\"EncryptionConfiguration\":{\"NoEncryptionConfig\":\"NoEncryption\"}}}";
  }
  out += "],\"HasMoreDestinations\":false}}";
}

}  // namespace sluice::connector::http_stream
