// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/concepts.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/metrics.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <stop_token>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>

namespace sluice {
inline namespace v0 {

template <class... Parts>
class pipeline;

namespace detail {

/// What flows out of a part list: the type after the last part, `nothing` after a sink, and
/// `unknown` before the first typed stage of a closure that starts with a pass-through stage.
struct nothing {};
struct unknown {};

template <class T>
concept described = requires { typename T::stage_concept; };

template <class In, class Part>
struct step;
template <class In, class Part>
  requires std::same_as<typename Part::stage_concept, source_tag>
struct step<In, Part> {
  static_assert(std::is_same_v<In, unknown>,
                "sluice: a source can only start a pipeline; `source | source` and `stage | source` "
                "have two starts: put each source in its own pipeline");
  using type = typename Part::output_type;
};
template <class In, class Part>
  requires std::same_as<typename Part::stage_concept, stage_tag>
struct step<In, Part> {
  static_assert(!std::is_same_v<In, nothing>,
                "sluice: nothing can follow a sink (store::); the pipeline already ends there");
  static_assert(!(std::is_same_v<In, record_batch> && std::is_same_v<typename Part::input_type, object>),
                "sluice: this stage takes sluice::object but receives sluice::record_batch; "
                "put a format:: stage (format::jsonl, format::csv) before it");
  static_assert(!(std::is_same_v<In, object> && std::is_same_v<typename Part::input_type, record_batch>),
                "sluice: this stage takes sluice::record_batch but receives sluice::object; "
                "record stages and batchers go before the format:: stage");
  using type = std::conditional_t<std::is_same_v<typename Part::input_type, any_input>, In,
                                  typename Part::output_type>;
};
template <class In, class Part>
  requires std::same_as<typename Part::stage_concept, sink_tag>
struct step<In, Part> {
  static_assert(!std::is_same_v<In, nothing>,
                "sluice: a pipeline can have only one sink (store::)");
  static_assert(!std::is_same_v<In, record_batch>,
                "sluice: this sink takes sluice::object but receives sluice::record_batch; "
                "put a format:: stage (format::jsonl, format::csv) before it");
  using type = nothing;
};

template <class In, class... Parts>
struct flow {
  using type = In;
};
template <class In, class First, class... Rest>
struct flow<In, First, Rest...> : flow<typename step<In, First>::type, Rest...> {};

template <class... Parts>
using flow_t = typename flow<unknown, Parts...>::type;

template <class T>
struct is_pipeline : std::false_type {};
template <class... Parts>
struct is_pipeline<pipeline<Parts...>> : std::true_type {};

template <class T>
concept composable = described<std::remove_cvref_t<T>> || is_pipeline<std::remove_cvref_t<T>>::value;

/// The first node of a running pipeline: counts and tracks what sources push, and serializes
/// sources that push from several threads.
template <class Chain>
class entry_node {
 public:
  template <class MakeChain>
  entry_node(run_context& ctx, MakeChain&& make_chain) : ctx_(ctx), chain_(make_chain()) {}

  /// Takes a batch from a source. Errors: what the chain throws; a queue that rejects for
  /// back-pressure throws sluice::error(errc::buffer_full) and the batch's records are released
  /// (acknowledged), because the source hands the refusal back to its client.
  void push(record_batch&& batch) {
    if (batch.empty() && batch.piece().whole()) return;  // an empty piece may still end its object
    auto now = std::chrono::steady_clock::now();
    if (batch.opened_at() == std::chrono::steady_clock::time_point{}) batch.set_opened_at(now);
    std::lock_guard lock(mutex_);
    ctx_.metrics().add_in(batch.size(), batch.payload_bytes());
    ctx_.tracker().track(batch);
    try {
      chain_.push(std::move(batch));
    } catch (const error& e) {
      if (e.code() == make_error_code(errc::buffer_full)) release(batch);
      throw;
    }
  }
  void flush() {
    std::lock_guard lock(mutex_);
    chain_.flush();
  }
  void tick() {
    std::lock_guard lock(mutex_);
    chain_.tick();
  }

 private:
  void release(const record_batch& batch) {
    cursor_set released;
    for (const record_ref r : batch) released.add(r.cursor);
    ctx_.tracker().ack(released);
  }
  run_context& ctx_;
  std::mutex mutex_;
  Chain chain_;
};

}  // namespace detail

/// A pipeline: a source, stages and a sink, composed into one type at compile time.
///
/// `sluice::pipeline(src, stages..., sink)` and `src | stage | ... | sink` build the same type,
/// `pipeline<Source, Stages..., Sink>`. Without a source or a sink it is a storable closure
/// (`format::jsonl{} | codec::zstd{}`) that composes further with `|`.
///
/// A pipeline value is configuration: cheap to copy. run() validates every part, opens each
/// once into its running state (contexts, files, threads), runs the source until its input
/// ends or stop is requested, then drains: everything accepted is flushed to the sink.
///
/// Thread safety: metrics() may be read from any thread while run() runs. Copies share the
/// metrics object.
///
/// @code
///   auto p = connector::generator{.records = 1000}
///          | batch::by_size{.max_records = 100}
///          | format::jsonl{}
///          | store::local{.root = "./lake"};
///   p.options.stream = "clicks";
///   p.run();
/// @endcode
template <class... Parts>
class pipeline {
 public:
  pipeline_options options;

  constexpr explicit pipeline(Parts... parts) : parts_(std::move(parts)...) {
    (void)sizeof(detail::flow_t<Parts...>);  // composes the flow checks: misuse fails here
  }
  constexpr explicit pipeline(std::tuple<Parts...> parts) : parts_(std::move(parts)) {
    (void)sizeof(detail::flow_t<Parts...>);
  }

  [[nodiscard]] const std::tuple<Parts...>& parts() const& noexcept { return parts_; }
  [[nodiscard]] std::tuple<Parts...>&& parts() && noexcept { return std::move(parts_); }

  /// Counters of the current or last run.
  [[nodiscard]] const sluice::metrics& metrics() const noexcept { return *metrics_; }

  /// Runs until the source's input ends, then drains. Errors: config_error before the first
  /// record for invalid configuration; sluice::error when a stage's I/O fails for good.
  void run() { run(std::stop_token{}); }

  /// Runs until the source's input ends or `stop` is requested, then drains: stopping is not
  /// an error, and everything accepted is flushed before run returns.
  void run(std::stop_token stop) {
    using first = std::tuple_element_t<0, std::tuple<Parts...>>;
    using last = std::tuple_element_t<sizeof...(Parts) - 1, std::tuple<Parts...>>;
    static_assert(std::same_as<typename first::stage_concept, source_tag>,
                  "sluice: this pipeline has no source: start it with a connector:: source");
    static_assert(std::same_as<typename last::stage_concept, sink_tag>,
                  "sluice: this pipeline has no sink: end it with a store:: stage (store::local)");
    static_assert(source<first>, "sluice: the first part does not model sluice::source");

    validate();
    run_context ctx(options, *metrics_, stop);
    detail::entry_node<decltype(open_from<1>(ctx))> entry(ctx, [&] { return open_from<1>(ctx); });
    auto state = std::get<0>(parts_).open(ctx);

    std::mutex tick_mutex;
    std::condition_variable_any tick_wakeup;
    std::jthread ticker([&](std::stop_token ticking) {
      std::unique_lock lock(tick_mutex);
      while (!tick_wakeup.wait_for(lock, ticking, options.tick_interval, [] { return false; })) {
        if (ticking.stop_requested()) return;
        entry.tick();
      }
    });
    state.run(entry, stop);
    ticker.request_stop();
    ticker.join();
    entry.flush();
    ctx.checkpoints().sync();  // the commits of the drain, on disk before run returns
  }

  /// Checks every part's configuration (their validate() members) without running anything,
  /// and that the parts after a stage that streams objects in pieces keep the pieces in order.
  void validate() const {
    std::apply([](const auto&... part) { (validate_one(part), ...); }, parts_);
    bool pieces = false;
    std::apply([&](const auto&... part) { (check_piece_order(part, pieces), ...); }, parts_);
  }

 private:
  template <class Part>
  static void validate_one(const Part& part) {
    if constexpr (requires { part.validate(); }) part.validate();
  }
  /// A part that `emits_pieces()` (a streaming batcher) turns on the check of the parts after
  /// it that could reorder or split the pieces of an object (`check_takes_pieces()`).
  template <class Part>
  static void check_piece_order(const Part& part, bool& pieces) {
    if constexpr (requires { part.check_takes_pieces(); })
      if (pieces) part.check_takes_pieces();
    if constexpr (requires { part.emits_pieces(); })
      if (part.emits_pieces()) pieces = true;
  }

  template <std::size_t I>
  auto open_from(run_context& ctx) const {
    const auto& part = std::get<I>(parts_);
    if constexpr (I + 1 == sizeof...(Parts)) {
      return part.open(ctx);
    } else {
      return part.open(ctx, [this, &ctx] { return open_from<I + 1>(ctx); });
    }
  }

  std::tuple<Parts...> parts_;
  std::shared_ptr<sluice::metrics> metrics_ = std::make_shared<sluice::metrics>();
};

template <class... Parts>
pipeline(Parts...) -> pipeline<Parts...>;

namespace detail {
template <class T>
auto as_tuple(T&& part) {
  if constexpr (is_pipeline<std::remove_cvref_t<T>>::value)
    return std::forward<T>(part).parts();
  else
    return std::tuple<std::remove_cvref_t<T>>(std::forward<T>(part));
}
template <class... Parts>
auto make_pipeline(std::tuple<Parts...>&& parts) {
  return pipeline<Parts...>(std::move(parts));
}
}  // namespace detail

/// Composes sources, stages, sinks and closures: `a | b` is pipeline<parts of a..., parts of b...>.
template <class L, class R>
  requires detail::composable<L> && detail::composable<R>
auto operator|(L&& left, R&& right) {
  return detail::make_pipeline(std::tuple_cat(detail::as_tuple(std::forward<L>(left)),
                                              detail::as_tuple(std::forward<R>(right))));
}

}  // namespace v0
}  // namespace sluice
