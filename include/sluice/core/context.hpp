// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/cursor.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/metrics.hpp>
#include <sluice/core/object.hpp>
#include <sluice/core/record.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

namespace sluice {
inline namespace v0 {

/// A record that a stage could not handle, with the reason: what the error output receives.
struct record_error {
  sluice::cursor cursor;
  error_code code;       ///< a sluice::errc value, e.g. errc::invalid_record
  std::string stage;     ///< the stage that rejected it, e.g. "transform::validate"
  std::string reason;    ///< names what was wrong and where: "field `user_id`: expected a string"
  std::string payload;   ///< the record's bytes as they reached the stage
  std::string partition;
};

/// How a pipeline runs: the stream name its objects carry, where source positions are
/// checkpointed, and where rejected records go.
struct pipeline_options {
  /// `{stream}` in key templates, and the object's stream fact.
  std::string stream = "default";
  /// File of committed source positions; empty keeps them in memory only (no resume).
  std::filesystem::path checkpoint;
  /// The error output. Default: one line per record on stderr. It is called from the thread of
  /// the rejecting stage, one call at a time.
  std::function<void(const record_error&)> on_error;
  /// Where stages say what an operator should know (a fallback taken, an upload resumed).
  /// Default: one line on stderr. Called from the stage's thread, one call at a time.
  std::function<void(std::string_view stage, std::string_view message)> on_log;
  /// The checkpoint file is rewritten at most this often (and once more when the run ends).
  std::chrono::milliseconds checkpoint_interval{1000};
  /// How often stages with age triggers are ticked.
  std::chrono::milliseconds tick_interval{100};
};

/// What every stage can reach while a pipeline runs: its options, counters, the cursor tracker,
/// the checkpoint store, the error output and the stop token.
///
/// Thread safety: all members may be used from any stage's thread.
/// Lifetime: created by pipeline::run() and valid until it returns.
class run_context {
 public:
  run_context(const pipeline_options& options, sluice::metrics& m, std::stop_token stop)
      : options_(options), metrics_(m), stop_(std::move(stop)),
        checkpoints_(options.checkpoint.empty() ? checkpoint_store()
                                                : checkpoint_store(options.checkpoint, options.checkpoint_interval)) {}
  run_context(const run_context&) = delete;
  run_context& operator=(const run_context&) = delete;

  [[nodiscard]] const pipeline_options& options() const noexcept { return options_; }
  [[nodiscard]] const std::string& stream() const noexcept { return options_.stream; }
  [[nodiscard]] sluice::metrics& metrics() noexcept { return metrics_; }
  [[nodiscard]] cursor_tracker& tracker() noexcept { return tracker_; }
  [[nodiscard]] checkpoint_store& checkpoints() noexcept { return checkpoints_; }
  [[nodiscard]] std::stop_token stop_token() const noexcept { return stop_; }

  /// Registers a source position stream whose commits go to the checkpoint store, and returns
  /// its id with the position to resume after (nullopt: start from the beginning).
  std::pair<std::uint32_t, std::optional<std::uint64_t>> add_source(const std::string& name) {
    auto [found, position] = checkpoints_.get(name);
    std::uint32_t id = tracker_.add_source(name, [this, name](std::uint64_t p) { checkpoints_.put(name, p); });
    return {id, found ? std::optional<std::uint64_t>(position) : std::nullopt};
  }

  /// Sends a record to the error output, counts it and acknowledges its cursor: a rejected
  /// record is handled, so it does not hold back the source's checkpoint.
  void reject(const record_ref& r, error_code code, std::string reason, std::string_view stage) {
    record_error e{r.cursor, code, std::string(stage), std::move(reason), std::string(r.payload),
                   std::string(r.partition)};
    {
      std::lock_guard lock(error_mutex_);
      if (options_.on_error) {
        options_.on_error(e);
      } else {
        std::fprintf(stderr, "sluice: %s: record at position %llu rejected (%s): %s\n", e.stage.c_str(),
                     static_cast<unsigned long long>(e.cursor.position), e.code.message().c_str(),
                     e.reason.c_str());
      }
    }
    metrics_.add_error();
    tracker_.ack(r.cursor);
  }

  /// Tells the operator something worth knowing that is not an error of a record.
  void log(std::string_view stage, std::string_view message) {
    std::lock_guard lock(error_mutex_);
    if (options_.on_log) options_.on_log(stage, message);
    else std::fprintf(stderr, "sluice: %.*s: %.*s\n", static_cast<int>(stage.size()), stage.data(),
                      static_cast<int>(message.size()), message.data());
  }

  /// A new object_piece::object_id, unique within the run across every worker's batcher.
  [[nodiscard]] std::uint64_t next_object_id() noexcept { return next_object_id_.fetch_add(1) + 1; }

  /// Acknowledges records a stage dropped on purpose (a filter): they are handled.
  void drop(const cursor_set& dropped) {
    metrics_.add_dropped(dropped.count());
    tracker_.ack(dropped);
  }

  /// Called by a sink once `o` is durable: counts it and acknowledges its records.
  void acknowledge(const object& o) { acknowledge(o, o.body.size()); }
  /// The same, for a sink that has already let go of the body: `stored_bytes` is its size.
  void acknowledge(const object& o, std::uint64_t stored_bytes) {
    auto latency = o.opened_at == std::chrono::steady_clock::time_point{}
                       ? std::chrono::nanoseconds{}
                       : std::chrono::steady_clock::now() - o.opened_at;
    metrics_.add_object(o.record_count, stored_bytes,
                        std::chrono::duration_cast<std::chrono::nanoseconds>(latency));
    tracker_.ack(o.covered);
  }

 private:
  const pipeline_options& options_;
  sluice::metrics& metrics_;
  std::stop_token stop_;
  checkpoint_store checkpoints_;
  cursor_tracker tracker_;
  std::mutex error_mutex_;
  std::atomic<std::uint64_t> next_object_id_{0};
};

}  // namespace v0
}  // namespace sluice
