// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/concepts.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/pipeline.hpp>
#include <sluice/core/record_batch.hpp>
#include <sluice/core/recycler.hpp>
#include <sluice/core/units.hpp>
#include <sluice/batch/detail/index_list.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sluice::batch {
using sluice::operator|;

/// What batch::by_size does with a record of a new partition when `max_partitions` partitions
/// are already open.
enum class partition_overflow {
  /// The record goes to the error output as `activePartitionExceeded`
  /// (errc::partition_limit_exceeded), as Firehose's dynamic partitioning does.
  reject,
  /// The least recently used open partition is emitted early to make room.
  flush_lru,
};

namespace detail {
/// "64 MiB", "512 KiB" or "1000 bytes": sizes in configuration messages, as the user wrote them.
inline std::string describe_bytes(std::size_t n) {
  if (n != 0 && n % 1_MiB == 0) return std::to_string(n / 1_MiB) + " MiB";
  if (n != 0 && n % 1_KiB == 0) return std::to_string(n / 1_KiB) + " KiB";
  return std::to_string(n) + " bytes";
}
/// Bytes a buffered record costs beyond its payload and partition: its entry in the batch
/// (offsets, sizes, event time, cursor). Counted so that tiny records cannot defeat the bound.
inline constexpr std::size_t record_overhead = 64;

/// Hashes std::string and std::string_view alike, so a lookup by string_view needs no string.
struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
}  // namespace detail

/// Groups records into one batch per partition and emits a partition's batch when it reaches
/// a size, a record count or an age: the batcher in front of a format stage.
///
/// Records are grouped by their partition keys (record_ref::partition; the empty partition is
/// a partition too). Each partition has at most one open object. The object ends, and its
/// batch is emitted with record_batch::partition() set and opened_at() the arrival of its first
/// record:
/// - before a record would take it past `max_bytes` of payload (a single record larger than
///   `max_bytes` is emitted alone), or when it reaches `max_records` records (0: no limit);
/// - on tick() once it is `max_age` old (0: at the end of every push);
/// - on flush() (drain), every open object, oldest first;
/// - when more than `max_partitions` partitions would be open and the policy is
///   partition_overflow::flush_lru: the least recently used one;
/// - without streaming, when the open batches together take more than `max_buffered_bytes`:
///   one of the largest (within a factor of two of the largest), until they fit again.
///
/// Streaming (`piece_bytes` > 0): an open object is handed on in pieces while it is still
/// open (record_batch::piece(), see object_piece), so an object of up to `max_bytes` never sits
/// here whole. A piece is handed on when the partition's pending records reach `piece_bytes`
/// of payload; the object still ends by the rules above, counted over the whole object
/// (`max_bytes` over the payload of all its pieces, `max_records` over all its records,
/// `max_age` from its first record). The object's last piece carries the records still
/// pending; it may hold no record at all, when they were just handed on, and is handed on all
/// the same because it ends the object. An object that ends before any piece was handed on is
/// emitted whole, exactly as without streaming. Pieces of one object share an object_id from
/// run_context::next_object_id(), unique across the workers of the run, and carry the
/// object's partition() and opened_at(). When the pending records of all partitions take more
/// than `max_buffered_bytes`, one of the largest is handed on as a piece that does not end its
/// object, until they fit again.
/// The stages after a streaming batcher must take pieces: the formats, codecs, crypto::envelope
/// and the stores do. A buffer::queue with more than one worker reorders pieces across its
/// workers, so it goes before the batcher, never after it.
///
/// Records keep their order within a partition. The size limits follow Firehose's buffering
/// hints: validate() requires `max_bytes` of 1 MiB..128 MiB and `max_age` of 0..900 s.
///
/// Errors: a record of a new partition past `max_partitions` open partitions goes to the error
/// output with errc::partition_limit_exceeded (`activePartitionExceeded`) under the reject
/// policy. Invalid configuration throws config_error from validate() and open().
///
/// Allocation: the partition lookup is a hash map searched with the record's string_view (the
/// partitions of the last few records are compared first); records are copied into batches
/// that are reused after the next stage has taken them (record_batch::clear keeps the
/// capacity) and map nodes are recycled, so a steady stream allocates nothing per record. A
/// partition whose records were handed on as a piece takes a reused batch when its next record
/// arrives.
/// Memory: at most `max_buffered_bytes` (payload + partition + 64 bytes per record, and the
/// capacity kept by reused batches), plus one record, whatever the number of partitions.
/// Without streaming that is the open batches, so `max_buffered_bytes` >= `max_bytes`; with
/// streaming it is the pending records only, so it may be far below `max_bytes` x partitions
/// (it must be >= `piece_bytes`): with `piece_bytes` = 1 MiB, 1,000 partitions and `max_bytes`
/// = 128 MiB, the batcher still holds at most `max_buffered_bytes`. A batch's capacity counts
/// as what it holds when that is more than its records: a slot keeps of a reused batch only
/// what the bound has room for, and grows in steps (an eighth of `max_bytes`, or of
/// `piece_bytes` when streaming) as its records arrive.
///
/// Thread safety: a node is used by one thread at a time (the pipeline's contract).
///
/// @code
///   auto p = connector::files{.root = "/data/in"}
///          | transform::partition_by{.fields = {"event_type"}}
///          | batch::by_size{.max_bytes = 64_MiB, .max_age = std::chrono::seconds(60),
///                           .max_partitions = 500,
///                           .on_partition_overflow = batch::partition_overflow::flush_lru}
///          | format::jsonl{}
///          | store::local{.root = "./lake"};
///   // Streaming: 128 MiB objects from 1,000 partitions in 64 MiB of memory.
///   auto q = connector::files{.root = "/data/in"}
///          | batch::by_size{.max_bytes = 128_MiB, .max_buffered_bytes = 64_MiB, .piece_bytes = 1_MiB}
///          | format::jsonl{} | codec::zstd{} | store::local{.root = "./lake"};
/// @endcode
struct by_size {
  using stage_concept = stage_tag;
  using input_type = record_batch;
  using output_type = record_batch;

  /// Emit a partition's batch before its payload bytes would exceed this (1 MiB..128 MiB).
  std::size_t max_bytes = 64_MiB;
  /// Emit a partition's batch when it holds this many records; 0 means no limit.
  std::size_t max_records = 0;
  /// Emit a partition's batch on the first tick after it is this old (0..900 s); 0 emits every
  /// batch at the end of each push.
  std::chrono::milliseconds max_age = std::chrono::seconds(60);
  /// Most partitions open at once (>= 1).
  std::size_t max_partitions = 1000;
  /// What a record of a new partition does past `max_partitions`.
  partition_overflow on_partition_overflow = partition_overflow::reject;
  /// Memory bound over every open batch (>= max_bytes); when streaming, over the pending
  /// records of every open object (>= piece_bytes).
  std::size_t max_buffered_bytes = 256_MiB;
  /// 0: objects are emitted whole. Otherwise (64 KiB..max_bytes) objects stream: an open
  /// object is handed on in pieces of about this many payload bytes (see above).
  std::size_t piece_bytes = 0;

  /// Whether objects leave this batcher in pieces (pipeline validation checks the stages after it).
  [[nodiscard]] bool emits_pieces() const noexcept { return piece_bytes != 0; }

  /// Throws config_error naming the field, its value and the allowed range.
  void validate() const {
    if (max_bytes < 1_MiB || max_bytes > 128_MiB)
      throw config_error("batch::by_size.max_bytes = " + detail::describe_bytes(max_bytes) +
                         ": must be 1 MiB..128 MiB (Firehose buffering hints)");
    if (max_age < std::chrono::milliseconds::zero() || max_age > std::chrono::seconds(900)) {
      auto ms = max_age.count();
      throw config_error("batch::by_size.max_age = " +
                         (ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms") +
                         ": must be 0s..900s (Firehose buffering hints)");
    }
    if (max_partitions < 1)
      throw config_error("batch::by_size.max_partitions = 0: must be at least 1");
    if (max_partitions > detail::no_slot - 1)
      throw config_error("batch::by_size.max_partitions = " + std::to_string(max_partitions) +
                         ": must be at most " + std::to_string(detail::no_slot - 1));
    if (piece_bytes != 0 && (piece_bytes < 64_KiB || piece_bytes > max_bytes))
      throw config_error("batch::by_size.piece_bytes = " + detail::describe_bytes(piece_bytes) +
                         ": must be 0 (whole objects) or 64 KiB..max_bytes (" + detail::describe_bytes(max_bytes) +
                         ")");
    if (piece_bytes != 0 && max_buffered_bytes < piece_bytes)
      throw config_error("batch::by_size.max_buffered_bytes = " + detail::describe_bytes(max_buffered_bytes) +
                         ": must be at least piece_bytes (" + detail::describe_bytes(piece_bytes) + ")");
    if (piece_bytes == 0 && max_buffered_bytes < max_bytes)
      throw config_error("batch::by_size.max_buffered_bytes = " + detail::describe_bytes(max_buffered_bytes) +
                         ": must be at least max_bytes (" + detail::describe_bytes(max_bytes) + ")");
  }

  template <class Next>
  class node;

  template <class MakeNext>
  auto open(run_context& ctx, MakeNext&& make_next) const {
    validate();
    return node<decltype(make_next())>(*this, ctx, make_next);
  }
};

/// The running batcher: open objects per partition, recency/age/size indexes over them.
template <class Next>
class by_size::node {
 public:
  template <class MakeNext>
  node(const by_size& config, run_context& ctx, MakeNext&& make_next)
      : config_(config), ctx_(ctx), next_(make_next()) {}
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  void push(record_batch&& in) {
    if (in.empty()) return;
    auto arrival = in.opened_at() == clock::time_point{} ? clock::now() : in.opened_at();
    for (const record_ref r : in) {
      std::uint32_t i = find_or_open(r, arrival);
      if (i == detail::no_slot) continue;  // rejected: partition limit
      slot* s = &slots_[i];
      if (s->object_records != 0 && s->object_bytes + r.payload.size() > config_.max_bytes) {
        // End the object before the record would take it past max_bytes; the record opens the next.
        emit(i);
        i = find_or_open(r, arrival);
        s = &slots_[i];
      }
      if (s->needs_batch) supply(*s);
      make_room(*s, r.payload.size());
      s->records.append(r, in);
      account(i, r.payload.size() + r.partition.size() + detail::record_overhead);
      s->object_bytes += r.payload.size();
      ++s->object_records;
      if (s->object_bytes >= config_.max_bytes ||
          (config_.max_records != 0 && s->object_records >= config_.max_records)) {
        emit(i);
      } else if (streaming() && s->records.payload_bytes() >= config_.piece_bytes) {
        hand_on_piece(i);
      }
      while (memory_ > config_.max_buffered_bytes) shed_memory();
    }
    if (config_.max_age == std::chrono::milliseconds::zero()) emit_all();
    in.clear();  // copied out: the source fills it again (reuse_or_take_recycled)
  }

  /// Ends every open object (oldest first), then flushes the next stage.
  void flush() {
    emit_all();
    next_.flush();
  }

  /// Ends the objects that are `max_age` old, then ticks the next stage.
  void tick() {
    auto now = clock::now();
    // Age order is opening order; arrivals are (nearly) monotonic, so the scan stops at the
    // first object that is young enough.
    while (!by_age_.empty() && now - slots_[by_age_.first()].opened_at >= config_.max_age) emit(by_age_.first());
    next_.tick();
  }

  /// Partitions with an open object.
  [[nodiscard]] std::size_t open_partitions() const noexcept { return map_.size(); }
  /// Bytes the pending records and the kept spare batches account for (what
  /// max_buffered_bytes bounds). Without streaming the pending records are the open batches.
  [[nodiscard]] std::size_t buffered_bytes() const noexcept { return memory_; }
  /// Records pending here: in open batches, not yet handed on.
  [[nodiscard]] std::size_t buffered_records() const noexcept { return buffered_records_; }

 private:
  using clock = std::chrono::steady_clock;
  using map_type = std::unordered_map<std::string, std::uint32_t, detail::string_hash, std::equal_to<>>;

  struct slot {
    record_batch records;      // pending: the object's records not handed on yet
    std::size_t cost = 0;      // accounted bytes of the records inside
    std::size_t capacity = 0;  // its batch's payload capacity, counted in memory_ (see supply())
    const std::string* key = nullptr;
    clock::time_point opened_at{};  // the object's first record
    std::uint64_t object_id = 0;    // streaming: 0 until the object's first piece is handed on
    std::size_t object_bytes = 0;   // payload of the whole object, pieces handed on included
    std::size_t object_records = 0;
    bool needs_batch = false;  // `records` went on as a piece: take a batch before the next record
    [[nodiscard]] std::size_t held() const noexcept { return std::max(cost, capacity); }
  };
  struct spare {
    record_batch records;
    std::size_t capacity = 0;
  };
  /// Spare batches kept for reuse: few, because each may hold up to max_bytes of capacity.
  static constexpr std::size_t max_spares = 4;

  [[nodiscard]] bool streaming() const noexcept { return config_.piece_bytes != 0; }

  std::uint32_t find_or_open(const record_ref& r, clock::time_point arrival) {
    if (std::uint32_t i = find_recent(r.partition); i != detail::no_slot) {
      by_recency_.touch(i);
      return i;
    }
    if (auto it = map_.find(r.partition); it != map_.end()) {
      remember(it->second);
      by_recency_.touch(it->second);
      return it->second;
    }
    if (map_.size() >= config_.max_partitions) {
      if (config_.on_partition_overflow == partition_overflow::reject) {
        ctx_.reject(r, make_error_code(errc::partition_limit_exceeded),
                    "partition `" + std::string(r.partition) + "` would be open partition " +
                        std::to_string(map_.size() + 1) + " (batch::by_size.max_partitions = " +
                        std::to_string(config_.max_partitions) + ")",
                    "batch::by_size");
        return detail::no_slot;
      }
      emit(by_recency_.last());
    }
    return open_slot(r.partition, arrival);
  }

  /// The slot of `partition` if it is one of the partitions seen last, else no_slot. An entry
  /// of recent_ may be stale (its slot closed, or reopened for another partition): each is
  /// checked by its slot's key, so a stale one only misses.
  std::uint32_t find_recent(std::string_view partition) {
    for (std::size_t k = 0; k < recent_.size(); ++k) {
      const std::uint32_t i = recent_[k];
      if (i == detail::no_slot) break;
      if (slots_[i].key == nullptr || *slots_[i].key != partition) continue;
      std::copy_backward(recent_.begin(), recent_.begin() + static_cast<std::ptrdiff_t>(k),
                         recent_.begin() + static_cast<std::ptrdiff_t>(k) + 1);
      recent_[0] = i;  // most recent first
      return i;
    }
    return detail::no_slot;
  }
  void remember(std::uint32_t i) {
    std::copy_backward(recent_.begin(), recent_.end() - 1, recent_.end());
    recent_[0] = i;
  }

  std::uint32_t open_slot(std::string_view partition, clock::time_point arrival) {
    std::uint32_t i;
    if (!free_slots_.empty()) {
      i = free_slots_.back();
      free_slots_.pop_back();
    } else {
      i = static_cast<std::uint32_t>(slots_.size());
      slots_.emplace_back();
      by_recency_.resize(slots_.size());
      by_age_.resize(slots_.size());
      by_size_.resize(slots_.size());
    }
    slot& s = slots_[i];
    supply(s);
    s.cost = 0;
    s.opened_at = arrival;
    s.object_id = 0;
    s.object_bytes = s.object_records = 0;
    // Reuse a map node (and its key's capacity) from a closed partition when there is one.
    map_type::iterator it;
    if (!spare_nodes_.empty()) {
      auto handle = std::move(spare_nodes_.back());
      spare_nodes_.pop_back();
      handle.key().assign(partition);
      handle.mapped() = i;
      it = map_.insert(std::move(handle)).position;
    } else {
      it = map_.emplace(std::string(partition), i).first;
    }
    s.key = &it->first;
    by_recency_.push_front(i);
    by_age_.push_back(i);
    by_size_.update(i, s.held());
    remember(i);
    return i;
  }

  /// Gives an empty slot (new, or whose records went on as a piece) a batch to fill: a kept
  /// spare, else a spent one from the recycler (the format downstream gives them back). The
  /// caller updates the size index (account() does).
  ///
  /// A spent batch's capacity was written by its last user, so it is memory, and it counts
  /// against max_buffered_bytes as the slot's (held()). The slot keeps of it what the bound
  /// has room for now and gives the rest back to the system, or, given a smaller one, reserves
  /// that much as one mapping (memory only once records are written to it); past that it grows
  /// in steps (make_room()). When the bound is reached, capacity beyond the records goes back
  /// first (shed_memory()), so a cold partition does not sit on a batch a hot one filled, and
  /// a batch is emitted early only when records fill the bound.
  void supply(slot& s) {
    s.needs_batch = false;
    if (!spares_.empty()) {
      s.records = std::move(spares_.back().records);
      s.capacity = spares_.back().capacity;
      spares_.pop_back();  // its capacity stays counted in memory_, now as the slot's
      return;
    }
    const std::size_t most = batch_limit();
    s.records = take_recycled<record_batch>(most);
    const std::size_t room = config_.max_buffered_bytes > memory_ ? config_.max_buffered_bytes - memory_ : 0;
    const std::size_t keep = std::min(room, most + most / 16);
    if (keep < record_batch::trimmable_from)
      s.records.trim_payloads(0);  // too little room to keep a mapping: the batch grows with its records
    else if (s.records.payload_capacity() > keep)
      s.records.trim_payloads(keep);
    else
      s.records.reserve(0, keep);  // one mapping, made memory only as records arrive, and trimmable
    s.capacity = s.records.payload_capacity();
    memory_ += s.capacity;
  }

  /// A batch about to outgrow its capacity doubles while small and then grows by steps of an
  /// eighth of what it may hold at most, counted in memory_: mapped storage grows without
  /// copying the batch (detail::byte_buffer), so steps cost a system call each, and the batch
  /// holds little more than its records.
  void make_room(slot& s, std::size_t payload) {
    const std::size_t need = s.records.lines().size() + record_batch::arena_bytes(1, payload);
    const std::size_t have = s.records.payload_capacity();
    if (need <= have) return;
    const std::size_t most = batch_limit(), step = most / 8;
    s.records.reserve(0, std::max(need, std::min(have + std::min(have, step), most + most / 16)));
    const std::size_t before = s.held();
    s.capacity = s.records.payload_capacity();
    memory_ = memory_ - before + s.held();  // a spare's counted capacity may exceed its payload's
  }
  /// The most a slot's batch holds: a piece when streaming, else a whole object.
  [[nodiscard]] std::size_t batch_limit() const noexcept {
    return streaming() ? config_.piece_bytes : config_.max_bytes;
  }

  void account(std::uint32_t i, std::size_t bytes) {
    slot& s = slots_[i];
    std::size_t before = s.held();
    s.cost += bytes;
    memory_ += s.held() - before;
    ++buffered_records_;
    by_size_.update(i, s.held());
  }

  /// Brings memory_ back under max_buffered_bytes: spare capacity goes first, then capacity an
  /// open batch holds beyond its records, then one of the largest open batches goes on
  /// (streaming: as a piece; otherwise: its whole object).
  void shed_memory() {
    if (!spares_.empty()) {
      memory_ -= spares_.back().capacity;
      spares_.pop_back();
      return;
    }
    if (trim_most_slack()) return;
    std::uint32_t victim = by_size_.largest();
    SLUICE_ASSERT(victim != detail::no_slot);
    if (streaming()) {
      // Only a slot with pending records holds memory (a piece leaves it at 0 until its next record).
      SLUICE_ASSERT(!slots_[victim].records.empty());
      hand_on_piece(victim, /*keep_spare=*/false);
    } else {
      emit(victim, /*keep_spare=*/false);
    }
  }

  /// Gives back the capacity the open batch with the most of it beyond its records holds (a
  /// batch supplied while the bound had room), so that a batch is emitted early only when the
  /// records themselves fill the bound. Returns false when no batch holds enough to give back.
  bool trim_most_slack() {
    std::uint32_t most = detail::no_slot;
    std::size_t most_slack = 64_KiB;  // less is not worth a system call
    for (std::uint32_t i = 0; i < slots_.size(); ++i) {
      const slot& s = slots_[i];
      if (s.key == nullptr || s.records.payload_capacity() < record_batch::trimmable_from) continue;
      if (const std::size_t slack = s.held() - s.cost; slack > most_slack) {
        most = i;
        most_slack = slack;
      }
    }
    if (most == detail::no_slot) return false;
    slot& s = slots_[most];
    const std::size_t before = s.held();
    s.records.trim_payloads(s.records.lines().size());
    s.capacity = s.records.payload_capacity();
    memory_ -= before - s.held();
    by_size_.update(most, s.held());
    return s.held() < before;
  }

  void emit_all() {
    while (!by_age_.empty()) emit(by_age_.first());
  }

  /// Streaming: hands slot `i`'s pending records on as a first or middle piece of its object,
  /// which stays open.
  void hand_on_piece(std::uint32_t i, bool keep_spare = true) {
    slot& s = slots_[i];
    std::size_t held = s.held();
    record_batch out = std::move(s.records);
    s.records = record_batch{};
    bool first = s.object_id == 0;  // the id comes with the object's first piece
    if (first) s.object_id = ctx_.next_object_id();
    out.set_partition(*s.key);
    out.set_opened_at(s.opened_at);
    out.set_piece({s.object_id, first, /*last=*/false});
    buffered_records_ -= out.size();
    memory_ -= held;
    s.cost = s.capacity = 0;
    s.needs_batch = true;
    by_size_.update(i, 0);

    next_.push(std::move(out));
    keep_as_spare(std::move(out), held, keep_spare);
  }

  /// Ends slot `i`'s object: emits it whole, or its last piece when pieces went before, and
  /// closes the slot.
  void emit(std::uint32_t i, bool keep_spare = true) {
    slot& s = slots_[i];
    std::size_t held = s.held();
    record_batch out = std::move(s.records);
    out.set_partition(*s.key);
    out.set_opened_at(s.opened_at);
    // The last piece may hold no record (they just went on as a piece): it still ends the object.
    out.set_piece(s.object_id == 0 ? object_piece{} : object_piece{s.object_id, false, true});
    buffered_records_ -= out.size();
    memory_ -= held;
    // Close the slot before pushing: the next stage may throw, and the slot must not stay open.
    auto it = map_.find(std::string_view(*s.key));
    spare_nodes_.push_back(map_.extract(it));
    s.key = nullptr;
    s.cost = s.capacity = 0;
    s.object_id = 0;
    s.object_bytes = s.object_records = 0;
    s.needs_batch = false;
    by_recency_.remove(i);
    by_age_.remove(i);
    by_size_.remove(i);
    free_slots_.push_back(i);

    next_.push(std::move(out));
    keep_as_spare(std::move(out), held, keep_spare);
  }

  /// The next stage has finished with a batch (a format reads it; a queue moves from it):
  /// keep its capacity for a new partition or the next piece while memory allows. A batch
  /// that was moved away has nothing to keep (a slot then takes a recycled one).
  void keep_as_spare(record_batch&& out, std::size_t held, bool keep_spare) {
    if (keep_spare && out.payload_capacity() >= 64_KiB && spares_.size() < max_spares &&
        memory_ + held <= config_.max_buffered_bytes) {
      out.clear();
      memory_ += held;
      spares_.push_back({std::move(out), held});
    }
  }

  const by_size config_;
  run_context& ctx_;
  std::vector<slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::vector<spare> spares_;
  map_type map_;
  std::vector<typename map_type::node_type> spare_nodes_;
  detail::index_list by_recency_;  // most recently used first
  detail::index_list by_age_;      // opened first first
  detail::size_classes by_size_;
  // The slots of the partitions seen last, most recent first: a record's partition is compared
  // with these few before it is hashed for the map (records of a few hot partitions interleave,
  // so the partition just before is often another one).
  std::array<std::uint32_t, 4> recent_{detail::no_slot, detail::no_slot, detail::no_slot, detail::no_slot};
  std::size_t memory_ = 0;
  std::size_t buffered_records_ = 0;
  Next next_;
};

}  // namespace sluice::batch
