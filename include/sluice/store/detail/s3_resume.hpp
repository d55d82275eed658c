// SPDX-License-Identifier: Apache-2.0
#pragma once
// What a multipart upload keeps on local disk so that a run killed mid-upload can finish it:
// `<id>.json` (bucket, key, upload id, part size, size and SHA-256 of the bytes) and `<id>.body`
// (the bytes). S3's ListParts says which parts it has; the rest are sent from the copy.
//
// A streamed object (object_piece) spools its pieces into `<id>.body` as they arrive and its
// parts are read back from there. Its state file is written when its multipart upload starts,
// marked `open`, and again when the last piece arrived, with the facts that go into its
// metadata: a killed run's open uploads are aborted (their records come again from the source),
// finished ones are completed.
#include <sluice/core/config.hpp>
#include <sluice/core/detail/file.hpp>
#include <sluice/core/error.hpp>
#include <sluice/crypto/checksum.hpp>
#include <sluice/store/detail/local_fs.hpp>

#include <boost/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace sluice::store::detail {

/// One upload a killed run left behind.
struct s3_resume_state {
  std::string bucket, key, upload_id;
  std::size_t part_size = 0;
  std::uint64_t size = 0;
  std::string sha256;  ///< hex, of the whole object
  std::filesystem::path state_file, body_file;
  /// A streamed object: its metadata is set after CompleteMultipartUpload (see store::s3).
  bool streamed = false;
  /// A streamed object whose last piece never arrived: to abort.
  bool open = false;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> metadata;  ///< x-amz-meta-* without the prefix
};

/// The resume folder of a store::s3 node.
///
/// The files are written without fsync: they must survive the process being killed (the page
/// cache keeps them), not the machine losing power — after that the records come again from
/// the source and the stale upload is left for `sluice s3 uploads --abort`.
/// Thread safety: begin() and end() may be called from different threads.
class s3_resume_store {
 public:
  explicit s3_resume_store(std::filesystem::path dir) : dir_(std::move(dir)) {
    if (auto ec = make_directories(dir_, false))
      throw error(ec, "store::s3: creating the resume folder " + dir_.string());
  }

  /// Records a new upload of `body` (copied to disk) under `key`.
  void begin(const std::string& bucket, const std::string& key, const std::string& upload_id, std::size_t part_size,
             std::string_view body, const std::string& sha256) {
    auto [state, data] = paths(key);
    write_file(data, body);
    boost::json::object o = state_json(bucket, key, upload_id, part_size);
    o["size"] = body.size();
    o["sha256"] = sha256;
    // The state file last: one without its body file is never seen.
    write_file(state, boost::json::serialize(o));
  }

  /// Starts the spool file of a streamed object under `key` (empty; an old one is replaced).
  void create_spool(const std::string& key) { write_file(paths(key).second, {}, false); }
  /// Appends a piece to the spool file of `key`.
  void append_spool(const std::string& key, std::string_view data) {
    auto data_path = paths(key).second;
    sluice::detail::unique_fd fd(::open(data_path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
    error_code ec = fd ? sluice::detail::write_all(fd.get(), data.data(), data.size())
                       : sluice::detail::last_system_error();
    if (ec) throw error(ec, "store::s3: writing spool file " + data_path.string());
  }
  /// Reads `size` bytes at `offset` of the spool file of `key` into `out`.
  void read_spool(const std::string& key, std::uint64_t offset, std::size_t size, std::string& out) const {
    auto data_path = paths(key).second;
    sluice::detail::unique_fd fd(::open(data_path.c_str(), O_RDONLY | O_CLOEXEC));
    error_code ec = fd ? error_code{} : sluice::detail::last_system_error();
    out.resize(size);
    for (std::size_t done = 0; !ec && done < size;) {
      ssize_t n = ::pread(fd.get(), out.data() + done, size - done, static_cast<off_t>(offset + done));
      if (n > 0) done += static_cast<std::size_t>(n);
      else if (n == 0) ec = make_error_code(errc::truncated_object);
      else if (errno != EINTR) ec = sluice::detail::last_system_error();
    }
    if (ec) throw error(ec, "store::s3: reading spool file " + data_path.string());
  }
  /// Records that the streamed object under `key` has a multipart upload whose last piece has
  /// not arrived yet; an empty `upload_id` says one is being created.
  void begin_stream(const std::string& bucket, const std::string& key, const std::string& upload_id,
                    std::size_t part_size) {
    boost::json::object o = state_json(bucket, key, upload_id, part_size);
    o["open"] = true;
    write_file(paths(key).first, boost::json::serialize(o));
  }
  /// Records that every byte of the streamed object under `key` is in its spool file, with the
  /// facts its metadata gets once the upload completes.
  void end_stream(const std::string& bucket, const std::string& key, const std::string& upload_id,
                  std::size_t part_size, std::uint64_t size, const std::string& sha256, const std::string& content_type,
                  const std::vector<std::pair<std::string, std::string>>& metadata) {
    boost::json::object o = state_json(bucket, key, upload_id, part_size);
    o["size"] = size;
    o["sha256"] = sha256;
    o["content_type"] = content_type;
    boost::json::object m;
    for (const auto& [name, value] : metadata) m[name] = value;
    o["metadata"] = std::move(m);
    write_file(paths(key).first, boost::json::serialize(o));
  }

  /// Forgets the upload of `key` (completed or aborted).
  void end(const std::string& key) {
    auto [state, data] = paths(key);
    std::error_code ec;
    std::filesystem::remove(state, ec);
    std::filesystem::remove(data, ec);
  }

  /// The uploads to `bucket` left by an earlier run. A state file that does not parse is
  /// skipped (and named on stderr by the caller through `why`).
  std::vector<s3_resume_state> pending(const std::string& bucket) const {
    std::vector<s3_resume_state> out;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
      if (entry.path().extension() != ".json") continue;
      std::string text;
      if (read_whole_file(entry.path(), text)) continue;
      error_code jec;
      boost::json::value v = boost::json::parse(text, jec);
      if (jec || !v.is_object()) continue;
      const auto& o = v.get_object();
      s3_resume_state s;
      try {
        s.bucket = boost::json::value_to<std::string>(o.at("bucket"));
        s.key = boost::json::value_to<std::string>(o.at("key"));
        s.upload_id = boost::json::value_to<std::string>(o.at("upload_id"));
        s.part_size = boost::json::value_to<std::size_t>(o.at("part_size"));
        s.open = o.contains("open");
        s.streamed = s.open || o.contains("metadata");
        if (!s.open) {
          s.size = boost::json::value_to<std::uint64_t>(o.at("size"));
          s.sha256 = boost::json::value_to<std::string>(o.at("sha256"));
        }
        if (s.streamed && !s.open) {
          s.content_type = boost::json::value_to<std::string>(o.at("content_type"));
          for (const auto& [name, value] : o.at("metadata").as_object())
            s.metadata.emplace_back(std::string(name), boost::json::value_to<std::string>(value));
        }
      } catch (const std::exception&) {
        continue;
      }
      if (s.bucket != bucket) continue;
      s.state_file = entry.path();
      s.body_file = entry.path();
      s.body_file.replace_extension(".body");
      out.push_back(std::move(s));
    }
    return out;
  }

  /// Reads the saved bytes of `s` and checks their size and SHA-256; false with `why` when they
  /// are missing or differ.
  bool load_body(const s3_resume_state& s, std::string& body, std::string& why) const {
    if (auto ec = read_whole_file(s.body_file, body)) {
      why = "reading " + s.body_file.string() + ": " + ec.message();
      return false;
    }
    if (body.size() != s.size || crypto::sha256_hex(body) != s.sha256) {
      why = s.body_file.string() + " does not hold the bytes its state file describes";
      return false;
    }
    return true;
  }

  [[nodiscard]] const std::filesystem::path& dir() const noexcept { return dir_; }

 private:
  /// What every state file holds.
  static boost::json::object state_json(const std::string& bucket, const std::string& key, const std::string& upload_id,
                                   std::size_t part_size) {
    boost::json::object o;
    o["bucket"] = bucket;
    o["key"] = key;
    o["upload_id"] = upload_id;
    o["part_size"] = part_size;
    return o;
  }

  std::pair<std::filesystem::path, std::filesystem::path> paths(const std::string& key) const {
    std::string id = crypto::sha256_hex(key).substr(0, 32);
    return {dir_ / (id + ".json"), dir_ / (id + ".body")};
  }

  /// Writes `path` whole: through a temporary file and a rename (`atomic`), so a reader never
  /// sees half a state file.
  static void write_file(const std::filesystem::path& path, std::string_view data, bool atomic = true) {
    if (!atomic) {
      sluice::detail::unique_fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
      error_code ec = fd ? sluice::detail::write_all(fd.get(), data.data(), data.size())
                         : sluice::detail::last_system_error();
      if (ec) throw error(ec, "store::s3: writing " + path.string());
      return;
    }
    std::filesystem::path tmp = path;
    tmp += ".tmp";
    sluice::detail::unique_fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    error_code ec = fd ? sluice::detail::write_all(fd.get(), data.data(), data.size())
                       : sluice::detail::last_system_error();
    fd.reset();
    if (!ec && ::rename(tmp.c_str(), path.c_str()) != 0) ec = sluice::detail::last_system_error();
    if (ec) {
      ::unlink(tmp.c_str());
      throw error(ec, "store::s3: writing resume file " + path.string());
    }
  }

  std::filesystem::path dir_;
};

}  // namespace sluice::store::detail
