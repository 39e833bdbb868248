#pragma once

// volantd's DNS responder (issue 13, docs/traffic.md): authoritative for
// volant.local over UDP and TCP on one address (`--dns-listen`), answering
// from the zone the controller publishes after every commit (events/dns.hpp);
// every other name is relayed, as the client's packet, to the host's
// resolvers (or `--dns-forward`), SERVFAIL when none answers. Packets are
// parsed and written with ldns; a malformed one gets FORMERR or nothing.
//
// One event_loop thread does all the socket work; publish() only swaps a
// pointer.

#include "events/dns.hpp"
#include "events/error.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace volant::runtime {

/// An IPv4 address and a UDP/TCP port.
struct dns_endpoint {
  ipv4 ip = 0;
  std::uint16_t port = 53;
  friend bool operator==(const dns_endpoint&, const dns_endpoint&) = default;
};

/// "127.78.0.53" or "127.78.0.53:5353" (port `default_port` when not given).
expected<dns_endpoint> parse_dns_endpoint(std::string_view text,
                                          std::uint16_t default_port = 53);

/// "ADDR:PORT".
std::string to_string(const dns_endpoint& e);

/// The IPv4 `nameserver` lines of a resolv.conf text, port 53, in order.
std::vector<dns_endpoint> resolv_conf_nameservers(std::string_view text);

/// What one packet gets.
struct dns_reply {
  enum class kind : std::uint8_t {
    drop,    ///< nothing: not a query, or too short to answer
    answer,  ///< `wire` is the response
    forward, ///< a well-formed query for a name outside volant.local
  };
  kind what = kind::drop;
  std::vector<std::uint8_t> wire;
};

/// The response to one packet as received over UDP (`tcp` false: at most 512
/// bytes, or the query's EDNS size, the answer truncated with TC set beyond)
/// or TCP (without the length prefix). Never throws on any input; the fuzz
/// target's entry point.
dns_reply respond(const dns_zone& zone, std::span<const std::uint8_t> query,
                  std::uint64_t shuffle_seed, bool tcp);

/// SERVFAIL for `query` (its header and question echoed when they parse);
/// empty if it is no query.
std::vector<std::uint8_t> servfail_for(std::span<const std::uint8_t> query);

class dns_server {
public:
  struct options {
    dns_endpoint listen;
    /// More addresses, bound even before they exist on an interface (the
    /// microVM bridge's); one that cannot be bound is skipped with a warning.
    std::vector<dns_endpoint> also;
    /// Resolvers of names outside volant.local, tried in order.
    std::vector<dns_endpoint> forwarders;
    int forward_timeout_ms = 2000; ///< per resolver
  };

  /// Binds UDP and TCP on `listen` (and `also`) and starts the thread; an error
  /// (address in use, not local) when it cannot bind `listen`.
  static expected<std::unique_ptr<dns_server>> start(options opts);
  ~dns_server();
  dns_server(const dns_server&) = delete;
  dns_server& operator=(const dns_server&) = delete;

  /// The zone to answer from from now on (the latest wins). Any thread.
  void publish(std::shared_ptr<const dns_zone> zone);

  const options& config() const;
  /// Whether it answers on `at` (`listen`, or one of `also` that was bound).
  bool listens_on(const dns_endpoint& at) const;
  /// Why addresses of `also` are not listened on, one line each.
  const std::vector<std::string>& warnings() const;

  struct impl;

private:
  explicit dns_server(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace volant::runtime
