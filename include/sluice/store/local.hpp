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
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
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
/// Checksums are computed once, over the bytes in memory, with a reused SHA-256 context.
///
/// Errors: validate() throws config_error for an empty root or an invalid key template. A key
/// over max_key_bytes is a per-object error: the object goes to the error output (its body as
/// the payload) and its records are acknowledged. I/O failures (disk full, permissions) throw
/// sluice::error naming the file, and nothing is acknowledged.
/// Thread safety: each node is used by one thread; several nodes (workers) may share a root.
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
      // Finishes the writes already handed to the syncer: their objects become durable and are
      // acknowledged; nothing new is taken.
      pending_.close();
    }

    void push(object&& o) {
      rethrow_sync_error();
      if (auto ec = key_.render(o, ctx_.tracker(), key_buf_)) {
        reject_unkeyable(ctx_, o, ec, key_buf_, key_.text(), "store::local");
        return;
      }
      o.key = key_buf_;
      crypto::object_checksums sums = crypto::compute_checksums(o.body, sha_);

      pending_write w;
      w.path = root_ / key_buf_;
      w.dir = w.path.parent_path();
      if (w.dir.native() != last_dir_) {
        if (auto ec = detail::make_directories(w.dir, sync_)) throw error(ec, "store::local: creating folder " + w.dir.string());
        last_dir_ = w.dir.native();
      }
      w.meta = w.path;
      w.meta += sidecar_suffix;
      // A sidecar left by an earlier run would describe bytes about to change: remove it so a
      // crash in between leaves an incomplete object, never a mismatched one.
      if (::unlink(w.meta.c_str()) == 0 && sync_) {
        if (auto ec = sluice::detail::fsync_directory(w.dir)) throw error(ec, "store::local: syncing " + w.dir.string());
      }
      w.object_fd = write_temporary(w.path, o.body);
      w.meta_fd = write_temporary(w.meta, to_json(describe(o, sums, ctx_.tracker())));
      w.stored_bytes = o.body.size();
      give_recycled(std::move(o.body));  // on disk (in the page cache): the next format's body
      w.facts = std::move(o);
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
    /// Waits until every object handed to the syncer is durable and acknowledged.
    void flush() {
      std::unique_lock lock(sync_mutex_);
      drained_.wait(lock, [&] { return in_flight_ == 0 || sync_error_; });
      lock.unlock();
      rethrow_sync_error();
    }
    void tick() {}

   private:
    /// An object whose bytes and sidecar are written to temporary files, waiting to be made
    /// durable: fsync both, rename both (object first: a sidecar marks a complete object), fsync
    /// the folder once for both renames, acknowledge.
    struct pending_write {
      sluice::detail::unique_fd object_fd, meta_fd;
      std::filesystem::path path, meta, dir;
      std::uint64_t stored_bytes = 0;
      object facts;  // without its body: what acknowledge() counts
    };

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

    void rethrow_sync_error() {
      std::lock_guard lock(sync_mutex_);
      if (sync_error_) std::rethrow_exception(sync_error_);
    }

    run_context& ctx_;
    std::filesystem::path root_;
    key_template key_;
    bool sync_;
    crypto::sha256 sha_;
    std::string key_buf_;
    std::string last_dir_;
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
