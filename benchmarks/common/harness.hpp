// SPDX-License-Identifier: Apache-2.0
#pragma once
// Benchmark helpers: wall-clock timing with repeats, peak memory, and the one output format every
// benchmark prints: `name figure unit | baseline figure unit | ratio`, measured in the same run.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice_bench {

/// Seconds taken by `f`, the median of `repeats` runs (medians resist the noise of a shared
/// machine better than means).
inline double median_seconds(int repeats, const std::function<void()>& f) {
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    auto start = std::chrono::steady_clock::now();
    f();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
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

}  // namespace sluice_bench
