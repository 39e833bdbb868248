#pragma once

// Per-VM resource limits through cgroups v1 (the `memory`, `cpu` and `pids`
// controllers mounted under /sys/fs/cgroup, as on these hosts), and the VM's
// CPU time and memory use (`cpuacct`, `memory`) for autoscalers and `top`. A
// group per VM run: /sys/fs/cgroup/{memory,cpu,cpuacct,pids}/volant/<vm>.<n>. A controller the host
// does not let volantd write is not used, and `note()` says so (`debug
// resources`, volantd's start line); a group that cannot be made or limited on
// a controller that is writable fails the VM's start.

#include "events/error.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace volant::runtime {

class cgroups {
public:
  /// Probes the host once: which controllers can be written.
  /// `max_pids`: the most processes (and threads) of one VM; 0: no limit.
  explicit cgroups(std::string root = "/sys/fs/cgroup", std::string group = "volant",
                   std::int64_t max_pids = 1024);

  bool memory() const noexcept { return memory_; }
  bool cpu() const noexcept { return cpu_; }
  bool pids() const noexcept { return pids_; }
  /// Whether the VM's CPU time is accounted in a group of its own.
  bool cpuacct() const noexcept { return cpuacct_; }
  std::int64_t max_pids() const noexcept { return max_pids_; }
  /// Why limits are not enforced (empty when all are).
  const std::string& note() const noexcept { return note_; }

  /// Creates the VM's groups and sets memory (MiB), CPU (cores) and pids limits.
  status prepare(const std::string& vm, std::int64_t memory_mib, std::int32_t cpus);

  /// Opens the VM's `cgroup.procs` files for writing, before a fork: the child
  /// writes "0" to each (async-signal-safe) to enter its groups before exec. A
  /// group that cannot be opened is an error (the VM would run unlimited).
  expected<std::vector<int>> open_procs(const std::string& vm) const;

  /// Kills every process left in the VM's groups (a workload started just before a
  /// daemon crash, never journaled): one VM never runs twice.
  void kill_strays(const std::string& vm);

  /// Removes the VM's groups, killing what is left in them first.
  void remove(const std::string& vm);

  /// The run's CPU time (user + system, every process it ever had, from
  /// `cpuacct.usage`) in seconds; empty when it is not accounted.
  std::optional<double> cpu_seconds(const std::string& vm) const;
  /// The run's working set (`memory.usage_in_bytes` less the inactive page
  /// cache, as the kubelet counts it) in bytes; empty when it is not accounted.
  std::optional<std::uint64_t> working_set(const std::string& vm) const;

  /// Names of the VM groups that exist (from an earlier daemon run, too).
  std::vector<std::string> vm_groups() const;

private:
  std::string dir(const std::string& controller, const std::string& vm) const;

  std::string root_;
  std::string group_;
  std::vector<std::string> enabled() const;

  bool memory_ = false;
  bool cpu_ = false;
  bool pids_ = false;
  bool cpuacct_ = false;
  std::int64_t max_pids_ = 1024;
  std::string note_;
};

} // namespace volant::runtime
