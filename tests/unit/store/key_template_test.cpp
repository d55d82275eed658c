// SPDX-License-Identifier: Apache-2.0
#include <sluice/store/key_template.hpp>

#include <catch2/catch.hpp>

#include <regex>
#include <string>

using namespace sluice;
using store::key_template;

namespace {
timestamp at(std::int64_t unix_seconds, int ms = 0) {
  return timestamp(std::chrono::seconds(unix_seconds) + std::chrono::milliseconds(ms));
}
// 2024-05-01T13:45:06.789Z and 2024-06-02T01:02:03Z
constexpr std::int64_t may_1_13h45m06 = 1714571106;
constexpr std::int64_t jun_2_01h02m03 = 1717290123;

struct fixture {
  cursor_tracker tracker;
  object o;
  fixture(const std::string& source = "generator") {
    auto id = tracker.add_source(source);
    o.stream = "clicks";
    o.partition = partition_keys{}.add("event_type", "click").add("hour", "2024-05-01-13").str();
    o.content_type = "application/x-ndjson";
    o.first_event_time = at(may_1_13h45m06, 789);
    o.arrival_time = at(jun_2_01h02m03);
    o.covered.add_range({id, 0, 4096, 1, 4096});
  }
  std::string render(std::string_view text) { return key_template::parse(text).render(o, tracker); }
};
}  // namespace

TEST_CASE("a template ending in / gets the default file name {stream}-{seq}{ext}", "[store][key_template]") {
  fixture f;
  std::string key = f.render("{stream}/{time:%Y/%m/%d/%H}/");
  CHECK(std::regex_match(key, std::regex(R"(clicks/2024/05/01/13/clicks-00000000000000000001-00000000000000004096-[0-9a-f]{8}\.jsonl)")));
  CHECK(f.render("") == key.substr(std::string("clicks/2024/05/01/13/").size()));
}

TEST_CASE("{time} formats the first event time in UTC and falls back to the arrival time", "[store][key_template]") {
  fixture f;
  CHECK(f.render("{time:%Y-%m-%dT%H:%M:%S %j %y %F %T %s %%}/{seq}").starts_with(
      "2024-05-01T13:45:06 122 24 2024-05-01 13:45:06 1714571106 %/"));
  f.o.first_event_time = {};
  CHECK(f.render("{time:%F/%H}/").starts_with("2024-06-02/01/"));
}

TEST_CASE("{arrival} formats the arrival time whatever the event time", "[store][key_template]") {
  fixture f;
  CHECK(f.render("{arrival:%Y/%m/%d/%H%M%S}/").starts_with("2024/06/02/010203/"));
}

TEST_CASE("{partition:NAME} renders a value, __none__ for a missing key, __empty__ for an empty value",
          "[store][key_template]") {
  fixture f;
  CHECK(f.render("{partition:event_type}/{partition:hour}/").starts_with("click/2024-05-01-13/"));
  CHECK(f.render("t={partition:tenant}/").starts_with("t=__none__/"));
  CHECK(f.render("{partition}/").starts_with("event_type=click/hour=2024-05-01-13/"));
  f.o.partition = partition_keys{}.add("tenant", "").str();
  CHECK(f.render("{partition:tenant}/").starts_with("__empty__/"));
  f.o.partition.clear();
  CHECK(f.render("{partition}/").starts_with("__none__/"));
}

TEST_CASE("{partition_path:NAME} renders a value as folders, glued to what follows", "[store][key_template]") {
  fixture f;
  const std::string t = "{partition_path:prefix}{stream}-{seq}{ext}";
  f.o.partition = partition_keys{}.add("prefix", "customer_id=42/2024/05/01/").str();
  CHECK(std::regex_match(f.render(t), std::regex(R"(customer_id=42/2024/05/01/clicks-0{19}1-0{16}4096-[0-9a-f]{8}\.jsonl)")));
  // Without a trailing `/` the last part is glued to the file name, as Firehose's prefixes are.
  f.o.partition = partition_keys{}.add("prefix", "logs/myprefix").str();
  CHECK(f.render(t).starts_with("logs/myprefixclicks-"));
  // Each segment is escaped as a value is, `=` excepted; `/` only separates.
  f.o.partition = partition_keys{}.add("prefix", "a%b\\c/t\x01=x/").str();
  CHECK(f.render(t).starts_with("a%25b%5Cc/t%01=x/clicks-"));
  // An empty value is no folder; a missing key is a visible one.
  f.o.partition = partition_keys{}.add("prefix", "").str();
  CHECK(f.render(t).starts_with("clicks-"));
  f.o.partition = partition_keys{}.add("other", "x").str();
  CHECK(f.render(t).starts_with("__none__/clicks-"));
  // Empty and dot folders from data are the per-object error.
  for (const char* bad : {"a//b/", "../etc/", "a/./", "/abs/"}) {
    INFO(bad);
    f.o.partition = partition_keys{}.add("prefix", bad).str();
    std::string key;
    CHECK(key_template::parse(t).render(f.o, f.tracker, key) == boost::system::errc::invalid_argument);
  }
}

TEST_CASE("values from data stay one safe path segment", "[store][key_template]") {
  fixture f;
  f.o.partition = partition_keys{}.add("tenant", "../etc/passwd").add("dots", "..").str();
  CHECK(f.render("{partition:tenant}/{partition:dots}/").starts_with("..%2Fetc%2Fpasswd/%2E%2E/"));
  f.o.stream = "a/b\\c";
  CHECK(f.render("{stream}/").starts_with("a%2Fb%5Cc/a%2Fb%5Cc-"));
}

TEST_CASE("{ext} follows the content type, the encodings and the encryption", "[store][key_template]") {
  fixture f;
  CHECK(f.render("x/{seq}{ext}").ends_with(".jsonl"));
  f.o.content_type = "text/csv";
  f.o.content_encoding = {"gzip"};
  CHECK(f.render("x/{seq}{ext}").ends_with(".csv.gz"));
  f.o.content_type = "application/x-ndjson";
  f.o.content_encoding = {"zstd"};
  f.o.encryption = "aws-encryption-sdk";
  CHECK(f.render("x/{seq}{ext}").ends_with(".jsonl.zst.esdk"));
}

TEST_CASE("{seq} is derived from the covered cursors: the same object renders the same key", "[store][key_template]") {
  fixture a, b;
  auto t = key_template::parse("{stream}/{seq}{ext}");
  CHECK(t.render(a.o, a.tracker) == t.render(b.o, b.tracker));
  CHECK(t.render(a.o, a.tracker) == t.render(a.o, a.tracker));
  // Another source with the same positions (a second file of a folder) gets another key.
  fixture other("/data/in/b.log");
  CHECK(t.render(a.o, a.tracker) != t.render(other.o, other.tracker));
  // Another span gets another key, and zero padding keeps them in position order.
  fixture later;
  later.o.covered.clear();
  later.o.covered.add_range({0, 4096, 8192, 4097, 8192});
  auto k1 = t.render(a.o, a.tracker), k2 = t.render(later.o, later.tracker);
  CHECK(k1 < k2);
  CHECK(k2.find("clicks/00000000000000004097-00000000000000008192-") != std::string::npos);
}

TEST_CASE("invalid templates are config errors naming the template and the position", "[store][key_template]") {
  auto message = [](std::string_view text) {
    try {
      (void)key_template::parse(text, "store::local.key");
    } catch (const config_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message("{stream}/{bogus}/") ==
        "sluice: store::local.key = \"{stream}/{bogus}/\": unknown placeholder `{bogus}` (known: {stream} "
        "{time:FMT} {arrival:FMT} {partition} {partition:NAME} {partition_path:NAME} {seq} {ext}) at position 9");
  CHECK(message("{stream/") == "sluice: store::local.key = \"{stream/\": unclosed `{` at position 0");
  CHECK_THAT(message("a}/"), Catch::Contains("`}` without `{` at position 1"));
  CHECK_THAT(message("{time:%Y/%q}/"), Catch::Contains("unsupported time format `%q`") &&
                                            Catch::Contains("at position 9"));
  CHECK_THAT(message("{time:%Y%}/"), Catch::Contains("time format ends with `%`"));
  CHECK_THAT(message("{time}/"), Catch::Contains("needs a format"));
  CHECK_THAT(message("{partition:}/"), Catch::Contains("needs a key name"));
  CHECK(message("{partition_path:}{seq}") ==
        "sluice: store::local.key = \"{partition_path:}{seq}\": `{partition_path:NAME}` needs a key name at position 0");
  CHECK_THAT(message("{partition_path}{seq}"), Catch::Contains("`{partition_path:NAME}` needs a key name"));
  CHECK_THAT(message("events/../x/"), Catch::Contains("`..` path segment at position 7"));
  CHECK_THAT(message("./x/"), Catch::Contains("`.` path segment at position 0"));
  CHECK_THAT(message("/lake/x/"), Catch::Contains("absolute key") && Catch::Contains("at position 0"));
  CHECK_THAT(message("a//b/"), Catch::Contains("empty path segment (`//`) at position 2"));
  CHECK_THAT(message("{stream}/data.jsonl"), Catch::Contains("no `{seq}`"));
  CHECK(message("{stream}/{partition:tenant}/{time:%Y/%m}/{seq}{ext}") == "no error");
}

TEST_CASE("a key over 1024 bytes is a per-object error, not a config error", "[store][key_template]") {
  fixture f;
  auto t = key_template::parse("{partition:tenant}/");
  f.o.partition = partition_keys{}.add("tenant", std::string(1100, 't')).str();
  std::string key;
  CHECK(t.render(f.o, f.tracker, key) == boost::system::errc::filename_too_long);
  CHECK(key.size() > store::max_key_bytes);
  CHECK_THROWS_WITH(t.render(f.o, f.tracker), Catch::Contains("rendering key template \"{partition:tenant}/\""));
  f.o.partition = partition_keys{}.add("tenant", std::string(900, 't')).str();
  CHECK_FALSE(t.render(f.o, f.tracker, key));
  CHECK(key.size() <= store::max_key_bytes);
}
