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

#include <cstdint>
#include <cstring>
#include <optional>
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

} // namespace

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
