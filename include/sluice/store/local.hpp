// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/buffer/queue.hpp>
#include <sluice/core/concepts.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/detail/file.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/object.hpp>
#include <sluice/core/pipeline.hpp>
#include <sluice/core/recycler.hpp>
#include <sluice/crypto/checksum.hpp>
#include <sluice/store/detail/local_fs.hpp>
#include <sluice/store/key_template.hpp>
#include <sluice/store/sidecar.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <vector>

namespace sluice::store {
using sluice::operator|;

/// The suffix of the sidecar file beside each object: `<key>.meta.json`.
inline constexpr std::string_view sidecar_suffix = ".meta.json";

/// A local folder as the landing zone: each object becomes the file `root/<key>`, with the
/// sidecar `root/<key>.meta.json` holding its facts (object_info: content type, encodings,
/// encryption, metadata, counts, size, SHA-256 and CRC32C, times, stream, partition, covered
/// cursors).
///
/// Each write is atomic and, with `.sync`, durable before the object is acknowledged: a stale
/// sidecar is removed, the object is written to `<key>.tmp`, fsynced, renamed over `<key>`, the
/// folder fsynced; then the sidecar the same way. Object first, sidecar second: a reader
/// (local_reader) treats an object without its sidecar as incomplete. Keys are deterministic
/// (see key_template), so a replay after a crash overwrites the same files.
///
/// Checksums are computed once, over the bytes in memory, with a reused SHA-256 context. With
/// `.sync` a whole object goes to the syncer thread, which creates its folder, writes it,
/// checksums it, writes the sidecar and makes both durable, so the pipeline's thread goes on with
/// the next object at once (creating and filling a file cost it 12% of its time here, most of it
/// ext4 finding a free inode, and a new folder waits for an fsync); without it, push() does all
/// of that. A streamed object's checksums are computed piece by piece as its bytes go by.
///
/// Streamed objects (object_piece) are written as their pieces come: the key is rendered from
/// the facts of the first piece (of the first piece that carries records, when a format
/// rejected every record of the first ones), each piece's bytes are appended to `<key>.tmp`
/// and folded into the object's checksums, and the pieces' facts are summed (add_piece_facts).
/// At the last piece the sidecar is written and the object is made durable, renamed and
/// acknowledged exactly as a whole object is. Memory per open object is its facts and one
/// checksum state, never its bytes. A streamed object that never gets its last piece (the node
/// is destroyed, or a write fails) leaves no temporary file behind.
///
/// Errors: validate() throws config_error for an empty root or an invalid key template. A key
/// over max_key_bytes is a per-object error: the object goes to the error output (its body as
/// the payload) and its records are acknowledged; for a streamed object, so does each later
/// piece that holds records, and nothing of it is written. I/O failures (disk full,
/// permissions) throw sluice::error naming the file, and nothing is acknowledged. A piece that
/// breaks the order of object_piece (a middle or last piece of an object that did not begin,
/// a first piece of an object already open) throws sluice::error (invalid_argument) naming
/// the object id.
/// Thread safety: each node is used by one thread; several nodes (workers) may share a root.
/// Allocation: a body goes back to the recycler as soon as it is written; with `.sync` up to three
/// bodies per node wait for the syncer or are being written by it.
/// @code
///   auto p = connector::generator{.records = 100'000}
///          | format::jsonl{}
///          | store::local{.root = "./lake", .key = "{stream}/{time:%Y/%m/%d/%H}/"};
///   p.options.stream = "clicks";
///   p.run();
/// @endcode
struct local {
  using stage_concept = sink_tag;
  using input_type = object;

  /// The landing folder; created when missing.
  std::filesystem::path root = "./lake";
  /// The key template (key_template): where each object lands under root.
  std::string key = "{stream}/{time:%Y/%m/%d/%H}/";
  /// fsync files and folders before acknowledging. Off only for tests and throwaway data.
  bool sync = true;

  void validate() const {
    if (root.empty()) throw config_error("store::local.root = \"\": must name a folder");
    (void)key_template::parse(key, "store::local.key");
    std::string_view k = key;
    if (k.size() >= sidecar_suffix.size() && k.substr(k.size() - sidecar_suffix.size()) == sidecar_suffix)
      throw config_error("store::local.key = \"" + key + "\": must not end with `.meta.json` (the sidecar suffix)");
  }

  class node {
   public:
    node(run_context& ctx, const local& config)
        : ctx_(ctx), root_(config.root), key_(key_template::parse(config.key, "store::local.key")),
          sync_(config.sync) {
      if (sync_) syncer_ = std::jthread([this] { sync_pending(); });
    }
    node(const node&) = delete;
    node& operator=(const node&) = delete;
    ~node() {
      // Streamed objects that never got their last piece: nothing will complete them.
      for (auto& [id, s] : open_) abandon(s);
      // Finishes the writes already handed to the syncer: their objects become durable and are
      // acknowledged; nothing new is taken.
      pending_.close();
    }

    void push(object&& o) {
      rethrow_sync_error();
      if (!o.piece.whole()) {
        push_piece(std::move(o));
        return;
      }
      if (auto ec = key_.render(o, ctx_.tracker(), key_buf_)) {
        reject_unkeyable(ctx_, o, ec, key_buf_, key_.text(), "store::local");
        return;
      }
      o.key = key_buf_;

      pending_write w;
      set_paths(w);
      w.stored_bytes = o.body.size();
      w.body = std::move(o.body);
      w.facts = std::move(o);
      submit(std::move(w));
    }
    /// Waits until every object handed to the syncer is durable and acknowledged.
    void flush() {
      std::unique_lock lock(sync_mutex_);
      drained_.wait(lock, [&] { return in_flight_ == 0 || sync_error_; });
      lock.unlock();
      rethrow_sync_error();
    }
    void tick() {}

   private:
    /// An object waiting to be made durable (complete()): a whole one is written to a temporary
    /// file and checksummed first (a streamed one's file and checksums are ready); then its
    /// sidecar goes to a temporary file, both are fsynced and renamed (object first: a sidecar
    /// marks a complete object), the folder fsynced once for both renames, and it is
    /// acknowledged.
    struct pending_write {
      sluice::detail::unique_fd object_fd, meta_fd;
      std::filesystem::path path, meta, dir;
      std::uint64_t stored_bytes = 0;
      // A whole object's bytes, until complete() writes them to `<key>.tmp` (object_fd empty).
      std::string body;
      crypto::object_checksums sums;  // set with object_fd: by finish() or by complete()
      object facts;  // without its body: what acknowledge() counts and the sidecar describes
    };

    /// A streamed object between its first piece and its last.
    struct open_object {
      object facts;                          // the sum of its pieces' facts so far, no body
      crypto::object_checksummer checksums;  // of the bytes written so far
      pending_write target;                  // paths once keyed; object_fd while cached
      bool keyed = false;                    // its key is known: its bytes go to `<key>.tmp`
      error_code unkeyable;                  // set: rejected, later pieces go to the error output
      std::string rejected_key;              // the key that could not be used, for their reason
      std::string held;                      // bytes of record-less pieces that came before the key
      std::uint64_t last_used = 0;           // for closing the least recently written file
    };

    // Streamed objects whose file stays open between pieces. A pipeline may stream a thousand
    // partitions at once; an fd for each would run into the process limit (1,024 by default)
    // and hold kernel memory for nothing. A few cover the usual case of a few open partitions
    // (consecutive pieces of the same objects: no reopening); past them, the least recently
    // written object's file is closed and reopened with O_APPEND at its next piece, an open()
    // of microseconds against the time it takes to write a piece.
    static constexpr std::size_t max_open_files = 8;

    void push_piece(object&& o) {
      const std::uint64_t id = o.piece.object_id;
      auto it = open_.find(id);
      if (o.piece.first) {
        if (it != open_.end()) {
          abandon(it->second);  // it cannot end well: leave nothing of it
          open_.erase(it);
          throw error(make_error_code(boost::system::errc::invalid_argument),
                      "store::local: the first piece of object " + std::to_string(id) +
                          " came while that object was open: pieces out of order");
        }
        it = open_.try_emplace(id).first;
      } else if (it == open_.end()) {
        throw error(make_error_code(boost::system::errc::invalid_argument),
                    "store::local: a piece of object " + std::to_string(id) +
                        " came before its first piece: pieces out of order");
      }
      open_object& s = it->second;
      const bool last = o.piece.last;
      try {
        if (o.piece.first) {
          std::string body = std::move(o.body);
          s.facts = std::move(o);
          s.facts.body.clear();
          add_bytes(s, std::move(body));
        } else if (s.unkeyable) {
          // The object is not stored: each piece with records goes where its first one went.
          if (o.record_count > 0) reject_unkeyable(ctx_, o, s.unkeyable, s.rejected_key, key_.text(), "store::local");
        } else {
          add_piece_facts(s.facts, o);
          add_bytes(s, std::move(o.body));
        }
        if (last) finish(it);
      } catch (...) {
        // No temporary file outlives a failed object (finish() may have let go of it already).
        if (auto at = open_.find(id); at != open_.end()) {
          abandon(at->second);
          open_.erase(at);
        }
        throw;
      }
    }

    /// Appends `body` (the next bytes of `s`) to its file, keying the object first when this is
    /// the first piece with records.
    void add_bytes(open_object& s, std::string&& body) {
      if (s.unkeyable) return;
      if (!s.keyed) {
        if (s.facts.record_count == 0) {
          // No records yet, so no cursors to name it after: keep its (few) bytes until one comes.
          s.held += body;
          return;
        }
        if (auto ec = key_.render(s.facts, ctx_.tracker(), key_buf_)) {
          s.held += body;
          s.facts.body = std::move(s.held);
          reject_unkeyable(ctx_, s.facts, ec, key_buf_, key_.text(), "store::local");
          s.facts.body = {};
          s.held = {};
          s.unkeyable = ec;
          s.rejected_key = key_buf_;
          return;
        }
        s.facts.key = key_buf_;
        set_paths(s.target);
        prepare_target(s.target, pushed_dir_);
        s.keyed = true;  // from here on, abandon() removes its temporary file
        append(s, s.held, true);
        s.held = {};
      }
      append(s, body, false);
      if (!body.empty()) give_recycled(std::move(body));  // on disk (in the page cache): the next format's body
    }

    /// Writes `data` at the end of `s`'s temporary file (created anew with `create`).
    void append(open_object& s, std::string_view data, bool create) {
      s.last_used = ++clock_;
      if (!s.target.object_fd) {
        if (with_fd_.size() == max_open_files) {
          auto lru = std::min_element(with_fd_.begin(), with_fd_.end(),
                                      [](const open_object* a, const open_object* b) { return a->last_used < b->last_used; });
          (*lru)->target.object_fd.reset();
          with_fd_.erase(lru);
        }
        std::filesystem::path tmp = s.target.path;
        tmp += ".tmp";
        int flags = O_WRONLY | O_APPEND | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0);
        s.target.object_fd = sluice::detail::unique_fd(::open(tmp.c_str(), flags, 0644));
        if (!s.target.object_fd) throw error(sluice::detail::last_system_error(), "store::local: writing " + s.target.path.string());
        with_fd_.push_back(&s);
      }
      if (auto ec = sluice::detail::write_all(s.target.object_fd.get(), data.data(), data.size()))
        throw error(ec, "store::local: writing " + s.target.path.string());
      s.checksums.update(data);
    }

    /// The last piece of the object at `it` is in: write its sidecar and hand it to the syncer,
    /// as a whole object (a record-less or rejected object just ends).
    void finish(std::unordered_map<std::uint64_t, open_object>::iterator it) {
      open_object& s = it->second;
      if (!s.keyed) {  // rejected (its records acknowledged), or no records at all: nothing to store
        open_.erase(it);
        return;
      }
      pending_write& t = s.target;
      if (!t.object_fd) {  // closed to make room: the syncer's fsync needs it again
        std::filesystem::path tmp = t.path;
        tmp += ".tmp";
        t.object_fd = sluice::detail::unique_fd(::open(tmp.c_str(), O_WRONLY | O_CLOEXEC));
        if (!t.object_fd) throw error(sluice::detail::last_system_error(), "store::local: writing " + t.path.string());
      }
      t.stored_bytes = s.checksums.size();
      t.sums = s.checksums.finish();  // computed piece by piece as the bytes went by
      // Nothing below throws before submit(), which removes both temporary files if it fails.
      release_fd(s);
      pending_write w = std::move(t);
      w.facts = std::move(s.facts);
      open_.erase(it);
      submit(std::move(w));
    }

    /// Forgets `s`'s file descriptor (closed, or moved out by the caller).
    void release_fd(open_object& s) {
      auto at = std::find(with_fd_.begin(), with_fd_.end(), &s);
      if (at != with_fd_.end()) with_fd_.erase(at);
    }

    /// Removes the temporary file of a streamed object that will not be finished.
    void abandon(open_object& s) {
      release_fd(s);
      s.target.object_fd.reset();
      if (s.keyed) {
        std::filesystem::path tmp = s.target.path;
        tmp += ".tmp";
        ::unlink(tmp.c_str());
      }
    }

    /// Fills the paths of `w` from key_buf_.
    void set_paths(pending_write& w) const {
      w.path = root_ / key_buf_;
      w.dir = w.path.parent_path();
      w.meta = w.path;
      w.meta += sidecar_suffix;
    }
    /// Creates the folder of `w` (unless it is `known_dir`, the last one this thread made sure
    /// of, which it then names) and removes a stale sidecar.
    void prepare_target(const pending_write& w, std::string& known_dir) const {
      if (w.dir.native() != known_dir) {
        if (auto ec = detail::make_directories(w.dir, sync_)) throw error(ec, "store::local: creating folder " + w.dir.string());
        known_dir = w.dir.native();
      }
      // A sidecar left by an earlier run would describe bytes about to change: remove it so a
      // crash in between leaves an incomplete object, never a mismatched one.
      if (::unlink(w.meta.c_str()) == 0 && sync_) {
        if (auto ec = sluice::detail::fsync_directory(w.dir)) throw error(ec, "store::local: syncing " + w.dir.string());
      }
    }

    /// Hands a written object to the syncer (or completes it here without `.sync`).
    void submit(pending_write&& w) {
      if (sync_) {
        // The fsyncs run on the syncer thread, so this thread goes on compressing the next
        // object while the disk catches up (a few ms per fsync here).
        {
          std::lock_guard lock(sync_mutex_);
          ++in_flight_;
        }
        if (!pending_.push(std::move(w))) {  // the syncer failed and took no more: w is intact
          discard(w);
          rethrow_sync_error();
        }
      } else {
        complete(w);
      }
    }

    sluice::detail::unique_fd write_temporary(const std::filesystem::path& path, std::string_view data) {
      std::filesystem::path tmp = path;
      tmp += ".tmp";
      sluice::detail::unique_fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
      error_code ec = fd ? sluice::detail::write_all(fd.get(), data.data(), data.size())
                         : sluice::detail::last_system_error();
      if (ec) {
        ::unlink(tmp.c_str());
        throw error(ec, "store::local: writing " + path.string());
      }
      return fd;
    }

    void complete(pending_write& w) {
      std::filesystem::path tmp_object = w.path, tmp_meta = w.meta;
      tmp_object += ".tmp";
      tmp_meta += ".tmp";
      auto fail = [&](error_code ec) {
        // No temporary file outlives a failed write; the object is not acknowledged.
        ::unlink(tmp_object.c_str());
        ::unlink(tmp_meta.c_str());
        throw error(ec, "store::local: writing " + w.path.string());
      };
      try {
        if (!w.object_fd) {
          prepare_target(w, completed_dir_);
          w.object_fd = write_temporary(w.path, w.body);
          w.sums = crypto::compute_checksums(w.body, checksums_);
          give_recycled(std::move(w.body));  // in the page cache now: the next format's body
        }
        w.meta_fd = write_temporary(w.meta, to_json(describe(w.facts, w.sums, ctx_.tracker())));
      } catch (...) {
        ::unlink(tmp_object.c_str());  // write_temporary() leaves no file of its own behind
        throw;
      }
      for (auto* f : {&w.object_fd, &w.meta_fd}) {
        if (sync_ && ::fsync(f->get()) != 0) fail(sluice::detail::last_system_error());
        f->reset();
      }
      if (::rename(tmp_object.c_str(), w.path.c_str()) != 0) fail(sluice::detail::last_system_error());
      if (::rename(tmp_meta.c_str(), w.meta.c_str()) != 0) fail(sluice::detail::last_system_error());
      if (sync_) {
        if (auto ec = sluice::detail::fsync_directory(w.dir)) fail(ec);
      }
      ctx_.acknowledge(w.facts, w.stored_bytes);
    }

    /// Removes the temporary files of a write that will not be completed.
    static void discard(pending_write& w) {
      for (const auto* target : {&w.path, &w.meta}) {
        std::filesystem::path tmp = *target;
        tmp += ".tmp";
        ::unlink(tmp.c_str());
      }
    }

    /// The syncer thread: completes pending writes in order until the queue closes. After a
    /// failure it completes nothing more (the writes queued behind it are discarded, not
    /// acknowledged), so the lake holds no object past the first one that failed.
    void sync_pending() {
      yield_to_pipeline_threads();
      pending_write w;
      while (pending_.pop(w)) {
        bool failed;
        {
          std::lock_guard lock(sync_mutex_);
          failed = sync_error_ != nullptr;
        }
        if (failed) {
          discard(w);
        } else try {
          complete(w);
        } catch (...) {
          std::lock_guard lock(sync_mutex_);
          if (!sync_error_) sync_error_ = std::current_exception();
          pending_.close();  // stop taking work: nothing after a failed write is acknowledged
        }
        std::lock_guard lock(sync_mutex_);
        --in_flight_;
        drained_.notify_all();
      }
      std::lock_guard lock(sync_mutex_);
      in_flight_ = 0;
      drained_.notify_all();
    }

    /// Lowers this thread's CPU priority by 10 nice levels (Linux: nice is per thread). Why: on
    /// a busy machine each of the syncer's wake-ups (an fsync done, an object handed over) could
    /// preempt the thread compressing, which is the pipeline's bottleneck; the syncer's work can
    /// wait for a free moment, and when it falls behind, the bounded queue of pending writes
    /// stops the pushing thread, which frees the CPU for it. end_to_end ran 5% faster.
    static void yield_to_pipeline_threads() noexcept {
#if defined(__linux__)
      const auto self = static_cast<id_t>(::gettid());
      errno = 0;
      const int nice = ::getpriority(PRIO_PROCESS, self);
      if (errno == 0) (void)::setpriority(PRIO_PROCESS, self, std::min(nice + 10, 19));
#endif
    }

    void rethrow_sync_error() {
      std::lock_guard lock(sync_mutex_);
      if (sync_error_) std::rethrow_exception(sync_error_);
    }

    run_context& ctx_;
    std::filesystem::path root_;
    key_template key_;
    bool sync_;
    // One thread hashes whole objects: the pushing one without `.sync`, the syncer with it (complete()).
    crypto::object_checksummer checksums_;
    std::string key_buf_;
    // The folder each thread last made sure of: the pushing one's for streamed objects (push()),
    // complete()'s for whole ones (the syncer's with `.sync`).
    std::string pushed_dir_, completed_dir_;
    std::unordered_map<std::uint64_t, open_object> open_;  // streamed objects by object_id
    std::vector<open_object*> with_fd_;  // those whose file is open, at most max_open_files
    std::uint64_t clock_ = 0;
    std::mutex sync_mutex_;
    std::condition_variable drained_;
    std::size_t in_flight_ = 0;
    std::exception_ptr sync_error_;
    buffer::bounded_queue<pending_write> pending_{2};
    std::jthread syncer_;  // last: joined first, while everything it uses is alive
  };

  node open(run_context& ctx) const { return node(ctx, *this); }
};

/// Reads what store::local wrote: lists complete objects (those with a sidecar) and reads an
/// object with its parsed sidecar. What `sluice cat` and `sluice verify` use.
///
/// Errors: the error_code overloads report errc::truncated_object for an object without its
/// sidecar (incomplete), errc::corrupt_object for a sidecar that does not parse or an object
/// whose size or checksums differ from it, invalid_argument for a key that is absolute or has
/// `..`, and system errors (no_such_file_or_directory, ...). The throwing twins say which file
/// and why: `store::local_reader: sidecar lake/x.jsonl.meta.json: field `size`: missing ...`.
/// Thread safety: const members may be called from several threads.
/// @code
///   store::local_reader lake{"./lake"};
///   for (const auto& key : lake.list("clicks/2024/")) std::cout << lake.read(key).body;
/// @endcode
class local_reader : public basic_reader<local_reader> {
 public:
  explicit local_reader(std::filesystem::path root) : root_(std::move(root)) {}

  [[nodiscard]] const std::filesystem::path& root() const noexcept { return root_; }

  /// Where `key` is, for messages: the object's file path.
  [[nodiscard]] std::string location(std::string_view key) const { return (root_ / std::string(key)).string(); }

  /// Keys of complete objects whose key starts with `prefix`, sorted.
  [[nodiscard]] std::vector<std::string> list(std::string_view prefix, error_code& ec) const {
    ec = {};
    std::vector<std::string> keys;
    std::error_code sec;
    std::filesystem::recursive_directory_iterator it(root_, sec), end;
    for (; !sec && it != end; it.increment(sec)) {
      if (!it->is_regular_file(sec)) continue;
      std::string name = it->path().filename().string();
      if (name.size() <= sidecar_suffix.size() || !name.ends_with(sidecar_suffix)) continue;
      std::filesystem::path object_path = it->path();
      object_path.replace_filename(name.substr(0, name.size() - sidecar_suffix.size()));
      std::error_code exists_ec;
      if (!std::filesystem::is_regular_file(object_path, exists_ec)) continue;  // incomplete
      std::string key = object_path.lexically_relative(root_).generic_string();
      if (key.starts_with(prefix)) keys.push_back(std::move(key));
    }
    if (sec) ec = error_code(sec.value(), boost::system::system_category());
    std::sort(keys.begin(), keys.end());
    return keys;
  }
  [[nodiscard]] std::vector<std::string> list(std::string_view prefix = {}) const {
    error_code ec;
    auto keys = list(prefix, ec);
    throw_if(ec, "store::local_reader: listing " + root_.string());
    return keys;
  }

 private:
  friend class basic_reader<local_reader>;
  static constexpr std::string_view reader_name = "store::local_reader";

  stored_object read_object(std::string_view key, error_code& ec, std::string& why) const {
    stored_object out;
    ec = {};
    if (!detail::safe_key(key)) {
      why = "key \"" + std::string(key) + "\": must be relative, without empty, `.` or `..` segments";
      ec = make_error_code(boost::system::errc::invalid_argument);
      return out;
    }
    std::filesystem::path path = root_ / std::string(key);
    std::filesystem::path meta = path;
    meta += sidecar_suffix;
    if ((ec = detail::read_whole_file(path, out.body))) {
      why = "object " + path.string() + ": " + ec.message();
      return out;
    }
    std::string text;
    if ((ec = detail::read_whole_file(meta, text))) {
      if (ec == boost::system::errc::no_such_file_or_directory) {
        ec = make_error_code(errc::truncated_object);
        why = "object " + path.string() + " is incomplete: no sidecar " + meta.string();
      } else {
        why = "sidecar " + meta.string() + ": " + ec.message();
      }
      return out;
    }
    std::string reason;
    if ((ec = parse_sidecar(text, out.info, reason))) {
      why = "sidecar " + meta.string() + ": " + reason;
      return out;
    }
    if (out.info.size != out.body.size()) {
      ec = make_error_code(errc::corrupt_object);
      why = "object " + path.string() + " has " + std::to_string(out.body.size()) + " bytes but its sidecar " +
            meta.string() + " says " + std::to_string(out.info.size);
    }
    return out;
  }

  std::filesystem::path root_;
};

}  // namespace sluice::store
