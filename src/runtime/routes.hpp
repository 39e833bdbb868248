#pragma once

// VM addresses on a real interface and routes between the hosts of a
// cluster (issue 16, docs/hosts.md, `volantd --vm-interface IF`): a process
// VM's address is added to IF (as a /32) before its workload starts, so that
// it binds it and other hosts reach it; every other host's /24 of the
// cluster pool is routed via that host's address on IF. Through iproute2's
// `ip` (a netlink client of its own would add nothing here): in the calling
// process's network namespace.

#include "events/error.hpp"
#include "events/types.hpp"

#include <map>
#include <string>

namespace volant::runtime {

/// The interface of this host's route to `host` (a name or an IPv4
/// address): `--vm-interface`'s default, the interface the cluster is
/// reached through; "lo" for a cluster on loopback.
expected<std::string> route_interface(const std::string& host);

/// The first IPv4 address of interface `name`, or why not.
expected<ipv4> interface_address(const std::string& name);

/// Adds `ip`/32 to `dev` (nothing if it has it already).
status add_vm_address(const std::string& dev, ipv4 ip);

/// The routes this host keeps to the others' VMs: subnet (a /24) -> gateway.
using subnet_routes = std::map<ipv4, ipv4>;

/// Makes the /24 routes via `dev` what `want` says, given what `have` says
/// was set before (added, changed, removed); returns what is in place now
/// and, in `why`, the first failure.
subnet_routes sync_routes(const std::string& dev, const subnet_routes& have,
                          const subnet_routes& want, std::string& why);

} // namespace volant::runtime
