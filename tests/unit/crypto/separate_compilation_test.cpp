// SPDX-License-Identifier: Apache-2.0
// Compiled with SLUICE_SEPARATE_COMPILATION: the definitions come from separate_compilation_src.cpp.
#include <sluice/crypto/envelope.hpp>
#include <sluice/crypto/keyring.hpp>

#include <array>
#include <cstdio>

int main() {
  std::array<std::uint8_t, 32> key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i);
  sluice::crypto::raw_aes_keyring ring("ns", "k", key);
  std::string message;
  sluice::crypto::encrypt(ring, "separately compiled", message);
  std::string plain = sluice::crypto::decrypt(ring, message);
  if (plain != "separately compiled") {
    std::fprintf(stderr, "round trip gave \"%s\"\n", plain.c_str());
    return 1;
  }
  return 0;
}
