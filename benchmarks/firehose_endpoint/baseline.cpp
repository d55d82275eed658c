// SPDX-License-Identifier: Apache-2.0
// The baseline: Debian's nginx accepting the same POST bodies on the same machine, the HTTP
// ceiling of loopback. It reads each body and discards it (`return 200` makes nginx read the
// body off the socket and drop it, without a temporary file), so it does the HTTP work of the
// endpoint and nothing else: no SigV4, no JSON, no base64, no durability.
#include "firehose_endpoint/firehose_endpoint.hpp"

#include <signal.h>

#include <fstream>
#include <stdexcept>
#include <thread>

namespace firehose_bench {

namespace {
constexpr const char* nginx_binary = "/usr/sbin/nginx";
}

nginx_process::nginx_process(const std::filesystem::path& folder, std::uint16_t port, unsigned workers) {
  if (!std::filesystem::exists(nginx_binary))
    throw std::runtime_error(std::string(nginx_binary) + " is missing: scripts/bootstrap installs Debian's nginx");
  std::filesystem::create_directories(folder / "temp");
  const auto conf = folder / "nginx.conf";
  {
    std::ofstream f(conf);
    const std::string d = folder.string();
    f << "daemon off;\nmaster_process on;\nworker_processes " << workers << ";\n"
      << "pid " << d << "/nginx.pid;\nerror_log " << d << "/error.log warn;\n"
      << "events { worker_connections 4096; }\n"
      << "http {\n"
      << "  access_log off;\n"
      << "  client_body_temp_path " << d << "/temp/body; proxy_temp_path " << d << "/temp/proxy;\n"
      << "  fastcgi_temp_path " << d << "/temp/fastcgi; uwsgi_temp_path " << d << "/temp/uwsgi;\n"
      << "  scgi_temp_path " << d << "/temp/scgi;\n"
      << "  client_max_body_size 8m;\n"
      << "  keepalive_requests 10000000;\n  keepalive_timeout 60s;\n"
      << "  server {\n"
      << "    listen 127.0.0.1:" << port << " reuseport backlog=4096;\n"
      << "    location / {\n"
      << "      default_type application/x-amz-json-1.1;\n"
      << "      return 200 '{}';\n"
      << "    }\n"
      << "  }\n"
      << "}\n";
    if (!f) throw std::runtime_error("cannot write " + conf.string());
  }
  // -e: the error log before the configuration is read (else /var/log/nginx/error.log).
  child_ = std::make_unique<child_process>(
      std::vector<std::string>{nginx_binary, "-p", folder.string(), "-e", (folder / "error.log").string(), "-c",
                               conf.string()},
      folder / "nginx.out", folder / "nginx.err");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!can_connect(port)) {
    if (!child_->running() || std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("nginx did not start on 127.0.0.1:" + std::to_string(port) + ":\n" +
                               read_file(folder / "nginx.err") + read_file(folder / "error.log"));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

nginx_process::~nginx_process() {
  // SIGQUIT: graceful shutdown of the master and its workers.
  if (child_) (void)child_->stop(SIGQUIT, std::chrono::seconds(10));
}

std::string nginx_process::version() {
  const auto dir = std::filesystem::temp_directory_path();
  const auto err = dir / ("sluice-bench-nginx-version-" + std::to_string(::getpid()));
  child_process p({nginx_binary, "-v"}, "/dev/null", err);
  (void)p.stop(0, std::chrono::seconds(10));  // signal 0: just wait
  std::string v = read_file(err);
  std::filesystem::remove(err);
  if (const auto at = v.find("nginx/"); at != std::string::npos) v = v.substr(at);
  while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
  return v;
}

}  // namespace firehose_bench
