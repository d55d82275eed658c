// SPDX-License-Identifier: Apache-2.0
#pragma once
// store::s3's node: what runs while a pipeline writes to a bucket (see store/s3.hpp).
#include <sluice/core/config.hpp>
#include <sluice/core/recycler.hpp>
#include <sluice/store/detail/s3_resume.hpp>
#include <sluice/store/s3.hpp>

#include <array>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

namespace sluice::store {

class s3::node {
 public:
  node(run_context& ctx, const s3& config)
      : ctx_(ctx), config_(config), where_(s3_location::parse(config.url, "store::s3.url")),
        key_(key_template::parse(config.key, "store::s3.key")), client_(config.connection) {
    budget_ = std::max<std::uint64_t>(std::uint64_t{config.part_size} * config.concurrency, config.part_size);
    build_common_headers();
    check_bucket();
    choose_conditional();
    std::filesystem::path dir = config.resume_dir;
    if (dir.empty() && !ctx.options().checkpoint.empty()) {
      dir = ctx.options().checkpoint;
      dir += ".s3-uploads";
    }
    if (!dir.empty()) {
      resume_ = std::make_unique<detail::s3_resume_store>(dir);
      resume_uploads();
    }
  }
  node(const node&) = delete;
  node& operator=(const node&) = delete;
  ~node() {
    // Lets what is in flight finish (acknowledged when it succeeds); nothing new starts. A
    // streamed object whose last piece never came cannot finish: its upload is aborted.
    std::vector<std::shared_ptr<upload>> unfinished;
    {
      std::unique_lock lock(mutex_);
      for (auto& [id, u] : streams_) {
        u->failed = true;  // no more parts start
        unfinished.push_back(u);
        uploads_.remove(u);
      }
      idle_.wait(lock, [&] { return uploads_.empty() && in_flight_ == 0; });
    }
    for (auto& u : unfinished) {
      try {
        if (!u->upload_id.empty()) client_.abort_multipart_upload(where_.bucket, u->key, u->upload_id);
      } catch (const std::exception&) {
        // Left for `sluice s3 uploads --abort`; its records were never acknowledged.
      }
      if (!u->skip) spool().end(u->key);
    }
    if (temporary_spool_) {
      std::error_code ec;
      std::filesystem::remove_all(temporary_spool_->dir(), ec);
    }
  }

  void push(object&& o) {
    rethrow_failure();
    if (!o.piece.whole()) return push_piece(std::move(o));
    std::string full_key;
    if (auto ec = key_for(o, full_key)) {
      reject_unkeyable(ctx_, o, ec, full_key, key_.text(), "store::s3");
      return;
    }
    auto u = std::make_shared<upload>();
    u->key = std::move(full_key);
    u->size = o.body.size();
    u->o = std::move(o);
    // A large object without a resume folder goes up while its facts are computed: its parts
    // start at once and its SHA-256 is hashed meanwhile (about 0.7 s per GiB on one core), then
    // the facts are set after completion as a streamed object's are. With a resume folder the
    // facts come first: the resume record needs the object's SHA-256 before its first part.
    // Not above 5 GiB: the copy that sets the facts is a CopyObject, which S3 refuses above that.
    const bool facts_after =
        u->size > config_.multipart_threshold && u->size <= max_copy_object_size && !resume_;
    if (!facts_after) u->info = facts_of(*u);
    {
      std::unique_lock lock(mutex_);
      hold(lock, *u);
      uploads_.push_back(u);
    }
    try {
      if (exists_already(*u, false)) {
        finish(u, true);
        return;
      }
      if (facts_after) {
        begin_multipart(*u, true);
        pump();
        object_info info = facts_of(*u);
        {
          std::lock_guard lock(mutex_);
          u->info = std::move(info);
          u->ended = true;  // its facts are known: it may complete
        }
        maybe_complete(u);
      } else if (u->size > config_.multipart_threshold) {
        begin_multipart(*u, false);
      } else {
        std::lock_guard lock(mutex_);
        u->part_count = 1;
      }
    } catch (...) {
      finish(u, false);
      throw;
    }
    pump();
  }

  /// Waits until every object handed over is stored and acknowledged.
  void flush() {
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [&] { return uploads_.empty() && in_flight_ == 0; });
    lock.unlock();
    rethrow_failure();
  }
  void tick() {}

  /// Objects found already stored (a replay) and acknowledged without a write.
  [[nodiscard]] std::uint64_t skipped_existing() const noexcept { return skipped_existing_; }
  /// The most body bytes held in memory at once so far (objects and streamed parts in flight):
  /// what the memory budget bounds.
  [[nodiscard]] std::uint64_t peak_held_bytes() {
    std::lock_guard lock(mutex_);
    return peak_held_bytes_;
  }

 private:
  struct upload;
  /// The largest object CopyObject copies (S3's limit): the facts-after path copies onto itself.
  static constexpr std::uint64_t max_copy_object_size = std::uint64_t{5} << 30;

  // ---- streamed objects (object_piece) ----------------------------------------------------
  //
  // The pieces of an object are appended to a spool file (in the resume folder, or a temporary
  // one) as they come; a part is cut each time `part_size` bytes have gathered past
  // `multipart_threshold`, and read back from the spool when it is sent, so memory holds only
  // the parts in flight whatever the number of open objects. An object that ends at or below
  // the threshold goes up as one PutObject with its facts. A multipart object gets its facts
  // (x-amz-meta-*) after CompleteMultipartUpload, by copying it onto itself with
  // `x-amz-metadata-directive: REPLACE` (server-side, no bytes sent again): S3 takes metadata
  // only when an upload starts, before its size and checksums are known. Until then a reader
  // sees an object without sluice's facts and treats it as incomplete.

  /// Renders the full key of `o` (prefix included) into `full_key`; on error, `full_key` is the
  /// text the error names.
  error_code key_for(object& o, std::string& full_key) {
    if (auto ec = key_.render(o, ctx_.tracker(), key_buf_)) {
      full_key = key_buf_;
      return ec;
    }
    full_key = where_.prefix + key_buf_;
    if (full_key.size() > max_key_bytes) return make_error_code(boost::system::errc::filename_too_long);
    o.key = key_buf_;
    return {};
  }

  void push_piece(object&& o) {
    const std::uint64_t id = o.piece.object_id;
    if (auto h = unnamed_.find(id); h != unnamed_.end()) {
      add_piece_facts(h->second, o);
      h->second.body += o.body;
      o = std::move(h->second);
      o.piece.first = true;
      unnamed_.erase(h);
    }
    if (o.piece.first) {
      // A key is named after the object's records (`{seq}` after their positions), so until a
      // piece brings records (a format may reject every record of the first ones) the pieces
      // wait here, as store::local's do. An object that never gets any stores nothing.
      if (o.record_count == 0) {
        if (!o.piece.last) unnamed_.emplace(id, std::move(o));
        return;
      }
      return open_stream(std::move(o));
    }
    if (auto r = unkeyable_.find(id); r != unkeyable_.end()) {
      // Its first piece went to the error output: so do the others.
      reject_unkeyable(ctx_, o, r->second.first, r->second.second, key_.text(), "store::s3");
      if (o.piece.last) unkeyable_.erase(r);
      return;
    }
    auto it = streams_.find(id);
    if (it == streams_.end())
      throw error(make_error_code(errc::invalid_record),
                  "store::s3: a piece of object " + std::to_string(id) + " came without its first piece");
    std::shared_ptr<upload> u = it->second;
    add_piece_facts(u->o, o);
    spool_piece(u, std::move(o.body));
    if (o.piece.last) {
      streams_.erase(it);
      end_stream(u);
    } else {
      cut_parts(u);
    }
  }

  void open_stream(object&& o) {
    std::string full_key;
    if (auto ec = key_for(o, full_key)) {
      reject_unkeyable(ctx_, o, ec, full_key, key_.text(), "store::s3");
      if (!o.piece.last) unkeyable_[o.piece.object_id] = {ec, full_key};
      return;
    }
    auto u = std::make_shared<upload>();
    u->key = std::move(full_key);
    u->ended = false;
    std::string body = std::move(o.body);
    u->o = std::move(o);
    u->o.body.clear();
    {
      std::lock_guard lock(mutex_);
      if (failure_) std::rethrow_exception(failure_);
      uploads_.push_back(u);
    }
    try {
      u->skip = exists_already(*u, true);
      if (!u->skip) spool().create_spool(u->key);
    } catch (...) {
      finish(u, false);
      throw;
    }
    streams_[u->o.piece.object_id] = u;
    spool_piece(u, std::move(body));
    if (u->o.piece.last) {  // its first pieces had no records: this one with records ends it
      streams_.erase(u->o.piece.object_id);
      end_stream(u);
    } else {
      cut_parts(u);
    }
  }

  void spool_piece(const std::shared_ptr<upload>& u, std::string&& body) {
    if (!u->skip && !body.empty()) {
      spool().append_spool(u->key, body);
      u->sums.update(body);
      u->size += body.size();
    }
    give_recycled(std::move(body));
  }

  /// Starts the multipart upload once the object passed multipart_threshold, cuts every full
  /// part (and with `last`, the rest), sends them, and waits while more parts wait to start than
  /// `concurrency`: the spool holds little more than what is in flight.
  void cut_parts(const std::shared_ptr<upload>& u, bool last = false) {
    if (u->skip) return;
    if (u->upload_id.empty()) {
      if (u->size <= config_.multipart_threshold) return;  // may still go up as one PutObject
      detail::header_list h = object_headers(stored_content_type(u->o.content_type, u->o.encryption), {});
      if (auto algo = checksum_algorithm(); !algo.empty()) h.emplace_back("x-amz-checksum-algorithm", algo);
      // Recorded before it exists too: a run killed between the two leaves an upload whose id
      // only the server knows, and the next start finds it by its key.
      if (resume_) resume_->begin_stream(where_.bucket, u->key, {}, config_.part_size);
      u->upload_id = client_.create_multipart_upload(where_.bucket, u->key, std::move(h));
      u->streamed = true;
      u->facts_after = true;
      if (resume_) resume_->begin_stream(where_.bucket, u->key, u->upload_id, config_.part_size);
    }
    {
      std::lock_guard lock(mutex_);
      while (u->size - u->assigned >= config_.part_size || (last && u->size > u->assigned)) {
        std::uint64_t n = std::min<std::uint64_t>(config_.part_size, u->size - u->assigned);
        s3_part p;
        p.number = static_cast<int>(u->parts.size() + 1);
        p.size = n;
        u->parts.push_back(std::move(p));
        u->assigned += n;
        ++waiting_parts_;
      }
      if (u->parts.size() > 10'000)
        throw error(make_error_code(errc::record_too_large),
                    "store::s3: " + where(u->key) + " would need more than 10,000 parts of store::s3.part_size = " +
                        std::to_string(config_.part_size) + " bytes");
      u->part_count = u->parts.size();
      if (last) u->ended = true;
    }
    pump();
    std::unique_lock lock(mutex_);
    room_.wait(lock, [&] { return failure_ || waiting_parts_ <= config_.concurrency; });
    if (failure_) std::rethrow_exception(failure_);
  }

  /// The last piece came: a small object goes up whole, a multipart one sends its last part and
  /// completes when every part is stored.
  void end_stream(const std::shared_ptr<upload>& u) {
    if (u->skip) {
      ++skipped_existing_;
      finish(u, true);
      return;
    }
    u->info = describe(u->o, u->sums.finish(), ctx_.tracker());
    u->info.key = u->key;
    if (u->upload_id.empty()) {
      u->o.body = take_recycled<std::string>(u->size);
      spool().read_spool(u->key, 0, u->size, u->o.body);
      spool().end(u->key);
      {
        std::unique_lock lock(mutex_);
        hold(lock, *u);
        u->ended = true;
        u->part_count = 1;
      }
      pump();
      return;
    }
    if (resume_)
      resume_->end_stream(where_.bucket, u->key, u->upload_id, config_.part_size, u->size, u->info.sha256,
                          stored_content_type(u->info.content_type, u->info.encryption), to_metadata(u->info));
    cut_parts(u, true);
    maybe_complete(u);
  }

  /// Reserves the memory of a whole object `u`: waits while the bytes in flight would pass the
  /// budget (one object alone may exceed it).
  void hold(std::unique_lock<std::mutex>& lock, upload& u) {
    room_.wait(lock, [&] { return failure_ || held_bytes_ == 0 || held_bytes_ + u.size <= budget_; });
    if (failure_) std::rethrow_exception(failure_);
    held_bytes_ += u.size;
    peak_held_bytes_ = std::max(peak_held_bytes_, held_bytes_);
    u.held = u.size;
  }

  /// The spool of streamed objects: the resume folder, or a temporary folder without one.
  detail::s3_resume_store& spool() {
    std::lock_guard lock(spool_mutex_);
    if (resume_) return *resume_;
    if (!temporary_spool_) {
      auto dir = std::filesystem::temp_directory_path() / ("sluice-s3-spool-" + crypto::to_hex(random_id()));
      temporary_spool_ = std::make_unique<detail::s3_resume_store>(dir);
    }
    return *temporary_spool_;
  }

  /// Completes `u` once its last part is cut and every part is stored.
  void maybe_complete(const std::shared_ptr<upload>& u) {
    {
      std::lock_guard lock(mutex_);
      if (!u->ended || u->failed || u->completing || u->parts_done != u->part_count) return;
      u->completing = true;
    }
    complete(u);
  }

  /// CopyObject of `key` onto itself with its metadata replaced, only if it is still the object
  /// just completed (`etag`): how a streamed object gets its facts.
  s3_call replace_metadata_call(const std::string& key, const std::string& content_type,
                                const std::vector<std::pair<std::string, std::string>>& metadata,
                                const std::string& etag) const {
    s3_call c{.method = "PUT", .bucket = where_.bucket, .key = key, .headers = object_headers(content_type, metadata),
              .send_body = true, .error_in_ok_answer = true};
    c.headers.emplace_back("x-amz-copy-source", "/" + where_.bucket + "/" + s3_client::uri_encode(key, true));
    c.headers.emplace_back("x-amz-metadata-directive", "REPLACE");
    if (!config_.tags.empty()) c.headers.emplace_back("x-amz-tagging-directive", "REPLACE");
    if (!etag.empty()) c.headers.emplace_back("x-amz-copy-source-if-match", etag);
    c.headers.insert(c.headers.end(), copy_source_sse_c_headers_.begin(), copy_source_sse_c_headers_.end());
    return c;
  }

  struct upload {
    object o;                 // the body until the upload is done
    std::string key;          // the full key, prefix included
    std::uint64_t size = 0;
    object_info info;
    std::string upload_id;    // empty for a PutObject
    std::size_t part_count = 0;
    std::size_t next_part = 0;
    std::size_t parts_done = 0;
    std::vector<s3_part> parts;  // guarded by mutex_: a streamed object cuts parts while others finish
    bool failed = false;
    bool ended = true;       // part_count is final (false while a streamed object still grows)
    bool completing = false;
    std::uint64_t held = 0;  // bytes of held_bytes_ this upload's body counts for
    // Streamed objects:
    bool streamed = false;     // multipart from the spool
    bool facts_after = false;  // metadata set after completion (replace_metadata): streamed, or hashed while its parts went
    bool skip = false;       // stored already (a replay): pieces are only counted
    std::uint64_t assigned = 0;                       // spooled bytes given to parts
    crypto::object_checksummer sums;                  // of the bytes spooled so far
    std::map<std::size_t, std::string> part_bodies;   // streamed parts in flight, read from the spool
  };

  [[nodiscard]] std::string where(const std::string& key) const {
    return "s3://" + where_.bucket + "/" + key + " (" + client_.endpoint() + ")";
  }

  void build_common_headers() {
    using mode = s3_server_side_encryption::mode;
    const auto& e = config_.encryption;
    if (e.kind == mode::s3) sse_headers_.emplace_back("x-amz-server-side-encryption", "AES256");
    if (e.kind == mode::kms) {
      sse_headers_.emplace_back("x-amz-server-side-encryption", "aws:kms");
      if (!e.kms_key_id.empty()) sse_headers_.emplace_back("x-amz-server-side-encryption-aws-kms-key-id", e.kms_key_id);
      if (!e.kms_context.empty()) {
        boost::json::object ctx;
        for (const auto& [k, v] : e.kms_context) ctx[k] = v;
        sse_headers_.emplace_back("x-amz-server-side-encryption-context",
                                  crypto::to_base64(boost::json::serialize(ctx)));
      }
    }
    if (e.kind == mode::customer) {
      // SSE-C: every request that writes or reads the object carries the key.
      sse_c_headers_.emplace_back("x-amz-server-side-encryption-customer-algorithm", "AES256");
      sse_c_headers_.emplace_back("x-amz-server-side-encryption-customer-key", crypto::to_base64(e.customer_key));
      sse_c_headers_.emplace_back("x-amz-server-side-encryption-customer-key-md5",
                                  s3_client::md5_base64(e.customer_key));
      for (const auto& [name, value] : sse_c_headers_)  // x-amz-copy-source-server-side-encryption-...
        copy_source_sse_c_headers_.emplace_back("x-amz-copy-source-" + name.substr(6), value);
    }
    if (!config_.storage_class.empty()) write_headers_.emplace_back("x-amz-storage-class", config_.storage_class);
    if (!config_.acl.empty()) write_headers_.emplace_back("x-amz-acl", config_.acl);
    if (!config_.tags.empty()) {
      std::string t;
      for (const auto& [k, v] : config_.tags) {
        if (!t.empty()) t += '&';
        t += s3_client::uri_encode(k, false) + "=" + s3_client::uri_encode(v, false);
      }
      write_headers_.emplace_back("x-amz-tagging", t);
    }
  }

  /// The content type an object is stored with: its format's, unless it is encrypted.
  static std::string stored_content_type(const std::string& type, const std::string& encryption) {
    return encryption.empty() && !type.empty() ? type : "application/octet-stream";
  }
  /// The headers of PutObject or CreateMultipartUpload for `u`.
  detail::header_list object_headers(const upload& u) const {
    return object_headers(stored_content_type(u.info.content_type, u.info.encryption), to_metadata(u.info));
  }
  detail::header_list object_headers(const std::string& content_type,
                                     const std::vector<std::pair<std::string, std::string>>& metadata) const {
    detail::header_list h = write_headers_;
    h.insert(h.end(), sse_headers_.begin(), sse_headers_.end());
    h.insert(h.end(), sse_c_headers_.begin(), sse_c_headers_.end());
    h.emplace_back("content-type", content_type);
    for (const auto& [name, value] : metadata) h.emplace_back("x-amz-meta-" + name, value);
    return h;
  }

  /// The checksum header of one body (a whole object or one part); with md5, also the ETag the
  /// answer must carry when the server computes ETags as MD5s (no SSE-KMS, no SSE-C).
  void add_checksum(s3_call& c, s3_part* part) const {
    if (config_.checksum != s3_checksum::md5) return add_checksum(c.headers, c.body, part);
    using mode = s3_server_side_encryption::mode;
    auto digest = s3_client::md5(c.body);
    c.headers.emplace_back("content-md5", crypto::to_base64(digest));
    if (config_.encryption.kind != mode::kms && config_.encryption.kind != mode::customer)
      c.expected_etag = crypto::to_hex(digest);
  }
  void add_checksum(detail::header_list& h, std::string_view body, s3_part* part) const {
    switch (config_.checksum) {
      case s3_checksum::crc32c: {
        crypto::crc32c c;
        c.update(body);
        std::string v = crypto::crc32c_base64(c.value());
        h.emplace_back("x-amz-checksum-crc32c", v);
        if (part) part->checksum = v;
        break;
      }
      case s3_checksum::sha256: {
        std::string v = crypto::sha256_base64(body);
        h.emplace_back("x-amz-checksum-sha256", v);
        if (part) part->checksum = v;
        break;
      }
      case s3_checksum::md5: h.emplace_back("content-md5", s3_client::md5_base64(body)); break;
      case s3_checksum::none: break;
    }
  }
  [[nodiscard]] std::string checksum_algorithm() const {
    return config_.checksum == s3_checksum::crc32c ? "CRC32C" : config_.checksum == s3_checksum::sha256 ? "SHA256" : "";
  }

  void check_bucket() {
    try {
      client_.check_bucket(where_.bucket, where_.prefix);
    } catch (const s3_error& e) {
      // No HTTP answer: the transport failure names the endpoint and the cause (refused, TLS).
      if (e.status() == 0) throw error(e.code(), "store::s3: s3://" + where_.bucket + ": " + e.reason());
      std::string why = e.status() == 404 ? "the bucket does not exist"
                        : e.status() == 403 ? "access denied: check the credentials (access key " +
                                                  client_.connection().credentials.access_key_id +
                                                  "), the region and the clock"
                                            : "the server refused the check";
      throw error(e.code(), "store::s3: s3://" + where_.bucket + " at " + client_.endpoint() + ": " + why + " (" +
                                e.reason() + ")");
    }
  }

  /// Decides between If-None-Match and HEAD before PUT; `automatic` writes a probe object twice
  /// (and deletes it) to see whether the server honours If-None-Match.
  void choose_conditional() {
    use_if_none_match_ = config_.conditional == s3_conditional::if_none_match;
    head_first_ = config_.conditional == s3_conditional::head_first;
    if (config_.conditional != s3_conditional::automatic) return;
    std::string probe = ".sluice-conditional-probe-" + crypto::to_hex(random_id());
    // Under the prefix (where the credentials may write), unless that makes the key too long.
    if (where_.prefix.size() + probe.size() <= max_key_bytes) probe = where_.prefix + probe;
    auto put = [&] {
      s3_call c{.method = "PUT", .bucket = where_.bucket, .key = probe, .headers = sse_c_headers_,
                .body = {}, .send_body = true};
      c.headers.emplace_back("if-none-match", "*");
      c.accept = [](const detail::http_response& r) { return r.status == 412; };
      return client_.send(std::move(c)).status;
    };
    put();
    long second = put();
    client_.send({.method = "DELETE", .bucket = where_.bucket, .key = probe});
    if (second == 412) {
      use_if_none_match_ = true;
    } else {
      head_first_ = true;
      ctx_.log("store::s3", client_.endpoint() +
                                " ignores `If-None-Match: *` on PutObject: checking each key with HEAD before "
                                "writing it instead (one more request per object)");
    }
  }

  static std::array<std::uint8_t, 8> random_id() {
    std::array<std::uint8_t, 8> id;
    std::random_device rd;
    for (auto& b : id) b = static_cast<std::uint8_t>(rd());
    return id;
  }

  /// Whether the key is stored already (a replay): HEAD when the mode asks for it, and always
  /// before a multipart upload (servers that honour If-None-Match on PutObject may ignore it on
  /// CompleteMultipartUpload).
  /// A streamed object (`streamed`) is always checked: it may become a multipart upload. An
  /// object without sluice's facts is one whose metadata was never set (replace_metadata
  /// failed): it is written again.
  bool exists_already(const upload& u, bool streamed) {
    if (config_.conditional == s3_conditional::off) return false;
    if (!streamed && !head_first_ && u.size <= config_.multipart_threshold) return false;
    auto head = client_.head_object(where_.bucket, u.key, sse_c_headers_);
    if (!head || !head->metadata.contains("sha256")) return false;
    if (!streamed) ++skipped_existing_;
    return true;
  }

  [[nodiscard]] object_info facts_of(const upload& u) {
    object_info info = describe(u.o, crypto::compute_checksums(u.o.body, checksums_), ctx_.tracker());
    info.key = u.key;
    return info;
  }

  /// Starts the multipart upload of a whole object: with its facts as metadata, or
  /// (`facts_after`) without them, to be set by replace_metadata() once it completes.
  void begin_multipart(upload& u, bool facts_after) {
    detail::header_list h = facts_after ? object_headers(stored_content_type(u.o.content_type, u.o.encryption), {})
                                        : object_headers(u);
    if (auto algo = checksum_algorithm(); !algo.empty()) h.emplace_back("x-amz-checksum-algorithm", algo);
    const auto part_count = static_cast<std::size_t>((u.size + config_.part_size - 1) / config_.part_size);
    if (part_count > 10'000)
      throw config_error("store::s3.part_size = " + std::to_string(config_.part_size) + ": an object of " +
                         std::to_string(u.size) + " bytes would need more than 10,000 parts");
    std::string upload_id = client_.create_multipart_upload(where_.bucket, u.key, std::move(h));
    if (resume_ && !facts_after)
      resume_->begin(where_.bucket, u.key, upload_id, config_.part_size, u.o.body, u.info.sha256);
    // Published under the lock, the part count last: request threads pump() this upload as soon
    // as it has parts.
    std::lock_guard lock(mutex_);
    u.upload_id = std::move(upload_id);
    u.facts_after = facts_after;
    if (facts_after) u.ended = false;  // completion waits for the facts
    u.parts.resize(part_count);
    u.part_count = part_count;
  }

  /// Starts requests while fewer than `concurrency` are in flight.
  void pump() {
    std::vector<std::pair<std::shared_ptr<upload>, std::size_t>> to_start;
    {
      std::lock_guard lock(mutex_);
      for (auto& u : uploads_) {
        while (in_flight_ < config_.concurrency && !u->failed && u->part_count > 0 && u->next_part < u->part_count) {
          if (u->streamed) {
            // A streamed part is read into memory when it starts: it counts against the budget.
            std::uint64_t n = u->parts[u->next_part].size;
            if (held_bytes_ != 0 && held_bytes_ + n > budget_) break;
            held_bytes_ += n;
            peak_held_bytes_ = std::max(peak_held_bytes_, held_bytes_);
            --waiting_parts_;
          }
          to_start.emplace_back(u, u->next_part++);
          ++in_flight_;
        }
      }
      if (!to_start.empty()) room_.notify_all();
    }
    for (auto& [u, index] : to_start) start_request(u, index);
  }

  void start_request(const std::shared_ptr<upload>& u, std::size_t index) {
    s3_call c{.bucket = where_.bucket, .key = u->key, .send_body = true};
    c.method = "PUT";
    if (u->upload_id.empty()) {
      c.body = u->o.body;
      c.headers = object_headers(*u);
      c.payload_hash = u->info.sha256;  // the object's SHA-256, computed for its facts already
      add_checksum(c, nullptr);
      if (use_if_none_match_) {
        c.headers.emplace_back("if-none-match", "*");
        c.accept = [](const detail::http_response& r) { return r.status == 412; };
      }
    } else {
      std::size_t offset = index * config_.part_size;
      if (u->streamed) {
        std::string body = take_recycled<std::string>(config_.part_size);
        std::size_t size;
        {
          std::lock_guard lock(mutex_);
          size = u->parts[index].size;
        }
        try {
          spool().read_spool(u->key, offset, size, body);
        } catch (...) {
          part_done(u, index);
          fail(u, std::current_exception());
          return;
        }
        std::lock_guard lock(mutex_);
        c.body = u->part_bodies[index] = std::move(body);
      } else {
        c.body = std::string_view(u->o.body).substr(offset, config_.part_size);
      }
      c.query = {{"partNumber", std::to_string(index + 1)}, {"uploadId", u->upload_id}};
      c.headers = sse_c_headers_;
      s3_part part{.number = static_cast<int>(index + 1), .size = c.body.size()};
      add_checksum(c, &part);
      std::lock_guard lock(mutex_);
      u->parts[index] = std::move(part);
    }
    client_.send_async(std::move(c), [this, u, index](s3_result&& r) { request_done(u, index, std::move(r)); });
  }

  /// A request of `u` is over: its slot and, for a streamed part, its memory are free again.
  void part_done(const std::shared_ptr<upload>& u, std::size_t index) {
    std::lock_guard lock(mutex_);
    --in_flight_;
    if (u->streamed) held_bytes_ -= u->parts[index].size;
    if (auto it = u->part_bodies.find(index); it != u->part_bodies.end()) {
      give_recycled(std::move(it->second));
      u->part_bodies.erase(it);
    }
    room_.notify_all();
    if (uploads_.empty() && in_flight_ == 0) idle_.notify_all();
  }

  void request_done(const std::shared_ptr<upload>& u, std::size_t index, s3_result&& r) {
    part_done(u, index);
    if (r.failure) {
      fail(u, r.failure);
      pump();
      return;
    }
    if (u->upload_id.empty()) {
      if (r.response.status == 412) ++skipped_existing_;
      finish(u, true);
      pump();
      return;
    }
    {
      std::lock_guard lock(mutex_);
      u->parts[index].etag = r.response.header("etag");
      ++u->parts_done;
    }
    maybe_complete(u);
    pump();
  }

  void complete(const std::shared_ptr<upload>& u) {
    detail::header_list h = sse_c_headers_;
    if (use_if_none_match_) h.emplace_back("if-none-match", "*");
    client_.complete_multipart_upload_async(where_.bucket, u->key, u->upload_id, u->parts, checksum_algorithm(),
                                            std::move(h), [this, u](s3_result&& r) {
                                              if (r.failure) {
                                                fail(u, r.failure);
                                                return;
                                              }
                                              if (u->facts_after) return replace_metadata(u, r.response.body);
                                              if (resume_) resume_->end(u->key);
                                              finish(u, true);
                                            });
  }

  /// The object `u`, uploaded before its facts were known, is complete (`answer`:
  /// CompleteMultipartUpload's): gives it its facts, then acknowledges it.
  void replace_metadata(const std::shared_ptr<upload>& u, const std::string& answer) {
    s3_call c = replace_metadata_call(u->key, stored_content_type(u->info.content_type, u->info.encryption),
                                      to_metadata(u->info), detail::xml_text(answer, "ETag"));
    client_.send_async(std::move(c), [this, u](s3_result&& r) {
      if (r.failure) {
        // The object stays without its facts (a reader sees it incomplete) and its records
        // come again; the replay finds no facts and writes it again.
        fail(u, r.failure);
        return;
      }
      if (u->streamed) spool().end(u->key);
      finish(u, true);
    });
  }

  /// A request failed for good: the upload is aborted (a clean failure leaves no parts behind)
  /// and the failure is thrown from the next push() or flush().
  void fail(const std::shared_ptr<upload>& u, std::exception_ptr e) {
    bool first;
    {
      std::lock_guard lock(mutex_);
      first = !u->failed;
      u->failed = true;
      if (!failure_) failure_ = e;
      room_.notify_all();
    }
    if (!first) return;
    if (!u->upload_id.empty()) {
      s3_call c{.method = "DELETE", .bucket = where_.bucket, .key = u->key, .query = {{"uploadId", u->upload_id}}};
      c.accept = [](const detail::http_response& r) { return r.status == 404; };
      client_.send_async(std::move(c), [this, u](s3_result&&) {
        if (u->streamed || resume_) spool().end(u->key);
        finish(u, false);
      });
    } else {
      if (!u->o.piece.whole() && !u->skip) spool().end(u->key);
      finish(u, false);
    }
  }
  /// Removes `u` from the uploads in flight, acknowledging it when `stored`.
  void finish(const std::shared_ptr<upload>& u, bool stored) {
    if (stored) ctx_.acknowledge(u->o, u->size);
    std::lock_guard lock(mutex_);
    auto it = std::find(uploads_.begin(), uploads_.end(), u);
    if (it == uploads_.end()) return;
    uploads_.erase(it);
    held_bytes_ -= u->held;
    u->held = 0;
    if (stored) give_recycled(std::move(u->o.body));
    room_.notify_all();
    if (uploads_.empty() && in_flight_ == 0) idle_.notify_all();
  }

  void rethrow_failure() {
    std::lock_guard lock(mutex_);
    if (failure_) std::rethrow_exception(failure_);
  }

  /// Completes the multipart uploads a killed run left in resume_dir: lists the parts S3 has,
  /// sends only the missing ones from the saved copy, completes. Their records come again from
  /// the source (they were never acknowledged) and then find their key stored.
  void resume_uploads() {
    for (detail::s3_resume_state& st : resume_->pending(where_.bucket)) {
      if (st.open) {
        ctx_.log("store::s3", "aborting the upload of " + where(st.key) +
                                  ": the run that streamed it stopped before its last piece (its records come again)");
        if (!st.upload_id.empty()) {
          client_.abort_multipart_upload(where_.bucket, st.key, st.upload_id);
        } else {
          for (const s3_upload& up : client_.list_multipart_uploads(where_.bucket, st.key))
            if (up.key == st.key) client_.abort_multipart_upload(where_.bucket, st.key, up.upload_id);
        }
        resume_->end(st.key);
        continue;
      }
      std::string body;
      std::string why;
      if (!resume_->load_body(st, body, why)) {
        ctx_.log("store::s3", "not resuming the upload of " + where(st.key) + ": " + why + "; aborting it");
        client_.abort_multipart_upload(where_.bucket, st.key, st.upload_id);
        resume_->end(st.key);
        continue;
      }
      auto listed = client_.list_parts(where_.bucket, st.key, st.upload_id);
      if (!listed) {  // completed or aborted before the crash
        if (st.streamed) replace_metadata_after_restart(st, {});
        resume_->end(st.key);
        continue;
      }
      std::size_t count = (body.size() + st.part_size - 1) / st.part_size;
      std::vector<s3_part> parts(count);
      std::size_t reused = 0;
      for (std::size_t i = 0; i < count; ++i) {
        std::string_view piece = std::string_view(body).substr(i * st.part_size, st.part_size);
        parts[i].number = static_cast<int>(i + 1);
        parts[i].size = piece.size();
        auto have = std::find_if(listed->begin(), listed->end(), [&](const s3_part& p) {
          return p.number == static_cast<int>(i + 1) && p.size == piece.size();
        });
        detail::header_list h = sse_c_headers_;
        add_checksum(h, piece, &parts[i]);
        if (have != listed->end()) {
          parts[i].etag = have->etag;
          ++reused;
          continue;
        }
        s3_call c{.method = "PUT", .bucket = where_.bucket, .key = st.key,
                  .query = {{"partNumber", std::to_string(i + 1)}, {"uploadId", st.upload_id}},
                  .headers = std::move(h), .body = piece, .send_body = true};
        parts[i].etag = client_.send(std::move(c)).header("etag");
      }
      std::string etag = client_.complete_multipart_upload(where_.bucket, st.key, st.upload_id, parts,
                                                           checksum_algorithm(), sse_c_headers_);
      if (st.streamed) replace_metadata_after_restart(st, etag);
      resume_->end(st.key);
      ctx_.log("store::s3", "resumed the multipart upload of " + where(st.key) + ": " + std::to_string(reused) +
                                " of " + std::to_string(count) + " parts were stored already");
    }
  }

  /// Gives a streamed object completed by an earlier run (or just now) its facts; an object that
  /// is not there (its upload was aborted) needs none.
  void replace_metadata_after_restart(const detail::s3_resume_state& st, const std::string& etag) {
    s3_call c = replace_metadata_call(st.key, st.content_type, st.metadata, etag);
    c.accept = [](const detail::http_response& r) { return r.status == 404; };
    client_.send(std::move(c));
  }

  run_context& ctx_;
  const s3& config_;
  s3_location where_;
  key_template key_;
  crypto::object_checksummer checksums_;
  std::string key_buf_;
  detail::header_list sse_headers_, sse_c_headers_, copy_source_sse_c_headers_, write_headers_;
  bool use_if_none_match_ = false;
  bool head_first_ = false;
  std::unique_ptr<detail::s3_resume_store> resume_;
  std::mutex spool_mutex_;
  std::unique_ptr<detail::s3_resume_store> temporary_spool_;  // streamed objects' spool without resume_
  // Streamed objects by object_id while their pieces come (used by the pushing thread only).
  std::map<std::uint64_t, std::shared_ptr<upload>> streams_;
  std::map<std::uint64_t, std::pair<error_code, std::string>> unkeyable_;
  std::map<std::uint64_t, object> unnamed_;  // first pieces without records, waiting for some
  std::atomic<std::uint64_t> skipped_existing_{0};

  std::mutex mutex_;
  std::condition_variable room_, idle_;
  std::list<std::shared_ptr<upload>> uploads_;
  std::uint64_t held_bytes_ = 0;
  std::uint64_t peak_held_bytes_ = 0;
  std::uint64_t budget_ = 0;
  unsigned in_flight_ = 0;
  std::size_t waiting_parts_ = 0;  // streamed parts cut but not started
  std::exception_ptr failure_;
  s3_client client_;  // last: destroyed first, so its thread stops before what completions use
};

inline s3::node s3::open(run_context& ctx) const { return node(ctx, *this); }

}  // namespace sluice::store
