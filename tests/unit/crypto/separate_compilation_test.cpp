// SPDX-License-Identifier: Apache-2.0
// Compiled with SLUICE_SEPARATE_COMPILATION: the definitions come from separate_compilation_src.cpp.
#include <sluice/crypto/envelope.hpp>
#include <sluice/crypto/keyring.hpp>
#ifdef SLUICE_HAS_AWS
#include <sluice/aws/credentials.hpp>
#include <sluice/aws/sigv4.hpp>
#endif

#include <array>
#include <cstdio>
#include <optional>
#include <string>

#ifdef SLUICE_HAS_AWS
// The definitions of sluice::aws come from <sluice/src.hpp> too.
static bool aws_works() {
  namespace aws = sluice::aws;
  // The get-vanilla case of the AWS SigV4 test suite.
  aws::signer s({"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""}, {"us-east-1", "service"});
  aws::http_request r;
  r.headers.push_back({"Host", "example.amazonaws.com"});
  r.payload_hash = std::string(aws::empty_payload_hash);
  const auto when = aws::parse_amz_date("20150830T123600Z");
  const auto parts = s.sign(r, *when);
  if (parts.signature != "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31") {
    std::fprintf(stderr, "signature %s\n", parts.signature.c_str());
    return false;
  }
  aws::verifier v([](std::string_view) -> std::optional<std::string> { return "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"; },
                  {"us-east-1", "service"});
  if (!v.verify(r, *when)) return false;
  const auto cfg = aws::resolve_config(
      {.service = "s3", .profile = {}, .environment = [](const std::string&) -> std::optional<std::string> {
         return std::nullopt;
       }});
  return cfg.profile == "default" && !cfg.credentials;
}
#endif

int main() {
#ifdef SLUICE_HAS_AWS
  if (!aws_works()) return 1;
#endif
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
