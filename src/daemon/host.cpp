#include "daemon/host.hpp"

#include "actors/context.hpp"

#include <unistd.h>

#include <fstream>
#include <functional>
#include <sstream>

namespace volant {

void add_host_options(CLI::App& app, host_options& opts) {
  app.add_option("--pool", opts.pool, "IP pool of the VMs, as a CIDR");
  app.add_option("--cpus", opts.cpus, "CPU capacity (default: this machine's)")
    ->check(CLI::Range(1, 100000));
  app.add_option("--memory-mib", opts.memory_mib,
                 "Memory capacity in MiB (default: this machine's)")
    ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 40));
  app.add_option("--max-vms", opts.max_vms, "VMs per host")->check(CLI::Range(1, 1000000));
  app.add_option("--max-replicas", opts.max_replicas, "Replicas per deployment")
    ->check(CLI::Range(1, 1000000));
  app.add_option("--cpu-overcommit", opts.cpu_overcommit,
                 "vCPUs admitted per core, e.g. 16 (OpenStack Nova's default); without it "
                 "vCPUs beyond the cores are admitted with a warning")
    ->check(CLI::Range(0.1, 1000.0));
}

expected<std::pair<ipv4, ipv4>> parse_pool(const std::string& cidr) {
  auto slash = cidr.find('/');
  auto base = parse_ipv4(cidr.substr(0, slash));
  int bits = -1;
  if (slash != std::string::npos) {
    try {
      bits = std::stoi(cidr.substr(slash + 1));
    } catch (const std::exception&) {
    }
  }
  if (!base || bits < 8 || bits > 30)
    return make_error(ec::invalid_host_config,
                      "--pool '" + cidr + "' is not a CIDR like 127.77.0.0/16 (/8 to /30)");
  auto mask = bits == 32 ? ~0u : ~((1u << (32 - bits)) - 1);
  auto network = *base & mask;
  return std::pair{network + 1, (network | ~mask) - 1};
}

expected<host_config> host_config_from(const host_options& opts) {
  auto pool = parse_pool(opts.pool);
  if (!pool)
    return pool.error_value();
  host_config c;
  c.pool_first = pool->first;
  c.pool_last = pool->second;
  if (opts.reserved != 0 && opts.reserved >= c.pool_first && opts.reserved <= c.pool_last) {
    if (opts.reserved != c.pool_first)
      return make_error(ec::invalid_host_config,
                        "--pool '" + opts.pool + "' contains the bridge address "
                          + to_string_ip(opts.reserved)
                          + " in its middle: use a pool that starts at it or after it");
    c.pool_first += 1; // 192.168.127.0/24 with the bridge on .1: VMs from .2
  }
  c.cpu_total = opts.cpus > 0 ? opts.cpus : static_cast<std::int32_t>(sysconf(_SC_NPROCESSORS_ONLN));
  if (opts.memory_mib > 0) {
    c.memory_total_mib = opts.memory_mib;
  } else {
    std::ifstream in("/proc/meminfo");
    std::string key;
    std::int64_t kib = 0;
    while (in >> key >> kib && key != "MemTotal:")
      in.ignore(256, '\n');
    c.memory_total_mib = kib / 1024;
  }
  c.max_vms = opts.max_vms;
  c.max_replicas = opts.max_replicas;
  c.cpu_overcommit_milli = static_cast<std::uint32_t>(opts.cpu_overcommit * 1000 + 0.5);
  return c;
}

status configure_host_if_needed(store::journal& j, world& w, const host_options& opts) {
  auto config = host_config_from(opts);
  if (!config)
    return config.error_value();
  if (w.host.configured && w.host.config == *config)
    return ok();
  auto evs = decide(w, configure_host{*config}, now_nanos());
  if (!evs)
    return evs.error_value();
  auto recs = j.append(std::move(*evs));
  if (!recs)
    return recs.error_value();
  for (const auto& rec : *recs)
    apply(w, rec);
  return ok();
}

std::string cgroup_group(const std::string& data_dir) {
  std::ostringstream out;
  out << "volant-" << std::hex << (std::hash<std::string>{}(data_dir) & 0xffffffffu);
  return out.str();
}

} // namespace volant
