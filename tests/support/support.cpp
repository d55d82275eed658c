// SPDX-License-Identifier: Apache-2.0
#include <sluice_test/support.hpp>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

namespace sluice_test {

temp_dir::temp_dir() {
  std::random_device rd;
  auto base = std::filesystem::temp_directory_path();
  for (;;) {
    path_ = base / ("sluice-test-" + std::to_string(rd()));
    if (std::filesystem::create_directory(path_)) break;
  }
}
temp_dir::~temp_dir() {
  std::error_code ec;
  if (!std::getenv("SLUICE_KEEP_TEMP")) std::filesystem::remove_all(path_, ec);
}

bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

std::optional<std::filesystem::path> testdata(const std::string& sub) {
  const char* env = std::getenv("SLUICE_TESTDATA");
  std::filesystem::path root = env ? env : "";
  auto p = root / sub;
  if (root.empty() || !std::filesystem::exists(p)) return std::nullopt;
  return p;
}

std::filesystem::path binary_dir() {
  const char* env = std::getenv("SLUICE_BINARY_DIR");
  return env ? env : std::filesystem::current_path();
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::filesystem::path& p, std::string_view data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

command_result run_command(const std::string& command) {
  command_result r;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return r;
  std::array<char, 65536> buffer;
  std::size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) r.out.append(buffer.data(), n);
  int status = ::pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace sluice_test
