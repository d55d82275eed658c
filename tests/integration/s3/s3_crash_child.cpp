// SPDX-License-Identifier: Apache-2.0
// The child of the S3 crash test: one run of generator -> JSON Lines -> store::s3 that writes a
// single object of about 26 MiB as a multipart upload of 5 MiB parts, one part at a time, with a
// checkpoint (so store::s3 keeps its resume folder beside it). The parent kills it mid-upload.
// With `stream`, a streaming batcher hands on one object per event type in 1 MiB pieces instead.
//   s3_crash_child ENDPOINT REGION ACCESS_KEY SECRET_KEY BUCKET CHECKPOINT [stream]
#include <sluice/batch/by_size.hpp>
#include <sluice/connector/generator.hpp>
#include <sluice/format/jsonl.hpp>
#include <sluice/store/s3.hpp>

#include <cstdio>
#include <exception>
#include <string>

int main(int argc, char** argv) {
  if (argc != 7 && !(argc == 8 && std::string(argv[7]) == "stream")) {
    std::fprintf(stderr, "usage: %s ENDPOINT REGION ACCESS_KEY SECRET_KEY BUCKET CHECKPOINT [stream]\n", argv[0]);
    return 2;
  }
  using namespace sluice;
  store::s3_connection conn;
  conn.endpoint = argv[1];
  conn.region = argv[2];
  conn.credentials = {argv[3], argv[4], ""};
  conn.addressing = aws::addressing_style::path;
  try {
    auto store = store::s3{.url = std::string("s3://") + argv[5] + "/crash", .key = "{stream}/", .connection = conn,
                           .multipart_threshold = 5 << 20, .part_size = 5 << 20, .concurrency = 1};
    if (argc == 8) {
      auto p = connector::generator{.records = 100'000, .chunk_records = 1000} |
               batch::by_size{.max_bytes = 64_MiB, .max_age = std::chrono::seconds(900), .piece_bytes = 1_MiB} |
               format::jsonl{} | store;
      p.options.checkpoint = argv[6];
      p.run();
    } else {
      auto p = connector::generator{.records = 100'000, .chunk_records = 100'000} | format::jsonl{} | store;
      p.options.checkpoint = argv[6];
      p.run();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "s3_crash_child: %s\n", e.what());
    return 1;
  }
  return 0;
}
