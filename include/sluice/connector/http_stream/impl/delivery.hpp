// SPDX-License-Identifier: Apache-2.0
#pragma once
// Definitions of <sluice/connector/http_stream/delivery.hpp>.
#include <sluice/core/config.hpp>
#include <sluice/connector/http_stream/delivery.hpp>
#include <sluice/store/detail/local_fs.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <initializer_list>
#include <string>

namespace sluice::connector::http_stream {
namespace detail {

/// Walks a configuration document, naming every member by its path in errors.
class config_reader {
 public:
  explicit config_reader(std::string_view where) : where_(where) {}

  [[noreturn]] void fail(const std::string& path, const std::string& value, std::string_view what) const {
    throw config_error(where_ + ": " + path + (value.empty() ? "" : " = " + value) + ": " + std::string(what));
  }
  [[nodiscard]] static std::string shown(const boost::json::value& v) {
    std::string s = boost::json::serialize(v);
    return s.size() > 80 ? s.substr(0, 77) + "..." : s;
  }
  const boost::json::object& object(const boost::json::value& v, const std::string& path,
                                    std::initializer_list<std::string_view> known) const {
    if (!v.is_object()) fail(path.empty() ? "(the document)" : path, shown(v), "must be a JSON object");
    const auto& o = v.get_object();
    for (const auto& member : o) {
      if (std::find(known.begin(), known.end(), std::string_view(member.key())) != known.end()) continue;
      std::string list;
      for (std::string_view k : known) (list += list.empty() ? "" : ", ") += k;
      fail(join(path, member.key()), "", "unknown member (known: " + list + ")");
    }
    return o;
  }
  static std::string join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
  }
  bool string(const boost::json::object& o, std::string_view key, const std::string& path, std::string& out) const {
    const auto* v = o.if_contains(key);
    if (!v) return false;
    if (!v->is_string()) fail(join(path, key), shown(*v), "must be a string");
    out = std::string(v->get_string());
    return true;
  }
  bool path(const boost::json::object& o, std::string_view key, const std::string& at,
            std::filesystem::path& out) const {
    std::string s;
    if (!string(o, key, at, s)) return false;
    if (s.empty()) fail(join(at, key), "\"\"", "must name a file or folder");
    out = s;
    return true;
  }
  template <class Int>
  bool integer(const boost::json::object& o, std::string_view key, const std::string& path, std::int64_t min,
               std::int64_t max, Int& out, std::string_view what = {}) const {
    const auto* v = o.if_contains(key);
    if (!v) return false;
    if (!v->is_int64() && !v->is_uint64()) fail(join(path, key), shown(*v), "must be an integer");
    // A uint64 is only ever one past INT64_MAX or more: out of every range here.
    const bool in_range = v->is_int64() && v->get_int64() >= min && v->get_int64() <= max;
    if (!in_range)
      fail(join(path, key), shown(*v),
           "must be " + std::to_string(min) + ".." + std::to_string(max) + (what.empty() ? "" : " (" + std::string(what) + ")"));
    const std::int64_t n = v->get_int64();
    out = static_cast<Int>(n);
    return true;
  }
  bool boolean(const boost::json::object& o, std::string_view key, const std::string& path, bool& out) const {
    const auto* v = o.if_contains(key);
    if (!v) return false;
    if (!v->is_bool()) fail(join(path, key), shown(*v), "must be true or false");
    out = v->get_bool();
    return true;
  }

 private:
  std::string where_;
};

inline void read_stream(const config_reader& r, const boost::json::value& v, const std::string& at,
                        delivery_stream_config& s) {
  const auto& o = r.object(v, at,
                           {"name", "lake", "prefix", "error_output_prefix", "buffering_hints", "compression",
                            "compression_level", "keyring", "create_keyring", "partition_keys", "newline_delimiter",
                            "transform", "content_type", "buffer", "max_pending_mib", "workers"});
  if (!r.string(o, "name", at, s.name)) r.fail(at + ".name", "", "missing: every delivery stream needs a name");
  r.string(o, "lake", at, s.lake);
  if (s.lake.empty()) r.fail(at + ".lake", "\"\"", "must be a folder or s3://bucket/prefix");
  r.string(o, "prefix", at, s.prefix);
  r.string(o, "error_output_prefix", at, s.error_output_prefix);
  if (const auto* hints = o.if_contains("buffering_hints")) {
    const std::string hat = at + ".buffering_hints";
    const auto& h = r.object(*hints, hat, {"size_mib", "interval_seconds"});
    r.integer(h, "size_mib", hat, 1, 128, s.buffering_size_mib, "Firehose's BufferingHints.SizeInMBs");
    r.integer(h, "interval_seconds", hat, 0, 900, s.buffering_interval_seconds,
              "Firehose's BufferingHints.IntervalInSeconds");
  }
  std::string c;
  if (r.string(o, "compression", at, c)) {
    if (c == "none" || c == "UNCOMPRESSED") s.compression = compression::none;
    else if (c == "gzip" || c == "GZIP") s.compression = compression::gzip;
    else if (c == "zstd" || c == "ZSTD") s.compression = compression::zstd;
    else r.fail(at + ".compression", "\"" + c + "\"", "must be \"none\", \"gzip\" or \"zstd\"");
  }
  const bool gzip = s.compression == compression::gzip;
  r.integer(o, "compression_level", at, 0, gzip ? codec::gzip::max_level : 22, s.compression_level,
            gzip ? "this build's gzip levels; 0: the default" : "zstd levels; 0: the default");
  r.path(o, "keyring", at, s.keyring);
  r.boolean(o, "create_keyring", at, s.create_keyring);
  if (const auto* keys = o.if_contains("partition_keys")) {
    const std::string kat = at + ".partition_keys";
    if (!keys->is_object()) r.fail(kat, config_reader::shown(*keys), "must be an object of key name -> JSON path");
    for (const auto& [name, path] : keys->get_object()) {
      if (!path.is_string())
        r.fail(config_reader::join(kat, name), config_reader::shown(path), "must be a JSON path such as \".customer_id\"");
      s.partition_keys.push_back({std::string(name), std::string(path.get_string())});
    }
  }
  r.boolean(o, "newline_delimiter", at, s.newline_delimiter);
  r.string(o, "transform", at, s.transform);
  r.string(o, "content_type", at, s.content_type);
  if (const auto* b = o.if_contains("buffer")) {
    const std::string bat = at + ".buffer";
    const auto& bo = r.object(*b, bat, {"max_mib", "sync"});
    r.integer(bo, "max_mib", bat, 1, std::int64_t(1) << 30, s.buffer_max_mib);
    std::string sync;
    if (r.string(bo, "sync", bat, sync)) {
      if (sync == "always") s.buffer_sync = buffer::sync_policy::always;
      else if (sync == "never") s.buffer_sync = buffer::sync_policy::never;
      else r.fail(bat + ".sync", "\"" + sync + "\"", "must be \"always\" (acknowledged once on disk) or \"never\" (once in the page cache)");
    }
  }
  r.integer(o, "max_pending_mib", at, 1, 4096, s.max_pending_mib);
  r.integer(o, "workers", at, 1, 64, s.workers);
}

inline void read_listen(const config_reader& r, const std::string& listen, endpoint_config& c) {
  // "127.0.0.1:4573", "[::1]:4573", "0.0.0.0:0"
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size())
    r.fail("listen", "\"" + listen + "\"", "must be ADDRESS:PORT, such as \"127.0.0.1:4573\" or \"[::1]:4573\"");
  std::string address = listen.substr(0, colon);
  if (address.size() >= 2 && address.front() == '[' && address.back() == ']') address = address.substr(1, address.size() - 2);
  int port = -1;
  const std::string digits = listen.substr(colon + 1);
  if (digits.size() <= 5 && std::all_of(digits.begin(), digits.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
    port = std::stoi(digits);
  if (port < 0 || port > 65535) r.fail("listen", "\"" + listen + "\"", "the port must be 0..65535");
  c.address = address;
  c.port = port;
}

}  // namespace detail

SLUICE_DECL endpoint_config parse_endpoint_config(std::string_view json, std::string_view where) {
  const detail::config_reader r(where);
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(boost::json::string_view(json.data(), json.size()), ec);
  if (ec) throw config_error(std::string(where) + ": not JSON: " + ec.message());
  endpoint_config c;
  const auto& o = r.object(doc, "", {"listen", "region", "account_id", "tls", "access_keys", "state_dir", "threads",
                                     "delivery_streams"});
  std::string listen;
  if (r.string(o, "listen", "", listen)) detail::read_listen(r, listen, c);
  r.string(o, "region", "", c.region);
  r.string(o, "account_id", "", c.account_id);
  if (const auto* tls = o.if_contains("tls")) {
    const auto& t = r.object(*tls, "tls", {"certificate_file", "private_key_file"});
    tls_options opts;
    if (!r.path(t, "certificate_file", "tls", opts.certificate_file)) r.fail("tls.certificate_file", "", "missing");
    if (!r.path(t, "private_key_file", "tls", opts.private_key_file)) r.fail("tls.private_key_file", "", "missing");
    c.tls = std::move(opts);
  }
  if (const auto* keys = o.if_contains("access_keys")) {
    if (!keys->is_array()) r.fail("access_keys", detail::config_reader::shown(*keys), "must be an array");
    for (std::size_t i = 0; i < keys->get_array().size(); ++i) {
      const std::string at = "access_keys[" + std::to_string(i) + "]";
      const auto& k = r.object(keys->get_array()[i], at, {"access_key_id", "secret_access_key"});
      aws::credentials cred;
      if (!r.string(k, "access_key_id", at, cred.access_key_id) || cred.access_key_id.empty())
        r.fail(at + ".access_key_id", "", "missing or empty");
      if (!r.string(k, "secret_access_key", at, cred.secret_access_key) || cred.secret_access_key.empty())
        r.fail(at + ".secret_access_key", "", "missing or empty");
      c.access_keys.push_back(std::move(cred));
    }
  }
  r.path(o, "state_dir", "", c.state_dir);
  r.integer(o, "threads", "", 0, 256, c.threads);
  if (const auto* streams = o.if_contains("delivery_streams")) {
    if (!streams->is_array()) r.fail("delivery_streams", detail::config_reader::shown(*streams), "must be an array");
    for (std::size_t i = 0; i < streams->get_array().size(); ++i) {
      delivery_stream_config s;
      detail::read_stream(r, streams->get_array()[i], "delivery_streams[" + std::to_string(i) + "]", s);
      c.delivery_streams.push_back(std::move(s));
    }
  }
  if (c.delivery_streams.empty()) r.fail("delivery_streams", "", "missing or empty: list at least one delivery stream");
  return c;
}

SLUICE_DECL endpoint_config load_endpoint_config(const std::filesystem::path& file) {
  std::string text;
  if (auto ec = store::detail::read_whole_file(file, text)) throw config_error(file.string() + ": " + ec.message());
  return parse_endpoint_config(text, file.string());
}

SLUICE_DECL endpoint_config default_endpoint_config() {
  endpoint_config c;
  delivery_stream_config s;
  s.name = "events";
  s.lake = "lake";
  s.compression = compression::zstd;
  s.newline_delimiter = true;
  s.content_type = "application/x-ndjson";  // JSON records, one per line: `.jsonl` objects
  s.keyring = "lake-keyring.json";
  s.create_keyring = true;
  s.buffering_interval_seconds = 60;
  c.delivery_streams.push_back(std::move(s));
  return c;
}

// ---- delivery_service ----------------------------------------------------------------------------

SLUICE_DECL delivery_service::delivery_service(endpoint_config config, std::map<std::string, transform_function> transforms)
    : config_(std::move(config)) {
  if (config_.delivery_streams.empty())
    throw config_error("delivery_service: no delivery streams: configure at least one");
  if (config_.access_keys.empty()) {
    const char* id = std::getenv("AWS_ACCESS_KEY_ID");
    const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
    if (!id || !*id || !secret || !*secret)
      throw config_error("delivery_service: no access keys: list access_keys in the configuration, or set "
                         "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to the pair clients sign with");
    config_.access_keys.push_back({id, secret, {}});
  }
  endpoint_options options{.server = {.address = config_.address,
                                      .port = config_.port,
                                      .threads = config_.threads,
                                      .tls = config_.tls,
                                      .auth = {.secrets = static_keys(config_.access_keys), .region = config_.region}},
                           .account_id = config_.account_id};
  endpoint_ = std::make_unique<http_stream::endpoint>(std::move(options));
  for (std::size_t i = 0; i < config_.delivery_streams.size(); ++i) {
    const delivery_stream_config& s = config_.delivery_streams[i];
    try {
      transform_function transform;
      if (!s.transform.empty()) {
        auto it = transforms.find(s.transform);
        if (it == transforms.end()) {
          std::string known;
          for (const auto& [name, f] : transforms) (known += known.empty() ? "" : ", ") += name;
          throw config_error("transform = \"" + s.transform + "\": no such transform (this program has: " +
                             (known.empty() ? "none" : known) + ")");
        }
        transform = it->second;
      }
      auto st = std::make_unique<stream>();
      st->name = s.name;
      st->counters = std::make_shared<processing_counters>();
      delivery_stream_description d;
      d.name = s.name;
      d.destination.bucket_arn = "arn:aws:s3:::" + (s.lake.starts_with("s3://") ? s.lake.substr(5, s.lake.find('/', 5) - 5) : s.lake);
      d.destination.prefix = s.prefix;
      d.destination.error_output_prefix = s.error_output_prefix;
      d.destination.buffering_size_mib = s.buffering_size_mib;
      d.destination.buffering_interval_seconds = s.buffering_interval_seconds;
      d.destination.compression = s.compression == compression::zstd   ? compression_format::zstd
                                  : s.compression == compression::gzip ? compression_format::gzip
                                                                       : compression_format::uncompressed;
      source src = endpoint_->add_stream({.description = std::move(d), .max_pending_bytes = s.max_pending_mib << 20});
      st->inbox = src.inbox;
      st->pipeline.emplace(make_delivery_pipeline(std::move(src), s, config_, std::move(transform), st->counters));
      st->pipeline->validate();
      streams_.push_back(std::move(st));
    } catch (const config_error& e) {
      // e.what() starts with the "sluice: " that the new error adds again.
      throw config_error("delivery_streams[" + std::to_string(i) + "] ('" + s.name + "'): " + (e.what() + 8));
    }
  }
}

SLUICE_DECL delivery_service::~delivery_service() {
  try {
    stop();
  } catch (...) {  // a destructor does not throw; call stop() to see a pipeline's failure
  }
}

SLUICE_DECL void delivery_service::start() {
  if (started_) return;
  started_ = true;
  for (auto& s : streams_) {
    stream* st = s.get();
    st->thread = std::jthread([st] {
      try {
        st->pipeline->run();
      } catch (...) {
        st->failure = std::current_exception();
        st->inbox->fail();
      }
    });
  }
  for (auto& s : streams_) {
    if (s->inbox->wait_open()) continue;
    // A pipeline that cannot open (an unreachable bucket, a locked buffer) fails the start:
    // stop() drains the others and rethrows its failure, which gets the stream's name.
    const std::string what = "delivery stream " + s->name + " failed to open";
    try {
      stop();
    } catch (const boost::system::system_error& e) {
      throw error(e.code(), what + ": " + e.what());
    } catch (const std::exception& e) {
      throw error(make_error_code(errc::io_failure), what + ": " + e.what());
    }
    throw error(make_error_code(errc::io_failure), what);
  }
  server_routes routes;
  routes.health = [this] {
    for (const auto& s : streams_)
      if (s->inbox->failed())
        return response{.status = 503, .content_type = "text/plain", .body = "delivery stream " + s->name + " failed\n"};
    return response{.status = 200, .content_type = "text/plain", .body = "ok\n"};
  };
  routes.metrics = [this](std::string& out) { append_metrics(out); };
  endpoint_->start(std::move(routes));
}

SLUICE_DECL void delivery_service::stop() {
  if (stopped_) return;
  stopped_ = true;
  endpoint_->stop();
  std::exception_ptr first;
  for (auto& s : streams_) {
    if (s->thread.joinable()) s->thread.join();
    if (s->failure && !first) first = s->failure;
  }
  if (first) std::rethrow_exception(first);
}

SLUICE_DECL std::map<std::string, metrics_snapshot> delivery_service::delivered() const {
  std::map<std::string, metrics_snapshot> out;
  for (const auto& s : streams_) out.emplace(s->name, s->pipeline->metrics().snapshot());
  return out;
}

SLUICE_DECL void delivery_service::append_metrics(std::string& out) const {
  endpoint_->append_metrics(out);
  const auto delivered_now = delivered();
  std::vector<std::pair<std::string_view, std::string>> samples;
  auto family = [&](const char* name, const char* type, const char* help, auto value) {
    samples.clear();
    for (const auto& s : streams_) samples.emplace_back(s->name, value(*s, delivered_now.at(s->name)));
    detail::append_stream_family(out, name, type, help, samples);
  };
  using snap = metrics_snapshot;
  auto n = [](std::uint64_t v) { return std::to_string(v); };
  family("records_delivered_total", "counter", "Records in objects that are stored.",
         [&](const stream&, const snap& m) { return n(m.records_out); });
  family("bytes_delivered_total", "counter", "Stored object bytes (after compression and encryption).",
         [&](const stream&, const snap& m) { return n(m.bytes_out); });
  family("objects_delivered_total", "counter", "Objects stored.", [&](const stream&, const snap& m) { return n(m.objects_out); });
  family("records_processing_failed_total", "counter", "Records the transform failed (delivered under the error prefix).",
         [&](const stream& s, const snap&) { return n(s.counters->processing_failed.load()); });
  family("records_partitioning_failed_total", "counter",
         "Records dynamic partitioning could not key (delivered under the error prefix).",
         [&](const stream& s, const snap&) { return n(s.counters->partitioning_failed.load()); });
  family("records_dropped_total", "counter", "Records the transform dropped.",
         [&](const stream& s, const snap&) { return n(s.counters->dropped.load()); });
  family("delivery_latency_seconds_sum", "counter", "First record of an object in to the object stored, summed.",
         [&](const stream&, const snap& m) {
           return std::to_string(std::chrono::duration<double>(m.batch_latency_total).count());
         });
  family("delivery_latency_seconds_count", "counter", "Objects the latency sum covers.",
         [&](const stream&, const snap& m) { return n(m.batch_latency_count); });
}

}  // namespace sluice::connector::http_stream
