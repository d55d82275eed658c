// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/concepts.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/pipeline.hpp>
#include <sluice/core/record_batch.hpp>
#include <sluice/format/json.hpp>
#include <sluice/format/transform/detail/survivors.hpp>

#include <boost/json.hpp>

#include <string>
#include <vector>

namespace sluice::transform {
using sluice::operator|;
using format::json_kind;

/// A field transform::validate requires: a key or dotted path, and the kind of its value.
struct required_field {
  std::string field;
  json_kind kind = json_kind::string;
};

/// Sends records that are not JSON objects, or lack a required field, or hold a value of the
/// wrong kind there, to the error output; the others go on untouched (when all of a batch is
/// valid, the batch itself goes on: no copy).
///
/// `required` lists keys or dotted paths (`user.id`) with the kind their value must have;
/// json_kind::number accepts integers too, json_kind::integer only integers.
///
/// Errors: bad JSON is rejected with errc::invalid_record naming the byte of the parse error
/// (`invalid JSON at byte 11: syntax error`) and a JSON value other than an object with
/// errc::invalid_record too; a missing field or a wrong kind with errc::validation_failed and
/// a reason naming the field, the expected and the actual kind (`field `price`: expected
/// number, got string`). The first failing field is reported. open() throws config_error when
/// `required` is empty or names an empty field. (The stage is called validate, so its
/// configuration check is in open() rather than a validate() member.)
/// Allocation: records are parsed into an arena reused from record to record.
///
/// @code
///   auto p = connector::files{.path = "/data/in"}
///          | transform::validate{.required = {{"user_id", json_kind::string},
///                                             {"ts", json_kind::string},
///                                             {"price", json_kind::number}}}
///          | batch::by_size{}
///          | format::jsonl{}
///          | store::local{.root = "./lake"};
/// @endcode
struct validate {
  using stage_concept = stage_tag;
  using input_type = record_batch;
  using output_type = record_batch;

  /// What each record must hold.
  std::vector<required_field> required;

  template <class Next>
  class node;

  template <class MakeNext>
  auto open(run_context& ctx, MakeNext&& make_next) const {
    if (required.empty()) throw config_error("transform::validate.required is empty: name at least one field");
    for (const auto& rule : required)
      if (rule.field.empty()) throw config_error("transform::validate.required: a field name is empty");
    return node<decltype(make_next())>(*this, ctx, make_next);
  }
};

/// The running validate stage.
template <class Next>
class validate::node {
 public:
  template <class MakeNext>
  node(const validate& config, run_context& ctx, MakeNext&& make_next)
      : config_(config), ctx_(ctx), next_(make_next()) {}
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  void push(record_batch&& in) {
    out_.begin(in);
    for (std::size_t i = 0; i < in.size(); ++i) {
      const record_ref r = in[i];
      const boost::json::object* o = reader_.parse_object(r, ctx_, "transform::validate");
      if (o == nullptr) {
        out_.remove(i);
        continue;
      }
      if (check(r, *o)) {
        out_.keep(i);
      } else {
        out_.remove(i);
      }
    }
    out_.finish(next_);
  }
  void flush() { next_.flush(); }
  void tick() { next_.tick(); }

 private:
  bool check(const record_ref& r, const boost::json::object& o) {
    for (const auto& rule : config_.required) {
      const boost::json::value* v = format::find_path(o, rule.field);
      if (v == nullptr) {
        ctx_.reject(r, make_error_code(errc::validation_failed),
                    "field `" + rule.field + "`: missing (expected " + format::kind_name(rule.kind) + ")",
                    "transform::validate");
        return false;
      }
      if (!format::is_kind(*v, rule.kind)) {
        ctx_.reject(r, make_error_code(errc::validation_failed),
                    "field `" + rule.field + "`: expected " + format::kind_name(rule.kind) + ", got " +
                        format::kind_name(format::kind_of(*v)),
                    "transform::validate");
        return false;
      }
    }
    return true;
  }

  const validate config_;
  run_context& ctx_;
  format::json_reader reader_;
  detail::survivors out_;
  Next next_;
};

}  // namespace sluice::transform
