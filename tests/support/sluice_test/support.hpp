// SPDX-License-Identifier: Apache-2.0
#pragma once
// Test helpers shared by every test executable.
#include <sluice/core/pipeline.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace sluice_test {
// Stages of our own compose with `|` like sluice's: argument-dependent lookup finds it here.
using sluice::operator|;

/// A fresh folder under the system temp folder, removed when the value is destroyed.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  [[nodiscard]] std::filesystem::path operator/(const std::filesystem::path& p) const { return path_ / p; }

 private:
  std::filesystem::path path_;
};

/// The shared test vectors folder (../shared/testdata) or one of its subfolders. When it is
/// absent the calling test is skipped with a message, or fails when CI=true.
std::optional<std::filesystem::path> testdata(const std::string& sub);

/// Whether the run is in CI (CI=true): missing servers and test data are failures there.
bool in_ci();

/// The build folder, where tests find built programs (examples/sluice, ...).
std::filesystem::path binary_dir();

std::string read_file(const std::filesystem::path& p);
void write_file(const std::filesystem::path& p, std::string_view data);

/// Runs a shell command, returns its exit status and captures stdout (stderr goes to the test
/// log).
struct command_result {
  int status = -1;
  std::string out;
};
command_result run_command(const std::string& command);

/// A source of fixed payloads for unit tests, pushed in chunks of `chunk` records. Its
/// cursor positions are 1..N (the record number), under the source name `name`.
struct vector_source {
  using stage_concept = sluice::source_tag;
  using output_type = sluice::record_batch;
  std::vector<std::string> payloads;
  std::size_t chunk = 100;
  std::string name = "vector";
  /// Optional partition of each record (hive form), same length as payloads or empty.
  std::vector<std::string> partitions;

  struct state {
    const vector_source& config;
    std::uint32_t source_id;
    std::uint64_t resume_after;
    template <class Out>
    void run(Out& out, std::stop_token stop) {
      sluice::record_batch batch;
      for (std::size_t i = resume_after; i < config.payloads.size() && !stop.stop_requested(); ++i) {
        batch.append(config.payloads[i], {source_id, i + 1}, {},
                     config.partitions.empty() ? std::string_view{} : std::string_view(config.partitions[i]));
        if (batch.size() == config.chunk) {
          out.push(std::move(batch));
          batch = {};
        }
      }
      if (!batch.empty()) out.push(std::move(batch));
    }
  };
  state open(sluice::run_context& ctx) const {
    auto [id, resume] = ctx.add_source(name);
    return {*this, id, resume.value_or(0)};
  }
};

/// A sink that keeps every object it receives (shared, so copies of the pipeline see them) and
/// acknowledges it at once.
struct collecting_sink {
  using stage_concept = sluice::sink_tag;
  using input_type = sluice::object;
  std::shared_ptr<std::vector<sluice::object>> objects = std::make_shared<std::vector<sluice::object>>();

  struct node {
    sluice::run_context& ctx;
    std::shared_ptr<std::vector<sluice::object>> objects;
    void push(sluice::object&& o) {
      ctx.acknowledge(o);
      objects->push_back(std::move(o));
    }
    void flush() {}
    void tick() {}
  };
  node open(sluice::run_context& ctx) const { return {ctx, objects}; }
};

/// The downstream of a stage driven by hand in a unit test: collects what the stage emits and
/// counts flushes and ticks.
template <class T>
struct collecting_node {
  std::vector<T>* out;
  int* flushes = nullptr;
  void push(T&& value) { out->push_back(std::move(value)); }
  void flush() {
    if (flushes) ++*flushes;
  }
  void tick() {}
};

/// A run_context with default options for driving stages by hand.
struct test_context {
  sluice::pipeline_options options;
  sluice::metrics metrics;
  sluice::run_context ctx{options, metrics, std::stop_token{}};
};

}  // namespace sluice_test

/// Skips the rest of a test case with a message unless CI=true, where it fails instead.
#define SLUICE_SKIP_OR_FAIL(message)                     \
  do {                                                   \
    if (::sluice_test::in_ci()) FAIL(message);           \
    WARN("skipped: " << message);                        \
    return;                                              \
  } while (0)
