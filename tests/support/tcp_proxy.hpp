#pragma once

// A TCP proxy on 127.0.0.1 for tests: forwards every connection to an
// upstream port, and can cut the link (every connection dropped, new ones
// held without an answer) and restore it, so that a test partitions one client from a
// server while both keep running.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <utility>
#include <vector>

namespace volant::test {

class tcp_proxy {
public:
  explicit tcp_proxy(int upstream_port) : upstream_(upstream_port) {
    listen_fd_ = open_listener(0);
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~tcp_proxy() {
    stop_ = true;
    thread_.join();
    for (auto [a, b] : pairs_) {
      ::close(a);
      ::close(b);
    }
    if (listen_fd_ >= 0)
      ::close(listen_fd_);
  }
  tcp_proxy(const tcp_proxy&) = delete;
  tcp_proxy& operator=(const tcp_proxy&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  /// Drops every connection; new ones are held unanswered (a dropped link).
  void cut() { cut_ = true; }
  /// Accepts and forwards again.
  void restore() { cut_ = false; }

private:
  static int open_listener(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0
        || ::listen(fd, 64) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

  int connect_upstream() const {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(upstream_));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

  static bool pass(int from, int to) {
    char buf[65536];
    auto n = ::read(from, buf, sizeof buf);
    if (n <= 0)
      return false;
    for (ssize_t done = 0; done < n;) {
      auto w = ::write(to, buf + done, static_cast<std::size_t>(n - done));
      if (w <= 0)
        return false;
      done += w;
    }
    return true;
  }

  void loop() {
    bool was_cut = false;
    std::vector<int> held; // connections accepted while cut: never answered
    auto close_all = [](std::vector<int>& fds) {
      for (int fd : fds)
        ::close(fd);
      fds.clear();
    };
    while (!stop_) {
      if (cut_ && !was_cut) { // packets dropped from now on
        for (auto [a, b] : pairs_) {
          ::close(a);
          ::close(b);
        }
        pairs_.clear();
      }
      if (!cut_ && was_cut)
        close_all(held);
      was_cut = cut_;
      // The listener stays open (a port closed even briefly may be taken
      // as another socket's ephemeral port); while cut, what connects is
      // held and never answered, as behind a dropped link.
      std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
      for (auto [a, b] : pairs_) {
        fds.push_back({a, POLLIN, 0});
        fds.push_back({b, POLLIN, 0});
      }
      for (int fd : held)
        fds.push_back({fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 50) <= 0)
        continue;
      std::vector<std::pair<int, int>> kept;
      for (std::size_t i = 0; i < pairs_.size(); ++i) {
        auto [a, b] = pairs_[i];
        bool ok = true;
        if (fds[1 + 2 * i].revents & (POLLIN | POLLHUP | POLLERR))
          ok = pass(a, b);
        if (ok && (fds[2 + 2 * i].revents & (POLLIN | POLLHUP | POLLERR)))
          ok = pass(b, a);
        if (ok) {
          kept.emplace_back(a, b);
        } else {
          ::close(a);
          ::close(b);
        }
      }
      std::vector<int> still;
      for (std::size_t i = 0; i < held.size(); ++i) {
        if (fds[1 + 2 * pairs_.size() + i].revents & (POLLIN | POLLHUP | POLLERR)) {
          char buf[4096];
          if (::read(held[i], buf, sizeof buf) <= 0) {
            ::close(held[i]);
            continue;
          }
        }
        still.push_back(held[i]);
      }
      held = std::move(still);
      pairs_ = std::move(kept);
      if (fds[0].revents & POLLIN) {
        int client = ::accept(listen_fd_, nullptr, nullptr);
        if (client >= 0 && cut_) {
          held.push_back(client);
        } else if (client >= 0) {
          int up = connect_upstream();
          if (up < 0)
            ::close(client);
          else
            pairs_.emplace_back(client, up);
        }
      }
    }
    close_all(held);
  }

  int upstream_;
  int port_ = 0;
  int listen_fd_ = -1;
  std::vector<std::pair<int, int>> pairs_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> cut_{false};
  std::thread thread_;
};

} // namespace volant::test
