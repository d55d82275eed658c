// SPDX-License-Identifier: Apache-2.0
// Streamed objects (object_piece) into store::local, driven by hand through the real format and
// codec stages: pieces of interleaved objects land as whole objects with matching sidecars.
#include <sluice/store/local.hpp>

#include <sluice/codec/gzip.hpp>
#include <sluice/codec/none.hpp>
#include <sluice/codec/zstd.hpp>
#include <sluice/format/csv.hpp>
#include <sluice/format/jsonl.hpp>
#include <sluice_test/support.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

using namespace sluice;
using sluice_test::read_file;
using sluice_test::temp_dir;
namespace fs = std::filesystem;

namespace {

constexpr timestamp base_time{std::chrono::seconds(1714521600)};  // 2024-05-01T00:00:00Z

/// A run_context with one registered source ("events"), an error output that keeps what it
/// gets, and tracked batches whose record at position p has event time base_time + p seconds.
struct rig {
  sluice_test::test_context t;
  std::vector<record_error> errors;
  std::uint32_t source;
  std::uint64_t next_position = 1;

  rig() {
    t.options.stream = "clicks";
    t.options.on_error = [this](const record_error& e) { errors.push_back(e); };
    source = t.ctx.add_source("events").first;
  }
  run_context& ctx() { return t.ctx; }
  static timestamp time_of(std::uint64_t position) { return base_time + std::chrono::seconds(position); }

  record_batch batch(object_piece p, const std::vector<std::string>& payloads, std::string_view partition = {}) {
    record_batch b;
    for (const auto& payload : payloads) {
      b.append(payload, {source, next_position}, time_of(next_position), partition);
      ++next_position;
    }
    t.ctx.tracker().track(b);
    b.set_piece(p);
    return b;
  }
  /// Acknowledged records commit the source's position: what the checkpoint would hold.
  std::uint64_t committed() {
    auto [any, position] = t.ctx.tracker().committed(source);
    return any ? position : 0;
  }
};

/// format | codec | store::local, opened by hand.
template <class Format, class Codec>
auto open_chain(run_context& ctx, const Format& format, const Codec& codec, const store::local& store) {
  return format.open(ctx, [&] { return codec.open(ctx, [&] { return store.open(ctx); }); });
}

std::set<std::string> files_under(const fs::path& root) {
  std::set<std::string> out;
  if (!fs::exists(root)) return out;
  for (auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) out.insert(e.path().lexically_relative(root).generic_string());
  return out;
}

std::size_t open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

/// The number of zstd frames `data` is made of (each must be complete).
std::size_t zstd_frames(std::string_view data) {
  std::size_t frames = 0;
  while (!data.empty()) {
    std::size_t n = ZSTD_findFrameCompressedSize(data.data(), data.size());
    REQUIRE_FALSE(ZSTD_isError(n));
    data.remove_prefix(n);
    ++frames;
  }
  return frames;
}

std::string pad20(std::uint64_t v) {
  std::string s = std::to_string(v);
  return std::string(20 - s.size(), '0') + s;
}

/// What a streamed object should land as.
struct expected_object {
  std::string partition;
  std::string text;  // the formatted bytes, before the codec
  std::uint64_t records = 0, record_bytes = 0, first_position = 0, last_position = 0;
  std::uint64_t first_piece_low = 0, first_piece_high = 0;  // what its key's {seq} names
  std::size_t non_empty_pieces = 0;
};

}  // namespace

TEST_CASE("three interleaved streamed objects through jsonl | zstd | local land whole, with matching sidecars",
          "[store][local][pieces]") {
  temp_dir dir;
  rig r;
  store::local config{.root = dir / "lake", .key = "{stream}/{partition}/", .sync = true};
  std::map<std::uint64_t, expected_object> expected;
  {
    auto chain = open_chain(r.ctx(), format::jsonl{}, codec::zstd{.level = 1}, config);
    // {object id, first, last, records}; object 1's third piece and last piece are empty.
    struct step {
      std::uint64_t id;
      bool first, last;
      int records;
    };
    const std::vector<step> steps = {{1, true, false, 3}, {2, true, false, 2}, {1, false, false, 1},
                                     {3, true, false, 4}, {1, false, false, 0}, {2, false, true, 5},
                                     {3, false, false, 1}, {1, false, false, 2}, {3, false, true, 3},
                                     {1, false, true, 0}};
    for (const step& s : steps) {
      expected_object& e = expected[s.id];
      e.partition = "tenant=t" + std::to_string(s.id);
      std::vector<std::string> payloads;
      for (int i = 0; i < s.records; ++i) {
        std::uint64_t position = r.next_position + static_cast<std::uint64_t>(i);
        payloads.push_back("{\"object\":" + std::to_string(s.id) + ",\"position\":" + std::to_string(position) +
                           ",\"pad\":\"" + std::string(position * 37 % 300, 'p') + "\"}");
        e.text += payloads.back() + "\n";
        e.record_bytes += payloads.back().size();
        if (e.first_position == 0) e.first_position = position;
        e.last_position = position;
        if (s.first) {
          if (e.first_piece_low == 0) e.first_piece_low = position;
          e.first_piece_high = position;
        }
      }
      e.records += static_cast<std::uint64_t>(s.records);
      e.non_empty_pieces += s.records > 0;
      chain.push(r.batch({s.id, s.first, s.last}, payloads, e.partition));
      if (s.id == 1 && s.first) {
        // Nothing is visible before the last piece: only the temporary file exists.
        auto files = files_under(dir / "lake");
        REQUIRE(files.size() == 1);
        CHECK(files.begin()->ends_with(".jsonl.zst.tmp"));
      }
    }
    chain.flush();
  }
  CHECK(r.errors.empty());

  store::local_reader lake(dir / "lake");
  auto keys = lake.list();
  REQUIRE(keys.size() == 3);
  std::uint64_t stored = 0, records = 0;
  for (const auto& [id, e] : expected) {
    INFO("object " << id);
    const std::string prefix = "clicks/" + e.partition + "/clicks-" + pad20(e.first_piece_low) + "-" +
                               pad20(e.first_piece_high) + "-";
    auto key = std::find_if(keys.begin(), keys.end(), [&](const std::string& k) { return k.starts_with(prefix); });
    REQUIRE(key != keys.end());
    CHECK(key->ends_with(".jsonl.zst"));
    auto o = lake.read(*key);
    CHECK(zstd_frames(o.body) == e.non_empty_pieces);  // one frame per piece with bytes
    CHECK(codec::zstd_decompress(o.body) == e.text);   // the records in order
    CHECK(o.info.key == *key);
    CHECK(o.info.stream == "clicks");
    CHECK(o.info.partition == e.partition);
    CHECK(o.info.content_type == "application/x-ndjson");
    CHECK(o.info.content_encoding == std::vector<std::string>{"zstd"});
    CHECK(o.info.size == o.body.size());
    CHECK(o.info.size == fs::file_size(dir / "lake" / *key));
    CHECK(o.info.sha256 == crypto::sha256_hex(o.body));
    CHECK(o.info.crc32c == crypto::crc32c_base64(crypto::crc32c::compute(o.body)));
    CHECK(o.info.record_count == e.records);
    CHECK(o.info.record_bytes == e.record_bytes);
    CHECK(o.info.first_event_time == rig::time_of(e.first_position));
    CHECK(o.info.last_event_time == rig::time_of(e.last_position));
    REQUIRE(o.info.cursors.size() == 1);
    CHECK(o.info.cursors[0] == store::cursor_info{"events", e.first_position, e.last_position, e.records});
    std::string why;
    CHECK_FALSE(lake.verify(*key, why));
    CHECK(why.empty());
    stored += o.body.size();
    records += e.records;
  }
  // Every record acknowledged, once each; no temporary file left.
  CHECK(r.committed() == r.next_position - 1);
  CHECK(r.ctx().tracker().in_flight() == 0);
  auto m = r.t.metrics.snapshot();
  CHECK(m.objects_out == 3);
  CHECK(m.records_out == records);
  CHECK(m.bytes_out == stored);
  for (const auto& f : files_under(dir / "lake")) CHECK_FALSE(f.ends_with(".tmp"));
  CHECK(files_under(dir / "lake").size() == 6);
}

TEST_CASE("many streamed objects open at once keep a few files open, and all land", "[store][local][pieces]") {
  temp_dir dir;
  rig r;
  constexpr std::uint64_t objects = 40;
  std::map<std::uint64_t, std::string> text;
  auto chain = open_chain(r.ctx(), format::jsonl{}, codec::none{},
                          store::local{.root = dir / "lake", .key = "{stream}/", .sync = false});
  auto push = [&](std::uint64_t id, bool first, bool last) {
    std::string payload = "{\"id\":" + std::to_string(id) + ",\"at\":" + std::to_string(r.next_position) + "}";
    text[id] += payload + "\n";
    chain.push(r.batch({id, first, last}, {payload}));
  };
  const std::size_t fds_before = open_fds();
  for (std::uint64_t id = 1; id <= objects; ++id) push(id, true, false);
  // One file per open object would be 40 more descriptors; the store keeps at most a few.
  CHECK(open_fds() <= fds_before + 8);
  for (int round = 0; round < 3; ++round)
    for (std::uint64_t id = objects; id >= 1; --id) push(id, false, false);
  CHECK(open_fds() <= fds_before + 8);
  CHECK(store::local_reader(dir / "lake").list().empty());
  for (std::uint64_t id = 1; id <= objects; ++id) push(id, false, true);
  chain.flush();

  store::local_reader lake(dir / "lake");
  auto keys = lake.list();
  REQUIRE(keys.size() == objects);
  std::set<std::string> bodies;
  for (const auto& key : keys) {
    auto o = lake.read(key);
    CHECK_FALSE(lake.verify(key));
    CHECK(o.info.record_count == 5);
    bodies.insert(o.body);
  }
  std::set<std::string> wanted;
  for (const auto& [id, t] : text) wanted.insert(t);
  CHECK(bodies == wanted);
  CHECK(r.ctx().tracker().in_flight() == 0);
  CHECK(files_under(dir / "lake").size() == 2 * objects);
}

TEST_CASE("an unkeyable streamed object goes to the error output piece by piece and nothing of it is written",
          "[store][local][pieces]") {
  temp_dir dir;
  rig r;
  const std::string long_tenant = partition_keys{}.add("tenant", std::string(1100, 't')).str();
  const std::string acme = partition_keys{}.add("tenant", "acme").str();
  {
    auto chain = open_chain(r.ctx(), format::jsonl{}, codec::none{},
                            store::local{.root = dir / "lake", .key = "{partition:tenant}/", .sync = false});
    chain.push(r.batch({5, true, false}, {"{\"x\":1}", "{\"x\":2}"}, long_tenant));
    chain.push(r.batch({6, true, false}, {"{\"y\":1}"}, acme));
    chain.push(r.batch({5, false, false}, {"{\"x\":3}"}, long_tenant));
    chain.push(r.batch({5, false, false}, {}, long_tenant));
    chain.push(r.batch({6, false, true}, {"{\"y\":2}"}, acme));
    chain.push(r.batch({5, false, true}, {"{\"x\":4}"}, long_tenant));
    chain.flush();
  }
  REQUIRE(r.errors.size() == 3);  // the first piece, then each later piece with records
  for (const auto& e : r.errors) {
    CHECK(e.stage == "store::local");
    CHECK(e.code == boost::system::errc::filename_too_long);
    CHECK_THAT(e.reason, Catch::Contains("exceeds 1024 bytes") && Catch::Contains("{partition:tenant}/"));
  }
  CHECK(r.errors[0].payload == "{\"x\":1}\n{\"x\":2}\n");
  CHECK_THAT(r.errors[0].reason, Catch::Contains("2 records not stored"));
  CHECK(r.errors[1].payload == "{\"x\":3}\n");
  CHECK(r.errors[2].payload == "{\"x\":4}\n");
  auto keys = store::local_reader(dir / "lake").list();
  REQUIRE(keys.size() == 1);
  CHECK(keys[0].starts_with("acme/"));
  CHECK(store::local_reader(dir / "lake").read(keys[0]).body == "{\"y\":1}\n{\"y\":2}\n");
  CHECK(files_under(dir / "lake").size() == 2);
  // The rejected records are acknowledged too: the checkpoint covers everything.
  CHECK(r.committed() == 6);
  CHECK(r.ctx().tracker().in_flight() == 0);
}

TEST_CASE("a streamed object whose first pieces lost every record is keyed by its first piece with records",
          "[store][local][pieces]") {
  temp_dir dir;
  rig r;
  {
    auto chain = open_chain(r.ctx(), format::jsonl{}, codec::zstd{.level = 1},
                            store::local{.root = dir / "lake", .key = "{stream}/", .sync = false});
    chain.push(r.batch({1, true, false}, {"bad\nline", "also\nbad"}));  // positions 1, 2: rejected
    chain.push(r.batch({1, false, false}, {"{\"ok\":3}", "{\"ok\":4}"}));
    chain.push(r.batch({1, false, true}, {"{\"ok\":5}"}));
    // An object whose every record is rejected stores nothing, like a whole one.
    chain.push(r.batch({2, true, false}, {"x\ny"}));
    chain.push(r.batch({2, false, true}, {}));
    chain.flush();
  }
  CHECK(r.errors.size() == 3);
  store::local_reader lake(dir / "lake");
  auto keys = lake.list();
  REQUIRE(keys.size() == 1);
  CHECK(keys[0].starts_with("clicks/clicks-" + pad20(3) + "-" + pad20(4) + "-"));
  auto o = lake.read(keys[0]);
  CHECK(codec::zstd_decompress(o.body) == "{\"ok\":3}\n{\"ok\":4}\n{\"ok\":5}\n");
  CHECK(o.info.record_count == 3);
  CHECK(o.info.first_event_time == rig::time_of(3));
  CHECK_FALSE(lake.verify(keys[0]));
  CHECK(files_under(dir / "lake").size() == 2);
  CHECK(r.committed() == 6);
}

TEST_CASE("a streamed CSV object has one header, and its gzip members decode with stock gzip",
          "[store][local][pieces]") {
  temp_dir dir;
  rig r;
  {
    auto chain = open_chain(r.ctx(), format::csv{.columns = {"id", "name"}}, codec::gzip{},
                            store::local{.root = dir / "lake", .key = "{stream}/", .sync = false});
    chain.push(r.batch({4, true, false}, {R"({"id":1,"name":"a"})", R"({"id":2,"name":"b,c"})"}));
    chain.push(r.batch({4, false, false}, {R"({"id":3,"name":"d"})"}));
    chain.push(r.batch({4, false, true}, {}));
    chain.flush();
  }
  store::local_reader lake(dir / "lake");
  auto keys = lake.list();
  REQUIRE(keys.size() == 1);
  CHECK(keys[0].ends_with(".csv.gz"));
  auto o = lake.read(keys[0]);
  const std::string csv = "id,name\r\n1,a\r\n2,\"b,c\"\r\n3,d\r\n";
  CHECK(codec::gzip_decompress(o.body) == csv);
  CHECK(o.info.record_count == 3);
  CHECK_FALSE(lake.verify(keys[0]));
  if (sluice_test::run_command("command -v gzip >/dev/null 2>&1").status != 0)
    SLUICE_SKIP_OR_FAIL("the gzip command is not installed (apt-get install gzip)");
  auto stock = sluice_test::run_command("gzip -d -c '" + (dir / "lake" / keys[0]).string() + "'");
  CHECK(stock.status == 0);
  CHECK(stock.out == csv);
}

TEST_CASE("streamed objects never finished leave no temporary file and acknowledge nothing",
          "[store][local][pieces]") {
  temp_dir dir;
  rig r;
  {
    auto chain = open_chain(r.ctx(), format::jsonl{}, codec::none{},
                            store::local{.root = dir / "lake", .key = "{stream}/", .sync = true});
    for (std::uint64_t id = 1; id <= 12; ++id) chain.push(r.batch({id, true, false}, {"{\"n\":1}"}));
    chain.push(r.batch({3, false, true}, {"{\"n\":2}"}));  // one of them ends
    chain.flush();
    auto files = files_under(dir / "lake");
    CHECK(std::count_if(files.begin(), files.end(), [](const std::string& f) { return f.ends_with(".tmp"); }) == 11);
  }  // the node goes, with 11 objects open
  auto files = files_under(dir / "lake");
  CHECK(files.size() == 2);  // object 3 and its sidecar
  for (const auto& f : files) CHECK_FALSE(f.ends_with(".tmp"));
  CHECK(r.t.metrics.snapshot().objects_out == 1);
  CHECK(r.committed() == 0);  // object 3's records are done, but the ones before them are not
}

TEST_CASE("a streamed object whose sidecar cannot be written fails, removes its temporary file and acknowledges nothing",
          "[store][local][pieces]") {
  temp_dir dir;
  rig r;
  auto chain = open_chain(r.ctx(), format::jsonl{}, codec::none{},
                          store::local{.root = dir / "lake", .key = "{stream}/", .sync = false});
  chain.push(r.batch({1, true, false}, {"{\"n\":1}"}));
  auto files = files_under(dir / "lake");
  REQUIRE(files.size() == 1);
  const std::string tmp = *files.begin();
  REQUIRE(tmp.ends_with(".jsonl.tmp"));
  const std::string key = tmp.substr(0, tmp.size() - 4);
  // A folder where the sidecar's temporary file must go makes that write fail.
  fs::create_directories(dir / "lake" / (key + ".meta.json.tmp"));
  CHECK_THROWS_WITH(chain.push(r.batch({1, false, true}, {"{\"n\":2}"})),
                    Catch::Contains("store::local: writing") && Catch::Contains(key + ".meta.json"));
  CHECK_FALSE(fs::exists(dir / "lake" / tmp));
  CHECK_FALSE(fs::exists(dir / "lake" / key));
  CHECK(r.committed() == 0);
  CHECK(r.t.metrics.snapshot().objects_out == 0);
  // The object is forgotten: a piece of it now is out of order.
  CHECK_THROWS_WITH(chain.push(r.batch({1, false, true}, {})), Catch::Contains("before its first piece"));
}

TEST_CASE("pieces out of order are refused, naming the object", "[store][local][pieces]") {
  temp_dir dir;
  rig r;
  auto chain = open_chain(r.ctx(), format::jsonl{}, codec::none{},
                          store::local{.root = dir / "lake", .key = "{stream}/", .sync = false});
  CHECK_THROWS_WITH(chain.push(r.batch({77, false, false}, {"{}"})),
                    Catch::StartsWith("store::local: a piece of object 77 came before its first piece: pieces out of order"));
  chain.push(r.batch({78, true, false}, {"{}"}));
  try {
    chain.push(r.batch({78, true, false}, {"{}"}));
    FAIL("a second first piece was taken");
  } catch (const error& e) {
    CHECK(e.code() == boost::system::errc::invalid_argument);
    CHECK_THAT(e.what(), Catch::Contains("the first piece of object 78 came while that object was open"));
  }
  // The failed object left nothing behind.
  CHECK(files_under(dir / "lake").empty());
}

TEST_CASE("DuckDB reads streamed objects made of several zstd frames and gzip members", "[store][local][pieces][duckdb]") {
  const char* modules = std::getenv("SLUICE_NODE_MODULES");
  if (modules == nullptr || !fs::exists(fs::path(modules) / "@duckdb" / "node-api" / "package.json") ||
      sluice_test::run_command("node --version >/dev/null 2>&1").status != 0)
    SLUICE_SKIP_OR_FAIL("node or @duckdb/node-api is not installed (scripts/bootstrap installs them into .tools)");
  temp_dir dir;
  rig r;
  // One streamed object of six pieces (the fifth empty), 5,505 records; returns the sum of n.
  auto stream = [&](auto&& chain, std::uint64_t id) {
    std::uint64_t sum = 0;
    for (int p = 0; p < 6; ++p) {
      std::vector<std::string> payloads;
      for (int i = 0; i < (p == 4 ? 0 : 500 * p + 1); ++i) {
        std::uint64_t n = r.next_position + static_cast<std::uint64_t>(i);
        payloads.push_back("{\"n\":" + std::to_string(n) + ",\"s\":\"" + std::string(n % 50, 's') + "\"}");
        sum += n;
      }
      chain.push(r.batch({id, p == 0, p == 5}, payloads));
    }
    chain.flush();
    return sum;
  };
  const std::uint64_t zst_sum = stream(open_chain(r.ctx(), format::jsonl{}, codec::zstd{.level = 1},
                                                  store::local{.root = dir / "zst", .key = "{stream}/", .sync = false}),
                                       1);
  const std::uint64_t gz_sum = stream(open_chain(r.ctx(), format::jsonl{}, codec::gzip{},
                                                 store::local{.root = dir / "gz", .key = "{stream}/", .sync = false}),
                                      2);
  const std::uint64_t csv_sum = stream(open_chain(r.ctx(), format::csv{.columns = {"n", "s"}}, codec::zstd{.level = 1},
                                                  store::local{.root = dir / "csv", .key = "{stream}/", .sync = false}),
                                       3);
  REQUIRE(store::local_reader(dir / "zst").list().size() == 1);
  REQUIRE(store::local_reader(dir / "gz").list().size() == 1);
  REQUIRE(store::local_reader(dir / "csv").list().size() == 1);

  const std::string script = (fs::path(__FILE__).parent_path() / "duckdb_query.cjs").string();
  // Prints {"c":"<count>","s":"<sum>"} (DuckDB's BIGINT comes back as a string).
  auto query = [&](const std::string& from) {
    std::string sql = "select count(*) as c, sum(n) as s from " + from;
    auto out = sluice_test::run_command("NODE_PATH='" + std::string(modules) + "' node '" + script + "' \"" + sql + "\"");
    INFO(sql << " -> " << out.out);
    REQUIRE(out.status == 0);
    return out.out;
  };
  auto expect = [](std::uint64_t sum) {
    return "[{\"c\":\"5505\",\"s\":\"" + std::to_string(sum) + "\"}]\n";
  };
  CHECK(query("read_json('" + (dir / "zst").string() + "/**/*.jsonl.zst')") == expect(zst_sum));
  CHECK(query("read_json('" + (dir / "gz").string() + "/**/*.jsonl.gz')") == expect(gz_sum));
  CHECK(query("read_csv('" + (dir / "csv").string() + "/**/*.csv.zst', header=true)") == expect(csv_sum));
}
