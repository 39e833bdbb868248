// The prober (runtime/prober.hpp) against real loopback servers: HTTP answers
// 200, 302, 503, garbage and silence; a closed port; TCP checks; more checks
// than sockets allowed at once. Only 127.0.0.1.

#include "events/events.hpp"
#include "runtime/prober.hpp"
#include "support/mailbox.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

using namespace volant;
using namespace volant::runtime;
using namespace std::chrono_literals;

namespace {

constexpr ipv4 loopback = 0x7f000001;

/// A listening socket on 127.0.0.1 with an OS-chosen port.
int listen_loopback(std::uint16_t& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(loopback);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd, 64) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  port = ntohs(addr.sin_port);
  return fd;
}

/// A loopback server on its own thread: for each connection it reads the
/// request head, then writes `reply` (nothing when empty) and closes.
/// `accept_connections = false`: it listens but never accepts (a hung server).
class server {
public:
  explicit server(std::string reply, bool accept_connections = true)
    : reply_(std::move(reply)) {
    fd_ = listen_loopback(port_);
    if (accept_connections)
      thread_ = std::thread([this] { serve(); });
  }
  ~server() {
    stop_ = true;
    if (thread_.joinable())
      thread_.join();
    ::close(fd_);
  }
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  std::uint16_t port() const { return port_; }
  /// The request heads received so far.
  test::mailbox<std::string>& requests() { return requests_; }

private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0)
        continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0)
        continue;
      std::string head;
      char buf[512];
      while (head.find("\r\n\r\n") == std::string::npos) {
        pollfd q{c, POLLIN, 0};
        if (::poll(&q, 1, 2000) <= 0)
          break;
        auto n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0)
          break;
        head.append(buf, static_cast<std::size_t>(n));
      }
      requests_.put(head);
      if (!reply_.empty())
        (void) !::send(c, reply_.data(), reply_.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }

  std::string reply_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  test::mailbox<std::string> requests_;
  std::thread thread_;
};

/// A port on 127.0.0.1 where nothing listens (bound, then closed).
std::uint16_t closed_port() {
  std::uint16_t port = 0;
  ::close(listen_loopback(port));
  return port;
}

/// Runs one check and waits for its result.
check_result check(prober& p, std::uint16_t port, std::string path,
                   std::chrono::milliseconds timeout = 1000ms) {
  test::mailbox<check_result> results;
  p.submit({loopback, port, std::move(path), timeout,
            [&](const check_result& r) { results.put(r); }});
  auto r = results.take();
  REQUIRE_MESSAGE(r, "the check never finished");
  return *r;
}

} // namespace

TEST_CASE("An HTTP check is healthy on 2xx and 3xx and names any other status") {
  prober p;
  SUBCASE("200") {
    server s("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    auto r = check(p, s.port(), "/health");
    CHECK(r.ok);
    CHECK(r.error == "");
    CHECK(r.latency_us > 0);
    // What the workload sees: a GET of the path, with the probe's Host.
    auto head = s.requests().take();
    REQUIRE(head);
    CHECK(head->rfind("GET /health HTTP/1.0\r\n", 0) == 0);
    CHECK(head->find("Host: 127.0.0.1\r\n") != std::string::npos);
  }
  SUBCASE("302") {
    server s("HTTP/1.0 302 Found\r\nLocation: /x\r\n\r\n");
    CHECK(check(p, s.port(), "/").ok);
  }
  SUBCASE("503") {
    server s("HTTP/1.1 503 Service Unavailable\r\n\r\n");
    auto r = check(p, s.port(), "/health");
    CHECK_FALSE(r.ok);
    CHECK(r.error == "HTTP 503");
  }
  SUBCASE("not HTTP") {
    server s("hello there\r\n");
    auto r = check(p, s.port(), "/health");
    CHECK_FALSE(r.ok);
    CHECK(r.error == "not an HTTP response");
  }
  SUBCASE("closed without a word") {
    server s("");
    auto r = check(p, s.port(), "/health");
    CHECK_FALSE(r.ok);
    CHECK(r.error == "connection closed without a response");
  }
}

TEST_CASE("A closed port is 'connection refused' for HTTP and TCP checks") {
  prober p;
  auto port = closed_port();
  auto http = check(p, port, "/health");
  CHECK_FALSE(http.ok);
  CHECK(http.error == "connection refused");
  auto tcp = check(p, port, "");
  CHECK_FALSE(tcp.ok);
  CHECK(tcp.error == "connection refused");
}

TEST_CASE("A server that never answers times out after the check's timeout") {
  prober p;
  server hung("", false); // listens, never accepts: the connect itself succeeds
  auto started = std::chrono::steady_clock::now();
  auto r = check(p, hung.port(), "/health", 300ms);
  CHECK_FALSE(r.ok);
  CHECK(r.error == "timed out after 300 ms");
  CHECK(std::chrono::steady_clock::now() - started >= 300ms); // not before its deadline
  // A TCP check only needs the connection, which the kernel completes.
  CHECK(check(p, hung.port(), "").ok);
}

TEST_CASE("Checks beyond max_in_flight wait their turn, and every one finishes") {
  prober p(2);
  server hung("", false);
  server good("HTTP/1.1 204 No Content\r\n\r\n");
  test::mailbox<check_result> results;
  auto done = [&](const check_result& r) { results.put(r); };
  // Two hung checks take both sockets; the good ones wait for their timeouts.
  p.submit({loopback, hung.port(), "/", 200ms, done});
  p.submit({loopback, hung.port(), "/", 200ms, done});
  for (int i = 0; i < 4; ++i)
    p.submit({loopback, good.port(), "/", 5000ms, done});
  int timed_out = 0, ok = 0;
  for (int i = 0; i < 6; ++i) {
    auto r = results.take();
    REQUIRE(r);
    timed_out += r->error == "timed out after 200 ms";
    ok += r->ok;
    CHECK(p.in_flight() <= 2);
  }
  CHECK(timed_out == 2);
  CHECK(ok == 4);
}

TEST_CASE("Destroying the prober with checks in flight returns without calling them") {
  server hung("", false);
  std::atomic<int> called{0};
  {
    prober p;
    for (int i = 0; i < 3; ++i)
      p.submit({loopback, hung.port(), "/", 60000ms, [&](const check_result&) { ++called; }});
  }
  CHECK(called == 0);
}
