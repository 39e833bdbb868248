#pragma once

// DNS for volant.local (issue 13, docs/traffic.md), pure: the names volantd
// answers (a projection of the world) and the answer to one question. The DNS
// server (src/runtime/dns.hpp) turns questions and answers into packets and
// forwards names outside volant.local; nothing here has an effect.
//
//   <deployment>.volant.local          A: every ready VM, shuffled
//   <vm>.<deployment>.volant.local     A: the slot's ready VM (web-3)
//   <lb>.lb.volant.local               A: the load balancer's listen address
//   _http._tcp.<deployment>.volant.local  SRV: one per ready slot, where the
//                                      deployment has an HTTP port
// Anything else under volant.local: NXDOMAIN with the zone's SOA (NOERROR and
// no record for a name that exists with another type).

#include "events/lb.hpp"
#include "events/state.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace volant {

/// The zone volantd is authoritative for.
inline constexpr std::string_view dns_zone_name = "volant.local";
/// TTL of every record: short, so that clients follow scaling.
inline constexpr std::uint32_t dns_ttl = 5;

/// One ready VM as DNS names it.
struct dns_host {
  std::string slot; ///< "web-3" (the slot name, also for a surge candidate)
  ipv4 ip = 0;
  friend bool operator==(const dns_host&, const dns_host&) = default;
};

/// What DNS knows of one deployment.
struct dns_deployment {
  /// Every ready VM (both revisions during a rollout, never a terminating
  /// one), by index then revision.
  std::vector<dns_host> ready;
  /// Every slot that has a VM -> the IP its name answers (the slot's ready VM
  /// of the newest revision; 0: none is ready).
  std::map<std::string, ipv4> slots;
  /// The port of SRV `_http._tcp.<deployment>` (the HTTP health check's
  /// port: plugins declare no other); 0: no SRV record.
  std::uint16_t http_port = 0;
  friend bool operator==(const dns_deployment&, const dns_deployment&) = default;
};

/// Every name of volant.local, as of one state of the world.
struct dns_zone {
  std::map<std::string, dns_deployment> deployments;
  std::map<std::string, ipv4> lbs; ///< load balancer -> listen address
  /// The SOA serial: the log's seq when the records last changed.
  std::uint32_t serial = 0;
  /// Same records (the serial aside).
  bool same_records(const dns_zone& o) const {
    return deployments == o.deployments && lbs == o.lbs;
  }
  friend bool operator==(const dns_zone&, const dns_zone&) = default;
};

/// The names of `w` (serial: `w.last_seq`). A load balancer whose listen
/// address is not an IPv4 address has no record.
dns_zone project_dns(const world& w, const lb_defaults& lbd);

/// DNS record types and response codes used here (RFC 1035, 2782).
enum class dns_type : std::uint16_t { a = 1, ns = 2, soa = 6, aaaa = 28, srv = 33, any = 255 };
enum class dns_rcode : std::uint8_t {
  noerror = 0, formerr = 1, servfail = 2, nxdomain = 3, notimp = 4, refused = 5
};

struct dns_srv {
  std::uint16_t priority = 0;
  std::uint16_t weight = 0;
  std::uint16_t port = 0;
  std::string target; ///< absolute, with the trailing dot
  friend bool operator==(const dns_srv&, const dns_srv&) = default;
};

struct dns_soa {
  std::string mname; ///< "ns.volant.local."
  std::string rname; ///< "hostmaster.volant.local."
  std::uint32_t serial = 0;
  std::uint32_t refresh = 3600;
  std::uint32_t retry = 600;
  std::uint32_t expire = 86400;
  std::uint32_t minimum = dns_ttl; ///< negative answers are cached this long
  friend bool operator==(const dns_soa&, const dns_soa&) = default;
};

/// One resource record (class IN).
struct dns_record {
  std::string name; ///< absolute, lower case, with the trailing dot
  std::uint32_t ttl = dns_ttl;
  std::variant<ipv4, dns_srv, dns_soa> data;
  dns_type type() const;
  friend bool operator==(const dns_record&, const dns_record&) = default;
};

/// The answer to one question.
struct dns_answer {
  /// The name is outside volant.local: not ours to answer (the server
  /// forwards it); nothing else is set.
  bool forward = false;
  dns_rcode rcode = dns_rcode::noerror;
  std::vector<dns_record> answer;
  std::vector<dns_record> authority;  ///< the SOA of NXDOMAIN and NODATA
  std::vector<dns_record> additional; ///< the A records of SRV targets
  friend bool operator==(const dns_answer&, const dns_answer&) = default;
};

/// The answer to `qname` (any case, with or without the trailing dot) of type
/// `qtype` (a dns_type value or any other number). A records of a deployment
/// and SRV records are shuffled by `shuffle_seed` (the server passes a random
/// one: glibc's address sorting would otherwise send every client to the
/// same VM).
dns_answer answer_dns(const dns_zone& zone, std::string_view qname, std::uint16_t qtype,
                      std::uint64_t shuffle_seed);

/// `qname` in lower case without its trailing dot.
std::string normalize_dns_name(std::string_view qname);

} // namespace volant
