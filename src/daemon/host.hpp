#pragma once

// The host's configuration from flags and machine facts, journaled when it
// changes (so the log always says what capacity decisions were made against).

#include "events/error.hpp"
#include "events/state.hpp"
#include "store/journal.hpp"

#include <CLI/CLI.hpp>

#include <string>

namespace volant {

struct host_options {
  std::string pool = "127.77.0.0/16"; ///< process driver: loopback addresses
  std::int32_t cpus = 0;              ///< 0: the machine's
  std::int64_t memory_mib = 0;        ///< 0: the machine's physical memory
  std::uint32_t max_vms = 100;
  std::uint32_t max_replicas = 100;
  double cpu_overcommit = 0; ///< 0: no limit (a warning beyond the cores)
  ipv4 reserved = 0; ///< never assigned (the microVM bridge's own address)
};

void add_host_options(CLI::App& app, host_options& opts);

/// "127.77.0.0/16" -> [127.77.0.1, 127.77.255.254].
expected<std::pair<ipv4, ipv4>> parse_pool(const std::string& cidr);

/// The configuration `opts` asks for on this machine.
expected<host_config> host_config_from(const host_options& opts);

/// Journals a configure_host if the log's host config differs from `opts`' (first
/// start, or changed flags); refused changes (e.g. a pool that strands running VMs)
/// are errors.
status configure_host_if_needed(store::journal& j, world& w, const host_options& opts);

/// The cgroup directory name of a data directory: one daemon's VMs apart from
/// another's.
std::string cgroup_group(const std::string& data_dir);

} // namespace volant
