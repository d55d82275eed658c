// SPDX-License-Identifier: Apache-2.0
// The peers: the AWS CLI v2 (/usr/bin/aws) and rclone, each in a process of its own, with the
// same environment isolation the S3 integration tests use (tests/integration/s3/s3_test_support.hpp):
// no profile, no CA bundle but the test server's, path-style addressing, no checksum trailers
// (radosgw 16 refuses them).
#include "common/harness.hpp"
#include "s3_upload/s3_upload.hpp"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace s3_upload {

process_result run_process(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                           const std::filesystem::path& out, const std::filesystem::path& err) {
  const double busy_before = machine_busy_seconds();
  auto start = std::chrono::steady_clock::now();
  const pid_t pid = sluice_bench::spawn_process(argv, &env, out, err);
  int status = 0;
  rusage usage{};
  while (wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR) throw std::runtime_error("wait4 for " + argv[0] + ": " + std::strerror(errno));
  }
  process_result r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.machine_cpu_seconds = machine_busy_seconds() - busy_before;
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  r.cpu_seconds = secs(usage.ru_utime) + secs(usage.ru_stime);
  // ru_maxrss of wait4 is the largest peak of the child and the descendants it waited for.
  r.peak_rss = static_cast<std::size_t>(usage.ru_maxrss) * 1024;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::vector<std::string> isolated_environment(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string_view v(*e);
    if (v.starts_with("AWS_") || v.starts_with("RCLONE_")) continue;
    env.emplace_back(v);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

std::vector<std::string> aws_environment(const server& srv, const settings& s, const std::filesystem::path& config) {
  {
    std::ofstream f(config);
    f << "[default]\nregion = " << srv.region << "\ns3 =\n  addressing_style = path\n"
      << "  max_concurrent_requests = " << s.concurrency << "\n"
      << "  multipart_threshold = " << (s.part_bytes >> 20) << "MB\n"
      << "  multipart_chunksize = " << (s.part_bytes >> 20) << "MB\n";
    if (!f) throw std::runtime_error("cannot write " + config.string());
  }
  std::vector<std::string> env{"AWS_CONFIG_FILE=" + config.string(), "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
                               "AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=",
                               "AWS_REQUEST_CHECKSUM_CALCULATION=when_required",
                               "AWS_RESPONSE_CHECKSUM_VALIDATION=when_required",
                               "AWS_ACCESS_KEY_ID=" + srv.access_key, "AWS_SECRET_ACCESS_KEY=" + srv.secret_key,
                               "AWS_DEFAULT_REGION=" + srv.region};
  if (!srv.ca_file.empty()) env.push_back("AWS_CA_BUNDLE=" + srv.ca_file);
  return isolated_environment(env);
}

std::vector<std::string> aws_command(const server& srv, scenario which, const std::filesystem::path& input,
                                     const std::string& bucket, const std::string& prefix) {
  std::vector<std::string> c{"/usr/bin/aws", "--endpoint-url", srv.endpoint, "s3", "cp", "--only-show-errors",
                             "--no-progress"};
  if (which == scenario::big) {
    c.push_back(big_file(input).string());
    c.push_back("s3://" + bucket + "/" + prefix + "big.bin");
  } else {
    c.push_back("--recursive");
    c.push_back(small_dir(input).string());
    c.push_back("s3://" + bucket + "/" + prefix);
  }
  return c;
}

std::vector<std::string> rclone_environment(const server& srv) {
  return isolated_environment({"RCLONE_CONFIG_LAKE_TYPE=s3", "RCLONE_CONFIG_LAKE_PROVIDER=Ceph",
                               "RCLONE_CONFIG_LAKE_ENDPOINT=" + srv.endpoint,
                               "RCLONE_CONFIG_LAKE_ACCESS_KEY_ID=" + srv.access_key,
                               "RCLONE_CONFIG_LAKE_SECRET_ACCESS_KEY=" + srv.secret_key,
                               "RCLONE_CONFIG_LAKE_FORCE_PATH_STYLE=true", "RCLONE_CONFIG_LAKE_REGION=" + srv.region});
}

std::vector<std::string> rclone_command(const server& srv, const settings& s, scenario which,
                                        const std::filesystem::path& input, const std::string& bucket,
                                        const std::string& prefix) {
  const std::string n = std::to_string(s.concurrency);
  std::vector<std::string> c{"/usr/bin/rclone", "--config", "/dev/null", "-q", "--s3-chunk-size",
                             std::to_string(s.part_bytes >> 20) + "M", "--s3-upload-concurrency", n, "--transfers", n};
  // rclone 1.60 fails at once with AWS_CA_BUNDLE set: it takes the CA as a flag.
  if (!srv.ca_file.empty()) c.insert(c.end(), {"--ca-cert", srv.ca_file});
  if (which == scenario::big) {
    c.insert(c.end(), {"copyto", big_file(input).string(), "lake:" + bucket + "/" + prefix + "big.bin"});
  } else {
    c.insert(c.end(), {"copy", small_dir(input).string(), "lake:" + bucket + "/" + prefix});
  }
  return c;
}

}  // namespace s3_upload
