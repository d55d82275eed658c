// SPDX-License-Identifier: Apache-2.0
#include <sluice/store/local.hpp>

#include <sluice/connector/generator.hpp>
#include <sluice/format/jsonl.hpp>
#include <sluice_test/support.hpp>

#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace sluice;
using sluice_test::read_file;
using sluice_test::temp_dir;
using sluice_test::vector_source;
namespace fs = std::filesystem;

static_assert(sink<store::local>);

namespace {
std::set<std::string> files_under(const fs::path& root) {
  std::set<std::string> out;
  for (auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) out.insert(e.path().lexically_relative(root).generic_string());
  return out;
}
std::string sha256sum(const fs::path& p) {
  auto r = sluice_test::run_command("sha256sum '" + p.string() + "'");
  REQUIRE(r.status == 0);
  return r.out.substr(0, 64);
}
std::string checkpoint_text(const fs::path& p) { return fs::exists(p) ? read_file(p) : std::string(); }

// 8 objects of 1000 events, one event per second: they land in hours 00 and 01.
auto clicks_pipeline(const fs::path& lake, std::uint64_t records = 8000) {
  auto p = connector::generator{.records = records, .chunk_records = 1000, .events_per_second = 1} |
           format::jsonl{} | store::local{.root = lake, .key = "{stream}/{time:%Y/%m/%d/%H}/"};
  p.options.stream = "clicks";
  return p;
}
}  // namespace

TEST_CASE("objects land where the template says, with sidecars and no temporary files", "[store][local]") {
  temp_dir dir;
  auto p = clicks_pipeline(dir / "lake");
  p.run();
  store::local_reader lake(dir / "lake");
  auto keys = lake.list();
  REQUIRE(keys.size() == 8);
  connector::generator g{.events_per_second = 1};
  for (std::size_t k = 0; k < keys.size(); ++k) {
    std::uint64_t first = k * 1000;
    std::string hour = std::to_string(first / 3600);
    char lo[32], hi[32];
    std::snprintf(lo, sizeof lo, "%020llu", static_cast<unsigned long long>(first + 1));
    std::snprintf(hi, sizeof hi, "%020llu", static_cast<unsigned long long>(first + 1000));
    INFO(keys[k]);
    CHECK(keys[k].starts_with("clicks/2024/05/01/0" + hour + "/clicks-" + lo + "-" + hi + "-"));
    CHECK(keys[k].ends_with(".jsonl"));
    auto o = lake.read(keys[k]);
    std::string expected;
    for (std::uint64_t i = first; i < first + 1000; ++i) expected += g.event(i) + "\n";
    CHECK(o.body == expected);
    CHECK(o.info.key == keys[k]);
    CHECK(o.info.stream == "clicks");
    CHECK(o.info.content_type == "application/x-ndjson");
    CHECK(o.info.record_count == 1000);
    CHECK(o.info.size == expected.size());
    CHECK(o.info.first_event_time == g.event_time(first));
    CHECK(o.info.last_event_time == g.event_time(first + 999));
    CHECK(o.info.arrival_time != timestamp{});
    REQUIRE(o.info.cursors.size() == 1);
    CHECK(o.info.cursors[0] == store::cursor_info{"generator", first + 1, first + 1000, 1000});
    // Checksums recomputed outside the library.
    CHECK(o.info.sha256 == sha256sum(dir / "lake" / keys[k]));
    CHECK(o.info.crc32c ==
          crypto::crc32c_base64(sluice::detail::crc32c_software(0, expected.data(), expected.size())));
    CHECK_FALSE(lake.verify(keys[k]));
  }
  auto all = files_under(dir / "lake");
  CHECK(all.size() == 16);  // 8 objects + 8 sidecars, nothing else (no .tmp)
  for (const auto& f : all) CHECK((f.ends_with(".jsonl") || f.ends_with(".jsonl.meta.json")));
  auto m = p.metrics().snapshot();
  CHECK(m.objects_out == 8);
  CHECK(m.records_out == 8000);
}

TEST_CASE("the sidecar is JSON with the facts the S3 store will put in x-amz-meta-*", "[store][local]") {
  temp_dir dir;
  auto p = vector_source{.payloads = {"{\"a\":1}", "{\"a\":2}"}, .name = "orders"} | format::jsonl{} |
           store::local{.root = dir / "lake", .key = "o/{partition:tenant}/", .sync = false};
  p.options.stream = "orders";
  p.run();
  store::local_reader lake(dir / "lake");
  auto keys = lake.list("o/__none__/");
  REQUIRE(keys.size() == 1);
  std::string text = read_file(dir / "lake" / (keys[0] + ".meta.json"));
  CHECK_THAT(text, Catch::Contains("\"sha256\":\"" + crypto::sha256_hex("{\"a\":1}\n{\"a\":2}\n") + "\""));
  CHECK_THAT(text, Catch::Contains("\"crc32c\":\"" + crypto::crc32c_base64(crypto::crc32c::compute("{\"a\":1}\n{\"a\":2}\n")) + "\""));
  CHECK_THAT(text, Catch::Contains("\"cursors\":[{\"source\":\"orders\",\"first_position\":1,\"last_position\":2,\"records\":2}]"));
  CHECK_THAT(text, Catch::Contains("\"record_count\":2") && Catch::Contains("\"size\":16") &&
                       Catch::Contains("\"first_event_time\":null") && Catch::Contains("\"content_encoding\":[]"));
}

TEST_CASE("replaying the same input rewrites the same keys instead of adding files", "[store][local]") {
  temp_dir dir;
  clicks_pipeline(dir / "lake").run();
  auto before = files_under(dir / "lake");
  auto body = read_file(dir / "lake" / *before.begin());
  clicks_pipeline(dir / "lake").run();  // no checkpoint: a full replay
  CHECK(files_under(dir / "lake") == before);
  CHECK(read_file(dir / "lake" / *before.begin()) == body);
}

TEST_CASE("the checkpoint advances only after the object is written", "[store][local]") {
  temp_dir dir;
  // A folder where the third object's file must go makes that write fail.
  auto third_dir = dir / "lake/clicks/2024/05/01/00";
  fs::create_directories(third_dir);
  char name[128];
  std::snprintf(name, sizeof name, "clicks-%020llu-%020llu-", 2001ULL, 3000ULL);
  {
    // Learn the source digest from a throwaway run, then block that exact key.
    temp_dir probe;
    clicks_pipeline(probe / "lake", 3000).run();
    auto keys = store::local_reader(probe / "lake").list();
    REQUIRE(keys.size() == 3);
    REQUIRE(keys[2].find(name) != std::string::npos);
    fs::create_directories(dir / "lake" / keys[2]);
  }
  auto p = clicks_pipeline(dir / "lake");
  p.options.checkpoint = dir / "checkpoint";
  CHECK_THROWS_WITH(p.run(), Catch::Contains("store::local: writing") && Catch::Contains(name));
  CHECK(checkpoint_text(dir / "checkpoint") == "2000\tgenerator\n");
  CHECK(store::local_reader(dir / "lake").list().size() == 2);
  for (const auto& f : files_under(dir / "lake")) CHECK_FALSE(f.ends_with(".tmp"));

  // Once the obstacle is gone, a resumed run writes the rest and commits everything.
  for (auto& e : fs::directory_iterator(third_dir))
    if (e.is_directory()) fs::remove_all(e.path());
  auto resumed = clicks_pipeline(dir / "lake");
  resumed.options.checkpoint = dir / "checkpoint";
  resumed.run();
  CHECK(resumed.metrics().snapshot().records_in == 6000);
  CHECK(checkpoint_text(dir / "checkpoint") == "8000\tgenerator\n");
  CHECK(store::local_reader(dir / "lake").list().size() == 8);
}

TEST_CASE("an object key over 1024 bytes goes to the error output and its records are acknowledged",
          "[store][local]") {
  temp_dir dir;
  std::vector<record_error> errors;
  auto p = vector_source{.payloads = {"x", "y"}, .chunk = 1,
                         .partitions = {partition_keys{}.add("tenant", std::string(1100, 't')).str(),
                                        partition_keys{}.add("tenant", "acme").str()}} |
           format::jsonl{} | store::local{.root = dir / "lake", .key = "{partition:tenant}/", .sync = false};
  p.options.checkpoint = dir / "checkpoint";
  p.options.on_error = [&](const record_error& e) { errors.push_back(e); };
  p.run();
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].code == boost::system::errc::filename_too_long);
  CHECK(errors[0].stage == "store::local");
  CHECK_THAT(errors[0].reason, Catch::Contains("exceeds 1024 bytes") && Catch::Contains("{partition:tenant}/"));
  CHECK(errors[0].payload == "x\n");
  auto keys = store::local_reader(dir / "lake").list();
  REQUIRE(keys.size() == 1);
  CHECK(keys[0].starts_with("acme/default-00000000000000000002-00000000000000000002-"));
  CHECK(checkpoint_text(dir / "checkpoint") == "2\tvector\n");
}

TEST_CASE("the reader lists complete objects only and reads bodies with their sidecars", "[store][local]") {
  temp_dir dir;
  clicks_pipeline(dir / "lake").run();
  store::local_reader lake(dir / "lake");
  CHECK(lake.list("clicks/2024/05/01/00/").size() == 4);  // positions 1..4000: seconds 0..3999
  CHECK(lake.list("clicks/2024/05/01/01/").size() == 4);  // seconds 4000..7999
  CHECK(lake.list("clicks/2024/05/01/02/").empty());
  CHECK(lake.list("nothing/").empty());

  // An object whose sidecar is missing is incomplete: not listed, and read says so.
  auto key = lake.list()[0];
  fs::remove(dir / "lake" / (key + ".meta.json"));
  CHECK(lake.list().size() == 7);
  error_code ec;
  (void)lake.read(key, ec);
  CHECK(ec == errc::truncated_object);
  CHECK_THROWS_WITH(lake.read(key), Catch::Contains("is incomplete: no sidecar") && Catch::Contains(key));

  // Keys outside the root are refused.
  (void)lake.read("../etc/passwd", ec);
  CHECK(ec == boost::system::errc::invalid_argument);
  (void)lake.read("clicks/none.jsonl", ec);
  CHECK(ec == boost::system::errc::no_such_file_or_directory);
}

TEST_CASE("a corrupt sidecar or object is a clear error naming the file", "[store][local]") {
  temp_dir dir;
  clicks_pipeline(dir / "lake", 2000).run();
  store::local_reader lake(dir / "lake");
  auto keys = lake.list();
  REQUIRE(keys.size() == 2);
  auto meta = dir / "lake" / (keys[0] + ".meta.json");

  sluice_test::write_file(meta, "{\"format\":1,");
  error_code ec;
  (void)lake.read(keys[0], ec);
  CHECK(ec == errc::corrupt_object);
  CHECK_THROWS_WITH(lake.read(keys[0]), Catch::Contains("sidecar " + meta.string()) && Catch::Contains("invalid JSON"));

  auto good = read_file(dir / "lake" / (keys[1] + ".meta.json"));
  auto broken = good;
  broken.replace(broken.find("\"size\":"), 7, "\"sizf\":");
  sluice_test::write_file(meta, broken);
  CHECK_THROWS_WITH(lake.read(keys[0]), Catch::Contains(meta.string()) && Catch::Contains("field `size`"));

  // A flipped byte in the object: same size, so read() works, and verify() finds it.
  auto object_path = dir / "lake" / keys[1];
  auto body = read_file(object_path);
  body[100] = body[100] == 'x' ? 'y' : 'x';
  sluice_test::write_file(object_path, body);
  std::string why;
  CHECK(lake.verify(keys[1], why) == errc::corrupt_object);
  CHECK_THAT(why, Catch::Contains("SHA-256") && Catch::Contains(object_path.string()));
  // A truncated object: its size differs from the sidecar.
  sluice_test::write_file(object_path, body.substr(0, 10));
  CHECK_THROWS_WITH(lake.read(keys[1]), Catch::Contains("has 10 bytes but its sidecar"));
}

TEST_CASE("invalid store configuration fails before anything runs", "[store][local]") {
  temp_dir dir;
  auto bad_key = vector_source{.payloads = {"x"}} | format::jsonl{} | store::local{.root = dir / "lake", .key = "{bogus}/"};
  CHECK_THROWS_WITH(bad_key.run(), Catch::StartsWith("sluice: store::local.key = \"{bogus}/\": unknown placeholder"));
  auto no_root = vector_source{.payloads = {"x"}} | format::jsonl{} | store::local{.root = ""};
  CHECK_THROWS_AS(no_root.run(), config_error);
  auto sidecar_name = vector_source{.payloads = {"x"}} | format::jsonl{} |
                      store::local{.root = dir / "lake", .key = "{seq}.meta.json"};
  CHECK_THROWS_WITH(sidecar_name.run(), Catch::Contains("must not end with `.meta.json`"));
  CHECK_FALSE(fs::exists(dir / "lake"));
}

#if defined(__linux__)
namespace {
/// The nice value of each thread of this process, read from /proc (field 19 of a task's stat,
/// counted after the command name, which may hold spaces).
std::vector<int> thread_nice_values() {
  std::vector<int> out;
  for (const auto& task : fs::directory_iterator("/proc/self/task")) {
    const std::string stat = read_file(task.path() / "stat");
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));
    std::string field;
    for (int i = 3; i <= 19 && rest >> field; ++i) {
    }
    out.push_back(std::stoi(field));
  }
  return out;
}
}  // namespace

TEST_CASE("the syncer thread runs 10 nice levels below the pipeline's threads", "[store][local]") {
  temp_dir dir;
  sluice_test::test_context t;
  const std::size_t before = thread_nice_values().size();
  const int own = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));  // 0, unless run under nice
  const int lowered = std::min(own + 10, 19);
  REQUIRE(lowered != own);
  {
    auto node = store::local{.root = dir / "lake", .sync = true}.open(t.ctx);
    std::vector<int> nice;
    // The syncer lowers its own priority as it starts: wait for it.
    for (int i = 0; i < 200; ++i) {
      nice = thread_nice_values();
      if (std::count(nice.begin(), nice.end(), lowered) == 1) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    CHECK(nice.size() == before + 1);
    CHECK(std::count(nice.begin(), nice.end(), lowered) == 1);  // the syncer
    CHECK(std::count(nice.begin(), nice.end(), own) == static_cast<std::ptrdiff_t>(before));  // the rest, untouched
  }
  // Without .sync there is no syncer.
  auto node = store::local{.root = dir / "lake", .sync = false}.open(t.ctx);
  CHECK(thread_nice_values().size() == before);
}
#endif
