// SPDX-License-Identifier: Apache-2.0
#pragma once
// The protocol layer of the Firehose-compatible endpoint: which call a request is, its body
// parsed and validated as the AWS JSON 1.1 services do, and the responses and errors written in
// the shapes of the service models (botocore firehose/2015-08-04 and kinesis/2013-12-02). Pure
// functions over strings: no sockets, no clocks, no global state.
//
// Sources for the limits and error choices are given where each is defined; the short version:
// - Limits are the models' (`max`/`min`/`pattern` on each shape) and their operation docs
//   ("Each PutRecordBatch request supports up to 500 records. Each record in the request can be
//   as large as 1,000 KB (before base64 encoding), up to a limit of 4 MB for the entire
//   request"; Kinesis PutRecords: "up to 500 records ... as large as 1 MiB, up to a limit of
//   5 MiB for the entire request, including partition keys").
// - A value breaking a model constraint is a ValidationException ("1 validation error
//   detected: Value ... at 'records.97.member.data' failed to satisfy constraint: ..."): the
//   real Firehose sent that (postmates/cernan#210 logs it through rusoto's
//   PutRecordBatchError::Validation, which rusoto maps from "ValidationException";
//   osquery/osquery#3568 quotes the same text), and so does the real Kinesis (kinesalite's
//   tests recorded against it; getmoto/moto tests/test_kinesis/test_kinesis_stream_limits.py).
//   Neither model lists ValidationException; clients still surface it by its code.
// - A request over the whole-request size is an InvalidArgumentException "Records size exceeds
//   5 MB limit" (real Kinesis in aws/amazon-kinesis-streams-for-fluent-bit#21; moto) and, for
//   Firehose, "Records size exceeds 4 MB limit" (real Firehose in osquery/osquery#3568).
// - A body that is not JSON, a member of the wrong JSON type and bad base64 are a
//   SerializationException, as the AWS JSON services answer (kinesalite index.js and
//   validations/index.js, recorded against the real Kinesis; asked for by issue 4).
// - An X-Amz-Target the service does not have is `{"__type":"UnknownOperationException"}`
//   with HTTP 400 (the real Kinesis's answer in aws/aws-sdk-ruby#633; kinesalite index.js).
#include <sluice/core/config.hpp>
#include <sluice/connector/http_stream/detail/api_bytes.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::connector::http_stream {

namespace detail {
struct put_handler;
struct put_parser_impl;
}  // namespace detail

/// The calls the endpoint answers, named by their X-Amz-Target.
enum class operation : std::uint8_t {
  unknown = 0,
  firehose_put_record,               ///< Firehose_20150804.PutRecord
  firehose_put_record_batch,         ///< Firehose_20150804.PutRecordBatch
  firehose_list_delivery_streams,    ///< Firehose_20150804.ListDeliveryStreams
  firehose_describe_delivery_stream, ///< Firehose_20150804.DescribeDeliveryStream
  kinesis_put_record,                ///< Kinesis_20131202.PutRecord
  kinesis_put_records,               ///< Kinesis_20131202.PutRecords
};

/// The operation an X-Amz-Target header names (exact, case-sensitive, as AWS matches it), or
/// operation::unknown.
[[nodiscard]] SLUICE_DECL operation parse_target(std::string_view x_amz_target) noexcept;
/// The X-Amz-Target of `op` ("Firehose_20150804.PutRecordBatch"); empty for unknown.
[[nodiscard]] SLUICE_DECL std::string_view target_name(operation op) noexcept;
/// The SigV4 signing name of `op`'s service: "firehose" or "kinesis" (empty for unknown).
[[nodiscard]] SLUICE_DECL std::string_view signing_name(operation op) noexcept;
/// True for the four calls that carry records (parsed by request_parser).
[[nodiscard]] constexpr bool is_put(operation op) noexcept {
  return op == operation::firehose_put_record || op == operation::firehose_put_record_batch ||
         op == operation::kinesis_put_record || op == operation::kinesis_put_records;
}

/// The media type of every request and response body (AWS JSON 1.1).
inline constexpr std::string_view content_type = "application/x-amz-json-1.1";
/// True for `application/x-amz-json-1.1`, with or without parameters (`; charset=utf-8`).
[[nodiscard]] SLUICE_DECL bool is_json_content_type(std::string_view value) noexcept;

/// The services' limits. Each comes from the botocore model on this machine
/// (/usr/lib/python3/dist-packages/awscli/botocore/data/{firehose/2015-08-04,
/// kinesis/2013-12-02}/service-2.json): the shape constraint named, or the operation doc quoted.
namespace limits {
/// PutRecordBatchRequestEntryList min 1, max 500.
inline constexpr std::size_t firehose_max_records = 500;
/// Data (blob) max 1024000: "as large as 1,000 KB (before base64 encoding)".
inline constexpr std::size_t firehose_max_record_bytes = 1'024'000;
/// "up to a limit of 4 MB for the entire request" (PutRecordBatch doc); issue 4 reads it as
/// 4 MiB, and so does this endpoint: the sum of the decoded Data.
inline constexpr std::size_t firehose_max_batch_bytes = 4 * 1024 * 1024;
/// DeliveryStreamName min 1, max 64, pattern [a-zA-Z0-9_.-]+.
inline constexpr std::size_t firehose_max_stream_name = 64;
/// PutRecordsRequestEntryList min 1, max 500.
inline constexpr std::size_t kinesis_max_records = 500;
/// Data max 1048576, and "When the data blob ... is added to the partition key size, the total
/// size must not exceed the maximum record size (1 MiB)" (PutRecordsRequestEntry.Data doc).
inline constexpr std::size_t kinesis_max_record_bytes = 1024 * 1024;
/// "up to a limit of 5 MiB for the entire request, including partition keys" (PutRecords doc).
inline constexpr std::size_t kinesis_max_batch_bytes = 5 * 1024 * 1024;
/// StreamName min 1, max 128, pattern [a-zA-Z0-9_.-]+.
inline constexpr std::size_t kinesis_max_stream_name = 128;
/// StreamARN min 1, max 2048, pattern arn:aws.*:kinesis:.*:\d{12}:stream/\S+.
inline constexpr std::size_t kinesis_max_stream_arn = 2048;
/// PartitionKey min 1, max 256 (Java characters: UTF-16 code units).
inline constexpr std::size_t kinesis_max_partition_key = 256;
/// ListDeliveryStreams Limit: min 1, max 10000, "The default value is 10".
inline constexpr std::uint32_t list_max_limit = 10'000;
inline constexpr std::uint32_t list_default_limit = 10;
/// Not a service limit: the largest body worth reading. 5 MiB of data in base64 is 6.7 MiB,
/// plus members and partition keys; a server should answer a larger body with 413 before
/// reading it, as the real Kinesis does (boto/boto3#1147) and kinesalite (7 MiB) does.
inline constexpr std::size_t max_body_bytes = 8 * 1024 * 1024;
}  // namespace limits

/// The `__type` of an error response. Each has its HTTP status (http_status()).
enum class error_type : std::uint8_t {
  serialization,          ///< SerializationException 400: not JSON, wrong JSON type, bad base64
  validation,             ///< ValidationException 400: a model constraint (length, pattern, required)
  invalid_argument,       ///< InvalidArgumentException 400: whole-request size, hash key range, ...
  resource_not_found,     ///< ResourceNotFoundException 400: no such delivery stream / stream
  unknown_operation,      ///< UnknownOperationException 400: X-Amz-Target not served
  service_unavailable,    ///< ServiceUnavailableException 503 (a fault in the Firehose model)
  throughput_exceeded,    ///< ProvisionedThroughputExceededException 400 (Kinesis)
  internal_failure,       ///< InternalFailure 500
};
/// "ValidationException", ... as sent in `__type`.
[[nodiscard]] SLUICE_DECL std::string_view type_name(error_type t) noexcept;
/// 400 for client errors, 503 for ServiceUnavailableException, 500 for InternalFailure.
[[nodiscard]] SLUICE_DECL int http_status(error_type t) noexcept;

/// Why a request was refused: written with write_error() and sent with http_status().
struct api_error {
  static constexpr std::size_t no_record = static_cast<std::size_t>(-1);
  error_type type = error_type::serialization;
  /// Names what was wrong and where: "1 validation error detected: Value
  /// 'java.nio.HeapByteBuffer[pos=0 lim=1024001 cap=1024001]' at 'records.3.member.data' failed
  /// to satisfy constraint: ...". Record positions in messages count from 1, as AWS's do.
  std::string message;
  /// The 0-based index of the first record the error is about, or no_record.
  std::size_t record_index = no_record;

  [[nodiscard]] std::string_view type_name() const noexcept { return http_stream::type_name(type); }
  [[nodiscard]] int http_status() const noexcept { return http_stream::http_status(type); }
};

/// The error for an X-Amz-Target this endpoint does not serve (`target` may be empty).
[[nodiscard]] SLUICE_DECL api_error unknown_operation(std::string_view target);
/// ResourceNotFoundException for a stream that does not exist, worded as the service words it:
/// "Firehose s under account 123456789012 not found." (shared/testdata/firehose
/// error-resource-not-found.response.json) or "Stream k under account 123456789012 not found."
/// (Kinesis, as kinesalite's tests recorded it).
[[nodiscard]] SLUICE_DECL api_error stream_not_found(operation op, std::string_view stream,
                                                     std::string_view account_id);
/// ServiceUnavailableException (HTTP 503): back-pressure, the client retries.
[[nodiscard]] SLUICE_DECL api_error service_unavailable(std::string_view message = "Slow down.");

/// One record of a put request: views into the request's buffers, valid until the request is
/// parsed into again or destroyed.
struct record_view {
  std::string_view data;               ///< the decoded Data
  std::string_view partition_key;      ///< Kinesis only; empty for Firehose
  std::string_view explicit_hash_key;  ///< Kinesis only; empty when absent
};

/// A parsed put call (PutRecord, PutRecordBatch, Kinesis PutRecord, PutRecords). The decoded
/// Data of all records sits back to back in one arena, in request order, so a whole request
/// can be handed on with one copy (arena()) or record by record (operator[], iteration).
///
/// Allocation: the arena, the partition keys and the record table keep their capacity when
/// the request is parsed into again; keep one per connection and reuse it. The arena never
/// holds more than the operation's whole-request limit (plus 2 bytes), and the table no more
/// than its record limit, whatever the body holds: past them the parser only counts.
/// Thread safety: none; one thread at a time.
class put_request {
 public:
  class const_iterator {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using iterator_concept = std::random_access_iterator_tag;
    using value_type = record_view;
    using difference_type = std::ptrdiff_t;
    using reference = record_view;
    using pointer = void;
    const_iterator() = default;
    const_iterator(const put_request* r, std::size_t i) noexcept : r_(r), i_(i) {}
    record_view operator*() const noexcept { return (*r_)[i_]; }
    record_view operator[](difference_type n) const noexcept { return (*r_)[i_ + static_cast<std::size_t>(n)]; }
    const_iterator& operator++() noexcept { ++i_; return *this; }
    const_iterator operator++(int) noexcept { auto t = *this; ++i_; return t; }
    const_iterator& operator--() noexcept { --i_; return *this; }
    const_iterator operator--(int) noexcept { auto t = *this; --i_; return t; }
    const_iterator& operator+=(difference_type n) noexcept { i_ += static_cast<std::size_t>(n); return *this; }
    const_iterator& operator-=(difference_type n) noexcept { i_ -= static_cast<std::size_t>(n); return *this; }
    friend const_iterator operator+(const_iterator a, difference_type n) noexcept { return a += n; }
    friend const_iterator operator+(difference_type n, const_iterator a) noexcept { return a += n; }
    friend const_iterator operator-(const_iterator a, difference_type n) noexcept { return a -= n; }
    friend difference_type operator-(const_iterator a, const_iterator b) noexcept {
      return static_cast<difference_type>(a.i_) - static_cast<difference_type>(b.i_);
    }
    friend bool operator==(const_iterator a, const_iterator b) noexcept { return a.i_ == b.i_; }
    friend auto operator<=>(const_iterator a, const_iterator b) noexcept { return a.i_ <=> b.i_; }

   private:
    const put_request* r_ = nullptr;
    std::size_t i_ = 0;
  };

  /// The call it was parsed as.
  [[nodiscard]] operation op() const noexcept { return op_; }
  /// DeliveryStreamName (Firehose) or StreamName (Kinesis); for a Kinesis request that named
  /// its stream by StreamARN only, the name the ARN ends with.
  [[nodiscard]] std::string_view stream_name() const noexcept { return stream_name_; }
  /// StreamARN as sent (Kinesis), or empty.
  [[nodiscard]] std::string_view stream_arn() const noexcept { return stream_arn_; }
  /// SequenceNumberForOrdering as sent (Kinesis PutRecord), or empty.
  [[nodiscard]] std::string_view sequence_number_for_ordering() const noexcept { return sequence_for_ordering_; }

  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
  [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }
  [[nodiscard]] record_view operator[](std::size_t i) const noexcept {
    const entry& e = entries_[i];
    return {{data_.data() + e.data_offset, e.data_size},
            {keys_.data() + e.key_offset, e.key_size},
            {keys_.data() + e.key_offset + e.key_size, e.hash_key_size}};
  }
  [[nodiscard]] const_iterator begin() const noexcept { return {this, 0}; }
  [[nodiscard]] const_iterator end() const noexcept { return {this, entries_.size()}; }

  /// Every record's Data, back to back in request order; record i starts at data_offset(i).
  [[nodiscard]] std::string_view arena() const noexcept { return {data_.data(), data_.size()}; }
  [[nodiscard]] std::size_t data_offset(std::size_t i) const noexcept { return entries_[i].data_offset; }
  /// Sum of the records' decoded Data sizes (== arena().size() after a successful parse).
  [[nodiscard]] std::size_t data_bytes() const noexcept { return data_.size(); }

  /// Empties the request; capacity is kept.
  void clear() noexcept {
    op_ = operation::unknown;
    stream_name_.clear();
    stream_arn_.clear();
    sequence_for_ordering_.clear();
    data_.clear();
    keys_.clear();
    entries_.clear();
  }

 private:
  friend struct detail::put_handler;
  friend class request_parser;
  struct entry {
    std::uint32_t data_offset;
    std::uint32_t data_size;
    std::uint32_t key_offset;     // partition key, then the explicit hash key, in keys_
    std::uint32_t key_size;
    std::uint32_t hash_key_size;
  };
  operation op_ = operation::unknown;
  std::string stream_name_;
  std::string stream_arn_;
  std::string sequence_for_ordering_;
  detail::byte_arena data_;
  std::string keys_;
  std::vector<entry> entries_;
};

/// Parses and validates the body of a put call into a put_request, as the service does:
/// SerializationException for a body that is not a JSON object, a member of the wrong JSON
/// type or Data that is not strict padded base64 (these stop the parse); then
/// ValidationException listing up to 10 constraint violations (Records 1..500, each Data
/// within the record limit, stream name length and pattern, partition key 1..256, hash key
/// pattern, required members); then InvalidArgumentException for the whole-request size, an
/// out-of-range ExplicitHashKey, or a Kinesis request naming no stream. Unknown members are
/// ignored and `null` counts as absent, as the services do; of a repeated member the last wins.
///
/// The body may come in pieces (write() as they arrive from the socket, then finish()), or
/// whole (parse()). Base64 is decoded straight into the request's arena, piece by piece.
///
/// Thread safety: one thread at a time per parser; keep one per connection.
/// Errors: failures are results (false, then error()), never exceptions, except std::bad_alloc.
/// @code
///   http_stream::request_parser parser;
///   http_stream::put_request req;          // reused across requests
///   if (!parser.parse(op, body, req)) return reply(parser.error());
///   for (auto r : req) buffer.append(r.data);
/// @endcode
class request_parser {
 public:
  SLUICE_DECL request_parser();
  SLUICE_DECL ~request_parser();
  request_parser(const request_parser&) = delete;
  request_parser& operator=(const request_parser&) = delete;

  /// Begins a body of put call `op` (one of is_put()) into `out`, which is cleared.
  SLUICE_DECL void start(operation op, put_request& out);
  /// Parses the next piece of the body. False when the body is already known to be bad: error()
  /// says why and the rest need not be read into the parser.
  [[nodiscard]] SLUICE_DECL bool write(std::string_view piece);
  /// The body ended: completes and validates the request. False: error() says why, and the
  /// request's contents are unspecified.
  [[nodiscard]] SLUICE_DECL bool finish();
  /// start(), write(body), finish().
  [[nodiscard]] SLUICE_DECL bool parse(operation op, std::string_view body, put_request& out);

  /// Why the last write() or finish() returned false.
  [[nodiscard]] SLUICE_DECL const api_error& error() const noexcept;

 private:
  std::unique_ptr<detail::put_parser_impl> impl_;
};

/// ListDeliveryStreams input: {Limit?, DeliveryStreamType?, ExclusiveStartDeliveryStreamName?}.
struct list_delivery_streams_request {
  std::uint32_t limit = limits::list_default_limit;  ///< 1..10000
  std::string delivery_stream_type;                  ///< "DirectPut", "KinesisStreamAsSource" or empty (all)
  std::string exclusive_start_delivery_stream_name;  ///< list names after this one; empty: from the first
};
/// Parses a ListDeliveryStreams body (`{}` for the defaults; the AWS CLI and SDKs send that),
/// with the errors of request_parser (an empty body is a SerializationException, as the
/// services answer it). False: `error` says why.
[[nodiscard]] SLUICE_DECL bool parse_list_delivery_streams(std::string_view body, list_delivery_streams_request& out,
                                                           api_error& error);

/// DescribeDeliveryStream input: {DeliveryStreamName, Limit?, ExclusiveStartDestinationId?}.
struct describe_delivery_stream_request {
  std::string delivery_stream_name;
  std::uint32_t limit = limits::list_max_limit;  ///< destinations to return, 1..10000
  std::string exclusive_start_destination_id;
};
/// Parses a DescribeDeliveryStream body. False: `error` says why.
[[nodiscard]] SLUICE_DECL bool parse_describe_delivery_stream(std::string_view body,
                                                              describe_delivery_stream_request& out,
                                                              api_error& error);

/// One record's outcome in a PutRecordBatch or PutRecords response: accepted (an empty
/// error_code), or failed with the code and message the model allows per record — Firehose:
/// ServiceUnavailableException or InternalFailure; Kinesis: ProvisionedThroughputExceededException
/// or InternalFailure.
struct record_outcome {
  std::string_view error_code;
  std::string_view error_message;
  [[nodiscard]] constexpr bool ok() const noexcept { return error_code.empty(); }

  /// Accepted.
  static constexpr record_outcome stored() noexcept { return {}; }
  /// Firehose back-pressure, in the words real Firehose uses (boto/boto3#2804).
  static constexpr record_outcome slow_down() noexcept { return {"ServiceUnavailableException", "Slow down."}; }
  /// Kinesis back-pressure.
  static constexpr record_outcome throughput_exceeded() noexcept {
    return {"ProvisionedThroughputExceededException", "Rate exceeded for shard shardId-000000000000."};
  }
  /// "An ErrorCode value of InternalFailure has the error message "Internal Service Failure""
  /// (PutRecordsResultEntry.ErrorMessage doc).
  static constexpr record_outcome internal_failure() noexcept {
    return {"InternalFailure", "Internal Service Failure"};
  }
};

/// Makes Firehose RecordIds of the form real Firehose returns: 224 characters of standard
/// base64 (168 bytes, so no padding), as in the outputs of the AWS CLI's own examples
/// (awscli/examples/firehose/put-record.rst, put-record-batch.rst). The bytes hold a random
/// 16-byte instance id chosen at construction, the request number and the record index, then
/// filler derived from the instance and the request: unique per (instance, request, index),
/// opaque to clients. The ids of one request differ only in the characters that encode the
/// index, so request_ids() makes a request's ids for the cost of a copy each. (The
/// example responses in shared/testdata/firehose hold 56-digit decimals instead; their README
/// calls those values illustrative.)
/// Thread safety: const; share one among threads.
class record_id_generator {
 public:
  static constexpr std::size_t id_size = 224;
  /// A random instance id (std::random_device).
  SLUICE_DECL record_id_generator();
  /// A fixed instance id (tests, or ids that must survive a restart).
  explicit record_id_generator(const std::array<std::uint8_t, 16>& instance) noexcept : instance_(instance) {}

  /// Appends the id of record `index` of request `request_number` (id_size characters).
  SLUICE_DECL void append(std::string& out, std::uint64_t request_number, std::uint32_t index) const;
  [[nodiscard]] std::string make(std::uint64_t request_number, std::uint32_t index) const {
    std::string s;
    append(s, request_number, index);
    return s;
  }

  /// The ids of one request's records, each the same as append() makes.
  class request_ids {
   public:
    /// Appends the id of record `index` (id_size characters).
    SLUICE_DECL void append(std::string& out, std::uint32_t index) const;

   private:
    friend class record_id_generator;
    std::array<char, id_size> first_{};  // the id of record 0
    std::uint8_t after_index_[2]{};      // the two filler bytes encoded with the index's last byte
  };
  [[nodiscard]] SLUICE_DECL request_ids ids_of(std::uint64_t request_number) const;

 private:
  static constexpr std::size_t block_size = id_size / 4 * 3;  // 168 bytes
  static constexpr std::size_t index_at = 24;                 // bytes 24..27: the record index
  void fill(std::uint8_t (&block)[block_size], std::uint64_t request_number) const noexcept;
  std::array<std::uint8_t, 16> instance_{};
};

/// A Kinesis sequence number: 56 decimal digits like the real service's, "49" then `epoch` in
/// 20 digits then `counter` in 34, so numbers compare in (epoch, counter) order both as text
/// and as integers (pattern 0|([1-9]\d{0,128})). Keep `epoch` fixed per shard lifetime (e.g. the
/// start time) and count up.
struct sequence_number {
  std::uint64_t epoch = 0;
  std::uint64_t counter = 0;
};
SLUICE_DECL void append_sequence_number(std::string& out, sequence_number n);
[[nodiscard]] inline std::string to_string(sequence_number n) {
  std::string s;
  append_sequence_number(s, n);
  return s;
}
/// The one shard the endpoint reports.
inline constexpr std::string_view default_shard_id = "shardId-000000000000";

// ---- response writers: each replaces `out` with the response body ----------------------------

/// `{"__type":"<type>","message":"<message>"}`: every error, of this endpoint or of SigV4
/// verification (aws::verify_result::code / message), in the form of
/// shared/testdata/firehose/error-resource-not-found.response.json.
SLUICE_DECL void write_error(std::string& out, std::string_view type, std::string_view message);
inline void write_error(std::string& out, const api_error& e) { write_error(out, e.type_name(), e.message); }

/// Firehose PutRecord: `{"RecordId":"...","Encrypted":false}`.
SLUICE_DECL void write_put_record_response(std::string& out, const record_id_generator& ids,
                                           std::uint64_t request_number, bool encrypted = false);
/// Firehose PutRecordBatch: `{"FailedPutCount":N,"Encrypted":false,"RequestResponses":[...]}`,
/// one entry per record in request order: `{"RecordId":...}` for accepted ones (ids from
/// `ids`, request_number, index), `{"ErrorCode":...,"ErrorMessage":...}` for the others.
/// Partial failure is still HTTP 200.
SLUICE_DECL void write_put_record_batch_response(std::string& out, std::span<const record_outcome> outcomes,
                                                 const record_id_generator& ids, std::uint64_t request_number,
                                                 bool encrypted = false);
/// Kinesis PutRecord: `{"ShardId":"...","SequenceNumber":"...","EncryptionType":"NONE"}`.
SLUICE_DECL void write_kinesis_put_record_response(std::string& out, sequence_number n,
                                                   std::string_view shard_id = default_shard_id);
/// Kinesis PutRecords: `{"FailedRecordCount":N,"Records":[...],"EncryptionType":"NONE"}`;
/// accepted record i gets sequence number {first.epoch, first.counter + i}. FailedRecordCount
/// is written even when 0, as the real service does (kinesalite's recorded responses), though
/// the model gives its shape min 1.
SLUICE_DECL void write_kinesis_put_records_response(std::string& out, std::span<const record_outcome> outcomes,
                                                    sequence_number first,
                                                    std::string_view shard_id = default_shard_id);
/// ListDeliveryStreams: `{"DeliveryStreamNames":[...],"HasMoreDeliveryStreams":bool}` — `names`
/// (any order; every stream here is DirectPut) sorted, those after the exclusive start name,
/// at most `limit` of them.
SLUICE_DECL void write_list_delivery_streams_response(std::string& out, std::span<const std::string_view> names,
                                                      const list_delivery_streams_request& request);

/// CompressionFormat as the model spells it, plus `ZSTD`, which the model's enum lacks: it is
/// reported as such (clients print output enums as received; botocore does not check them).
enum class compression_format : std::uint8_t { uncompressed, gzip, zip, snappy, hadoop_snappy, zstd };

/// What DescribeDeliveryStream reports about a stream's S3 destination.
struct s3_destination_description {
  std::string bucket_arn = "arn:aws:s3:::lake";  ///< BucketARN
  std::string prefix;                            ///< Prefix
  std::string error_output_prefix;               ///< ErrorOutputPrefix (left out when empty)
  std::string role_arn;                          ///< RoleARN (required); empty: arn:aws:iam::<account>:role/sluice
  std::uint32_t buffering_size_mib = 5;          ///< BufferingHints.SizeInMBs (model 1..128, default 5)
  std::uint32_t buffering_interval_seconds = 300;///< BufferingHints.IntervalInSeconds (default 300)
  compression_format compression = compression_format::uncompressed;
};

/// A delivery stream as DescribeDeliveryStream reports it: ACTIVE, DirectPut, one
/// ExtendedS3 destination ("destinationId-000000000001"), no server-side encryption.
struct delivery_stream_description {
  std::string name;
  std::string region = "us-east-1";
  std::string account_id = "123456789012";
  std::uint64_t version_id = 1;                        ///< VersionId (pattern [0-9]+)
  std::chrono::system_clock::time_point create_time{}; ///< CreateTimestamp (epoch seconds on the wire)
  s3_destination_description destination;
};
/// `arn:aws:firehose:<region>:<account>:deliverystream/<name>`.
[[nodiscard]] SLUICE_DECL std::string delivery_stream_arn(std::string_view region, std::string_view account_id,
                                                          std::string_view name);
/// DescribeDeliveryStream: `{"DeliveryStreamDescription":{...}}` with every member the model
/// requires (name, ARN, status, type, version, destinations, HasMoreDestinations) and the
/// create time as a JSON number of epoch seconds (JSON 1.1 timestamps). The destination is
/// left out when the request's ExclusiveStartDestinationId is at or past it.
SLUICE_DECL void write_describe_delivery_stream_response(std::string& out, const delivery_stream_description& stream,
                                                         const describe_delivery_stream_request& request = {});

}  // namespace sluice::connector::http_stream

// Definitions: here unless SLUICE_SEPARATE_COMPILATION is set, then in the one translation unit
// that defines SLUICE_SOURCE before including this header.
#if !defined(SLUICE_SEPARATE_COMPILATION) || defined(SLUICE_SOURCE)
#include <sluice/connector/http_stream/detail/api_parser.hpp>
#include <sluice/connector/http_stream/detail/api_writer.hpp>
#endif
