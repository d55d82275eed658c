// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/concepts.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/cursor.hpp>
#include <sluice/core/pipeline.hpp>
#include <sluice/core/record_batch.hpp>
#include <sluice/format/json.hpp>
#include <sluice/format/transform/detail/survivors.hpp>

#include <boost/json.hpp>

#include <type_traits>
#include <utility>

namespace sluice::transform {
using sluice::operator|;

/// Keeps the records for which `pred` returns true; the others are dropped on purpose.
///
/// `pred(const boost::json::object&) -> bool` sees each record parsed as a JSON object. Dropped
/// records are acknowledged through run_context::drop (counted as `dropped`), one call per
/// push. When every record of a batch is kept, the batch goes on as it is (no copy).
///
/// Errors: a record that is not a JSON object is rejected with errc::invalid_record naming the
/// byte of the parse error; an exception from `pred` rejects the record with
/// errc::transform_failed and the exception's text. A `noexcept` `pred` runs without a try.
/// Allocation: records are parsed into an arena reused from record to record.
///
/// @code
///   auto p = connector::files{.root = "/data/in"}
///          | transform::filter{[](const boost::json::object& o) noexcept { return !o.contains("test"); }}
///          | batch::by_size{}
///          | format::jsonl{}
///          | store::local{.root = "./lake"};
/// @endcode
template <class Pred>
struct filter {
  using stage_concept = stage_tag;
  using input_type = record_batch;
  using output_type = record_batch;

  /// Whether a record is kept.
  Pred pred;

  static_assert(std::is_invocable_r_v<bool, Pred&, const boost::json::object&>,
                "sluice: transform::filter takes pred(const boost::json::object&) -> bool");

  template <class Next>
  class node {
   public:
    template <class MakeNext>
    node(const Pred& pred, run_context& ctx, MakeNext&& make_next) : pred_(pred), ctx_(ctx), next_(make_next()) {}
    node(const node&) = delete;
    node& operator=(const node&) = delete;

    void push(record_batch&& in) {
      out_.begin(in);
      dropped_.clear();
      for (std::size_t i = 0; i < in.size(); ++i) {
        const record_ref r = in[i];
        const boost::json::object* o = reader_.parse_object(r, ctx_, "transform::filter");
        if (o == nullptr) {
          out_.remove(i);
          continue;
        }
        constexpr bool nothrow = std::is_nothrow_invocable_v<Pred&, const boost::json::object&>;
        bool keep = false;
        if (!detail::run_guarded<nothrow>(ctx_, r, "transform::filter", "the filter predicate",
                                          [&]() noexcept(nothrow) { keep = static_cast<bool>(pred_(*o)); })) {
          out_.remove(i);
          continue;
        }
        if (keep) {
          out_.keep(i);
        } else {
          dropped_.add(r.cursor);
          out_.remove(i);
        }
      }
      if (!dropped_.empty()) ctx_.drop(dropped_);
      out_.finish(next_);
    }
    void flush() { next_.flush(); }
    void tick() { next_.tick(); }

   private:
    Pred pred_;
    run_context& ctx_;
    format::json_reader reader_;
    cursor_set dropped_;
    detail::survivors out_;
    Next next_;
  };

  template <class MakeNext>
  auto open(run_context& ctx, MakeNext&& make_next) const {
    return node<decltype(make_next())>(pred, ctx, make_next);
  }
};

template <class Pred>
filter(Pred) -> filter<Pred>;

}  // namespace sluice::transform
