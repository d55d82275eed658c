// SPDX-License-Identifier: Apache-2.0
// Child processes and ports for the firehose_endpoint benchmark.
#include "firehose_endpoint/firehose_endpoint.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace firehose_bench {

child_process::child_process(const std::vector<std::string>& argv, const std::filesystem::path& out,
                             const std::filesystem::path& err) {
  pid_ = sluice_bench::spawn_process(argv, nullptr, out, err);
}

child_process::~child_process() {
  if (pid_ > 0 && running()) (void)stop(SIGKILL, std::chrono::seconds(5));
}

bool child_process::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    pid_ = -1;
    return false;
  }
  return r == 0;
}

int child_process::stop(int sig, std::chrono::milliseconds timeout) {
  if (!running()) return status_;
  ::kill(pid_, sig);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
      status_ = -1;
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return status_;
}

namespace {
sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}
}  // namespace

std::uint16_t free_port(std::uint16_t low, std::uint16_t high, std::uint16_t* next) {
  for (unsigned p = std::max(low, *next); p <= high; ++p) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    const int one = 1;  // as the servers bind (Asio's acceptor and nginx set SO_REUSEADDR)
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a = loopback(static_cast<std::uint16_t>(p));
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    if (ok) {
      *next = static_cast<std::uint16_t>(p + 1);
      return static_cast<std::uint16_t>(p);
    }
  }
  throw std::runtime_error("no free port on 127.0.0.1 in " + std::to_string(low) + ".." + std::to_string(high) +
                           " (--ports LOW-HIGH)");
}

bool can_connect(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in a = loopback(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

}  // namespace firehose_bench
