// The DNS server's sockets (runtime/dns.hpp): it answers on its main address
// and on every further one (`also`: the microVM bridge's, which may not exist
// yet), replies from the address a query came to, and says which further
// addresses it could not take. Loopback only (127.78.164.0/24); the address
// bound before it exists (192.0.2.53, TEST-NET-1) is bound, never sent to.

#include "runtime/dns.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

namespace volant::runtime {

namespace {

dns_endpoint at(const char* ip, std::uint16_t port) {
  in_addr a{};
  ::inet_pton(AF_INET, ip, &a);
  return {ntohl(a.s_addr), port};
}

/// A query for A of `x.volant.local` with id `id`.
std::vector<std::uint8_t> query(std::uint16_t id) {
  std::vector<std::uint8_t> q{static_cast<std::uint8_t>(id >> 8), static_cast<std::uint8_t>(id),
                              0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  for (const char* label : {"x", "volant", "local"}) {
    q.push_back(static_cast<std::uint8_t>(std::strlen(label)));
    q.insert(q.end(), label, label + std::strlen(label));
  }
  q.insert(q.end(), {0, 0, 1, 0, 1});
  return q;
}

struct reply {
  std::vector<std::uint8_t> wire;
  std::string from;
};

/// Sends `q` over UDP to `ip:port` and waits up to 5 s for one datagram.
std::optional<reply> ask(const char* ip, std::uint16_t port, const std::vector<std::uint8_t>& q) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  ::inet_pton(AF_INET, ip, &to.sin_addr);
  ::sendto(fd, q.data(), q.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
  pollfd p{fd, POLLIN, 0};
  std::optional<reply> out;
  if (::poll(&p, 1, 5000) == 1) {
    std::uint8_t buf[1500];
    sockaddr_in from{};
    socklen_t len = sizeof from;
    auto n = ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &from.sin_addr, text, sizeof text);
    if (n > 0)
      out = reply{{buf, buf + n}, text};
  }
  ::close(fd);
  return out;
}

/// Sends `q` over TCP (framed) to `ip:port`; the framed answer, unframed.
std::optional<std::vector<std::uint8_t>> ask_tcp(const char* ip, std::uint16_t port,
                                                 const std::vector<std::uint8_t>& q) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  ::inet_pton(AF_INET, ip, &to.sin_addr);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::optional<std::vector<std::uint8_t>> out;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0) {
    std::vector<std::uint8_t> framed{static_cast<std::uint8_t>(q.size() >> 8),
                                     static_cast<std::uint8_t>(q.size())};
    framed.insert(framed.end(), q.begin(), q.end());
    ::send(fd, framed.data(), framed.size(), MSG_NOSIGNAL);
    std::vector<std::uint8_t> in;
    std::uint8_t buf[1500];
    for (;;) {
      auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0)
        break;
      in.insert(in.end(), buf, buf + n);
      if (in.size() >= 2 && in.size() >= 2 + ((std::size_t{in[0]} << 8) | in[1]))
        break;
    }
    if (in.size() >= 2)
      out = std::vector<std::uint8_t>(in.begin() + 2, in.end());
  }
  ::close(fd);
  return out;
}

/// A resolver on 127.78.164.60:5353 whose UDP answers are truncated (TC, no
/// record) and whose TCP answers hold one A record, 127.9.9.9, as a resolver
/// does with an answer too big for a datagram.
class truncating_resolver {
public:
  truncating_resolver() {
    udp_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    tcp_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(tcp_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_port = htons(5353);
    ::inet_pton(AF_INET, "127.78.164.60", &at.sin_addr);
    bound_ = ::bind(udp_, reinterpret_cast<const sockaddr*>(&at), sizeof at) == 0
             && ::bind(tcp_, reinterpret_cast<const sockaddr*>(&at), sizeof at) == 0
             && ::listen(tcp_, 4) == 0;
    thread_ = std::thread([this] { serve(); });
  }
  ~truncating_resolver() {
    stop_ = true;
    thread_.join();
    ::close(udp_);
    ::close(tcp_);
  }
  bool bound() const { return bound_; }
  int tcp_queries() const { return tcp_queries_; }

private:
  /// The answer to `q`: its header and question, one A record unless `truncated`.
  static std::vector<std::uint8_t> answer(const std::uint8_t* q, std::size_t n, bool truncated) {
    std::vector<std::uint8_t> out(q, q + n);
    out[2] = truncated ? 0x83 : 0x81; // QR, (TC,) RD
    out[3] = 0x80;                    // RA, NOERROR
    if (truncated)
      return out;
    out[7] = 1;
    out.insert(out.end(), {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 9, 9, 9});
    return out;
  }

  void serve() {
    std::uint8_t buf[1500];
    while (!stop_) {
      pollfd p[2] = {{udp_, POLLIN, 0}, {tcp_, POLLIN, 0}};
      if (::poll(p, 2, 100) <= 0)
        continue;
      if (p[0].revents & POLLIN) {
        sockaddr_in from{};
        socklen_t len = sizeof from;
        auto n = ::recvfrom(udp_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (n >= 12) {
          auto a = answer(buf, static_cast<std::size_t>(n), true);
          ::sendto(udp_, a.data(), a.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
        }
      }
      if (p[1].revents & POLLIN) {
        int c = ::accept(tcp_, nullptr, nullptr);
        timeval tv{2, 0};
        ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        auto n = ::recv(c, buf, sizeof buf, 0);
        if (n >= 14) {
          ++tcp_queries_;
          auto a = answer(buf + 2, static_cast<std::size_t>(n) - 2, false);
          std::vector<std::uint8_t> framed{static_cast<std::uint8_t>(a.size() >> 8),
                                           static_cast<std::uint8_t>(a.size())};
          framed.insert(framed.end(), a.begin(), a.end());
          ::send(c, framed.data(), framed.size(), MSG_NOSIGNAL);
        }
        ::close(c);
      }
    }
  }

  int udp_ = -1, tcp_ = -1;
  bool bound_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<int> tcp_queries_{0};
  std::thread thread_;
};

/// A query for A of `example.org` (outside volant.local: forwarded).
std::vector<std::uint8_t> outside_query(std::uint16_t id) {
  std::vector<std::uint8_t> q{static_cast<std::uint8_t>(id >> 8), static_cast<std::uint8_t>(id),
                              0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  for (const char* label : {"example", "org"}) {
    q.push_back(static_cast<std::uint8_t>(std::strlen(label)));
    q.insert(q.end(), label, label + std::strlen(label));
  }
  q.insert(q.end(), {0, 0, 1, 0, 1});
  return q;
}

} // namespace

TEST_CASE("a TCP client's forwarded query whose resolver truncates over UDP is asked again "
          "over TCP; a UDP client gets the truncated answer (and asks over TCP itself)") {
  truncating_resolver upstream;
  REQUIRE(upstream.bound());
  dns_server::options o;
  o.listen = at("127.78.164.61", 5353);
  o.forwarders = {at("127.78.164.60", 5353)};
  auto server = dns_server::start(o);
  REQUIRE_MESSAGE(server, server.error_value().message);

  auto whole = ask_tcp("127.78.164.61", 5353, outside_query(0x5151));
  REQUIRE(whole);
  REQUIRE(whole->size() >= 12);
  CHECK(((*whole)[0] << 8 | (*whole)[1]) == 0x5151);
  CHECK(((*whole)[2] & 0x02) == 0); // not truncated
  CHECK((*whole)[7] == 1);          // the record
  CHECK(std::vector<std::uint8_t>(whole->end() - 4, whole->end())
        == std::vector<std::uint8_t>{127, 9, 9, 9});
  CHECK(upstream.tcp_queries() == 1);

  auto udp = ask("127.78.164.61", 5353, outside_query(0x5252));
  REQUIRE(udp);
  CHECK((udp->wire[2] & 0x02) != 0); // truncated, as the resolver said
  CHECK(upstream.tcp_queries() == 1);
}

TEST_CASE("the DNS server answers on each of its addresses, from the address asked") {
  dns_server::options o;
  o.listen = at("127.78.164.53", 5353);
  o.also = {at("127.78.164.54", 5353), at("192.0.2.53", 53)};
  auto server = dns_server::start(o);
  REQUIRE_MESSAGE(server, server.error_value().message);
  CHECK((*server)->listens_on(o.listen));
  CHECK((*server)->listens_on(o.also[0]));
  // Not on any interface: bound all the same, for when the bridge comes.
  CHECK((*server)->listens_on(o.also[1]));
  CHECK((*server)->warnings().empty());
  CHECK_FALSE((*server)->listens_on(at("127.78.164.55", 5353)));

  std::uint16_t id = 0x4242;
  for (const char* ip : {"127.78.164.53", "127.78.164.54"}) {
    CAPTURE(ip);
    auto r = ask(ip, 5353, query(id));
    REQUIRE(r);
    CHECK(r->from == ip); // a resolver drops answers from another address
    REQUIRE(r->wire.size() >= 12);
    CHECK(((r->wire[0] << 8) | r->wire[1]) == id);
    CHECK((r->wire[2] & 0x80) != 0); // an answer
    CHECK((r->wire[3] & 0x0f) == 3); // NXDOMAIN: no such deployment
    ++id;
  }

  // A second server: its own main address is a must, further ones are not.
  dns_server::options taken;
  taken.listen = o.listen;
  auto refused = dns_server::start(taken);
  REQUIRE_FALSE(refused);
  CHECK(refused.error_value().message.find("cannot listen on 127.78.164.53:5353")
        != std::string::npos);
  dns_server::options second;
  second.listen = at("127.78.164.56", 5353);
  second.also = {o.also[0]};
  auto other = dns_server::start(second);
  REQUIRE_MESSAGE(other, other.error_value().message);
  CHECK_FALSE((*other)->listens_on(o.also[0]));
  REQUIRE((*other)->warnings().size() == 1);
  CHECK((*other)->warnings()[0].find("cannot listen on 127.78.164.54:5353 too") != std::string::npos);
  CHECK(ask("127.78.164.56", 5353, query(7)).has_value());
}

} // namespace volant::runtime
