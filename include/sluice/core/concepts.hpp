// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/object.hpp>
#include <sluice/core/record_batch.hpp>

#include <concepts>
#include <stop_token>
#include <type_traits>

namespace sluice {
inline namespace v0 {

/// Opt-in tags: a type says what it is with `using stage_concept = sluice::stage_tag;` and is
/// then checked structurally on its members.
struct source_tag {};
struct stage_tag {};
struct sink_tag {};

/// `input_type` of stages that pass on whatever they receive (queues, buffers of any kind).
struct any_input {};

namespace detail {
/// Stand-ins for the downstream of a stage, used only to check the contracts below.
template <class T>
struct probe_node {
  void push(T&&);
  void flush();
  void tick();
};
template <class T>
struct probe_factory {
  probe_node<T> operator()() const;
};
}  // namespace detail

/// A running node: what open() returns. It takes values of T one at a time from one thread
/// (push), emits what it holds on flush (drain), and handles age triggers on tick.
template <class N, class T>
concept node_of = requires(N& n, T&& value) {
  n.push(std::move(value));
  n.flush();
  n.tick();
};

/// The type a stage emits when it receives In.
template <class S, class In>
using stage_output_t = std::conditional_t<std::is_same_v<typename S::input_type, any_input>, In,
                                          typename S::output_type>;

/// A source: opened once per run into a state that reads until its input ends or stop is
/// requested, pushing record_batch values into the pipeline.
///
/// Contract: `S::open(run_context&)` returns the state; `state.run(out, stop_token)` calls
/// `out.push(record_batch&&)`; the state registers its position streams with
/// `run_context::add_source` and resumes from what that returns.
template <class S>
concept source = std::same_as<typename S::stage_concept, source_tag> &&
                 requires(const S& s, run_context& ctx) { s.open(ctx); } &&
                 requires(std::remove_cvref_t<decltype(std::declval<const S&>().open(
                              std::declval<run_context&>()))>& state,
                          detail::probe_node<record_batch>& out, std::stop_token stop) {
                   state.run(out, stop);
                 };

/// A stage that receives In: `S::open(run_context&, make_next)` returns a node of In, where
/// `make_next()` opens the rest of the pipeline (called once; N times by a queue with N
/// workers).
template <class S, class In>
concept stage = std::same_as<typename S::stage_concept, stage_tag> &&
                (std::same_as<typename S::input_type, In> || std::same_as<typename S::input_type, any_input>) &&
                requires(const S& s, run_context& ctx) {
                  { s.open(ctx, detail::probe_factory<stage_output_t<S, In>>{}) } -> node_of<In>;
                };

/// Stages by what flows: record_batch -> record_batch (transforms, batchers, buffers),
/// record_batch -> object (formats), object -> object (codecs, encryptors).
template <class S>
concept record_stage = stage<S, record_batch> && std::same_as<stage_output_t<S, record_batch>, record_batch>;
template <class S>
concept format_stage = stage<S, record_batch> && std::same_as<stage_output_t<S, record_batch>, object>;
template <class S>
concept object_stage = stage<S, object> && std::same_as<stage_output_t<S, object>, object>;

/// The end of a pipeline: `S::open(run_context&)` returns a node of In that makes what it
/// receives durable and then calls run_context::acknowledge.
template <class S, class In = object>
concept sink = std::same_as<typename S::stage_concept, sink_tag> && std::same_as<typename S::input_type, In> &&
               requires(const S& s, run_context& ctx) {
                 { s.open(ctx) } -> node_of<In>;
               };

}  // namespace v0
}  // namespace sluice
