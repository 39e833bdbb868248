// volantd's DNS server (runtime/dns.hpp): its sockets, the loop that answers
// from the published zone, and the relay of other names to the resolvers
// (over UDP, again over TCP for a TCP client whose answer came truncated).

#include "runtime/dns.hpp"

#include "runtime/event_loop.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <random>

namespace volant::runtime {

namespace {

using clock = std::chrono::steady_clock;

constexpr std::size_t header_size = 12;

sockaddr_in sockaddr_of(const dns_endpoint& e) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(e.port);
  a.sin_addr.s_addr = htonl(e.ip);
  return a;
}

error sys_error(const std::string& what) {
  return make_error(ec::io_error, what + ": " + std::strerror(errno));
}

/// A socket bound to `at`; `freebind`: also when the address is not (yet) on
/// an interface (a bridge created at the first microVM start).
int bound_socket(int type, const dns_endpoint& at, bool freebind) {
  int fd = ::socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  int one = 1;
  if (type == SOCK_STREAM)
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (freebind)
    ::setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
  auto addr = sockaddr_of(at);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0
      || (type == SOCK_STREAM && ::listen(fd, 64) != 0)) {
    int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

constexpr std::size_t max_forwards = 256;
constexpr std::size_t max_connections = 64;
constexpr auto tcp_idle = std::chrono::seconds(10);

} // namespace

struct dns_server::impl {
  /// A query relayed to a resolver, waiting for its answer.
  struct forward {
    std::vector<std::uint8_t> query;
    int udp = -1;                    ///< UDP: the socket it came on
    sockaddr_in client{};            ///< UDP: where the answer goes
    int conn = -1;                   ///< TCP: the client's connection
    std::uint64_t conn_id = 0;
    std::size_t next = 0;            ///< the resolver tried next
    clock::time_point deadline;
  };
  struct connection {
    std::uint64_t id = 0;
    std::vector<std::uint8_t> in;
    clock::time_point deadline;
  };
  /// A query of a TCP client asked again over TCP, its resolver's UDP answer
  /// having been truncated: the whole answer, or that truncated one.
  struct tcp_forward {
    forward f;
    std::vector<std::uint8_t> fallback; ///< the truncated UDP answer
    std::vector<std::uint8_t> out;      ///< the framed query
    std::size_t sent = 0;
    std::vector<std::uint8_t> in;
  };

  options opts;
  std::vector<dns_endpoint> bound; ///< listen, then the `also` that could be bound
  std::vector<int> sockets;        ///< UDP and TCP of each
  std::vector<std::string> warnings;
  std::mutex mu;
  std::shared_ptr<const dns_zone> zone = std::make_shared<dns_zone>(); // guarded by mu
  // The loop thread's own.
  std::mt19937_64 rng{std::random_device{}()};
  std::map<int, forward> forwards; ///< by the socket to the resolver
  std::map<int, connection> conns;
  std::map<int, tcp_forward> tcp_forwards; ///< by the TCP socket to the resolver
  std::uint64_t next_conn = 1;
  event_loop loop; // last: its thread starts once the rest is built

  explicit impl(options o) : opts(std::move(o)), loop("volant.dns", [this] { return tick(); }) {}

  ~impl() {
    loop.stop();
    for (auto& [fd, f] : forwards)
      ::close(fd);
    for (auto& [fd, c] : conns)
      ::close(fd);
    for (auto& [fd, t] : tcp_forwards)
      ::close(fd);
    for (int fd : sockets)
      ::close(fd);
  }

  /// Binds UDP and TCP on `at` and watches them; false (errno set) if it cannot.
  bool listen_on(const dns_endpoint& at, bool freebind) {
    int udp = bound_socket(SOCK_DGRAM, at, freebind);
    if (udp < 0)
      return false;
    int tcp = bound_socket(SOCK_STREAM, at, freebind);
    if (tcp < 0) {
      int saved = errno;
      ::close(udp);
      errno = saved;
      return false;
    }
    sockets.push_back(udp);
    sockets.push_back(tcp);
    if (!loop.add(udp, EPOLLIN, [this, udp](std::uint32_t) { on_udp(udp); })
        || !loop.add(tcp, EPOLLIN, [this, tcp](std::uint32_t) { on_accept(tcp); }))
      return false;
    bound.push_back(at);
    return true;
  }

  std::shared_ptr<const dns_zone> current() {
    std::lock_guard lock(mu);
    return zone;
  }

  void on_udp(int udp) {
    std::vector<std::uint8_t> buf(65536);
    for (int i = 0; i < 64; ++i) {
      sockaddr_in from{};
      socklen_t len = sizeof from;
      auto n = ::recvfrom(udp, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from),
                          &len);
      if (n < 0)
        return; // EAGAIN: drained (or an ICMP error of an earlier send)
      std::span<const std::uint8_t> query(buf.data(), static_cast<std::size_t>(n));
      auto reply = respond(*current(), query, rng(), false);
      if (reply.what == dns_reply::kind::answer)
        send_udp(udp, from, reply.wire);
      else if (reply.what == dns_reply::kind::forward)
        start_forward({{query.begin(), query.end()}, udp, from, -1, 0, 0, {}});
    }
  }

  static void send_udp(int udp, const sockaddr_in& to, const std::vector<std::uint8_t>& wire) {
    ::sendto(udp, wire.data(), wire.size(), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&to),
             sizeof to);
  }

  void on_accept(int tcp) {
    for (;;) {
      int fd = ::accept4(tcp, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0)
        return;
      if (conns.size() >= max_connections) {
        ::close(fd);
        continue;
      }
      auto id = next_conn++;
      conns[fd] = {id, {}, clock::now() + tcp_idle};
      if (!loop.add(fd, EPOLLIN | EPOLLRDHUP, [this, fd](std::uint32_t) { on_conn(fd); })) {
        conns.erase(fd);
        ::close(fd);
      }
    }
  }

  void close_conn(int fd) {
    loop.remove(fd);
    ::close(fd);
    conns.erase(fd);
  }

  void on_conn(int fd) {
    auto it = conns.find(fd);
    if (it == conns.end())
      return;
    std::uint8_t buf[4096];
    for (;;) {
      auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
        return close_conn(fd);
      if (n < 0)
        break;
      it->second.in.insert(it->second.in.end(), buf, buf + n);
      if (it->second.in.size() > 65537)
        return close_conn(fd);
    }
    it->second.deadline = clock::now() + tcp_idle;
    auto& in = it->second.in;
    while (in.size() >= 2) {
      std::size_t len = (std::size_t{in[0]} << 8) | in[1];
      if (in.size() < 2 + len)
        break;
      std::vector<std::uint8_t> query(in.begin() + 2, in.begin() + 2 + static_cast<long>(len));
      in.erase(in.begin(), in.begin() + 2 + static_cast<long>(len));
      auto reply = respond(*current(), query, rng(), true);
      if (reply.what == dns_reply::kind::answer) {
        if (!send_tcp(fd, reply.wire))
          return close_conn(fd);
      } else if (reply.what == dns_reply::kind::forward) {
        start_forward({std::move(query), -1, {}, fd, it->second.id, 0, {}});
      } else {
        return close_conn(fd);
      }
    }
  }

  /// The whole framed message, or false (a client that does not read is dropped).
  bool send_tcp(int fd, const std::vector<std::uint8_t>& wire) {
    std::vector<std::uint8_t> framed{static_cast<std::uint8_t>(wire.size() >> 8),
                                     static_cast<std::uint8_t>(wire.size() & 0xff)};
    framed.insert(framed.end(), wire.begin(), wire.end());
    auto n = ::send(fd, framed.data(), framed.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    return n == static_cast<ssize_t>(framed.size());
  }

  void deliver(const forward& f, const std::vector<std::uint8_t>& wire) {
    if (wire.empty())
      return;
    if (f.conn < 0) {
      send_udp(f.udp, f.client, wire);
      return;
    }
    auto it = conns.find(f.conn);
    if (it != conns.end() && it->second.id == f.conn_id && !send_tcp(f.conn, wire))
      close_conn(f.conn);
  }

  /// Sends `f` to its next resolver; SERVFAIL when none is left.
  void start_forward(forward f) {
    if (forwards.size() >= max_forwards)
      return deliver(f, servfail_for(f.query));
    while (f.next < opts.forwarders.size()) {
      auto to = sockaddr_of(opts.forwarders[f.next++]);
      int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0)
        break;
      if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0
          || ::send(fd, f.query.data(), f.query.size(), 0) < 0) {
        ::close(fd);
        continue;
      }
      f.deadline = clock::now() + std::chrono::milliseconds(opts.forward_timeout_ms);
      forwards[fd] = std::move(f);
      if (!loop.add(fd, EPOLLIN, [this, fd](std::uint32_t) { on_resolver(fd); })) {
        auto back = std::move(forwards[fd]);
        forwards.erase(fd);
        ::close(fd);
        return deliver(back, servfail_for(back.query));
      }
      return;
    }
    deliver(f, servfail_for(f.query));
  }

  forward take(int fd) {
    auto f = std::move(forwards.at(fd));
    forwards.erase(fd);
    loop.remove(fd);
    ::close(fd);
    return f;
  }

  void on_resolver(int fd) {
    if (!forwards.contains(fd))
      return;
    std::vector<std::uint8_t> buf(65536);
    auto n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    auto& f = forwards.at(fd);
    bool answer = n >= static_cast<ssize_t>(header_size) && buf[0] == f.query[0]
                  && buf[1] == f.query[1] && (buf[2] & 0x80) != 0;
    if (n >= 0 && !answer)
      return; // not the answer to this query: keep waiting
    auto done = take(fd);
    if (!answer) // refused (ICMP): the next resolver
      return start_forward(std::move(done));
    buf.resize(static_cast<std::size_t>(n));
    if (done.conn >= 0 && (buf[2] & 0x02) != 0) // truncated, for a TCP client
      return start_tcp_forward(std::move(done), std::move(buf));
    deliver(done, buf);
  }

  /// Asks `f`'s last resolver again over TCP; `fallback` if that fails.
  void start_tcp_forward(forward f, std::vector<std::uint8_t> fallback) {
    auto to = sockaddr_of(opts.forwarders[f.next - 1]);
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
      return deliver(f, fallback);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0
        && errno != EINPROGRESS) {
      ::close(fd);
      return deliver(f, fallback);
    }
    tcp_forward t{std::move(f), std::move(fallback), {}, 0, {}};
    t.out = {static_cast<std::uint8_t>(t.f.query.size() >> 8),
             static_cast<std::uint8_t>(t.f.query.size() & 0xff)};
    t.out.insert(t.out.end(), t.f.query.begin(), t.f.query.end());
    t.f.deadline = clock::now() + std::chrono::milliseconds(opts.forward_timeout_ms);
    tcp_forwards[fd] = std::move(t);
    if (!loop.add(fd, EPOLLOUT | EPOLLIN | EPOLLRDHUP,
                  [this, fd](std::uint32_t events) { on_tcp_resolver(fd, events); }))
      finish_tcp(fd, false);
  }

  /// Ends a TCP forward: the whole answer when `whole`, else the fallback.
  void finish_tcp(int fd, bool whole) {
    auto it = tcp_forwards.find(fd);
    if (it == tcp_forwards.end())
      return;
    auto t = std::move(it->second);
    tcp_forwards.erase(it);
    loop.remove(fd);
    ::close(fd);
    if (!whole)
      return deliver(t.f, t.fallback);
    std::vector<std::uint8_t> wire(t.in.begin() + 2, t.in.end());
    deliver(t.f, wire);
  }

  void on_tcp_resolver(int fd, std::uint32_t events) {
    auto it = tcp_forwards.find(fd);
    if (it == tcp_forwards.end())
      return;
    auto& t = it->second;
    if ((events & EPOLLOUT) != 0 && t.sent < t.out.size()) {
      auto n = ::send(fd, t.out.data() + t.sent, t.out.size() - t.sent,
                      MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        return finish_tcp(fd, false);
      t.sent += n > 0 ? static_cast<std::size_t>(n) : 0;
      if (t.sent == t.out.size())
        loop.modify(fd, EPOLLIN | EPOLLRDHUP);
    }
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) == 0)
      return;
    std::uint8_t buf[4096];
    for (;;) {
      auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) {
        t.in.insert(t.in.end(), buf, buf + n);
        if (t.in.size() > 65537)
          return finish_tcp(fd, false);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        break;
      break; // closed or failed: what came is judged below
    }
    bool ended = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
    std::size_t len = t.in.size() < 2 ? 0 : (std::size_t{t.in[0]} << 8) | t.in[1];
    if (t.in.size() < 2 || t.in.size() < 2 + len) {
      if (ended) // closed before the whole answer
        finish_tcp(fd, false);
      return;
    }
    t.in.resize(2 + len);
    bool same = len >= header_size && t.in[2] == t.f.query[0] && t.in[3] == t.f.query[1];
    finish_tcp(fd, same);
  }

  std::optional<clock::time_point> tick() {
    auto now = clock::now();
    std::vector<int> expired;
    for (const auto& [fd, f] : forwards)
      if (f.deadline <= now)
        expired.push_back(fd);
    for (int fd : expired)
      start_forward(take(fd));
    std::vector<int> idle;
    for (const auto& [fd, c] : conns)
      if (c.deadline <= now)
        idle.push_back(fd);
    for (int fd : idle)
      close_conn(fd);
    std::vector<int> slow;
    for (const auto& [fd, t] : tcp_forwards)
      if (t.f.deadline <= now)
        slow.push_back(fd);
    for (int fd : slow)
      finish_tcp(fd, false);
    std::optional<clock::time_point> next;
    for (const auto& [fd, f] : forwards)
      next = next ? std::min(*next, f.deadline) : f.deadline;
    for (const auto& [fd, c] : conns)
      next = next ? std::min(*next, c.deadline) : c.deadline;
    for (const auto& [fd, t] : tcp_forwards)
      next = next ? std::min(*next, t.f.deadline) : t.f.deadline;
    return next;
  }
};

expected<std::unique_ptr<dns_server>> dns_server::start(options opts) {
  auto p = std::make_unique<impl>(std::move(opts));
  if (!p->listen_on(p->opts.listen, false))
    return sys_error("cannot listen on " + to_string(p->opts.listen));
  for (const auto& at : p->opts.also)
    if (!p->listen_on(at, true))
      p->warnings.push_back("cannot listen on " + to_string(at) + " too: "
                            + std::strerror(errno));
  return std::unique_ptr<dns_server>(new dns_server(std::move(p)));
}

dns_server::dns_server(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

dns_server::~dns_server() = default;

void dns_server::publish(std::shared_ptr<const dns_zone> zone) {
  std::lock_guard lock(impl_->mu);
  impl_->zone = std::move(zone);
}

const dns_server::options& dns_server::config() const {
  return impl_->opts;
}

const std::vector<std::string>& dns_server::warnings() const {
  return impl_->warnings;
}

bool dns_server::listens_on(const dns_endpoint& at) const {
  return std::find(impl_->bound.begin(), impl_->bound.end(), at) != impl_->bound.end();
}

} // namespace volant::runtime
