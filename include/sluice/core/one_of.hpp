// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/concepts.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/pipeline.hpp>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <new>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

namespace sluice {
inline namespace v0 {

/// One of several stages (or of several sinks) chosen at run time: the pipeline's type lists
/// them all, its configuration holds the chosen one. This is how a configuration file picks the
/// compression (`one_of<codec::zstd, codec::gzip, codec::none>`), whether objects are encrypted
/// (`one_of<crypto::envelope, codec::none>`) or where they land (`one_of<store::local,
/// store::s3>`) without a pipeline type per combination.
///
/// Only the chosen alternative is opened. Each call on the running node goes to it through one
/// std::visit: a jump per batch or object, never per record, so choose among stages that take
/// batches or objects.
///
/// Requirements: every alternative has the same stage_concept, input_type and output_type (sinks:
/// the same input_type). validate(), emits_pieces() and check_takes_pieces() forward to the
/// chosen alternative when it has them.
/// @code
///   using compression = sluice::one_of<codec::zstd, codec::gzip, codec::none>;
///   compression c{codec::gzip{.level = 6}};   // from a configuration file
///   auto tail = format::jsonl{} | c | store::local{.root = "./lake"};
/// @endcode
namespace detail {
/// A stage's output_type; void for a sink, which has none.
template <class T>
struct output_of {
  using type = void;
};
template <class T>
  requires requires { typename T::output_type; }
struct output_of<T> {
  using type = typename T::output_type;
};
}  // namespace detail

template <class First, class... Rest>
struct one_of {
  using stage_concept = typename First::stage_concept;
  using input_type = typename First::input_type;
  static_assert((std::is_same_v<typename Rest::stage_concept, stage_concept> && ...),
                "sluice::one_of: the alternatives must all be stages, or all sinks");
  static_assert((std::is_same_v<typename Rest::input_type, input_type> && ...),
                "sluice::one_of: the alternatives must take the same input_type");
  using output_type = typename detail::output_of<First>::type;
  static_assert((std::is_same_v<typename detail::output_of<Rest>::type, output_type> && ...),
                "sluice::one_of: the alternatives must emit the same output_type");

  std::variant<First, Rest...> chosen;

  one_of() = default;
  template <class T>
    requires(std::is_same_v<std::remove_cvref_t<T>, First> || (std::is_same_v<std::remove_cvref_t<T>, Rest> || ...))
  one_of(T&& alternative) : chosen(std::forward<T>(alternative)) {}  // NOLINT: implicit, as std::variant's

  void validate() const {
    std::visit([](const auto& s) {
      if constexpr (requires { s.validate(); }) s.validate();
    }, chosen);
  }
  [[nodiscard]] bool emits_pieces() const {
    return std::visit([](const auto& s) {
      if constexpr (requires { s.emits_pieces(); }) return s.emits_pieces();
      else return false;
    }, chosen);
  }
  void check_takes_pieces() const {
    std::visit([](const auto& s) {
      if constexpr (requires { s.check_takes_pieces(); }) s.check_takes_pieces();
    }, chosen);
  }

  /// The running node: the chosen alternative's node, built in place. (Not a std::variant:
  /// nodes own threads and files and never move, and a variant cannot build an alternative from
  /// the prvalue open() returns without moving it.)
  template <class... Nodes>
  class node {
   public:
    template <class Open>
    node(std::size_t index, Open&& open) {
      build(index, open, std::index_sequence_for<Nodes...>{});
    }
    node(const node&) = delete;
    node& operator=(const node&) = delete;
    ~node() {
      visit([](auto& n) { std::destroy_at(&n); });
    }

    template <class T>
    void push(T&& value) {
      visit([&](auto& n) { n.push(std::forward<T>(value)); });
    }
    void flush() {
      visit([](auto& n) { n.flush(); });
    }
    void tick() {
      visit([](auto& n) { n.tick(); });
    }

   private:
    template <std::size_t I>
    using nth = std::tuple_element_t<I, std::tuple<Nodes...>>;

    template <class Open, std::size_t... I>
    void build(std::size_t index, Open& open, std::index_sequence<I...>) {
      // A placement new from open()'s prvalue: the node is built where it stays.
      (void)((index == I ? (::new (static_cast<void*>(storage_)) nth<I>(open(std::integral_constant<std::size_t, I>{})),
                            index_ = I, true)
                         : false) ||
             ...);
    }
    template <class F>
    void visit(F&& f) {
      visit_each(f, std::index_sequence_for<Nodes...>{});
    }
    template <class F, std::size_t... I>
    void visit_each(F& f, std::index_sequence<I...>) {
      (void)((index_ == I ? (f(*std::launder(reinterpret_cast<nth<I>*>(storage_))), true) : false) || ...);
    }

    static constexpr std::size_t none = sizeof...(Nodes);
    alignas(Nodes...) unsigned char storage_[std::max({sizeof(Nodes)...})];
    std::size_t index_ = none;  // set once the chosen node is built, so a throwing open() destroys nothing
  };

  /// Stages: opens the chosen alternative with the rest of the pipeline.
  template <class MakeNext>
    requires std::is_same_v<stage_concept, stage_tag>
  auto open(run_context& ctx, MakeNext&& make_next) const {
    using node_type = node<decltype(std::declval<const First&>().open(ctx, make_next)),
                           decltype(std::declval<const Rest&>().open(ctx, make_next))...>;
    return node_type(chosen.index(), [&](auto i) { return std::get<decltype(i)::value>(chosen).open(ctx, make_next); });
  }
  /// Sinks.
  auto open(run_context& ctx) const
    requires std::is_same_v<stage_concept, sink_tag>
  {
    using node_type = node<decltype(std::declval<const First&>().open(ctx)),
                           decltype(std::declval<const Rest&>().open(ctx))...>;
    return node_type(chosen.index(), [&](auto i) { return std::get<decltype(i)::value>(chosen).open(ctx); });
  }
};

}  // namespace v0
}  // namespace sluice
