// SPDX-License-Identifier: Apache-2.0
// The competitor: examples/firehose_endpoint as a child process, and the count of the records
// it delivered to its lake.
#include "firehose_endpoint/firehose_endpoint.hpp"

#include <sluice/codec/zstd.hpp>

#include <signal.h>

#include <cstring>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace firehose_bench {

endpoint_process::endpoint_process(const endpoint_settings& s, const std::filesystem::path& folder, const target& t)
    : folder_(folder), lake_(folder / "lake") {
  std::filesystem::create_directories(folder);
  const auto config = folder / "endpoint.json";
  {
    std::ofstream f(config);
    f << "{\"listen\": \"" << t.host << ":" << t.port << "\", \"region\": \"" << t.region << "\",\n"
      << " \"access_keys\": [{\"access_key_id\": \"" << t.access_key_id << "\", \"secret_access_key\": \""
      << t.secret_access_key << "\"}],\n"
      << " \"state_dir\": \"" << (folder / "state").string() << "\",\n"
      << " \"delivery_streams\": [{\"name\": \"" << t.stream << "\", \"lake\": \"" << lake_.string()
      << "\", \"compression\": \"" << s.compression << "\", \"buffer\": {\"sync\": \"" << s.sync << "\"}, \"workers\": " << s.workers << ",\n"
      << "   \"buffering_hints\": {\"size_mib\": " << s.buffer_mib << ", \"interval_seconds\": " << s.interval_seconds
      << "}}]}\n";
    if (!f) throw std::runtime_error("cannot write " + config.string());
  }
  const auto out = folder / "endpoint.out", err = folder / "endpoint.err";
  child_ = std::make_unique<child_process>(std::vector<std::string>{s.binary.string(), "--config", config.string()},
                                           out, err);
  // Ready when it says so: `firehose_endpoint: listening on http://127.0.0.1:PORT`.
  const std::string ready = "firehose_endpoint: listening on http://" + t.host + ":" + std::to_string(t.port);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (read_file(out).find(ready) == std::string::npos) {
    if (!child_->running())
      throw std::runtime_error(s.binary.string() + " exited with status " + std::to_string(child_->exit_status()) +
                               " before it listened:\n" + read_file(err));
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error(s.binary.string() + " did not print \"" + ready + "\" within 30 s; stdout:\n" +
                               read_file(out) + "\nstderr:\n" + read_file(err));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

double endpoint_process::drain(std::chrono::seconds timeout) {
  const auto start = std::chrono::steady_clock::now();
  const int status = child_->stop(SIGTERM, timeout);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (status != 0)
    throw std::runtime_error("firehose_endpoint did not drain and exit 0 after SIGTERM (" +
                             (status < 0 ? "still running after " + std::to_string(timeout.count()) + " s, killed"
                                         : "status " + std::to_string(status)) +
                             "); stderr:\n" + read_file(folder_ / "endpoint.err"));
  return seconds;
}

std::uint64_t count_lake_records(const std::filesystem::path& lake) {
  std::uint64_t records = 0;
  if (!std::filesystem::exists(lake)) return 0;
  sluice::codec::zstd_decompressor zstd;
  std::string decoded;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(lake)) {
    if (!entry.is_regular_file()) continue;
    std::string bytes = read_file(entry.path());
    std::string_view text = bytes;
    static constexpr unsigned char zstd_magic[] = {0x28, 0xB5, 0x2F, 0xFD};
    if (bytes.size() >= 4 && std::memcmp(bytes.data(), zstd_magic, 4) == 0) {
      std::string reason;
      if (zstd.decompress(bytes, decoded, &reason))
        throw std::runtime_error(entry.path().string() + ": " + reason);
      text = decoded;
    }
    // A record is a line starting with the marker (whether or not the endpoint adds its own
    // newline delimiter, which makes empty lines).
    for (std::size_t at = 0; at < text.size();) {
      if (text.compare(at, record_marker.size(), record_marker) == 0) ++records;
      const auto nl = text.find('\n', at);
      if (nl == std::string_view::npos) break;
      at = nl + 1;
    }
  }
  return records;
}

}  // namespace firehose_bench
