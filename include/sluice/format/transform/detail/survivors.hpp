// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/record_batch.hpp>

#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace sluice::transform::detail {

/// Builds a transform's output batch from its input. While every record is kept as it is, the
/// input batch itself goes on (no copy); the first record removed or replaced switches to
/// copying the survivors into a batch the stage reuses from push to push.
///
/// Use: begin(in); then for each index i in order exactly one of keep / keep_with / replace /
/// replace_with / remove; then finish(next).
class survivors {
 public:
  void begin(record_batch& in) noexcept {
    in_ = &in;
    copying_ = false;
  }
  /// Record i goes on unchanged.
  void keep(std::size_t i) {
    if (copying_) out_.append((*in_)[i]);
  }
  /// Record i goes on with new partition keys and event time.
  void keep_with(std::size_t i, std::string_view partition, timestamp event_time) {
    if (copying_) {
      record_ref r = (*in_)[i];
      out_.append(r.payload, r.cursor, event_time, partition);
    } else {
      in_->set_partition(i, partition);
      in_->set_event_time(i, event_time);
    }
  }
  /// Record i goes on with a new payload.
  void replace(std::size_t i, std::string_view payload) {
    start_copying(i);
    record_ref r = (*in_)[i];
    out_.append(payload, r.cursor, r.event_time, r.partition);
  }
  /// Record i goes on with a new payload and new partition keys.
  void replace_with(std::size_t i, std::string_view payload, std::string_view partition) {
    start_copying(i);
    record_ref r = (*in_)[i];
    out_.append(payload, r.cursor, r.event_time, partition);
  }
  /// Record i goes on with `payload` then `suffix` as its payload (written in place: one copy)
  /// and new partition keys.
  void replace_with(std::size_t i, std::string_view payload, std::string_view suffix, std::string_view partition) {
    start_copying(i);
    record_ref r = (*in_)[i];
    out_.append_written(
        payload.size() + suffix.size(),
        [&](char* at) {
          std::memcpy(at, payload.data(), payload.size());
          std::memcpy(at + payload.size(), suffix.data(), suffix.size());
          return payload.size() + suffix.size();
        },
        r.cursor, r.event_time, partition);
  }
  /// Record i does not go on (rejected or dropped).
  void remove(std::size_t i) { start_copying(i); }

  /// Pushes what survived, if anything, and keeps the copy batch's capacity for the next push.
  template <class Next>
  void finish(Next& next) {
    if (!copying_) {
      if (!in_->empty()) next.push(std::move(*in_));
      return;
    }
    if (!out_.empty()) next.push(std::move(out_));
    out_.clear();  // the next stage has read it (or moved from it): reuse what is left
  }

 private:
  void start_copying(std::size_t i) {
    if (copying_) return;
    copying_ = true;
    out_.clear();
    out_.set_partition(in_->partition());
    out_.set_opened_at(in_->opened_at());
    for (std::size_t k = 0; k < i; ++k) out_.append((*in_)[k]);
  }

  record_batch* in_ = nullptr;
  record_batch out_;
  bool copying_ = false;
};

/// Runs `fn()`, a call of a user callable; an exception becomes a reject of `r` with
/// errc::transform_failed and the exception's text, and the result is false. When the user
/// callable is noexcept (`Nothrow`), no try block is set up.
template <bool Nothrow, class Fn>
bool run_guarded(run_context& ctx, const record_ref& r, std::string_view stage, std::string_view what, Fn&& fn) {
  if constexpr (Nothrow) {
    fn();
    return true;
  } else {
    try {
      fn();
      return true;
    } catch (const std::exception& e) {
      ctx.reject(r, make_error_code(errc::transform_failed), std::string(what) + " threw: " + e.what(), stage);
    } catch (...) {
      ctx.reject(r, make_error_code(errc::transform_failed), std::string(what) + " threw a non-standard exception",
                 stage);
    }
    return false;
  }
}

}  // namespace sluice::transform::detail
