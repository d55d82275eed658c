// SPDX-License-Identifier: Apache-2.0
#pragma once
// Benchmark helpers: wall-clock timing with repeats, peak memory, and the one output format every
// benchmark prints: `name figure unit | baseline figure unit | ratio`, measured in the same run.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <iterator>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

extern char** environ;

namespace sluice_bench {

/// The median of `v` (0 when empty): medians resist the noise of a shared machine better than
/// means.
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

/// Seconds taken by `f`, the median of `repeats` runs.
inline double median_seconds(int repeats, const std::function<void()>& f) {
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    auto start = std::chrono::steady_clock::now();
    f();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return median(std::move(times));
}

/// The whole file, or "" when it cannot be read.
inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

/// Starts `argv` (argv[0] a path) as a child with stdin from /dev/null and stdout and stderr
/// written to `out` and `err`, with `env` as its environment (this process's when null); its pid.
/// Throws std::runtime_error naming the program when it cannot start.
inline pid_t spawn_process(const std::vector<std::string>& argv, const std::vector<std::string>* env,
                           const std::filesystem::path& out, const std::filesystem::path& err) {
  if (argv.empty()) throw std::invalid_argument("spawn_process: empty command");
  auto c_strings = [](const std::vector<std::string>& v) {
    std::vector<char*> list;
    for (const auto& item : v) list.push_back(const_cast<char*>(item.c_str()));
    list.push_back(nullptr);
    return list;
  };
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  auto args = c_strings(argv);
  std::vector<char*> envp = env ? c_strings(*env) : std::vector<char*>{};
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), env ? envp.data() : environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  return pid;
}

/// Peak resident memory of this process so far, in bytes.
inline std::size_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::size_t>(usage.ru_maxrss) * 1024;
}

/// Current resident memory, in bytes (from /proc/self/statm).
inline std::size_t current_rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

inline double mb_per_s(std::size_t bytes, double seconds) { return static_cast<double>(bytes) / 1e6 / seconds; }

/// Prints `name figure unit | baseline figure unit | ratio` (one line, greppable).
inline void report(std::string_view name, double figure, std::string_view unit, std::string_view baseline,
                   double baseline_figure) {
  std::printf("%-44.*s %10.1f %s | %-28.*s %10.1f %s | ratio %.3f\n", static_cast<int>(name.size()), name.data(),
              figure, std::string(unit).c_str(), static_cast<int>(baseline.size()), baseline.data(),
              baseline_figure, std::string(unit).c_str(), baseline_figure > 0 ? figure / baseline_figure : 0.0);
  std::fflush(stdout);
}

/// `--name value` from argv, or the fallback.
inline long long arg(int argc, char** argv, std::string_view name, long long fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (name == argv[i]) return std::atoll(argv[i + 1]);
  return fallback;
}

/// `--name value` from argv as text, or the fallback.
inline std::string arg_text(int argc, char** argv, std::string_view name, std::string fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (name == argv[i]) return argv[i + 1];
  return fallback;
}

/// The 1-minute load average (from /proc/loadavg); -1 when unreadable.
inline double load_average() {
  std::ifstream in("/proc/loadavg");
  double one = -1;
  in >> one;
  return one;
}

/// Prints the machine facts every result needs beside it: cores and the load at the time.
inline void print_machine(std::string_view benchmark) {
  std::printf("# %.*s: %ld cores online, load average %.2f\n", static_cast<int>(benchmark.size()),
              benchmark.data(), sysconf(_SC_NPROCESSORS_ONLN), load_average());
  std::fflush(stdout);
}

/// Medians of several competitors run in turns (a, b, c, a, b, c, ...), so a burst of load from
/// another process hits them alike instead of one competitor's whole series.
inline std::vector<double> interleaved_median_seconds(int repeats, const std::vector<std::function<void()>>& runs) {
  std::vector<std::vector<double>> times(runs.size());
  for (int r = 0; r < repeats; ++r)
    for (std::size_t i = 0; i < runs.size(); ++i) {
      auto start = std::chrono::steady_clock::now();
      runs[i]();
      times[i].push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  std::vector<double> medians;
  for (auto& t : times) medians.push_back(median(std::move(t)));
  return medians;
}

/// A fresh folder under /tmp, removed with everything in it when this goes out of scope.
class temp_folder {
 public:
  explicit temp_folder(std::string_view prefix) {
    std::string pattern = "/tmp/" + std::string(prefix) + "-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      std::exit(2);
    }
    path_ = pattern;
  }
  temp_folder(const temp_folder&) = delete;
  temp_folder& operator=(const temp_folder&) = delete;
  ~temp_folder() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  /// Empties the folder (between runs) and keeps it.
  void clear() const {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(path_, ec)) std::filesystem::remove_all(entry, ec);
  }

 private:
  std::filesystem::path path_;
};

}  // namespace sluice_bench
