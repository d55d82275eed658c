// SPDX-License-Identifier: Apache-2.0
#pragma once
// Helpers for the envelope, keyring and ESDK interoperability tests.
#include <sluice/crypto/envelope.hpp>
#include <sluice_test/support.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace esdk_test {

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
inline std::string bytes(std::size_t n, std::uint64_t seed = 1) {
  std::string s(n, '\0');
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

inline const std::string test_key_hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
inline const std::string other_key_hex = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

inline std::shared_ptr<sluice::crypto::raw_aes_keyring> test_keyring(const std::string& ns = "test-ns",
                                                                     const std::string& name = "key-1",
                                                                     const std::string& hex = test_key_hex) {
  return std::make_shared<sluice::crypto::raw_aes_keyring>(sluice::crypto::raw_aes_keyring::from_hex(ns, name, hex));
}

/// Where the parts of a well-formed message are, found by walking its structure (test-side,
/// independent of the decryptor): [0, header_end) is the header with its auth tag; frame i
/// spans [frames[i], frames[i+1]); the footer (0x0578) spans [body_end, size).
struct layout {
  std::size_t header_end = 0;
  std::vector<std::size_t> frames;
  std::size_t body_end = 0;
};

inline std::uint32_t be(const std::string& m, std::size_t at, int n) {
  std::uint32_t v = 0;
  for (int i = 0; i < n; ++i) v = v << 8 | static_cast<std::uint8_t>(m[at + static_cast<std::size_t>(i)]);
  return v;
}

inline layout parse_layout(const std::string& m) {
  layout l;
  std::size_t p = 1 + 2 + 32;
  p += 2 + be(m, p, 2);  // context
  std::uint32_t edks = be(m, p, 2);
  p += 2;
  for (std::uint32_t i = 0; i < edks; ++i)
    for (int f = 0; f < 3; ++f) p += 2 + be(m, p, 2);
  std::uint32_t frame = be(m, p + 1, 4);
  p += 1 + 4 + 32 + 16;
  l.header_end = p;
  for (;;) {
    l.frames.push_back(p);
    if (be(m, p, 4) == 0xFFFFFFFFu) {
      std::uint32_t len = be(m, p + 4 + 4 + 12, 4);
      p += 4 + 4 + 12 + 4 + len + 16;
      break;
    }
    p += 4 + 12 + frame + 16;
  }
  l.body_end = p;
  return l;
}

/// The folder of node_modules holding @aws-crypto/client-node, or nullopt when node or the
/// package is missing.
inline std::optional<std::filesystem::path> node_modules() {
  const char* dir = std::getenv("SLUICE_NODE_MODULES");
  if (dir == nullptr || *dir == '\0') return std::nullopt;
  std::filesystem::path p(dir);
  if (!std::filesystem::exists(p / "@aws-crypto" / "client-node" / "package.json")) return std::nullopt;
  if (sluice_test::run_command("node --version >/dev/null 2>&1").status != 0) return std::nullopt;
  return p;
}

/// This folder (esdk-batch.cjs lives here).
inline std::filesystem::path tools_dir() {
  const char* dir = std::getenv("SLUICE_ESDK_TOOLS");
  return dir ? std::filesystem::path(dir) : std::filesystem::path(__FILE__).parent_path();
}

inline std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

/// Runs shell commands in parallel (independent node processes; each loads the SDK, which is
/// the slow part) and returns their exit statuses; stderr of command i goes to `dir/log_i`.
inline std::vector<int> run_parallel(const std::vector<std::string>& commands, const std::filesystem::path& dir) {
  std::string script;
  for (std::size_t i = 0; i < commands.size(); ++i) {
    auto rc = dir / ("rc_" + std::to_string(i));
    auto log = dir / ("log_" + std::to_string(i));
    script += "( " + commands[i] + " 2>" + quote(log.string()) + "; echo $? >" + quote(rc.string()) + " ) & ";
  }
  script += "wait";
  sluice_test::run_command("sh -c " + quote(script));
  std::vector<int> status;
  for (std::size_t i = 0; i < commands.size(); ++i) {
    auto rc = dir / ("rc_" + std::to_string(i));
    status.push_back(std::filesystem::exists(rc) ? std::stoi(sluice_test::read_file(rc)) : -1);
  }
  return status;
}

}  // namespace esdk_test
