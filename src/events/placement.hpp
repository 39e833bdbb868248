#pragma once

// Where new replicas go (issue 16): a pure function over the hosts' capacity,
// as Nomad places allocations. Binpack by default: each replica on the
// fullest host that still fits it, so that whole hosts stay free for large
// VMs and can be drained; `--multi-host` spreads: the host with the fewest
// replicas of the deployment first, then the emptiest. A host that cannot
// take one (lost, draining, full) says why, and a replica no host can take
// is unplaced with Kubernetes' kind of reason ("0/3 hosts can take it: 1
// draining, 2 insufficient memory"). A single-host volantd has one host: the world's.

#include "events/state.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace volant {

/// One host as placement sees it.
struct host_capacity {
  std::string name;
  std::int64_t cpu = 0;        ///< its cores (how full it is)
  std::int64_t cpu_limit = 0;  ///< vCPUs it admits (cores x overcommit); 0: no limit
  std::int64_t memory_mib = 0; ///< MiB it admits
  std::int64_t cpu_used = 0;
  std::int64_t memory_mib_used = 0;
  std::int32_t replicas = 0; ///< of the deployment being placed
  /// Empty: it takes new VMs; else why not ("lost", "draining").
  std::string unschedulable;
  friend bool operator==(const host_capacity&, const host_capacity&) = default;
};

struct placement_request {
  std::int64_t cpu = 1;        ///< per replica
  std::int64_t memory_mib = 0; ///< per replica
  std::int32_t count = 1;      ///< replicas to place
  bool spread = false;         ///< --multi-host
};

struct placement {
  /// The host of each placed replica, in placing order.
  std::vector<std::string> hosts;
  /// Replicas no host could take (the last ones), and why.
  std::int32_t unplaced = 0;
  std::string reason;
};

/// Places `r.count` replicas on `hosts` (their use grows as replicas land).
placement place(std::vector<host_capacity> hosts, const placement_request& r);

/// The hosts of a single-host world (its one host), with `deployment`'s
/// replicas counted.
std::vector<host_capacity> host_capacities(const world& w, const std::string& deployment = {});

/// The hosts of a cluster's world (`world::hosts`) as placement sees them:
/// none lost, a draining one unschedulable. Empty on a single host.
std::vector<host_capacity> hosts_of(const world& w);

/// The hosts of a cluster: `registered` (name, capacity, and `unschedulable`
/// for a draining one) with their use and `deployment`'s replicas counted
/// from the VMs the world puts on them. A host that VMs name but that is not
/// registered (its lease expired) is added as "lost".
std::vector<host_capacity> cluster_capacities(const world& w,
                                              const std::vector<host_capacity>& registered,
                                              const std::string& deployment = {});

/// Each host's /24 of the cluster pool `first`..`last` (issue 16: VM
/// addresses are routed between hosts by subnet). Hosts keep the subnet
/// they have in `have` (host -> first address of its /24); new hosts get the
/// lowest free /24 in name order; a subnet of a host no longer listed is
/// free again only when `release_gone`. A host without room is absent from
/// the result, and `why` says so.
struct subnet_plan {
  std::map<std::string, ipv4> subnets;
  std::string why;
};
subnet_plan assign_subnets(ipv4 first, ipv4 last, const std::vector<std::string>& hosts,
                           const std::map<std::string, ipv4>& have, bool release_gone = false);

/// What to do about the VMs of hosts that cannot keep them (lost, draining).
struct reschedule_plan {
  struct move {
    std::string vm;
    std::string from;
    std::string to;
    friend bool operator==(const move&, const move&) = default;
  };
  std::vector<move> moves;
  /// VMs that stay where they are, and why: a persistent volume pins a
  /// replica to its host; no host has room.
  std::vector<std::pair<std::string, std::string>> stuck;
};

/// Places every VM of a lost or draining host elsewhere, deployment by
/// deployment (spread or binpack as its spec says), VMs in name order.
reschedule_plan reschedule(const world& w, const std::vector<host_capacity>& registered);

} // namespace volant
