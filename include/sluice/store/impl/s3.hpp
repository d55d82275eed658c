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
    // Lets what is in flight finish (acknowledged when it succeeds); nothing new starts.
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [&] { return uploads_.empty(); });
  }

  void push(object&& o) {
    rethrow_failure();
    if (auto ec = key_.render(o, ctx_.tracker(), key_buf_)) {
      reject_unkeyable(ctx_, o, ec, key_buf_, key_.text(), "store::s3");
      return;
    }
    std::string full_key = where_.prefix + key_buf_;
    if (full_key.size() > max_key_bytes) {
      reject_unkeyable(ctx_, o, make_error_code(boost::system::errc::filename_too_long), full_key, key_.text(),
                       "store::s3");
      return;
    }
    o.key = key_buf_;
    auto u = std::make_shared<upload>();
    u->key = std::move(full_key);
    u->size = o.body.size();
    u->info = describe(o, crypto::compute_checksums(o.body, sha_), ctx_.tracker());
    u->info.key = u->key;
    u->o = std::move(o);
    {
      std::unique_lock lock(mutex_);
      // Memory bound: wait while the bytes in flight would pass the budget (one object alone
      // may exceed it).
      room_.wait(lock, [&] { return failure_ || held_bytes_ == 0 || held_bytes_ + u->size <= budget_; });
      if (failure_) std::rethrow_exception(failure_);
      held_bytes_ += u->size;
      uploads_.push_back(u);
    }
    try {
      if (exists_already(*u)) {
        finish(u, true);
        return;
      }
      if (u->size > config_.multipart_threshold) begin_multipart(*u);
      else u->part_count = 1;
    } catch (...) {
      finish(u, false);
      throw;
    }
    pump();
  }

  /// Waits until every object handed over is stored and acknowledged.
  void flush() {
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [&] { return uploads_.empty(); });
    lock.unlock();
    rethrow_failure();
  }
  void tick() {}

  /// Objects found already stored (a replay) and acknowledged without a write.
  [[nodiscard]] std::uint64_t skipped_existing() const noexcept { return skipped_existing_; }

 private:
  struct upload {
    object o;                 // the body until the upload is done
    std::string key;          // the full key, prefix included
    std::uint64_t size = 0;
    object_info info;
    std::string upload_id;    // empty for a PutObject
    std::size_t part_count = 0;
    std::size_t next_part = 0;
    std::size_t parts_done = 0;
    std::vector<s3_part> parts;
    bool failed = false;
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

  /// The headers of PutObject or CreateMultipartUpload for `u`.
  detail::header_list object_headers(const upload& u) const {
    detail::header_list h = write_headers_;
    h.insert(h.end(), sse_headers_.begin(), sse_headers_.end());
    h.insert(h.end(), sse_c_headers_.begin(), sse_c_headers_.end());
    h.emplace_back("content-type", u.info.encryption.empty() && !u.info.content_type.empty()
                                       ? u.info.content_type
                                       : "application/octet-stream");
    for (auto& [name, value] : to_metadata(u.info)) h.emplace_back("x-amz-meta-" + name, std::move(value));
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
      std::string why = e.status() == 404 ? "the bucket does not exist"
                        : e.status() == 403 ? "access denied: check the credentials (access key " +
                                                  client_.connection().credentials.access_key_id +
                                                  "), the region and the clock"
                                            : "the bucket cannot be reached";
      throw error(e.code(), "store::s3: s3://" + where_.bucket + " at " + client_.endpoint() + ": " + why + " (" +
                                e.what() + ")");
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
  bool exists_already(const upload& u) {
    if (config_.conditional == s3_conditional::off) return false;
    if (!head_first_ && u.size <= config_.multipart_threshold) return false;
    if (!client_.head_object(where_.bucket, u.key, sse_c_headers_)) return false;
    ++skipped_existing_;
    return true;
  }

  void begin_multipart(upload& u) {
    detail::header_list h = object_headers(u);
    if (auto algo = checksum_algorithm(); !algo.empty()) h.emplace_back("x-amz-checksum-algorithm", algo);
    u.upload_id = client_.create_multipart_upload(where_.bucket, u.key, std::move(h));
    u.part_count = static_cast<std::size_t>((u.size + config_.part_size - 1) / config_.part_size);
    if (u.part_count > 10'000)
      throw config_error("store::s3.part_size = " + std::to_string(config_.part_size) + ": an object of " +
                         std::to_string(u.size) + " bytes would need more than 10,000 parts");
    u.parts.resize(u.part_count);
    if (resume_) resume_->begin(where_.bucket, u.key, u.upload_id, config_.part_size, u.o.body, u.info.sha256);
  }

  /// Starts requests while fewer than `concurrency` are in flight.
  void pump() {
    std::vector<std::pair<std::shared_ptr<upload>, std::size_t>> to_start;
    {
      std::lock_guard lock(mutex_);
      for (auto& u : uploads_) {
        while (in_flight_ < config_.concurrency && !u->failed && u->part_count > 0 && u->next_part < u->part_count) {
          to_start.emplace_back(u, u->next_part++);
          ++in_flight_;
        }
      }
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
      c.body = std::string_view(u->o.body).substr(offset, config_.part_size);
      c.query = {{"partNumber", std::to_string(index + 1)}, {"uploadId", u->upload_id}};
      c.headers = sse_c_headers_;
      u->parts[index].number = static_cast<int>(index + 1);
      u->parts[index].size = c.body.size();
      add_checksum(c, &u->parts[index]);
    }
    client_.send_async(std::move(c), [this, u, index](s3_result&& r) { request_done(u, index, std::move(r)); });
  }

  void request_done(const std::shared_ptr<upload>& u, std::size_t index, s3_result&& r) {
    {
      std::lock_guard lock(mutex_);
      --in_flight_;
    }
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
    u->parts[index].etag = r.response.header("etag");
    bool all_done;
    {
      std::lock_guard lock(mutex_);
      all_done = ++u->parts_done == u->part_count;
    }
    if (all_done) complete(u);
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
                                              if (resume_) resume_->end(u->key);
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
        if (resume_) resume_->end(u->key);
        finish(u, false);
      });
    } else {
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
    held_bytes_ -= u->size;
    if (stored) give_recycled(std::move(u->o.body));
    room_.notify_all();
    if (uploads_.empty()) idle_.notify_all();
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
      client_.complete_multipart_upload(where_.bucket, st.key, st.upload_id, parts, checksum_algorithm(),
                                        sse_c_headers_);
      resume_->end(st.key);
      ctx_.log("store::s3", "resumed the multipart upload of " + where(st.key) + ": " + std::to_string(reused) +
                                " of " + std::to_string(count) + " parts were stored already");
    }
  }

  run_context& ctx_;
  const s3& config_;
  s3_location where_;
  key_template key_;
  crypto::sha256 sha_;
  std::string key_buf_;
  detail::header_list sse_headers_, sse_c_headers_, write_headers_;
  bool use_if_none_match_ = false;
  bool head_first_ = false;
  std::unique_ptr<detail::s3_resume_store> resume_;
  std::atomic<std::uint64_t> skipped_existing_{0};

  std::mutex mutex_;
  std::condition_variable room_, idle_;
  std::list<std::shared_ptr<upload>> uploads_;
  std::uint64_t held_bytes_ = 0;
  std::uint64_t budget_ = 0;
  unsigned in_flight_ = 0;
  std::exception_ptr failure_;
  s3_client client_;  // last: destroyed first, so its thread stops before what completions use
};

inline s3::node s3::open(run_context& ctx) const { return node(ctx, *this); }

}  // namespace sluice::store
