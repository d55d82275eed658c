// SPDX-License-Identifier: Apache-2.0
// The child of the S3 crash test: one run of generator -> JSON Lines -> store::s3 that writes a
// single object of about 26 MiB as a multipart upload of 5 MiB parts, one part at a time, with a
// checkpoint (so store::s3 keeps its resume folder beside it). The parent kills it mid-upload.
//   s3_crash_child ENDPOINT REGION ACCESS_KEY SECRET_KEY BUCKET CHECKPOINT
#include <sluice/connector/generator.hpp>
#include <sluice/format/jsonl.hpp>
#include <sluice/store/s3.hpp>

#include <cstdio>
#include <exception>
#include <string>

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s ENDPOINT REGION ACCESS_KEY SECRET_KEY BUCKET CHECKPOINT\n", argv[0]);
    return 2;
  }
  using namespace sluice;
  store::s3_connection conn;
  conn.endpoint = argv[1];
  conn.region = argv[2];
  conn.credentials = {argv[3], argv[4], ""};
  conn.addressing = aws::addressing_style::path;
  try {
    auto p = connector::generator{.records = 100'000, .chunk_records = 100'000} | format::jsonl{} |
             store::s3{.url = std::string("s3://") + argv[5] + "/crash", .key = "{stream}/", .connection = conn,
                       .multipart_threshold = 5 << 20, .part_size = 5 << 20, .concurrency = 1};
    p.options.checkpoint = argv[6];
    p.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "s3_crash_child: %s\n", e.what());
    return 1;
  }
  return 0;
}
