// SPDX-License-Identifier: Apache-2.0
#pragma once
// The firehose_endpoint example run as a child process, the way a user runs it: started with a
// configuration file, ready once it prints its `listening on` line, stopped with SIGTERM (a
// drain) or killed with SIGKILL.
#include <sluice_test/support.hpp>

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace sluice_test {

/// The program under test, from the environment CMake gives the test (FIREHOSE_ENDPOINT).
inline std::string endpoint_program() {
  const char* p = std::getenv("FIREHOSE_ENDPOINT");
  REQUIRE(p != nullptr);
  return p;
}

class endpoint_process {
 public:
  /// Starts `firehose_endpoint --config <config>` in `cwd` and waits (up to a minute) for its
  /// `listening on URL` line. Its stderr goes to the test's. `environment`, when given, is a
  /// prefix (`env A=1 B=2 `) the program is started with, through /bin/sh.
  endpoint_process(const std::filesystem::path& config, const std::filesystem::path& cwd,
                   const std::string& environment = {}) {
    int out[2];
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    const std::string program = endpoint_program();
    const std::string config_text = config.string();
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      if (::chdir(cwd.c_str()) != 0) ::_exit(126);
      if (environment.empty()) {
        ::execl(program.c_str(), program.c_str(), "--config", config_text.c_str(), static_cast<char*>(nullptr));
      } else {
        // `exec env A=1 prog`: the shell becomes env, which becomes the program: one pid to signal.
        const std::string command = "exec " + environment + " '" + program + "' --config '" + config_text + "'";
        ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
      }
      ::_exit(127);
    }
    ::close(out[1]);
    out_ = out[0];
    const auto until = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    while (url_.empty()) {
      const auto line_end = output_.find('\n');
      if (line_end != std::string::npos) {
        const std::string line = output_.substr(0, line_end);
        if (auto at = line.find("listening on "); at != std::string::npos) url_ = line.substr(at + 13);
        output_.erase(0, line_end + 1);
        continue;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !read_more(left)) {
        kill();
        FAIL("firehose_endpoint did not start (exit status " << status_ << "); it printed: " << output_);
      }
    }
  }
  ~endpoint_process() {
    if (pid_ > 0) kill();
    if (out_ >= 0) ::close(out_);
  }
  endpoint_process(const endpoint_process&) = delete;
  endpoint_process& operator=(const endpoint_process&) = delete;

  /// "http://127.0.0.1:PORT".
  [[nodiscard]] const std::string& url() const noexcept { return url_; }
  [[nodiscard]] std::uint16_t port() const { return static_cast<std::uint16_t>(std::stoi(url_.substr(url_.rfind(':') + 1))); }

  /// SIGTERM, then waits up to `limit` for the exit: its exit code (-1 if it had to be killed).
  int terminate(std::chrono::seconds limit = std::chrono::seconds(60)) {
    ::kill(pid_, SIGTERM);
    const auto until = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > until) {
        kill();
        return -1;
      }
      (void)read_more(std::chrono::milliseconds(20));
    }
    while (read_more(std::chrono::milliseconds(0))) {
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  /// SIGKILL: the crash.
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
    pid_ = -1;
  }

 private:
  bool read_more(std::chrono::milliseconds timeout) {
    pollfd p{out_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char buf[4096];
    const ssize_t n = ::read(out_, buf, sizeof buf);
    if (n <= 0) return false;
    output_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int out_ = -1;
  int status_ = 0;
  std::string output_;
  std::string url_;
};

}  // namespace sluice_test
