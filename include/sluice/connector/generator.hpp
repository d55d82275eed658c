// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/concepts.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/detail/civil_time.hpp>
#include <sluice/core/detail/splitmix64.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/pipeline.hpp>
#include <sluice/core/record.hpp>
#include <sluice/core/record_batch.hpp>
#include <sluice/core/recycler.hpp>

#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <stop_token>
#include <string>
#include <string_view>

namespace sluice::connector {
using sluice::operator|;

namespace detail {

struct generator_tables {
  // Event types with skewed frequencies: a 100-slot table indexed by a random percentile.
  static constexpr std::array<std::string_view, 5> types{"page_view", "click", "search", "add_to_cart", "purchase"};
  static constexpr std::array<int, 5> percent{58, 24, 10, 6, 2};
  static constexpr std::array<std::string_view, 16> categories{
      "electronics", "books", "garden", "toys", "fashion", "sports", "beauty", "grocery",
      "automotive", "music", "movies", "health", "office", "pets", "baby", "tools"};
  static constexpr std::array<std::string_view, 8> referrers{
      "https://www.google.com/search?q=best+deals", "https://www.bing.com/search?q=shop+online",
      "https://duckduckgo.com/?q=product+reviews", "https://www.facebook.com/",
      "https://t.co/aB3xY9kLmN", "https://news.ycombinator.com/", "https://shop.example.com/",
      "https://mail.example.org/newsletter/2024-05"};
  struct agent {
    std::string_view ua, device, os;
  };
  static constexpr std::array<agent, 8> agents{{
      {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
       "desktop", "windows"},
      {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
       "desktop", "macos"},
      {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
       "mobile", "ios"},
      {"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
       "mobile", "android"},
      {"Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0", "desktop", "linux"},
      {"Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
       "tablet", "ios"},
      {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
       "desktop", "windows"},
      {"Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
       "mobile", "android"},
  }};
  static constexpr std::array<std::string_view, 16> countries{"US", "US", "US", "US", "DE", "DE", "GB", "GB",
                                                              "FR", "IN", "BR", "JP", "CA", "NL", "ES", "AU"};
  static constexpr std::array<std::string_view, 4> currencies{"USD", "EUR", "GBP", "JPY"};

  std::array<std::uint8_t, 100> type_of_percentile{};
  constexpr generator_tables() {
    int at = 0;
    for (std::size_t t = 0; t < percent.size(); ++t)
      for (int k = 0; k < percent[t]; ++k) type_of_percentile[static_cast<std::size_t>(at++)] = static_cast<std::uint8_t>(t);
  }
};
inline constexpr generator_tables tables{};

}  // namespace detail

/// A deterministic clickstream: JSON events of about 450-550 bytes (event_id, ts, user_id,
/// session_id, event_type, page, referrer, user_agent, device, os, country, price for carts and
/// purchases, ...), for demos, tests and benchmarks.
///
/// Record i is always the same bytes for the same seed: a restart resumes at the checkpointed
/// index and regenerates identical records. Its cursor position is i + 1 under the source name
/// `name`; its event time is its `ts` (start_time + i / events_per_second); its partition is
/// `event_type=<type>/hour=<YYYY-MM-DD-HH>`. Event types are skewed: page_view 58%, click 24%,
/// search 10%, add_to_cart 6%, purchase 2%.
///
/// Allocation: none per record; each event is assembled from fixed fragments in a stack buffer
/// with std::to_chars and a SplitMix64 stream, and appended to the batch (which reserves
/// `chunk_records` records up front). About 2.5 GB/s of events from run() on one idle core of
/// the 2-core reference machine (1.8 GB/s of CPU time when the other core is busy).
/// @code
///   auto p = connector::generator{.records = 1'000'000, .seed = 7}
///          | format::jsonl{}
///          | store::local{.root = "./lake"};
/// @endcode
struct generator {
  using stage_concept = source_tag;
  using output_type = record_batch;

  /// How many events in all (the source ends after the last).
  std::uint64_t records = 1'000'000;
  /// Selects the stream of events; the same seed gives the same bytes.
  std::uint64_t seed = 1;
  /// Records per pushed batch.
  std::size_t chunk_records = 4096;
  /// Time of event 0 (2024-05-01T00:00:00Z by default).
  timestamp start_time = timestamp(std::chrono::seconds(1714521600));
  /// Event rate in event time: event i is at start_time + i / events_per_second.
  std::uint64_t events_per_second = 1000;
  /// The position stream name in checkpoints.
  std::string name = "generator";

  /// The largest event the generator writes, in bytes.
  static constexpr std::size_t max_event_bytes = 1024;

  void validate() const {
    if (chunk_records == 0) throw config_error("connector::generator.chunk_records = 0: must be at least 1");
    if (events_per_second == 0) throw config_error("connector::generator.events_per_second = 0: must be at least 1");
    if (name.empty()) throw config_error("connector::generator.name = \"\": must not be empty");
  }

  /// The event time of record `i`.
  [[nodiscard]] timestamp event_time(std::uint64_t i) const noexcept {
    return start_time + std::chrono::duration_cast<timestamp::duration>(
                            std::chrono::milliseconds(static_cast<std::int64_t>(i * 1000 / events_per_second)));
  }

  /// Writes event `i` into `out` (at least max_event_bytes) and returns its size; also sets
  /// `type` to its event type index in detail::generator_tables::types.
  std::size_t write_event(std::uint64_t i, char* out, std::size_t& type) const noexcept;

  /// Event `i` as a string (for tests; run() does not allocate per record).
  [[nodiscard]] std::string event(std::uint64_t i) const {
    char buf[max_event_bytes];
    std::size_t type;
    return std::string(buf, write_event(i, buf, type));
  }
  /// The partition of event `i`: `event_type=<type>/hour=<YYYY-MM-DD-HH>`.
  [[nodiscard]] std::string partition(std::uint64_t i) const {
    char buf[max_event_bytes];
    std::size_t type;
    write_event(i, buf, type);
    return partition_keys{}.add("event_type", detail::generator_tables::types[type]).add("hour", hour_text(event_time(i))).str();
  }

  class state {
   public:
    state(run_context& ctx, const generator& config) : config_(config) {
      auto [id, resume] = ctx.add_source(config.name);
      id_ = id;
      next_ = resume.value_or(0);
    }

    template <class Out>
    void run(Out& out, std::stop_token stop) {
      record_batch batch = take_recycled<record_batch>();
      std::int64_t hour = -1;
      while (next_ < config_.records && !stop.stop_requested()) {
        std::uint64_t n = std::min<std::uint64_t>(config_.chunk_records, config_.records - next_);
        batch.reserve(n, n * 560);
        for (std::uint64_t end = next_ + n; next_ < end; ++next_) {
          std::size_t type = 0;
          timestamp t = config_.event_time(next_);
          auto h = std::chrono::duration_cast<std::chrono::hours>(t.time_since_epoch()).count();
          if (h != hour) {
            // The partitions change once an hour: rebuild the five strings then, not per record.
            hour = h;
            std::string text = hour_text(t);
            for (std::size_t k = 0; k < partitions_.size(); ++k)
              partitions_[k] = partition_keys{}.add("event_type", detail::generator_tables::types[k]).add("hour", text).str();
          }
          // Written straight into the batch, JSON from the generator's tables (no newline to
          // look for); the partition is known once the event is written, so it is patched in
          // after (partition strings are short).
          batch.append_written_without_newline(
              max_event_bytes, [&](char* place) { return config_.write_event(next_, place, type); },
              cursor{id_, next_ + 1}, t);
          batch.set_partition(batch.size() - 1, partitions_[type]);
        }
        out.push(std::move(batch));
        reuse_or_take_recycled(batch, config_.chunk_records * 560);
        // A recycled batch may hold a whole object: keep what reserve() gives a chunk.
        batch.trim_payloads(record_batch::arena_bytes(config_.chunk_records, config_.chunk_records * 560));
      }
    }

   private:
    const generator& config_;
    std::uint32_t id_ = 0;
    std::uint64_t next_ = 0;
    std::array<std::string, 5> partitions_;
  };

  state open(run_context& ctx) const { return state(ctx, *this); }

 private:
  /// `YYYY-MM-DD-HH` of `t` in UTC, the `hour` partition key.
  static std::string hour_text(timestamp t) {
    std::string text;
    (void)sluice::detail::format_utc(text, t, "%Y-%m-%d-%H");  // a valid format: cannot fail
    return text;
  }
};

inline std::size_t generator::write_event(std::uint64_t i, char* out, std::size_t& type) const noexcept {
  using detail::tables;
  using T = detail::generator_tables;
  static constexpr char hex[] = "0123456789abcdef";
  // splitmix64 turns (seed, index) into an independent stream per record.
  std::uint64_t rng = sluice::detail::splitmix64(seed * 0xD1B54A32D192ED03ULL ^ i);
  auto next = [&rng] { return sluice::detail::splitmix64(rng += sluice::detail::splitmix64_gamma); };
  char* p = out;
  auto put = [&p](std::string_view s) {
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  };
  auto put_hex = [&p](std::uint64_t v, int digits) {
    for (int k = digits - 1; k >= 0; --k) {
      p[k] = hex[v & 15];
      v >>= 4;
    }
    p += digits;
  };
  auto put_num = [&p](std::uint64_t v) { p = std::to_chars(p, p + 20, v).ptr; };

  std::uint64_t r0 = next(), r1 = next(), r2 = next(), r3 = next();
  type = tables.type_of_percentile[(r1 & 0xFFFF) % 100];
  const auto& agent = T::agents[(r1 >> 16) & 7];
  std::uint64_t user = ((r1 >> 24) & 0xFFFFF) % 200000 + 1;

  // event_id: a UUIDv4-shaped rendering of two random words.
  put(R"({"event_id":")");
  put_hex(r0 >> 32, 8), *p++ = '-', put_hex(r0 >> 16, 4), put("-4"), put_hex(r0, 3), *p++ = '-';
  *p++ = hex[8 + (r2 & 3)], put_hex(r2 >> 2, 3), *p++ = '-', put_hex(r2 >> 16, 12);

  // ts: RFC 3339 UTC with milliseconds.
  const timestamp t = event_time(i);
  put(R"(","ts":")");
  p = sluice::detail::put_rfc3339_ms(p, t);
  const std::int64_t secs = std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();

  put(R"(","user_id":"u_)");
  sluice::detail::put_digits(p, user, 7), p += 7;
  // A session is a user's half hour: the same user in the same 30 minutes shares it.
  put(R"(","session_id":"s_)");
  put_hex(sluice::detail::splitmix64(user * 0x9E3779B97F4A7C15ULL ^ static_cast<std::uint64_t>(secs / 1800) ^ seed), 16);
  put(R"(","event_type":")");
  put(T::types[type]);
  put(R"(","page":"https://shop.example.com/)");
  put(T::categories[r3 & 15]);
  put("/item-");
  put_num((r3 >> 4) % 900000 + 100000);
  if (type == 2) {
    put("?q=");
    put(T::categories[(r3 >> 28) & 15]);
    put("+sale");
  }
  put(R"(","referrer":")");
  put(T::referrers[(r3 >> 32) & 7]);
  put(R"(","user_agent":")");
  put(agent.ua);
  put(R"(","device":")");
  put(agent.device);
  put(R"(","os":")");
  put(agent.os);
  put(R"(","country":")");
  put(T::countries[(r3 >> 36) & 15]);
  put(R"(","duration_ms":)");
  put_num((r3 >> 42) % 30000);
  if (type == 3 || type == 4) {
    std::uint64_t cents = (r2 >> 40) % 49800 + 199;
    put(R"(,"price":)");
    put_num(cents / 100);
    *p++ = '.';
    sluice::detail::put_digits(p, cents % 100, 2), p += 2;
    put(R"(,"currency":")");
    put(T::currencies[(r2 >> 60) & 3]);
    put(R"(","quantity":)");
    put_num((r2 >> 56) % 4 + 1);
  }
  put(R"(,"app_version":"5.)");
  put_num((r1 >> 44) % 20);
  *p++ = '.';
  put_num((r1 >> 52) % 10);
  put(R"(","seq":)");
  put_num(i);
  *p++ = '}';
  return static_cast<std::size_t>(p - out);
}

}  // namespace sluice::connector
