// SPDX-License-Identifier: Apache-2.0
// Compiled with SLUICE_SEPARATE_COMPILATION: the definitions come from separate_compilation_src.cpp.
#include <sluice/aws/credentials.hpp>
#include <sluice/aws/sigv4.hpp>

#include <cstdio>

int main() {
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
    return 1;
  }
  aws::verifier v([](std::string_view) -> std::optional<std::string> { return "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"; },
                  {"us-east-1", "service"});
  if (!v.verify(r, *when)) return 1;
  const auto cfg = aws::resolve_config({.service = "s3", .profile = {},
                                        .environment = [](const std::string&) -> std::optional<std::string> {
                                          return std::nullopt;
                                        }});
  return cfg.profile == "default" && !cfg.credentials ? 0 : 1;
}
