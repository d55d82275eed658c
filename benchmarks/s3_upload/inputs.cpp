// SPDX-License-Identifier: Apache-2.0
// The bytes every tool uploads, and where the server is.
#include "s3_upload/s3_upload.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace s3_upload {

server server_from_environment(bool tls) {
  auto get = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v ? v : "");
  };
  const char* endpoint = tls ? "SLUICE_S3_HTTPS_ENDPOINT" : "SLUICE_S3_ENDPOINT";
  server s{get(endpoint), get("SLUICE_S3_ACCESS_KEY"), get("SLUICE_S3_SECRET_KEY"), get("SLUICE_S3_REGION"),
           tls ? get("SLUICE_S3_CA_FILE") : std::string()};
  std::string missing;
  if (s.endpoint.empty()) missing += std::string(" ") + endpoint;
  if (tls && s.ca_file.empty()) missing += " SLUICE_S3_CA_FILE";
  if (s.access_key.empty()) missing += " SLUICE_S3_ACCESS_KEY";
  if (s.secret_key.empty()) missing += " SLUICE_S3_SECRET_KEY";
  if (!missing.empty())
    throw std::runtime_error("no S3 server: " + missing.substr(1) +
                             " unset. Start one and load its settings, e.g.\n"
                             "  SLUICE_SERVICES_DIR=/tmp/bench-services SLUICE_S3_PORT=17680 scripts/services start\n"
                             "  SLUICE_SERVICES_DIR=/tmp/bench-services SLUICE_S3_PORT=17680 scripts/services wait\n"
                             "  source /tmp/bench-services/env");
  if (!s.endpoint.starts_with("http://") && !s.endpoint.starts_with("https://"))
    throw std::runtime_error(std::string(endpoint) + " = \"" + s.endpoint + "\": must start with http:// or https://");
  if (s.region.empty()) s.region = "us-east-1";
  return s;
}

double machine_busy_seconds() {
  std::ifstream stat("/proc/stat");
  std::string cpu;
  unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  if (cpu != "cpu") return 0;
  return static_cast<double>(user + nice + system + irq + softirq) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

void fill_random(char* out, std::size_t size, std::uint64_t stream, std::uint64_t offset) {
  if (offset % 8 != 0) throw std::invalid_argument("fill_random: offset must be a multiple of 8");
  // splitmix64 of (stream, word index): counter-based, so any piece can be made on its own.
  std::uint64_t word = offset / 8;
  const std::uint64_t key = (stream + 1) * 0x9E3779B97F4A7C15ULL;
  for (std::size_t at = 0; at < size; at += 8, ++word) {
    std::uint64_t z = key + word * 0xD1B54A32D192ED03ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    std::memcpy(out + at, &z, std::min<std::size_t>(8, size - at));
  }
}

std::filesystem::path big_file(const std::filesystem::path& dir) { return dir / "big.bin"; }
std::filesystem::path small_dir(const std::filesystem::path& dir) { return dir / "small"; }
std::filesystem::path small_file(const std::filesystem::path& dir, std::size_t index) {
  char name[32];
  std::snprintf(name, sizeof name, "%05zu.bin", index);
  return small_dir(dir) / name;
}

void write_inputs(const std::filesystem::path& dir, const settings& s) {
  auto write = [](const std::filesystem::path& p, const std::string& bytes, bool append) {
    std::ofstream f(p, std::ios::binary | (append ? std::ios::app : std::ios::trunc));
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!f) throw std::runtime_error("cannot write " + p.string());
  };
  constexpr std::size_t piece = std::size_t{8} << 20;
  std::string buffer;
  std::filesystem::remove(big_file(dir));
  for (std::uint64_t at = 0; at < s.big_bytes; at += piece) {
    buffer.resize(static_cast<std::size_t>(std::min<std::uint64_t>(piece, s.big_bytes - at)));
    fill_random(buffer.data(), buffer.size(), 0, at);
    write(big_file(dir), buffer, true);
  }
  std::filesystem::create_directories(small_dir(dir));
  buffer.resize(s.small_bytes);
  for (std::size_t i = 0; i < s.small_count; ++i) {
    fill_random(buffer.data(), buffer.size(), i + 1);
    write(small_file(dir, i), buffer, false);
  }
}

}  // namespace s3_upload
