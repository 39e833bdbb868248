#pragma once

// A real etcd (Debian's etcd-server) for tests and benchmarks: `members`
// members on 127.0.0.1, ports of their own, data in a temp dir, killed when
// this goes out of scope. Optionally TLS with client certificates.

#include "support/process.hpp"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

namespace volant::test {

inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

class etcd_cluster {
public:
  /// `tls`: server certificate, key and the CA its clients must present a
  /// certificate of (etcd's --client-cert-auth); empty: plain HTTP.
  explicit etcd_cluster(int members = 1, std::vector<std::string> tls = {})
    : scheme_(tls.empty() ? "http" : "https") {
    std::string initial;
    for (int i = 0; i < members; ++i) {
      member m;
      m.name = "m" + std::to_string(i);
      m.client = free_port();
      m.peer = free_port();
      initial += (initial.empty() ? "" : ",") + m.name + "=http://127.0.0.1:"
                 + std::to_string(m.peer);
      members_.push_back(m);
    }
    for (auto& m : members_) {
      auto client = url_of(m);
      auto peer = "http://127.0.0.1:" + std::to_string(m.peer);
      m.args = {"etcd",
                "--name", m.name,
                "--data-dir", dir_ / m.name,
                "--listen-client-urls", client,
                "--advertise-client-urls", client,
                "--listen-peer-urls", peer,
                "--initial-advertise-peer-urls", peer,
                "--initial-cluster", initial,
                "--initial-cluster-state", "new"};
      if (!tls.empty())
        m.args.insert(m.args.end(), {"--cert-file", tls[0], "--key-file", tls[1],
                                     "--trusted-ca-file", tls[2], "--client-cert-auth"});
    }
    for (std::size_t i = 0; i < members_.size(); ++i)
      start(i);
  }
  ~etcd_cluster() {
    for (std::size_t i = 0; i < members_.size(); ++i)
      stop(i);
  }
  etcd_cluster(const etcd_cluster&) = delete;
  etcd_cluster& operator=(const etcd_cluster&) = delete;

  /// The client URL of member `i`.
  std::string url(std::size_t i = 0) const { return url_of(members_.at(i)); }
  std::vector<std::string> urls() const {
    std::vector<std::string> out;
    for (const auto& m : members_)
      out.push_back(url_of(m));
    return out;
  }
  std::string log(std::size_t i = 0) const {
    return read_file(dir_ / (members_.at(i).name + ".log"));
  }

  /// (Re)starts member `i` on its data directory.
  void start(std::size_t i) {
    auto& m = members_.at(i);
    if (m.pid > 0)
      return;
    auto log = dir_ / (m.name + ".log");
    std::fflush(nullptr); // the child must not print our buffers again
    m.pid = ::fork();
    if (m.pid == 0) {
      std::freopen(log.c_str(), "a", stdout);
      std::freopen(log.c_str(), "a", stderr);
      std::vector<char*> argv;
      for (auto& a : m.args)
        argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp("etcd", argv.data());
      ::_exit(127);
    }
  }

  /// kill -9 of member `i`.
  void stop(std::size_t i = 0) {
    auto& m = members_.at(i);
    if (m.pid <= 0)
      return;
    ::kill(m.pid, SIGKILL);
    ::waitpid(m.pid, nullptr, 0);
    m.pid = -1;
  }

private:
  struct member {
    std::string name;
    int client = 0;
    int peer = 0;
    pid_t pid = -1;
    std::vector<std::string> args;
  };
  std::string url_of(const member& m) const {
    return scheme_ + "://127.0.0.1:" + std::to_string(m.client);
  }

  temp_dir dir_;
  std::string scheme_;
  std::vector<member> members_;
};

} // namespace volant::test
