// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/concepts.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/pipeline.hpp>
#include <sluice/core/record_batch.hpp>
#include <sluice/format/json.hpp>
#include <sluice/format/transform/detail/survivors.hpp>

#include <boost/json.hpp>

#include <string>
#include <type_traits>
#include <utility>

/// Record transforms on JSON records (component sluice::json): map, filter, mask, validate,
/// partition_by. They take and emit record_batch, so they go before the batcher or between it
/// and the format. The headers live in format/transform/ because they read the record format.
namespace sluice::transform {
using sluice::operator|;
using format::json_kind;

/// Changes each record with a function.
///
/// Two forms, chosen by what `f` accepts:
/// - `f(boost::json::object&)` edits the record parsed as a JSON object; the record goes on as
///   compact JSON (format::append_json). A record that is not a JSON object is rejected with
///   errc::invalid_record naming the byte of the parse error.
/// - `f(const sluice::record_ref&) -> std::string` returns the new payload; nothing is parsed.
///   A generic lambda is taken as the first form, so spell `record_ref` for this one.
///
/// Members keep their order, except that Boost.JSON 1.81's object::erase moves the last member
/// into the erased one's place.
///
/// Errors: an exception from `f` rejects the record with errc::transform_failed and the
/// exception's text; the pipeline goes on. A `noexcept` `f` runs without a try block.
/// Allocation: records are parsed into an arena reused from record to record (what `f` adds
/// lives there too) and written into a batch reused from push to push.
///
/// @code
///   auto p = connector::files{.root = "/data/in"}
///          | transform::map{[](boost::json::object& o) { o["source"] = "files"; o.erase("debug"); }}
///          | batch::by_size{}
///          | format::jsonl{}
///          | store::local{.root = "./lake"};
/// @endcode
template <class F>
struct map {
  using stage_concept = stage_tag;
  using input_type = record_batch;
  using output_type = record_batch;

  /// The function applied to each record.
  F f;

  static constexpr bool object_form = std::is_invocable_v<F&, boost::json::object&>;
  // conjunction: a generic lambda taken as the object form is never instantiated with record_ref.
  static constexpr bool record_form =
      std::conjunction_v<std::negation<std::is_invocable<F&, boost::json::object&>>,
                         std::is_invocable_r<std::string, F&, const record_ref&>>;
  static_assert(object_form || record_form,
                "sluice: transform::map takes f(boost::json::object&) or f(const sluice::record_ref&) -> std::string");

  template <class Next>
  class node {
   public:
    template <class MakeNext>
    node(const F& f, run_context& ctx, MakeNext&& make_next) : f_(f), ctx_(ctx), next_(make_next()) {}
    node(const node&) = delete;
    node& operator=(const node&) = delete;

    void push(record_batch&& in) {
      out_.begin(in);
      for (std::size_t i = 0; i < in.size(); ++i) {
        const record_ref r = in[i];
        if constexpr (object_form) {
          boost::json::object* o = reader_.parse_object(r, ctx_, "transform::map");
          if (o == nullptr) {
            out_.remove(i);
            continue;
          }
          constexpr bool nothrow = std::is_nothrow_invocable_v<F&, boost::json::object&>;
          if (!detail::run_guarded<nothrow>(ctx_, r, "transform::map", "the map function", [&]() noexcept(nothrow) {
                f_(*o);
              })) {
            out_.remove(i);
            continue;
          }
          scratch_.clear();
          format::append_json(scratch_, *o);
          out_.replace(i, scratch_);
        } else {
          constexpr bool nothrow = std::is_nothrow_invocable_v<F&, const record_ref&>;
          std::string payload;
          if (!detail::run_guarded<nothrow>(ctx_, r, "transform::map", "the map function",
                                            [&]() noexcept(nothrow) { payload = f_(r); })) {
            out_.remove(i);
            continue;
          }
          out_.replace(i, payload);
        }
      }
      out_.finish(next_);
    }
    void flush() { next_.flush(); }
    void tick() { next_.tick(); }

   private:
    F f_;
    run_context& ctx_;
    format::json_reader reader_;
    std::string scratch_;
    detail::survivors out_;
    Next next_;
  };

  template <class MakeNext>
  auto open(run_context& ctx, MakeNext&& make_next) const {
    return node<decltype(make_next())>(f, ctx, make_next);
  }
};

template <class F>
map(F) -> map<F>;

}  // namespace sluice::transform
