// SPDX-License-Identifier: Apache-2.0
#pragma once
// Definitions of the request side of <sluice/connector/http_stream/api.hpp>: request_parser
// (the streaming parser of the four put calls, over the handler of api_put_handler.hpp) and the
// small ListDeliveryStreams / DescribeDeliveryStream bodies.
#include <sluice/core/config.hpp>
#include <sluice/connector/http_stream/api.hpp>
#include <sluice/connector/http_stream/detail/api_json.hpp>
#include <sluice/connector/http_stream/detail/api_put_handler.hpp>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>

namespace sluice::connector::http_stream {
namespace detail {

struct put_parser_impl {
  boost::json::basic_parser<put_handler> parser{boost::json::parse_options{}};
  std::uint64_t fed = 0;   // body bytes written so far
  bool failed = false;
  api_error error;

  bool fail(error_type t, std::string message, std::size_t record = api_error::no_record) {
    failed = true;
    error = {t, std::move(message), record};
    return false;
  }
  bool malformed(const boost::system::error_code& ec, std::uint64_t at) {
    std::string m = "Malformed JSON at byte ";
    append_uint(m, at);
    m += ": ";
    m += ec.message();
    return fail(error_type::serialization, std::move(m));
  }
  // Text after the document: only whitespace may follow it.
  bool trailing(std::string_view rest, std::uint64_t at) {
    for (std::size_t i = 0; i < rest.size(); ++i) {
      const char c = rest[i];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
        std::string m = "Malformed JSON at byte ";
        append_uint(m, at + i);
        m += ": unexpected data after the request's JSON object";
        return fail(error_type::serialization, std::move(m));
      }
    }
    return true;
  }
  bool handler_failed() {
    auto& h = parser.handler();
    if (!h.failed) return false;
    failed = true;
    error = std::move(h.error);
    return true;
  }
};

// Shared by the two small bodies: the JSON object, or a SerializationException.
inline bool small_body(std::string_view body, boost::json::value& v, api_error& error) {
  if (body.empty()) {
    error = {error_type::serialization, "The request body is empty: expected a JSON object", api_error::no_record};
    return false;
  }
  boost::system::error_code ec;
  v = boost::json::parse(boost::json::string_view(body.data(), body.size()), ec);
  if (ec) {
    error = {error_type::serialization, "Malformed JSON: " + ec.message(), api_error::no_record};
    return false;
  }
  if (!v.is_object()) {
    error = {error_type::serialization, "Expected a JSON object as the request body", api_error::no_record};
    return false;
  }
  return true;
}

inline std::string_view kind_name(const boost::json::value& v) noexcept {
  switch (v.kind()) {
    case boost::json::kind::string: return "a string";
    case boost::json::kind::object: return "an object";
    case boost::json::kind::array: return "a list";
    case boost::json::kind::bool_: return "a boolean";
    case boost::json::kind::null: return "null";
    default: return "a number";
  }
}

// "Expected a string at 'limit' but found a number": the SerializationException of a member of
// the wrong JSON type.
inline std::string expected_at(std::string_view what, std::string_view where, std::string_view found) {
  return std::string("Expected ").append(what).append(" at '").append(where).append("' but found ").append(found);
}

// A string member: false with a SerializationException for another type; `present` false when
// absent or null.
inline bool string_member(const boost::json::object& o, std::string_view name, std::string_view where,
                          std::string& value, bool& present, api_error& error) {
  present = false;
  const auto* v = o.if_contains(boost::json::string_view(name.data(), name.size()));
  if (v == nullptr || v->is_null()) return true;
  if (!v->is_string()) {
    error = {error_type::serialization, expected_at("a string", where, kind_name(*v)), api_error::no_record};
    return false;
  }
  value.assign(v->get_string().data(), v->get_string().size());
  present = true;
  return true;
}

// The Limit member (1..10000); numbers with a fraction are cut down as the services' Java
// deserializer does (kinesalite validations/index.js).
inline bool limit_member(const boost::json::object& o, std::string_view where, std::uint32_t& limit,
                         validation_log& log, api_error& error) {
  const auto* v = o.if_contains("Limit");
  if (v == nullptr || v->is_null()) return true;
  double value = 0;
  if (v->is_int64()) value = static_cast<double>(v->get_int64());
  else if (v->is_uint64()) value = static_cast<double>(v->get_uint64());
  else if (v->is_double()) value = std::floor(v->get_double());
  else {
    error = {error_type::serialization, expected_at("an integer", where, kind_name(*v)), api_error::no_record};
    return false;
  }
  std::string shown = "'" + boost::json::serialize(*v) + "'";
  if (value < 1) log.add(shown, where, "Member must have value greater than or equal to 1");
  else if (value > limits::list_max_limit) log.add(shown, where, "Member must have value less than or equal to 10000");
  else limit = static_cast<std::uint32_t>(value);
  return true;
}

}  // namespace detail

// ---- request_parser ----------------------------------------------------------------------------

SLUICE_DECL request_parser::request_parser() : impl_(std::make_unique<detail::put_parser_impl>()) {}
SLUICE_DECL request_parser::~request_parser() = default;

SLUICE_DECL void request_parser::start(operation op, put_request& out) {
  SLUICE_ASSERT(is_put(op));
  out.clear();
  out.op_ = op;
  impl_->parser.reset();
  impl_->parser.handler().begin(op, out);
  impl_->fed = 0;
  impl_->failed = false;
  impl_->error = {};
}

SLUICE_DECL bool request_parser::write(std::string_view piece) {
  auto& p = *impl_;
  if (p.failed) return false;
  if (piece.empty()) return true;
  if (p.parser.done()) {
    const bool ok = p.trailing(piece, p.fed);
    p.fed += piece.size();
    return ok;
  }
  boost::system::error_code ec;
  const std::size_t n = p.parser.write_some(true, piece.data(), piece.size(), ec);
  if (p.handler_failed()) return false;
  if (ec) return p.malformed(ec, p.fed + n);
  if (n < piece.size() && !p.trailing(piece.substr(n), p.fed + n)) return false;
  p.fed += piece.size();
  return true;
}

SLUICE_DECL bool request_parser::finish() {
  auto& p = *impl_;
  if (p.failed) return false;
  if (p.fed == 0) return p.fail(error_type::serialization, "The request body is empty: expected a JSON object");
  if (!p.parser.done()) {
    static constexpr char none[1] = {0};
    boost::system::error_code ec;
    p.parser.write_some(false, none, 0, ec);
    if (p.handler_failed()) return false;
    if (ec) return p.malformed(ec, p.fed);
  }
  auto& h = p.parser.handler();
  if (!h.finish()) {
    p.failed = true;
    p.error = std::move(h.error);
    return false;
  }
  return true;
}

SLUICE_DECL bool request_parser::parse(operation op, std::string_view body, put_request& out) {
  start(op, out);
  // One allocation up front: the decoded size of the whole body, within the request's bound.
  const auto& h = impl_->parser.handler();
  out.data_.reserve_more(std::min(body.size() / 4 * 3, h.budget + 2));
  return write(body) && finish();
}

SLUICE_DECL const api_error& request_parser::error() const noexcept { return impl_->error; }

// ---- the small bodies ----------------------------------------------------------------------------

SLUICE_DECL bool parse_list_delivery_streams(std::string_view body, list_delivery_streams_request& out,
                                             api_error& error) {
  out = {};
  boost::json::value v;
  if (!detail::small_body(body, v, error)) return false;
  const auto& o = v.get_object();
  detail::validation_log log;
  bool present = false;
  if (!detail::limit_member(o, "limit", out.limit, log, error)) return false;
  if (!detail::string_member(o, "DeliveryStreamType", "deliveryStreamType", out.delivery_stream_type, present, error))
    return false;
  if (present && out.delivery_stream_type != "DirectPut" && out.delivery_stream_type != "KinesisStreamAsSource")
    log.add(detail::quoted(out.delivery_stream_type), "deliveryStreamType",
            "Member must satisfy enum value set: [DirectPut, KinesisStreamAsSource]");
  if (!detail::string_member(o, "ExclusiveStartDeliveryStreamName", "exclusiveStartDeliveryStreamName",
                             out.exclusive_start_delivery_stream_name, present, error))
    return false;
  if (present) {
    const auto& n = out.exclusive_start_delivery_stream_name;
    if (!detail::is_stream_name(n))
      log.add(detail::quoted(n), "exclusiveStartDeliveryStreamName", detail::pattern(detail::stream_name_pattern));
    if (n.empty()) log.add(detail::quoted(n), "exclusiveStartDeliveryStreamName", detail::at_least(1));
    if (n.size() > limits::firehose_max_stream_name)
      log.add(detail::quoted(n), "exclusiveStartDeliveryStreamName", detail::at_most(limits::firehose_max_stream_name));
  }
  if (!log.empty()) {
    error = {error_type::validation, log.message(), api_error::no_record};
    return false;
  }
  return true;
}

SLUICE_DECL bool parse_describe_delivery_stream(std::string_view body, describe_delivery_stream_request& out,
                                                api_error& error) {
  out = {};
  boost::json::value v;
  if (!detail::small_body(body, v, error)) return false;
  const auto& o = v.get_object();
  detail::validation_log log;
  bool present = false;
  if (!detail::string_member(o, "DeliveryStreamName", "deliveryStreamName", out.delivery_stream_name, present, error))
    return false;
  if (!present) {
    log.add("null", "deliveryStreamName", detail::not_null);
  } else {
    const auto& n = out.delivery_stream_name;
    if (!detail::is_stream_name(n))
      log.add(detail::quoted(n), "deliveryStreamName", detail::pattern(detail::stream_name_pattern));
    if (n.empty()) log.add(detail::quoted(n), "deliveryStreamName", detail::at_least(1));
    if (n.size() > limits::firehose_max_stream_name)
      log.add(detail::quoted(n), "deliveryStreamName", detail::at_most(limits::firehose_max_stream_name));
  }
  if (!detail::limit_member(o, "limit", out.limit, log, error)) return false;
  if (!detail::string_member(o, "ExclusiveStartDestinationId", "exclusiveStartDestinationId",
                             out.exclusive_start_destination_id, present, error))
    return false;
  if (present) {
    const auto& d = out.exclusive_start_destination_id;
    constexpr std::string_view id_chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";
    const bool ok = !d.empty() && d.find_first_not_of(id_chars) == std::string::npos;
    if (!ok) log.add(detail::quoted(d), "exclusiveStartDestinationId", detail::pattern("[a-zA-Z0-9-]+"));
    if (d.empty()) log.add(detail::quoted(d), "exclusiveStartDestinationId", detail::at_least(1));
    if (d.size() > 100) log.add(detail::quoted(d), "exclusiveStartDestinationId", detail::at_most(100));
  }
  if (!log.empty()) {
    error = {error_type::validation, log.message(), api_error::no_record};
    return false;
  }
  return true;
}

}  // namespace sluice::connector::http_stream
