// SPDX-License-Identifier: Apache-2.0
// store::s3 with streamed objects (object_piece) against radosgw: parts go up while the object
// is still being produced, memory stays within part_size x concurrency whatever the number of
// open objects, and what lands is checked with the AWS CLI, byte for byte and fact for fact.
#include "s3_test_support.hpp"

#include <sluice/batch/by_size.hpp>
#include <sluice/connector/generator.hpp>
#include <sluice/crypto/envelope.hpp>
#include <sluice/format/jsonl.hpp>
#include <sluice/store/s3.hpp>
#include <sluice/store/s3_reader.hpp>
#include <sluice_test/fault_proxy.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace sluice;
using sluice_test::fault_proxy;

namespace {

constexpr std::size_t mib = std::size_t{1} << 20;

/// A JSON line of `size` bytes (newline excluded) that differs with `n`.
std::string line(std::size_t n, std::size_t size) {
  std::string s = "{\"n\":" + std::to_string(n) + ",\"pad\":\"";
  for (std::size_t j = s.size(); j + 2 < size; ++j) s += static_cast<char>('a' + (n * 7 + j * 13) % 26);
  return s + "\"}";
}

/// One object to stream: its pieces, each a list of payloads (a piece may be empty).
struct streamed_object {
  std::string partition;
  std::vector<std::vector<std::string>> pieces;
  [[nodiscard]] std::string jsonl() const {
    std::string out;
    for (const auto& piece : pieces)
      for (const auto& p : piece) out += p + "\n";
    return out;
  }
  [[nodiscard]] std::size_t records() const {
    std::size_t n = 0;
    for (const auto& piece : pieces) n += piece.size();
    return n;
  }
};

/// A source that hands on its objects as pieces, interleaved round-robin: what a streaming
/// batcher with one open object per partition emits.
struct piece_source {
  using stage_concept = source_tag;
  using output_type = record_batch;
  std::vector<streamed_object> objects;

  struct state {
    const piece_source& config;
    std::uint32_t source_id;
    std::uint64_t resume_after;
    run_context& ctx;
    template <class Out>
    void run(Out& out, std::stop_token) {
      std::vector<std::uint64_t> ids(config.objects.size());
      for (auto& id : ids) id = ctx.next_object_id();
      std::uint64_t seq = 0;
      for (std::size_t round = 0;; ++round) {
        bool any = false;
        for (std::size_t i = 0; i < config.objects.size(); ++i) {
          const auto& o = config.objects[i];
          if (round >= o.pieces.size()) continue;
          any = true;
          record_batch batch;
          for (const auto& p : o.pieces[round]) batch.append(p, {source_id, ++seq}, {}, o.partition);
          batch.set_partition(o.partition);
          batch.set_piece({ids[i], round == 0, round + 1 == o.pieces.size()});
          out.push(std::move(batch));
        }
        if (!any) return;
      }
    }
  };
  state open(run_context& ctx) const {
    auto [id, resume] = ctx.add_source("pieces");
    return {*this, id, resume.value_or(0), ctx};
  }
};

/// An object of `pieces` pieces of `per_piece` records of `size` bytes, numbered from `first`.
streamed_object make_object(std::string partition, std::size_t pieces, std::size_t per_piece, std::size_t size,
                            std::size_t first) {
  streamed_object o{std::move(partition), {}};
  for (std::size_t p = 0; p < pieces; ++p) {
    o.pieces.emplace_back();
    for (std::size_t r = 0; r < per_piece; ++r) o.pieces.back().push_back(line(first++, size));
  }
  return o;
}

}  // namespace

TEST_CASE("streamed objects land whole: multipart ones get their facts after completion, small ones one PutObject",
          "[s3][stream]") {
  S3_SERVER_OR_SKIP(srv);
  std::string bucket = s3_test::unique_bucket("stream");
  s3_test::create_bucket(srv, bucket);
  fault_proxy proxy(srv.host, srv.port);
  sluice_test::temp_dir resume;

  piece_source source;
  // 12 pieces of ~1 MiB: a multipart object of 3 parts (5, 5, 2 MiB).
  source.objects.push_back(make_object("p=big", 12, 10, 100 * 1024, 0));
  // Under the threshold: one PutObject with its facts.
  source.objects.push_back(make_object("p=small", 3, 20, 1000, 100'000));
  // Starts with an empty piece, ends with one, and has one in the middle.
  auto third = make_object("p=gaps", 10, 8, 100 * 1024, 200'000);  // 8 pieces with records: 6.25 MiB
  third.pieces[0].clear();  // no records yet: the key waits for the piece that brings some
  third.pieces[3].clear();
  third.pieces.emplace_back();
  source.objects.push_back(third);

  auto p = source | format::jsonl{} |
           store::s3{.url = "s3://" + bucket, .key = "{partition}/", .connection = s3_test::connection(srv, proxy.endpoint()),
                     .multipart_threshold = 5 * mib, .part_size = 5 * mib, .concurrency = 2,
                     .resume_dir = resume / "uploads"};
  p.options.stream = "clicks";
  p.run();

  auto keys = s3_test::list_keys(srv, bucket);
  REQUIRE(keys.size() == 3);
  store::s3_reader reader("s3://" + bucket, s3_test::connection(srv));
  for (const auto& o : source.objects) {
    auto key = std::find_if(keys.begin(), keys.end(), [&](const std::string& k) { return k.starts_with(o.partition + "/"); });
    REQUIRE(key != keys.end());
    CAPTURE(*key);
    std::string expected = o.jsonl();
    CHECK(s3_test::get_object(srv, bucket, *key) == expected);
    auto head = s3_test::aws_json(srv, "s3api head-object --bucket " + bucket + " --key '" + *key + "'");
    CHECK(head.at("ContentType").as_string() == "application/x-ndjson");
    const auto& meta = head.at("Metadata");
    CHECK(meta.at("sha256").as_string() == crypto::sha256_hex(expected));
    CHECK(meta.at("record-count").as_string() == std::to_string(o.records()));
    CHECK(meta.at("size").as_string() == std::to_string(expected.size()));
    CHECK(meta.at("partition").as_string() == o.partition);
    std::string why;
    CHECK_FALSE(reader.verify(*key, why));
    CHECK(why.empty());
  }
  // The big objects went up in parts, the small one with one PutObject, and nothing is left
  // behind: no upload, no spool file.
  CHECK(proxy.count("PUT", "p%3Dbig", "partNumber=") + proxy.count("PUT", "p=big", "partNumber=") == 3);
  CHECK(proxy.count("PUT", "", "partNumber=") >= 5);
  CHECK(s3_test::multipart_uploads(srv, bucket) == 0);
  CHECK(std::filesystem::is_empty(resume / "uploads"));
  CHECK(p.metrics().snapshot().objects_out == 3);
  CHECK(p.metrics().snapshot().records_out == source.objects[0].records() + source.objects[1].records() +
                                                  source.objects[2].records());
}

TEST_CASE("parts go up while the object is still produced, and memory stays within part_size x concurrency however "
          "many objects are open",
          "[s3][stream]") {
  S3_SERVER_OR_SKIP(srv);
  std::string bucket = s3_test::unique_bucket("stream-mem");
  s3_test::create_bucket(srv, bucket);
  pipeline_options options;
  options.stream = "mem";
  sluice::metrics m;
  run_context ctx(options, m, {});
  auto config = store::s3{.url = "s3://" + bucket, .key = "{partition}/", .connection = s3_test::connection(srv),
                          .multipart_threshold = 5 * mib, .part_size = 5 * mib, .concurrency = 2};
  auto node = config.open(ctx);

  // 40 objects open at once, each growing to 11 MiB in 256 KiB pieces, interleaved: 440 MiB in
  // all, where a store that kept a part buffer per object would hold 40 x 5 MiB.
  constexpr std::size_t objects = 40, pieces = 44, piece_size = 256 * 1024;
  std::vector<std::uint64_t> ids(objects);
  for (auto& id : ids) id = ctx.next_object_id();
  std::string body(piece_size, 'x');
  for (std::size_t round = 0; round < pieces; ++round) {
    for (std::size_t i = 0; i < objects; ++i) {
      object o;
      o.stream = "mem";
      o.partition = "o=" + std::to_string(i);
      o.content_type = "application/x-ndjson";
      o.body = body;
      o.body[0] = static_cast<char>('a' + round % 26);
      o.record_count = 1;
      o.record_bytes = piece_size;
      o.piece = {ids[i], round == 0, round + 1 == pieces};
      node.push(std::move(o));
    }
    if (round == 30) {
      // Mid-way, with no object ended yet, the server already has parts of every object.
      auto uploads = store::s3_client(s3_test::connection(srv)).list_multipart_uploads(bucket, "");
      CHECK(uploads.size() == objects);
    }
  }
  node.flush();
  CHECK(node.peak_held_bytes() <= 2 * 5 * mib);
  auto keys = s3_test::list_keys(srv, bucket);
  CHECK(keys.size() == objects);
  auto head = s3_test::aws_json(srv, "s3api head-object --bucket " + bucket + " --key '" + keys.at(0) + "'");
  CHECK(head.at("ContentLength").as_int64() == static_cast<std::int64_t>(pieces * piece_size));
  CHECK(std::string(head.at("ETag").as_string()).ends_with("-3\""));
  CHECK(head.at("Metadata").at("record-count").as_string() == std::to_string(pieces));
  CHECK(s3_test::multipart_uploads(srv, bucket) == 0);
}

TEST_CASE("a replayed streamed object finds its key stored with its facts and writes nothing again", "[s3][stream]") {
  S3_SERVER_OR_SKIP(srv);
  std::string bucket = s3_test::unique_bucket("stream-replay");
  s3_test::create_bucket(srv, bucket);
  fault_proxy proxy(srv.host, srv.port);
  piece_source source;
  source.objects.push_back(make_object("p=a", 7, 10, 100 * 1024, 0));  // multipart
  source.objects.push_back(make_object("p=b", 2, 10, 1000, 1000));     // PutObject
  auto make = [&] {
    auto p = source | format::jsonl{} |
             store::s3{.url = "s3://" + bucket, .key = "{partition}/", .connection = s3_test::connection(srv, proxy.endpoint()),
                       .multipart_threshold = 5 * mib, .part_size = 5 * mib};
    p.options.stream = "replay";
    return p;
  };
  auto first = make();
  first.run();
  REQUIRE(s3_test::list_keys(srv, bucket).size() == 2);
  auto object_writes = [&] {
    std::size_t n = 0;
    for (const auto& e : proxy.log())
      if ((e.method == "PUT" || e.method == "POST") && e.target.find(".sluice-conditional-probe") == std::string::npos &&
          e.status == 200)
        ++n;
    return n;
  };
  auto before = object_writes();
  auto second = make();
  second.run();
  CHECK(second.metrics().snapshot().objects_out == 2);
  CHECK(object_writes() == before);
  CHECK(s3_test::list_keys(srv, bucket).size() == 2);
}

TEST_CASE("a streaming batcher, the envelope and store::s3 land every record once, in objects the keyring decrypts",
          "[s3][stream]") {
  S3_SERVER_OR_SKIP(srv);
  std::string bucket = s3_test::unique_bucket("stream-e2e");
  s3_test::create_bucket(srv, bucket);
  sluice_test::temp_dir dir;
  crypto::local_keyring::create(dir / "keys.json", "e2e");
  auto keys = std::make_shared<crypto::local_keyring>(dir / "keys.json");

  constexpr std::uint64_t records = 200'000;  // ~60 MB over 5 partitions: objects of up to 8 MiB in 1 MiB pieces
  auto p = connector::generator{.records = records}
         | batch::by_size{.max_bytes = 8_MiB, .max_buffered_bytes = 4_MiB, .piece_bytes = 1_MiB}
         | format::jsonl{}
         | crypto::envelope{.keyring = keys, .frame_length = 64 * 1024}
         | store::s3{.url = "s3://" + bucket + "/e2e", .key = "{partition}/", .connection = s3_test::connection(srv),
                     .multipart_threshold = 5 * mib, .part_size = 5 * mib, .concurrency = 2};
  p.options.stream = "e2e";
  p.run();

  store::s3_reader reader("s3://" + bucket + "/e2e", s3_test::connection(srv));
  auto keys_landed = reader.list("");
  REQUIRE(keys_landed.size() >= 5);
  std::uint64_t lines = 0, multipart = 0;
  std::set<std::string> seen;
  for (const auto& key : keys_landed) {
    CAPTURE(key);
    auto stored = reader.read(key);
    std::string why;
    CHECK_FALSE(reader.verify(key, why));
    if (stored.info.size > 5 * mib) ++multipart;
    std::string plain = crypto::decrypt(*keys, stored.body);
    std::uint64_t n = 0;
    for (std::size_t at = 0; at < plain.size();) {
      auto end = plain.find('\n', at);
      REQUIRE(end != std::string::npos);
      // Events differ (each has its own id): a duplicate would show here.
      CHECK(seen.insert(plain.substr(at, end - at)).second);
      ++n;
      at = end + 1;
    }
    CHECK(n == stored.info.record_count);
    lines += n;
  }
  CHECK(lines == records);
  CHECK(multipart >= 5);  // the 8 MiB objects streamed as multipart uploads
  CHECK(p.metrics().snapshot().records_out == records);
  CHECK(s3_test::multipart_uploads(srv, bucket) == 0);
}
